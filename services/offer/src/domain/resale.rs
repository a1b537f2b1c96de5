//! Resale authorisations (the ISV side of a channel-partner private offer) and the rules a
//! resale authorisation and a channel-partner offer made from one must satisfy before Souk sends
//! them to AWS (docs/aws/offers.md, resale authorisations). Field violations are named as in
//! `CreateResaleAuthorizationRequest` and `CreateChannelPartnerOfferRequest`.
//!
//! A resale authorisation is followed like an offer (draft -> submitted -> released | failed)
//! by the tracker, and so is a channel partner's offer made from one (an offer whose draft
//! carries [`ResaleTerms`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use souk_core::Id;

use souk_core::error::Violations;
use souk_core::validate::{aws_account_id, max_len, required};
use time::{Date, OffsetDateTime};

use super::change_set::{Change, RESALE_AUTHORIZATION_ENTITY, charge_amount, pricing_terms};
use super::dates::{end_of_day, iso};
use super::model::{Eula, Installment, OfferDraft, OfferState, Pricing, ResaleTerms, Validity};
use super::validate;

/// Most buyer accounts a resale authorisation may be restricted to.
pub const MAX_AUTHORIZED_BUYERS: usize = 25;
/// Most decimals of a markup percentage.
pub const MARKUP_DECIMALS: usize = 9;

/// What an ISV grants a channel partner, as validated: what its change set is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResaleAuthorizationDraft {
    /// Catalog product id (`prod-...`).
    pub product_id: String,
    /// Name, 1 to 100 characters.
    pub name: String,
    /// Description, up to 255 characters.
    pub description: String,
    /// The channel partner's AWS account id.
    pub reseller_account_id: String,
    /// The ISV's price to the partner: the floor of every offer made from it (subscription,
    /// contract or contract with consumption).
    pub pricing: Pricing,
    /// ISO 4217 currency of every amount: the partner's offers are in it too.
    pub currency: String,
    /// Scheduled charges (empty for none).
    pub payment_schedule: Vec<Installment>,
    /// The licence agreement end buyers accept.
    pub eula: Eula,
    /// Only these buyers may receive offers made from it (empty: any buyer).
    pub buyer_account_ids: Vec<String>,
    /// Last day the partner may make offers from it (`None`: no end).
    pub expiry_date: Option<Date>,
    /// The partner may make a single offer from it.
    pub one_time: bool,
}

impl ResaleAuthorizationDraft {
    /// The authorisation's terms in the shape of an offer, so the offer rules on prices,
    /// currency and installments apply to them unchanged.
    fn as_offer(&self) -> OfferDraft {
        OfferDraft {
            product_id: self.product_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            pricing: self.pricing.clone(),
            currency: self.currency.clone(),
            payment_schedule: self.payment_schedule.clone(),
            eula: self.eula.clone(),
            buyer_account_ids: self.buyer_account_ids.clone(),
            // Its expiry ends the partner's right to make offers, not a buyer's to accept:
            // the one-installment-before-expiry rule is the partner offer's.
            expiry_date: None,
            validity: Validity::default(),
            refund_policy: String::new(),
            renewal: None,
            net_payment_days: None,
            notification_emails: Vec::new(),
            resale: None,
        }
    }

    /// Whether the partner can still make an offer from it on `today`.
    pub fn expired_on(&self, today: Date) -> bool {
        self.expiry_date.is_some_and(|day| day < today)
    }
}

/// A resale authorisation followed by Souk (states as an offer's: draft, submitted, released,
/// failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResaleAuthorization {
    /// Souk id (`rsa_...`).
    pub id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// The integration (ISV seller account) granting it.
    pub integration_id: Id,
    /// What was asked.
    pub draft: ResaleAuthorizationDraft,
    /// Lifecycle state.
    pub state: OfferState,
    /// AWS id (`resaleauthz-...`), once AWS created it.
    pub aws_id: Option<String>,
    /// The change set that creates it, once started.
    pub change_set_id: Option<String>,
    /// The `ClientRequestToken` of its change set.
    pub client_request_token: String,
    /// AWS's error codes when it failed.
    pub failure_code: Option<String>,
    /// A message a seller can act on when it failed.
    pub failure_message: Option<String>,
    /// When it was asked for.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// When the tracker looks at it next (`None`: never again).
    pub next_check_at: Option<OffsetDateTime>,
    /// Consecutive checks that failed to reach AWS (drives the backoff).
    pub check_failures: u32,
}

impl ResaleAuthorization {
    /// A new draft of `integration_id`, due for submission at `now`.
    pub fn new(
        organization_id: &Id,
        integration_id: &Id,
        draft: ResaleAuthorizationDraft,
        now: OffsetDateTime,
    ) -> Self {
        let id = Id::generate("rsa");
        Self {
            // Its own id: a StartChangeSet retried after a crash starts nothing new.
            client_request_token: id.to_string(),
            id,
            organization_id: organization_id.clone(),
            integration_id: integration_id.clone(),
            draft,
            state: OfferState::Draft,
            aws_id: None,
            change_set_id: None,
            failure_code: None,
            failure_message: None,
            created_at: now,
            updated_at: now,
            next_check_at: Some(now),
            check_failures: 0,
        }
    }
}

/// Which resale authorisations ListResaleAuthorizations returns (AND of the set filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResaleFilter {
    /// Only this integration's.
    pub integration_id: Option<Id>,
    /// Only for this product.
    pub product_id: Option<String>,
    /// Only those granted to this partner account.
    pub reseller_account_id: Option<String>,
}

/// A resale-authorisation lifecycle event, committed with the transition it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResaleEvent {
    /// Checked and stored ("offer.resale_authorization_created").
    Created(ResaleAuthorization),
    /// AWS released it: the partner can make offers from it
    /// ("offer.resale_authorization_released").
    Released(ResaleAuthorization),
    /// AWS refused its change set ("offer.resale_authorization_failed").
    Failed(ResaleAuthorization),
}

impl ResaleEvent {
    /// The event type.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => "offer.resale_authorization_created",
            Self::Released(_) => "offer.resale_authorization_released",
            Self::Failed(_) => "offer.resale_authorization_failed",
        }
    }

    /// The resale authorisation as it is after the transition.
    pub fn authorization(&self) -> &ResaleAuthorization {
        match self {
            Self::Created(r) | Self::Released(r) | Self::Failed(r) => r,
        }
    }
}

/// Every violation of `draft` at `now`; `seller_account_id` is the ISV's own account (the
/// partner cannot be the ISV). `Ok` when AWS would take it.
pub fn validate_authorization(
    draft: &ResaleAuthorizationDraft,
    seller_account_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), souk_core::Error> {
    let mut v = Violations::new();
    let today = now.date();
    v.check("name", required(&draft.name, 100));
    v.check("description", max_len(&draft.description, 255));
    validate::product_id(&mut v, &draft.product_id);
    if let Err(reason) = aws_account_id(&draft.reseller_account_id) {
        v.add("reseller_account_id", reason);
    } else if seller_account_id == Some(draft.reseller_account_id.as_str()) {
        v.add(
            "reseller_account_id",
            "is the seller's own account: authorise the channel partner's account",
        );
    }
    let offer = draft.as_offer();
    match &draft.pricing {
        Pricing::Subscription { .. }
        | Pricing::Contract { .. }
        | Pricing::ContractWithConsumption { .. } => {
            validate::currency(&mut v, &offer, offer.kind());
            validate::pricing(&mut v, &offer);
            validate::schedule(&mut v, &offer, offer.kind(), today);
        }
        other => v.add(
            "terms",
            format!(
                "{} cannot be resold: authorise subscription, contract or contract with consumption terms",
                other.kind().label()
            ),
        ),
    }
    validate::eula(&mut v, &draft.eula);
    buyers(
        &mut v,
        &draft.buyer_account_ids,
        0,
        MAX_AUTHORIZED_BUYERS,
        "a resale authorisation",
    );
    if let Some(day) = draft.expiry_date
        && end_of_day(day) < now
    {
        v.add(
            "expiry_date",
            format!(
                "{} is in the past: choose a day from {} on",
                iso(day),
                iso(today)
            ),
        );
    }
    v.finish()
}

/// Between `min` and `max` distinct 12-digit account ids.
fn buyers(v: &mut Violations, ids: &[String], min: usize, max: usize, what: &str) {
    if ids.len() < min {
        v.add(
            "buyer_account_ids",
            format!("at least {min} buyer account is required for {what}"),
        );
    }
    if ids.len() > max {
        v.add(
            "buyer_account_ids",
            format!("at most {max} buyer accounts for {what}, got {}", ids.len()),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("buyer_account_ids[{i}]");
        if let Err(reason) = aws_account_id(id) {
            v.add(field, reason);
        } else if let Some(first) = seen.get(id.as_str()) {
            v.add(field, format!("repeats buyer_account_ids[{first}]"));
        } else {
            seen.insert(id, i);
        }
    }
}

/// A markup over the ISV's price, in billionths of a percent (`"12.5"` is 12,500,000,000):
/// exact, so the price never falls below the authorisation's floor by rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Markup(pub u64);

impl Markup {
    /// `raw` as a non-negative decimal percentage with at most 9 decimals.
    pub fn parse(raw: &str) -> Result<Self, String> {
        const WHAT: &str = "must be a decimal percentage of at least 0 with at most 9 decimals, for example \"12.5\"";
        if raw.starts_with('-') {
            return Err(
                "must not be negative: a channel-partner offer cannot be priced below the resale authorisation"
                    .into(),
            );
        }
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || (raw.contains('.') && fraction.is_empty())
            || fraction.len() > MARKUP_DECIMALS
            || whole.len() > 9
        {
            return Err(WHAT.into());
        }
        let whole: u64 = whole.parse().map_err(|_| WHAT.to_owned())?;
        let padded = format!("{fraction:0<MARKUP_DECIMALS$}");
        let fraction: u64 = padded.parse().map_err(|_| WHAT.to_owned())?;
        Ok(Self(whole * 1_000_000_000 + fraction))
    }

    /// `micros` raised by the markup, rounded up to the micro (never below `micros`).
    pub fn apply(self, micros: i64) -> Option<i64> {
        let scale: i128 = 100 * 1_000_000_000;
        let raised = i128::from(micros).checked_mul(scale + i128::from(self.0))?;
        let (quotient, remainder) = (raised / scale, raised % scale);
        i64::try_from(quotient + i128::from(remainder > 0)).ok()
    }
}

/// A channel-partner private offer as the partner asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPartnerOfferDraft {
    /// AWS resale authorisation id (`resaleauthz-...`).
    pub resale_authorization_id: String,
    /// Name shown to buyers.
    pub name: String,
    /// Partner-only description.
    pub description: String,
    /// The markup, as asked (validated by [`Markup::parse`]).
    pub markup_percentage: String,
    /// AWS accounts that may accept it.
    pub buyer_account_ids: Vec<String>,
    /// Last day buyers can accept it.
    pub expiry_date: Option<Date>,
    /// Agreement start and end.
    pub validity: Validity,
    /// The agreement the offer replaces (`agmt-...`); `None` for a new agreement.
    pub replace_agreement_id: Option<String>,
    /// Who hears about the offer's lifecycle.
    pub notification_emails: Vec<String>,
}

impl ChannelPartnerOfferDraft {
    /// The offer made from `granted`: the authorisation's product, pricing, currency,
    /// schedule and EULA with the partner's name, buyers, dates and markup.
    pub fn into_offer(self, granted: ResaleAuthorizationDraft) -> OfferDraft {
        OfferDraft {
            product_id: granted.product_id,
            name: self.name,
            description: self.description,
            pricing: granted.pricing,
            currency: granted.currency,
            payment_schedule: granted.payment_schedule,
            eula: granted.eula,
            buyer_account_ids: self.buyer_account_ids,
            expiry_date: self.expiry_date,
            validity: self.validity,
            refund_policy: String::new(),
            renewal: None,
            net_payment_days: None,
            notification_emails: self.notification_emails,
            resale: Some(ResaleTerms {
                resale_authorization_id: self.resale_authorization_id,
                markup_percentage: self.markup_percentage,
                replace_agreement_id: self.replace_agreement_id,
            }),
        }
    }
}

/// What the partner's offer is made from: the authorisation as the partner received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// Its terms.
    pub draft: &'a ResaleAuthorizationDraft,
    /// Whether AWS released it (and did not restrict it since).
    pub active: bool,
    /// Offers the partner already made from it.
    pub offers_made: u32,
}

/// Every violation of `draft`, made from `authorization`, at `now`.
pub fn validate_channel_partner_offer(
    draft: &ChannelPartnerOfferDraft,
    authorization: &Authorization<'_>,
    now: OffsetDateTime,
) -> Result<(), souk_core::Error> {
    let mut v = Violations::new();
    let today = now.date();
    let granted = authorization.draft;
    v.check("name", required(&draft.name, 150));
    v.check("description", required(&draft.description, 255));
    let ra = "resale_authorization_id";
    if !authorization.active {
        v.add(
            ra,
            "is not active: the seller has not released it or has restricted it",
        );
    } else if granted.expired_on(today) {
        let day = granted.expiry_date.map(iso).unwrap_or_default();
        v.add(
            ra,
            format!("expired on {day}: ask the seller for a new resale authorisation"),
        );
    } else if granted.one_time && authorization.offers_made > 0 {
        v.add(
            ra,
            "is one-time and an offer was already made from it: ask the seller for a new resale authorisation",
        );
    }
    match Markup::parse(&draft.markup_percentage) {
        Err(reason) => v.add("markup_percentage", reason),
        Ok(markup) if markup.0 > 0 && !granted.payment_schedule.is_empty() => v.add(
            "markup_percentage",
            "must be 0: the resale authorisation has a payment schedule, and AWS takes no markup on scheduled charges",
        ),
        Ok(_) => {}
    }
    if draft.replace_agreement_id.is_some() {
        if !draft.buyer_account_ids.is_empty() {
            v.add(
                "buyer_account_ids",
                "must be empty for a replacement: the replaced agreement's buyer receives it",
            );
        }
        if draft.validity.agreement_end_date.is_none() {
            v.add(
                "validity.agreement_end_date",
                "is required for a replacement: the day the new agreement ends",
            );
        }
    } else {
        buyers(
            &mut v,
            &draft.buyer_account_ids,
            1,
            validate::MAX_BUYERS,
            "a private offer",
        );
    }
    if !granted.buyer_account_ids.is_empty() {
        for (i, id) in draft.buyer_account_ids.iter().enumerate() {
            if aws_account_id(id).is_ok() && !granted.buyer_account_ids.contains(id) {
                v.add(
                    format!("buyer_account_ids[{i}]"),
                    format!("{id} is not among the buyers the resale authorisation allows"),
                );
            }
        }
    }
    match draft.expiry_date {
        None => v.add(
            "expiry_date",
            "is required: the last day the buyers can accept the offer",
        ),
        Some(day) if end_of_day(day) < now => v.add(
            "expiry_date",
            format!(
                "{} is in the past: choose a day from {} on",
                iso(day),
                iso(today)
            ),
        ),
        Some(day) => {
            if let Some(last) = granted.expiry_date
                && day > last
            {
                v.add(
                    "expiry_date",
                    format!(
                        "{} is after the resale authorisation ends ({}): choose a day until then",
                        iso(day),
                        iso(last)
                    ),
                );
            }
        }
    }
    validate::notification_emails(&mut v, &draft.notification_emails);
    if let Some(start) = draft.validity.agreement_start_date
        && start < today
    {
        v.add(
            "validity.agreement_start_date",
            format!("{} is in the past: choose a future day", iso(start)),
        );
    }
    if let (Some(end), Some(expiry)) = (draft.validity.agreement_end_date, draft.expiry_date)
        && end < expiry
    {
        v.add(
            "validity.agreement_end_date",
            format!(
                "{} is before the expiry date {}: the agreement must end after the offer expires",
                iso(end),
                iso(expiry)
            ),
        );
    }
    v.finish()
}

/// The name of the change that creates the resale authorisation, which the others refer to.
pub const CREATE_RESALE_AUTHORIZATION_CHANGE: &str = "CreateResaleAuthorizationChange";

/// The changes that create and release `draft` as a new resale authorisation: the create
/// change, its pricing (the offer terms with the `Resale` prefix), payment schedule, the EULA
/// end buyers accept, the buyers it is restricted to, its end and one-time use, then the
/// release.
pub fn create_resale_authorization(draft: &ResaleAuthorizationDraft) -> Vec<Change> {
    let update = |change_type, details| {
        Change::of_created(
            RESALE_AUTHORIZATION_ENTITY,
            CREATE_RESALE_AUTHORIZATION_CHANGE,
            change_type,
            details,
        )
    };
    let mut create = json!({
        "ProductId": draft.product_id,
        "Name": draft.name,
        "ResellerAccountId": draft.reseller_account_id,
    });
    if !draft.description.is_empty() {
        create["Description"] = json!(draft.description);
    }
    let mut changes = vec![Change {
        entity_type: RESALE_AUTHORIZATION_ENTITY,
        change_type: "CreateResaleAuthorization",
        identifier: None,
        change_name: Some(CREATE_RESALE_AUTHORIZATION_CHANGE),
        details: create,
    }];
    let mut pricing = pricing_terms(&draft.as_offer());
    if let Some(terms) = pricing.get_mut("Terms").and_then(Value::as_array_mut) {
        for term in terms {
            let resale = term
                .get("Type")
                .and_then(Value::as_str)
                .map(|t| format!("Resale{t}"));
            if let Some(resale) = resale {
                term["Type"] = json!(resale);
            }
        }
    }
    changes.push(update("UpdatePricingTerms", pricing));
    if !draft.payment_schedule.is_empty() {
        let schedule: Vec<Value> = draft
            .payment_schedule
            .iter()
            .map(|i| json!({ "ChargeDate": iso(i.charge_date), "ChargeAmount": charge_amount(i.amount_micros) }))
            .collect();
        changes.push(update(
            "UpdatePaymentScheduleTerms",
            json!({ "Terms": [{ "Type": "ResalePaymentScheduleTerm", "CurrencyCode": draft.currency, "Schedule": schedule }] }),
        ));
    }
    let document = match &draft.eula {
        Eula::Standard { version } => json!({ "Type": "StandardEula", "Version": version }),
        Eula::Custom { url } => json!({ "Type": "CustomEula", "Url": url }),
    };
    changes.push(update(
        "UpdateLegalTerms",
        json!({ "Terms": [{ "Type": "BuyerLegalTerm", "Documents": [document] }] }),
    ));
    if !draft.buyer_account_ids.is_empty() {
        changes.push(update(
            "UpdateBuyerTargetingTerms",
            json!({ "Terms": [{ "Type": "BuyerTargetingTerm", "PositiveTargeting": { "BuyerAccounts": draft.buyer_account_ids } }] }),
        ));
    }
    let mut availability = serde_json::Map::new();
    if let Some(day) = draft.expiry_date {
        availability.insert("AvailabilityEndDate".into(), json!(iso(day)));
    }
    if draft.one_time {
        availability.insert("OffersMaxQuantity".into(), json!(1));
    }
    if !availability.is_empty() {
        changes.push(update("UpdateAvailability", Value::Object(availability)));
    }
    changes.push(update("ReleaseResaleAuthorization", json!({})));
    changes
}

#[cfg(test)]
#[path = "resale_tests.rs"]
mod tests;
