//! An offer as one Catalog change set (docs/aws/offers.md): the create change, then every
//! `Update*` change the kind needs, then `ReleaseOffer`, all pointing at the new offer through
//! `$CreateOfferChange.Entity.Identifier`. Pure: the AWS adapter only serialises it.

use serde_json::{Value, json};

use super::dates::iso;
use super::model::{
    ContractDimension, ContractTerms, DimensionPrice, Eula, FreeTrialGrant, OfferDraft, Pricing,
    Renewal, SoftwarePricingModel, SoftwareTerms,
};
use super::validate::price_increase_hundredths;

/// The entity type of offers.
pub const OFFER_ENTITY: &str = "Offer@1.0";
/// The name of the change that creates the offer, which the others refer to.
pub const CREATE_CHANGE: &str = "CreateOfferChange";
/// The entity type of resale authorisations.
pub const RESALE_AUTHORIZATION_ENTITY: &str = "ResaleAuthorization@1.0";

/// One change of a change set.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `Entity.Type`: [`OFFER_ENTITY`] or [`RESALE_AUTHORIZATION_ENTITY`].
    pub entity_type: &'static str,
    /// `ChangeType`, e.g. `UpdatePricingTerms`.
    pub change_type: &'static str,
    /// `Entity.Identifier`: `None` for the create change.
    pub identifier: Option<String>,
    /// `ChangeName` (the create change only).
    pub change_name: Option<&'static str>,
    /// The `DetailsDocument`.
    pub details: Value,
}

impl Change {
    /// A change of the entity that the change named `created_by` creates (referred to as
    /// `$<created_by>.Entity.Identifier`, as AWS resolves it within one change set).
    pub fn of_created(
        entity_type: &'static str,
        created_by: &str,
        change_type: &'static str,
        details: Value,
    ) -> Self {
        Self {
            entity_type,
            change_type,
            identifier: Some(format!("${created_by}.Entity.Identifier")),
            change_name: None,
            details,
        }
    }
}

/// The change that creates the offer: from the product, from an agreement to replace, or,
/// for a channel partner, from a resale authorisation (replacing an agreement or not).
fn create_change(draft: &OfferDraft) -> Change {
    let (change_type, details) = match (&draft.resale, &draft.pricing) {
        (Some(resale), _) => match &resale.replace_agreement_id {
            Some(agreement) => (
                "CreateReplacementOfferUsingResaleAuthorization",
                json!({ "ResaleAuthorizationId": resale.resale_authorization_id, "AgreementId": agreement }),
            ),
            None => (
                "CreateOfferUsingResaleAuthorization",
                json!({ "ResaleAuthorizationId": resale.resale_authorization_id }),
            ),
        },
        (None, Pricing::Replacement { agreement_id, .. }) => (
            "CreateReplacementOffer",
            json!({ "AgreementId": agreement_id }),
        ),
        (None, _) => ("CreateOffer", json!({ "ProductId": draft.product_id })),
    };
    Change {
        entity_type: OFFER_ENTITY,
        change_type,
        identifier: None,
        change_name: Some(CREATE_CHANGE),
        details,
    }
}

/// The changes that create and release `draft` as a new offer. A channel partner's offer is
/// marked up and inherits its terms from the resale authorisation, but for a replacement,
/// which AWS gives none of them: they are sent again, as the authorisation has them.
pub fn create_offer(draft: &OfferDraft) -> Vec<Change> {
    let update = |change_type, details| {
        Change::of_created(OFFER_ENTITY, CREATE_CHANGE, change_type, details)
    };
    let inherited = draft
        .resale
        .as_ref()
        .is_some_and(|r| r.replace_agreement_id.is_none());
    let mut changes = vec![create_change(draft)];
    changes.push(update(
        "UpdateInformation",
        json!({ "Name": draft.name, "Description": draft.description }),
    ));
    if let Some(resale) = &draft.resale {
        changes.push(update(
            "UpdateMarkup",
            json!({ "Percentage": resale.markup_percentage }),
        ));
    }
    if !draft.buyer_account_ids.is_empty() {
        changes.push(update(
            "UpdateTargeting",
            json!({ "PositiveTargeting": { "BuyerAccounts": draft.buyer_account_ids } }),
        ));
    }
    if !inherited {
        changes.push(update("UpdateLegalTerms", legal_terms(&draft.eula)));
    }
    if !draft.refund_policy.is_empty() && !matches!(draft.pricing, Pricing::FreeTrial { .. }) {
        changes.push(update(
            "UpdateSupportTerms",
            json!({ "Terms": [{ "Type": "SupportTerm", "RefundPolicy": draft.refund_policy }] }),
        ));
    }
    if !inherited {
        changes.push(update("UpdatePricingTerms", pricing_terms(draft)));
    }
    if let Some(validity) = validity_term(draft) {
        changes.push(update(
            "UpdateValidityTerms",
            json!({ "Terms": [validity] }),
        ));
    }
    if !draft.payment_schedule.is_empty() && !inherited {
        let schedule: Vec<Value> = draft
            .payment_schedule
            .iter()
            .map(|i| {
                json!({ "ChargeDate": iso(i.charge_date), "ChargeAmount": charge_amount(i.amount_micros) })
            })
            .collect();
        changes.push(update(
            "UpdatePaymentScheduleTerms",
            json!({ "Terms": [{ "Type": "PaymentScheduleTerm", "CurrencyCode": draft.currency, "Schedule": schedule }] }),
        ));
    }
    if let Some(renewal) = &draft.renewal {
        changes.push(update(
            "UpdateRenewalTerms",
            json!({ "Terms": [renewal_term(renewal)] }),
        ));
    }
    if let Some(days) = draft.net_payment_days {
        changes.push(update(
            "UpdateNetPaymentTerms",
            json!({ "Terms": [{ "Type": "NetPaymentTerm", "PaymentDuePeriod": format!("P{days}D") }] }),
        ));
    }
    if let Some(expiry) = draft.expiry_date {
        changes.push(update(
            "UpdateAvailability",
            json!({ "AvailabilityEndDate": iso(expiry) }),
        ));
    }
    changes.push(update("ReleaseOffer", json!({})));
    changes
}

/// The change that ends an offer's availability on `day` (yesterday expires it now, today
/// at the end of the day; a later day extends it).
pub fn update_availability(aws_offer_id: &str, day: time::Date) -> Change {
    Change {
        entity_type: OFFER_ENTITY,
        change_type: "UpdateAvailability",
        identifier: Some(aws_offer_id.to_owned()),
        change_name: None,
        details: json!({ "AvailabilityEndDate": iso(day) }),
    }
}

/// The RenewalTerm: the plain term, or with its limits and the fixed price increase (2
/// decimals, as AWS prints it).
fn renewal_term(renewal: &Renewal) -> Value {
    let mut term = serde_json::Map::new();
    term.insert("Type".into(), json!("RenewalTerm"));
    if let Some(n) = renewal.max_renewals {
        term.insert("MaxRenewals".into(), json!(n));
    }
    if let Some(days) = renewal.lockout_days {
        term.insert("LockoutPeriod".into(), json!(format!("P{days}D")));
    }
    if !renewal.price_increase_percentage.is_empty() {
        // Validation refused anything else; an unreadable value is passed on for AWS to refuse.
        let value = price_increase_hundredths(&renewal.price_increase_percentage).map_or_else(
            || renewal.price_increase_percentage.clone(),
            |h| format!("{}.{:02}", h / 100, h % 100),
        );
        term.insert(
            "PriceIncrease".into(),
            json!({ "Type": "FixedPercentage", "Value": value }),
        );
    }
    Value::Object(term)
}

fn legal_terms(eula: &Eula) -> Value {
    let document = match eula {
        Eula::Standard { version } => json!({ "Type": "StandardEula", "Version": version }),
        Eula::Custom { url } => json!({ "Type": "CustomEula", "Url": url }),
    };
    json!({ "Terms": [{ "Type": "LegalTerm", "Documents": [document] }] })
}

/// A price as the Catalog API takes it: a decimal string without trailing zeros.
pub fn decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let (whole, frac) = (abs / 1_000_000, abs % 1_000_000);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{frac:06}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// An installment amount: exactly two decimals.
pub fn charge_amount(micros: i64) -> String {
    format!(
        "{}.{:02}",
        micros / 1_000_000,
        (micros % 1_000_000).abs() / 10_000
    )
}

fn usage_term(currency: &str, prices: &[DimensionPrice]) -> Value {
    let rates: Vec<Value> = prices
        .iter()
        .map(|p| json!({ "DimensionKey": p.dimension_key, "Price": decimal(p.price_micros) }))
        .collect();
    // Usage is billed in USD only: validation refused any other currency before.
    json!({ "Type": "UsageBasedPricingTerm", "CurrencyCode": currency, "RateCards": [{ "RateCard": rates }] })
}

fn allowed(flag: bool) -> &'static str {
    if flag { "Allowed" } else { "Disallowed" }
}

fn months(n: u32) -> String {
    format!("P{n}M")
}

/// The upfront term of a contract: a rate card the buyer pays on acceptance, or, when a payment
/// schedule carries the money, a zero-priced fixed term granting the quantities.
fn upfront_term(
    currency: &str,
    duration: &str,
    dimensions: &[ContractDimension],
    multiple: bool,
    quantity_change: bool,
    scheduled: bool,
) -> Value {
    if scheduled {
        let grants: Vec<Value> = dimensions
            .iter()
            .map(|d| json!({ "DimensionKey": d.dimension_key, "MaxQuantity": d.quantity }))
            .collect();
        return json!({ "Type": "FixedUpfrontPricingTerm", "CurrencyCode": currency, "Price": "0", "Grants": grants });
    }
    let rates: Vec<Value> = dimensions
        .iter()
        .map(|d| json!({ "DimensionKey": d.dimension_key, "Price": decimal(d.unit_price_micros) }))
        .collect();
    json!({
        "Type": "ConfigurableUpfrontPricingTerm",
        "CurrencyCode": currency,
        "RateCards": [{
            "Selector": { "Type": "Duration", "Value": duration },
            "Constraints": {
                "MultipleDimensionSelection": allowed(multiple),
                "QuantityConfiguration": allowed(quantity_change),
            },
            "RateCard": rates,
        }],
    })
}

fn contract_term(draft: &OfferDraft, contract: &ContractTerms, duration: &str) -> Value {
    upfront_term(
        &draft.currency,
        duration,
        &contract.dimensions,
        contract.allow_multiple_dimensions,
        contract.allow_quantity_change,
        !draft.payment_schedule.is_empty(),
    )
}

/// The rate card's duration of a replacement: from acceptance to the agreement's end date,
/// in whole days (AWS needs a duration on the card; the ValidityTerm's end date rules).
fn replacement_duration(draft: &OfferDraft) -> String {
    match (draft.validity.agreement_end_date, draft.expiry_date) {
        (Some(end), Some(expiry)) => format!("P{}D", (end - expiry).whole_days().max(1)),
        _ => "P12M".to_owned(),
    }
}

fn software_terms(draft: &OfferDraft, s: &SoftwareTerms) -> (&'static str, Vec<Value>) {
    match s.pricing_model {
        SoftwarePricingModel::Contract => (
            "Contract",
            vec![upfront_term(
                &draft.currency,
                &months(s.duration_months),
                &s.contract_dimensions,
                true,
                true,
                !draft.payment_schedule.is_empty(),
            )],
        ),
        SoftwarePricingModel::HourlyAnnual => (
            "Usage",
            vec![
                usage_term(&draft.currency, &s.hourly_prices),
                upfront_term(
                    &draft.currency,
                    "P365D",
                    &s.contract_dimensions,
                    true,
                    true,
                    false,
                ),
            ],
        ),
        // BYOL and monthly never get here (refused by validation); hourly is usage.
        _ => ("Usage", vec![usage_term(&draft.currency, &s.hourly_prices)]),
    }
}

fn grants(grants: &[FreeTrialGrant]) -> Vec<Value> {
    grants
        .iter()
        .map(|g| match g.max_quantity {
            Some(q) => json!({ "DimensionKey": g.dimension_key, "MaxQuantity": q }),
            None => json!({ "DimensionKey": g.dimension_key }),
        })
        .collect()
}

pub(crate) fn pricing_terms(draft: &OfferDraft) -> Value {
    let (model, terms) = match &draft.pricing {
        Pricing::Subscription { usage_prices } => {
            ("Usage", vec![usage_term(&draft.currency, usage_prices)])
        }
        Pricing::Contract { contract } | Pricing::ProfessionalServices { contract } => (
            "Contract",
            vec![contract_term(
                draft,
                contract,
                &months(contract.duration_months),
            )],
        ),
        Pricing::ContractWithConsumption {
            contract,
            usage_prices,
        } => (
            "Contract",
            vec![
                contract_term(draft, contract, &months(contract.duration_months)),
                usage_term(&draft.currency, usage_prices),
            ],
        ),
        Pricing::Replacement {
            contract,
            usage_prices,
            ..
        } => {
            let mut terms = vec![contract_term(draft, contract, &replacement_duration(draft))];
            if !usage_prices.is_empty() {
                terms.push(usage_term(&draft.currency, usage_prices));
            }
            ("Contract", terms)
        }
        Pricing::Ami { software } | Pricing::Container { software } => {
            software_terms(draft, software)
        }
        Pricing::FreeTrial {
            duration_days,
            grants: g,
        } => (
            "Free",
            vec![
                json!({ "Type": "FreeTrialPricingTerm", "Duration": format!("P{duration_days}D"), "Grants": grants(g) }),
            ],
        ),
    };
    json!({ "PricingModel": model, "Terms": terms })
}

/// The ValidityTerm: a duration (from acceptance or a future start), or a start and an end; a
/// replacement's end alone; none for a free trial or a usage offer without dates.
fn validity_term(draft: &OfferDraft) -> Option<Value> {
    let start = draft.validity.agreement_start_date.map(iso);
    let end = draft.validity.agreement_end_date.map(iso);
    let duration = match &draft.pricing {
        Pricing::Contract { contract }
        | Pricing::ContractWithConsumption { contract, .. }
        | Pricing::ProfessionalServices { contract } => Some(contract.duration_months),
        Pricing::Ami { software } | Pricing::Container { software }
            if software.pricing_model == SoftwarePricingModel::Contract =>
        {
            Some(software.duration_months)
        }
        Pricing::FreeTrial { .. } => return None,
        _ => None,
    };
    let mut term = serde_json::Map::new();
    term.insert("Type".into(), json!("ValidityTerm"));
    match (end, duration) {
        (Some(end), _) => {
            if let Some(start) = start {
                term.insert("AgreementStartDate".into(), json!(start));
            }
            term.insert("AgreementEndDate".into(), json!(end));
        }
        (None, Some(n)) => {
            term.insert("AgreementDuration".into(), json!(months(n)));
            if let Some(start) = start {
                term.insert("AgreementStartDate".into(), json!(start));
            }
        }
        (None, None) => return None,
    }
    Some(Value::Object(term))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::model::{Pricing, SoftwareTerms};
    use crate::domain::validate::tests::saas_contract;

    fn types(changes: &[Change]) -> Vec<&'static str> {
        changes.iter().map(|c| c.change_type).collect()
    }

    fn details<'a>(changes: &'a [Change], change_type: &str) -> &'a Value {
        &changes
            .iter()
            .find(|c| c.change_type == change_type)
            .unwrap()
            .details
    }

    #[test]
    fn a_contract_with_installments_is_one_change_set_ending_in_release() {
        let changes = create_offer(&saas_contract());
        assert_eq!(
            types(&changes),
            vec![
                "CreateOffer",
                "UpdateInformation",
                "UpdateTargeting",
                "UpdateLegalTerms",
                "UpdatePricingTerms",
                "UpdateValidityTerms",
                "UpdatePaymentScheduleTerms",
                "UpdateAvailability",
                "ReleaseOffer",
            ]
        );
        assert_eq!(changes[0].change_name, Some(CREATE_CHANGE));
        assert_eq!(changes[0].identifier, None);
        assert!(
            changes[1..]
                .iter()
                .all(|c| c.identifier.as_deref() == Some("$CreateOfferChange.Entity.Identifier"))
        );
        assert_eq!(
            details(&changes, "UpdatePricingTerms"),
            &json!({ "PricingModel": "Contract", "Terms": [{ "Type": "FixedUpfrontPricingTerm",
                "CurrencyCode": "USD", "Price": "0", "Grants": [{ "DimensionKey": "seats", "MaxQuantity": 20 }] }] })
        );
        assert_eq!(
            details(&changes, "UpdatePaymentScheduleTerms"),
            &json!({ "Terms": [{ "Type": "PaymentScheduleTerm", "CurrencyCode": "USD", "Schedule": [
                { "ChargeDate": "2026-12-15", "ChargeAmount": "1200.00" },
                { "ChargeDate": "2027-06-15", "ChargeAmount": "800.00" }] }] })
        );
        assert_eq!(
            details(&changes, "UpdateValidityTerms"),
            &json!({ "Terms": [{ "Type": "ValidityTerm", "AgreementDuration": "P12M" }] })
        );
        assert_eq!(
            details(&changes, "UpdateAvailability"),
            &json!({ "AvailabilityEndDate": "2026-12-31" })
        );
    }

    #[test]
    fn a_contract_paid_upfront_is_a_rate_card_with_prices() {
        let mut draft = saas_contract();
        draft.payment_schedule.clear();
        let changes = create_offer(&draft);
        assert_eq!(
            details(&changes, "UpdatePricingTerms"),
            &json!({ "PricingModel": "Contract", "Terms": [{ "Type": "ConfigurableUpfrontPricingTerm",
                "CurrencyCode": "USD", "RateCards": [{ "Selector": { "Type": "Duration", "Value": "P12M" },
                "Constraints": { "MultipleDimensionSelection": "Disallowed", "QuantityConfiguration": "Disallowed" },
                "RateCard": [{ "DimensionKey": "seats", "Price": "100" }] }] }] })
        );
        assert!(!types(&changes).contains(&"UpdatePaymentScheduleTerms"));
    }

    #[test]
    fn a_free_trial_is_public_and_free() {
        let mut draft = saas_contract();
        draft.payment_schedule.clear();
        draft.buyer_account_ids.clear();
        draft.expiry_date = None;
        draft.pricing = Pricing::FreeTrial {
            duration_days: 14,
            grants: vec![crate::domain::model::FreeTrialGrant {
                dimension_key: "seats".into(),
                max_quantity: Some(5),
            }],
        };
        let changes = create_offer(&draft);
        assert_eq!(
            types(&changes),
            vec![
                "CreateOffer",
                "UpdateInformation",
                "UpdateLegalTerms",
                "UpdatePricingTerms",
                "ReleaseOffer"
            ]
        );
        assert_eq!(
            details(&changes, "UpdatePricingTerms"),
            &json!({ "PricingModel": "Free", "Terms": [{ "Type": "FreeTrialPricingTerm", "Duration": "P14D",
                "Grants": [{ "DimensionKey": "seats", "MaxQuantity": 5 }] }] })
        );
    }

    #[test]
    fn hourly_ami_prices_are_usage_in_usd() {
        let mut draft = saas_contract();
        draft.payment_schedule.clear();
        draft.pricing = Pricing::Ami {
            software: SoftwareTerms {
                pricing_model: crate::domain::model::SoftwarePricingModel::Hourly,
                hourly_prices: vec![crate::domain::model::DimensionPrice {
                    dimension_key: "m5.large".into(),
                    price_micros: 125_000,
                }],
                contract_dimensions: vec![],
                duration_months: 0,
            },
        };
        let changes = create_offer(&draft);
        assert_eq!(
            details(&changes, "UpdatePricingTerms"),
            &json!({ "PricingModel": "Usage", "Terms": [{ "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
                "RateCards": [{ "RateCard": [{ "DimensionKey": "m5.large", "Price": "0.125" }] }] }] })
        );
        assert!(!types(&changes).contains(&"UpdateValidityTerms"));
    }

    #[test]
    fn renewal_and_net_payment_terms_come_before_the_release() {
        let mut draft = saas_contract();
        draft.renewal = Some(Renewal {
            max_renewals: Some(3),
            price_increase_percentage: "5.5".into(),
            lockout_days: Some(30),
        });
        draft.net_payment_days = Some(45);
        draft.notification_emails = vec!["deals@example.com".into()];
        let changes = create_offer(&draft);
        assert_eq!(
            types(&changes)[6..],
            [
                "UpdatePaymentScheduleTerms",
                "UpdateRenewalTerms",
                "UpdateNetPaymentTerms",
                "UpdateAvailability",
                "ReleaseOffer",
            ]
        );
        assert_eq!(
            details(&changes, "UpdateRenewalTerms"),
            &json!({ "Terms": [{ "Type": "RenewalTerm", "MaxRenewals": 3, "LockoutPeriod": "P30D",
                "PriceIncrease": { "Type": "FixedPercentage", "Value": "5.50" } }] })
        );
        assert_eq!(
            details(&changes, "UpdateNetPaymentTerms"),
            &json!({ "Terms": [{ "Type": "NetPaymentTerm", "PaymentDuePeriod": "P45D" }] })
        );
        // A plain renewal is the bare term; notification addresses are Souk's, not AWS's.
        draft.renewal = Some(Renewal::default());
        draft.net_payment_days = None;
        let changes = create_offer(&draft);
        assert_eq!(
            details(&changes, "UpdateRenewalTerms"),
            &json!({ "Terms": [{ "Type": "RenewalTerm" }] })
        );
        assert!(!types(&changes).contains(&"UpdateNetPaymentTerms"));
        assert!(
            !changes
                .iter()
                .any(|c| c.details.to_string().contains("example.com"))
        );
    }

    #[test]
    fn prices_print_as_exact_decimals() {
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(1_500), "0.0015");
        assert_eq!(decimal(12_000_000), "12");
        assert_eq!(decimal(-1_000), "-0.001");
        assert_eq!(charge_amount(1_200_000_000), "1200.00");
        assert_eq!(charge_amount(10_000), "0.01");
    }
}
