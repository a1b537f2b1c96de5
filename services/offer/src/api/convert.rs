//! Requests to domain values: the shape of every field (ids, enums, dates, each amount in the
//! offer's currency) is checked here, every bad field at once; the business rules are the
//! domain's (`domain::validate`).

use souk_core::error::Violations;
use souk_core::{Id, validate};
use souk_proto::common::{Date as PbDate, Money};
use souk_proto::offer as pb;
use souk_service::convert::{finish, id, instant};
use time::{Date, Month};

use crate::domain::model::{
    ContractDimension, ContractTerms, DimensionPrice, Eula, FreeTrialGrant, Installment,
    OfferDraft, OfferKind, OfferState, Pricing, Renewal, ReplacementReason, STANDARD_EULA_VERSION,
    SoftwarePricingModel, SoftwareTerms, Validity,
};
use crate::domain::ports::OfferFilter;
use crate::domain::resale::{ChannelPartnerOfferDraft, ResaleAuthorizationDraft, ResaleFilter};

/// A date field; `None` (with a violation) when it is not a real day.
pub fn date(v: &mut Violations, field: &str, raw: &PbDate) -> Option<Date> {
    let day = u8::try_from(raw.month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .and_then(|m| Date::from_calendar_date(raw.year, m, u8::try_from(raw.day).ok()?).ok());
    if day.is_none() {
        v.add(
            field,
            "is not a valid date (year, month 1-12, day of the month)",
        );
    }
    day
}

fn opt_date(v: &mut Violations, field: &str, raw: Option<&PbDate>) -> Option<Date> {
    raw.and_then(|d| date(v, field, d))
}

/// An amount that must be in `currency` (an empty currency means the offer's).
fn amount(v: &mut Violations, field: &str, money: Option<&Money>, currency: &str) -> i64 {
    let Some(money) = money else {
        v.add(format!("{field}.amount_micros"), "is required");
        return 0;
    };
    if !money.currency_code.is_empty() && money.currency_code != currency {
        v.add(
            format!("{field}.currency_code"),
            format!(
                "is {} but the offer is in {currency}: every amount of an offer is in its currency",
                money.currency_code
            ),
        );
    }
    money.amount_micros
}

fn prices(
    v: &mut Violations,
    path: &str,
    items: &[pb::DimensionPrice],
    currency: &str,
) -> Vec<DimensionPrice> {
    items
        .iter()
        .enumerate()
        .map(|(i, p)| DimensionPrice {
            dimension_key: p.dimension_key.clone(),
            price_micros: amount(v, &format!("{path}[{i}].price"), p.price.as_ref(), currency),
        })
        .collect()
}

fn dimensions(
    v: &mut Violations,
    path: &str,
    items: &[pb::ContractDimension],
    currency: &str,
) -> Vec<ContractDimension> {
    items
        .iter()
        .enumerate()
        .map(|(i, d)| ContractDimension {
            dimension_key: d.dimension_key.clone(),
            unit_price_micros: amount(
                v,
                &format!("{path}[{i}].unit_price"),
                d.unit_price.as_ref(),
                currency,
            ),
            quantity: d.quantity,
        })
        .collect()
}

fn months(v: &mut Violations, field: &str, raw: i32) -> u32 {
    u32::try_from(raw).unwrap_or_else(|_| {
        v.add(field, "must not be negative");
        0
    })
}

/// A count where 0 means "unset": `None` for 0, a violation for a negative one.
fn optional_count(v: &mut Violations, field: &str, raw: i32) -> Option<u32> {
    match u32::try_from(raw) {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(_) => {
            v.add(field, "must not be negative");
            None
        }
    }
}

/// The renewal terms of a contract (`None`: no automatic renewal).
fn renewal(v: &mut Violations, path: &str, raw: Option<&pb::RenewalTerms>) -> Option<Renewal> {
    let r = raw?;
    Some(Renewal {
        max_renewals: optional_count(v, &format!("{path}.max_renewals"), r.max_renewals),
        price_increase_percentage: r.price_increase_percentage.clone(),
        lockout_days: optional_count(v, &format!("{path}.lockout_days"), r.lockout_days),
    })
}

/// A contract and its renewal terms.
fn contract(
    v: &mut Violations,
    path: &str,
    raw: Option<&pb::ContractTerms>,
    currency: &str,
) -> (ContractTerms, Option<Renewal>) {
    let Some(c) = raw else {
        v.add(path, "is required");
        let empty = ContractTerms {
            duration_months: 0,
            dimensions: Vec::new(),
            allow_multiple_dimensions: false,
            allow_quantity_change: false,
        };
        return (empty, None);
    };
    let terms = ContractTerms {
        duration_months: months(v, &format!("{path}.duration_months"), c.duration_months),
        dimensions: dimensions(v, &format!("{path}.dimensions"), &c.dimensions, currency),
        allow_multiple_dimensions: c.allow_multiple_dimensions,
        allow_quantity_change: c.allow_quantity_change,
    };
    (
        terms,
        renewal(v, &format!("{path}.renewal"), c.renewal.as_ref()),
    )
}

fn software_model(v: &mut Violations, field: &str, raw: i32) -> SoftwarePricingModel {
    match pb::SoftwarePricingModel::try_from(raw) {
        Ok(pb::SoftwarePricingModel::Hourly) => SoftwarePricingModel::Hourly,
        Ok(pb::SoftwarePricingModel::HourlyAnnual) => SoftwarePricingModel::HourlyAnnual,
        Ok(pb::SoftwarePricingModel::Contract) => SoftwarePricingModel::Contract,
        Ok(pb::SoftwarePricingModel::Byol) => SoftwarePricingModel::Byol,
        Ok(pb::SoftwarePricingModel::Monthly) => SoftwarePricingModel::Monthly,
        _ => {
            v.add(
                field,
                "must be HOURLY, HOURLY_ANNUAL, CONTRACT, BYOL or MONTHLY",
            );
            SoftwarePricingModel::Hourly
        }
    }
}

/// The kind named by a request.
pub fn kind(raw: i32) -> Option<OfferKind> {
    Some(match pb::OfferKind::try_from(raw).ok()? {
        pb::OfferKind::Subscription => OfferKind::Subscription,
        pb::OfferKind::Contract => OfferKind::Contract,
        pb::OfferKind::ContractWithConsumption => OfferKind::ContractWithConsumption,
        pb::OfferKind::Replacement => OfferKind::Replacement,
        pb::OfferKind::ProfessionalServices => OfferKind::ProfessionalServices,
        pb::OfferKind::Ami => OfferKind::Ami,
        pb::OfferKind::Container => OfferKind::Container,
        pb::OfferKind::FreeTrial => OfferKind::FreeTrial,
        pb::OfferKind::ChannelPartner => OfferKind::ChannelPartner,
        pb::OfferKind::Unspecified => return None,
    })
}

/// The renewal terms a request asks for, with the field that holds them.
type AskedRenewal = Option<(String, Renewal)>;

/// The pricing of a request and the renewal terms of its contract, if it has any.
fn pricing(
    v: &mut Violations,
    terms: Option<&pb::OfferTerms>,
    currency: &str,
) -> Option<(Pricing, AskedRenewal)> {
    use pb::offer_terms::Kind;
    let Some(kind) = terms.and_then(|t| t.kind.as_ref()) else {
        v.add("terms", "is required: the pricing of the offer's kind");
        return None;
    };
    let mut renewal = None;
    let mut contract_of = |v: &mut Violations, path: &str, raw: Option<&pb::ContractTerms>| {
        let (terms, asked) = contract(v, path, raw, currency);
        renewal = asked.map(|r| (format!("{path}.renewal"), r));
        terms
    };
    let pricing = match kind {
        Kind::Subscription(s) => Pricing::Subscription {
            usage_prices: prices(
                v,
                "terms.subscription.usage_prices",
                &s.usage_prices,
                currency,
            ),
        },
        Kind::Contract(c) => Pricing::Contract {
            contract: contract_of(v, "terms.contract", Some(c)),
        },
        Kind::ContractWithConsumption(c) => Pricing::ContractWithConsumption {
            contract: contract_of(
                v,
                "terms.contract_with_consumption.contract",
                c.contract.as_ref(),
            ),
            usage_prices: prices(
                v,
                "terms.contract_with_consumption.usage_prices",
                &c.usage_prices,
                currency,
            ),
        },
        Kind::Replacement(r) => Pricing::Replacement {
            agreement_id: r.agreement_id.clone(),
            reason: match pb::ReplacementReason::try_from(r.reason) {
                Ok(pb::ReplacementReason::Upsell) => ReplacementReason::Upsell,
                Ok(pb::ReplacementReason::Renewal) => ReplacementReason::Renewal,
                Ok(pb::ReplacementReason::Replacement) => ReplacementReason::Replacement,
                _ => {
                    v.add(
                        "terms.replacement.reason",
                        "must be UPSELL, RENEWAL or REPLACEMENT",
                    );
                    ReplacementReason::Replacement
                }
            },
            contract: contract_of(v, "terms.replacement.contract", r.contract.as_ref()),
            usage_prices: prices(
                v,
                "terms.replacement.usage_prices",
                &r.usage_prices,
                currency,
            ),
        },
        Kind::ProfessionalServices(p) => Pricing::ProfessionalServices {
            contract: ContractTerms {
                duration_months: months(
                    v,
                    "terms.professional_services.duration_months",
                    p.duration_months,
                ),
                dimensions: dimensions(
                    v,
                    "terms.professional_services.dimensions",
                    &p.dimensions,
                    currency,
                ),
                // The buyer picks one of the commits.
                allow_multiple_dimensions: false,
                allow_quantity_change: false,
            },
        },
        Kind::Ami(a) => Pricing::Ami {
            software: SoftwareTerms {
                pricing_model: software_model(v, "terms.ami.pricing_model", a.pricing_model),
                hourly_prices: prices(v, "terms.ami.hourly_prices", &a.hourly_prices, currency),
                contract_dimensions: dimensions(
                    v,
                    "terms.ami.prepaid_dimensions",
                    &a.prepaid_dimensions,
                    currency,
                ),
                duration_months: months(v, "terms.ami.duration_months", a.duration_months),
            },
        },
        Kind::Container(c) => Pricing::Container {
            software: SoftwareTerms {
                pricing_model: software_model(v, "terms.container.pricing_model", c.pricing_model),
                hourly_prices: prices(
                    v,
                    "terms.container.hourly_prices",
                    &c.hourly_prices,
                    currency,
                ),
                contract_dimensions: dimensions(
                    v,
                    "terms.container.contract_dimensions",
                    &c.contract_dimensions,
                    currency,
                ),
                duration_months: months(v, "terms.container.duration_months", c.duration_months),
            },
        },
        Kind::FreeTrial(f) => Pricing::FreeTrial {
            duration_days: months(v, "terms.free_trial.duration_days", f.duration_days),
            grants: f
                .grants
                .iter()
                .map(|g| FreeTrialGrant {
                    dimension_key: g.dimension_key.clone(),
                    max_quantity: g.max_quantity,
                })
                .collect(),
        },
    };
    Some((pricing, renewal))
}

/// The EULA of a request (`None`: the default, the latest standard contract).
pub fn eula(v: &mut Violations, field: &str, raw: Option<&pb::Eula>) -> Eula {
    let standard = |version: &str| Eula::Standard {
        version: if version.is_empty() {
            STANDARD_EULA_VERSION.to_owned()
        } else {
            version.to_owned()
        },
    };
    let Some(e) = raw else {
        return standard("");
    };
    match pb::EulaType::try_from(e.r#type) {
        Ok(pb::EulaType::Custom) => Eula::Custom {
            url: e.custom_url.clone(),
        },
        Ok(pb::EulaType::Standard | pb::EulaType::Unspecified) => {
            if !e.custom_url.is_empty() {
                v.add(
                    format!("{field}.custom_url"),
                    "is only for EULA_TYPE_CUSTOM",
                );
            }
            standard(&e.standard_version)
        }
        Err(_) => {
            v.add(
                format!("{field}.type"),
                "must be EULA_TYPE_STANDARD or EULA_TYPE_CUSTOM",
            );
            standard("")
        }
    }
}

/// The idempotency key (empty for none).
pub fn idempotency_key(v: &mut Violations, raw: &str) {
    v.check("idempotency_key", validate::idempotency_key(raw));
}

/// A payment schedule, each amount in `currency`.
fn schedule(
    v: &mut Violations,
    raw: &[pb::PaymentInstallment],
    currency: &str,
) -> Vec<Installment> {
    raw.iter()
        .enumerate()
        .map(|(i, p)| {
            let field = format!("payment_schedule[{i}]");
            let charge_date = match p.charge_date.as_ref() {
                Some(d) => date(v, &format!("{field}.charge_date"), d),
                None => {
                    v.add(format!("{field}.charge_date"), "is required");
                    None
                }
            };
            let amount_micros = amount(v, &format!("{field}.amount"), p.amount.as_ref(), currency);
            Installment {
                charge_date: charge_date.unwrap_or(Date::MIN),
                amount_micros,
            }
        })
        .collect()
}

/// CreatePrivateOffer as the integration and the asked offer.
pub fn create(req: &pb::CreatePrivateOfferRequest) -> Result<(Id, OfferDraft), souk_core::Error> {
    let mut v = Violations::new();
    let integration_id = id(&mut v, "integration_id", "int", &req.integration_id);
    idempotency_key(&mut v, &req.idempotency_key);
    let currency = req.currency_code.clone();
    let (pricing, renewal) = pricing(&mut v, req.terms.as_ref(), &currency).unzip();
    match (kind(req.kind), &pricing) {
        (None, _) => v.add(
            "kind",
            "is required: SUBSCRIPTION, CONTRACT, CONTRACT_WITH_CONSUMPTION, REPLACEMENT, PROFESSIONAL_SERVICES, AMI, CONTAINER or FREE_TRIAL",
        ),
        (Some(OfferKind::ChannelPartner), _) => v.add(
            "kind",
            "CHANNEL_PARTNER offers are made from a resale authorisation: call CreateChannelPartnerOffer",
        ),
        (Some(kind), Some(pricing)) if pricing.kind() != kind => v.add(
            "terms",
            format!(
                "are the terms of {} but kind says {}",
                pricing.kind().label(),
                kind.label()
            ),
        ),
        _ => {}
    }
    let payment_schedule = schedule(&mut v, &req.payment_schedule, &currency);
    let eula = eula(&mut v, "eula", req.eula.as_ref());
    let expiry_date = opt_date(&mut v, "expiry_date", req.expiry_date.as_ref());
    let validity = validity(&mut v, req.validity.as_ref());
    let draft = pricing.map(|pricing| OfferDraft {
        product_id: req.product_id.clone(),
        name: req.name.clone(),
        description: req.description.clone(),
        pricing,
        currency,
        payment_schedule,
        eula,
        buyer_account_ids: req.buyer_account_ids.clone(),
        expiry_date,
        validity,
        refund_policy: req.refund_policy.clone(),
        renewal: renewal.flatten().map(|(_, r)| r),
        net_payment_days: optional_count(&mut v, "net_payment_days", req.net_payment_days),
        notification_emails: req.notification_emails.clone(),
        resale: None,
    });
    v.finish()?;
    let Some(draft) = draft else {
        return Err(souk_core::Error::invalid_field("terms", "is required"));
    };
    Ok((integration_id, draft))
}

/// Agreement start and end days (unset: start on acceptance, run for the terms).
fn validity(v: &mut Violations, raw: Option<&pb::Validity>) -> Validity {
    raw.map(|val| Validity {
        agreement_start_date: opt_date(
            v,
            "validity.agreement_start_date",
            val.agreement_start_date.as_ref(),
        ),
        agreement_end_date: opt_date(
            v,
            "validity.agreement_end_date",
            val.agreement_end_date.as_ref(),
        ),
    })
    .unwrap_or_default()
}

/// An offer id field.
pub fn offer_id(v: &mut Violations, raw: &str) -> Id {
    id(v, "offer_id", "ofr", raw)
}

/// The state filter of ListOffers.
fn state(raw: i32) -> Option<OfferState> {
    Some(match pb::OfferState::try_from(raw).ok()? {
        pb::OfferState::Draft => OfferState::Draft,
        pb::OfferState::Submitted => OfferState::Submitted,
        pb::OfferState::Released => OfferState::Released,
        pb::OfferState::Accepted => OfferState::Accepted,
        pb::OfferState::Expired => OfferState::Expired,
        pb::OfferState::Cancelled => OfferState::Cancelled,
        pb::OfferState::Failed => OfferState::Failed,
        pb::OfferState::Unspecified => return None,
    })
}

/// ListOffers' filters.
pub fn filter(req: &pb::ListOffersRequest) -> Result<OfferFilter, souk_core::Error> {
    let mut v = Violations::new();
    let integration_id = (!req.integration_id.is_empty())
        .then(|| id(&mut v, "integration_id", "int", &req.integration_id));
    if !req.buyer_account_id.is_empty() {
        v.check(
            "buyer_account_id",
            validate::aws_account_id(&req.buyer_account_id),
        );
    }
    let mut states = Vec::new();
    for (i, raw) in req.states.iter().enumerate() {
        match state(*raw) {
            Some(s) => states.push(s),
            None => v.add(format!("states[{i}]"), "is not an offer state"),
        }
    }
    let mut kinds = Vec::new();
    for (i, raw) in req.kinds.iter().enumerate() {
        match kind(*raw) {
            Some(k) => kinds.push(k),
            None => v.add(format!("kinds[{i}]"), "is not an offer kind"),
        }
    }
    let expiring_before = req.expiring_before.as_ref().and_then(|t| match instant(t) {
        Ok(at) => Some(at),
        Err(reason) => {
            v.add("expiring_before", reason);
            None
        }
    });
    let filter = OfferFilter {
        integration_id,
        product_id: (!req.product_id.is_empty()).then(|| req.product_id.clone()),
        buyer_account_id: (!req.buyer_account_id.is_empty()).then(|| req.buyer_account_id.clone()),
        states,
        kinds,
        expiring_before,
    };
    finish(v, filter)
}

/// CreateResaleAuthorization as the integration and the asked authorisation.
pub fn create_resale_authorization(
    req: &pb::CreateResaleAuthorizationRequest,
) -> Result<(Id, ResaleAuthorizationDraft), souk_core::Error> {
    let mut v = Violations::new();
    let integration_id = id(&mut v, "integration_id", "int", &req.integration_id);
    idempotency_key(&mut v, &req.idempotency_key);
    let currency = req.currency_code.clone();
    let (pricing, renewal) = pricing(&mut v, req.terms.as_ref(), &currency).unzip();
    if let Some((field, _)) = renewal.flatten() {
        v.add(
            field,
            "is not allowed on a resale authorisation: AWS has no renewal terms for them; leave it unset",
        );
    }
    let payment_schedule = schedule(&mut v, &req.payment_schedule, &currency);
    let eula = eula(&mut v, "buyer_eula", req.buyer_eula.as_ref());
    let expiry_date = opt_date(&mut v, "expiry_date", req.expiry_date.as_ref());
    let draft = pricing.map(|pricing| ResaleAuthorizationDraft {
        product_id: req.product_id.clone(),
        name: req.name.clone(),
        description: req.description.clone(),
        reseller_account_id: req.reseller_account_id.clone(),
        pricing,
        currency,
        payment_schedule,
        eula,
        buyer_account_ids: req.buyer_account_ids.clone(),
        expiry_date,
        one_time: req.one_time,
    });
    v.finish()?;
    let Some(draft) = draft else {
        return Err(souk_core::Error::invalid_field("terms", "is required"));
    };
    Ok((integration_id, draft))
}

/// CreateChannelPartnerOffer as the partner's integration and the asked offer.
pub fn create_channel_partner_offer(
    req: &pb::CreateChannelPartnerOfferRequest,
) -> Result<(Id, ChannelPartnerOfferDraft), souk_core::Error> {
    let mut v = Violations::new();
    let integration_id = id(&mut v, "integration_id", "int", &req.integration_id);
    idempotency_key(&mut v, &req.idempotency_key);
    if !is_aws_resale_authorization_id(&req.resale_authorization_id) {
        v.add(
            "resale_authorization_id",
            "must be the AWS id of the resale authorisation the seller granted (\"resaleauthz-...\")",
        );
    }
    let expiry_date = opt_date(&mut v, "expiry_date", req.expiry_date.as_ref());
    let validity = validity(&mut v, req.validity.as_ref());
    let replace_agreement_id =
        (!req.replace_agreement_id.is_empty()).then(|| req.replace_agreement_id.clone());
    if let Some(agreement) = &replace_agreement_id
        && (!agreement.starts_with("agmt-") || agreement.len() > 64)
    {
        v.add(
            "replace_agreement_id",
            "must be an agreement id (\"agmt-...\", at most 64 characters)",
        );
    }
    let draft = ChannelPartnerOfferDraft {
        resale_authorization_id: req.resale_authorization_id.clone(),
        name: req.name.clone(),
        description: req.description.clone(),
        markup_percentage: if req.markup_percentage.is_empty() {
            "0".to_owned()
        } else {
            req.markup_percentage.clone()
        },
        buyer_account_ids: req.buyer_account_ids.clone(),
        expiry_date,
        validity,
        replace_agreement_id,
        notification_emails: req.notification_emails.clone(),
    };
    finish(v, (integration_id, draft))
}

/// AWS's id of a resale authorisation (`resaleauthz-` and up to 64 characters).
fn is_aws_resale_authorization_id(raw: &str) -> bool {
    raw.strip_prefix("resaleauthz-").is_some_and(|rest| {
        !rest.is_empty()
            && raw.len() <= 64
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// A resale authorisation id field: Souk's (`rsa_...`) or AWS's (`resaleauthz-...`).
pub fn resale_authorization_id(v: &mut Violations, raw: &str) {
    if raw.starts_with("resaleauthz-") {
        if !is_aws_resale_authorization_id(raw) {
            v.add(
                "resale_authorization_id",
                "must be a resale authorisation id (\"rsa_...\" or \"resaleauthz-...\")",
            );
        }
    } else {
        id(v, "resale_authorization_id", "rsa", raw);
    }
}

/// ListResaleAuthorizations' filters.
pub fn resale_filter(
    req: &pb::ListResaleAuthorizationsRequest,
) -> Result<ResaleFilter, souk_core::Error> {
    let mut v = Violations::new();
    let integration_id = (!req.integration_id.is_empty())
        .then(|| id(&mut v, "integration_id", "int", &req.integration_id));
    if !req.reseller_account_id.is_empty() {
        v.check(
            "reseller_account_id",
            validate::aws_account_id(&req.reseller_account_id),
        );
    }
    let filter = ResaleFilter {
        integration_id,
        product_id: (!req.product_id.is_empty()).then(|| req.product_id.clone()),
        reseller_account_id: (!req.reseller_account_id.is_empty())
            .then(|| req.reseller_account_id.clone()),
    };
    finish(v, filter)
}
