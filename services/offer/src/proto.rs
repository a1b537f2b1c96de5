//! Domain values as contract messages, shared by the api (replies) and the events (payloads).

use souk_proto::common::{Date as PbDate, Money};
use souk_proto::offer as pb;
use souk_service::convert::timestamp;
use time::Date;

use crate::domain::model::{
    ContractDimension, ContractTerms, DimensionPrice, Eula, Installment, Offer, OfferKind,
    OfferState, Pricing, Renewal, ReplacementReason, SoftwarePricingModel, SoftwareTerms,
};
use crate::domain::resale::ResaleAuthorization;

/// A day as a contract date.
pub fn date(day: Date) -> PbDate {
    PbDate {
        year: day.year(),
        month: i32::from(u8::from(day.month())),
        day: i32::from(day.day()),
    }
}

/// The contract state.
pub fn state(state: OfferState) -> pb::OfferState {
    match state {
        OfferState::Draft => pb::OfferState::Draft,
        OfferState::Submitted => pb::OfferState::Submitted,
        OfferState::Released => pb::OfferState::Released,
        OfferState::Accepted => pb::OfferState::Accepted,
        OfferState::Expired => pb::OfferState::Expired,
        OfferState::Cancelled => pb::OfferState::Cancelled,
        OfferState::Failed => pb::OfferState::Failed,
    }
}

/// The contract kind.
pub fn kind(kind: OfferKind) -> pb::OfferKind {
    match kind {
        OfferKind::Subscription => pb::OfferKind::Subscription,
        OfferKind::Contract => pb::OfferKind::Contract,
        OfferKind::ContractWithConsumption => pb::OfferKind::ContractWithConsumption,
        OfferKind::Replacement => pb::OfferKind::Replacement,
        OfferKind::ProfessionalServices => pb::OfferKind::ProfessionalServices,
        OfferKind::Ami => pb::OfferKind::Ami,
        OfferKind::Container => pb::OfferKind::Container,
        OfferKind::FreeTrial => pb::OfferKind::FreeTrial,
        OfferKind::ChannelPartner => pb::OfferKind::ChannelPartner,
    }
}

fn money(micros: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_micros: micros,
        currency_code: currency.to_owned(),
    })
}

/// A flexible payment schedule (an offer's or a resale authorisation's), in `currency`.
fn payment_schedule(schedule: &[Installment], currency: &str) -> Vec<pb::PaymentInstallment> {
    schedule
        .iter()
        .map(|i| pb::PaymentInstallment {
            charge_date: Some(date(i.charge_date)),
            amount: money(i.amount_micros, currency),
        })
        .collect()
}

fn prices(prices: &[DimensionPrice], currency: &str) -> Vec<pb::DimensionPrice> {
    prices
        .iter()
        .map(|p| pb::DimensionPrice {
            dimension_key: p.dimension_key.clone(),
            price: money(p.price_micros, currency),
        })
        .collect()
}

fn dimensions(dimensions: &[ContractDimension], currency: &str) -> Vec<pb::ContractDimension> {
    dimensions
        .iter()
        .map(|d| pb::ContractDimension {
            dimension_key: d.dimension_key.clone(),
            unit_price: money(d.unit_price_micros, currency),
            quantity: d.quantity,
        })
        .collect()
}

fn months(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn contract(c: &ContractTerms, currency: &str) -> pb::ContractTerms {
    pb::ContractTerms {
        duration_months: months(c.duration_months),
        dimensions: dimensions(&c.dimensions, currency),
        allow_multiple_dimensions: c.allow_multiple_dimensions,
        allow_quantity_change: c.allow_quantity_change,
        renewal: None,
    }
}

fn renewal(r: &Renewal) -> pb::RenewalTerms {
    pb::RenewalTerms {
        max_renewals: r.max_renewals.map_or(0, months),
        price_increase_percentage: r.price_increase_percentage.clone(),
        lockout_days: r.lockout_days.map_or(0, months),
    }
}

/// `terms` with the renewal of its contract (contract, contract with consumption, replacement).
fn with_renewal(mut terms: pb::OfferTerms, asked: Option<&Renewal>) -> pb::OfferTerms {
    use pb::offer_terms::Kind;
    let Some(asked) = asked else {
        return terms;
    };
    let contract = match terms.kind.as_mut() {
        Some(Kind::Contract(c)) => Some(c),
        Some(Kind::ContractWithConsumption(c)) => c.contract.as_mut(),
        Some(Kind::Replacement(r)) => r.contract.as_mut(),
        _ => None,
    };
    if let Some(c) = contract {
        c.renewal = Some(renewal(asked));
    }
    terms
}

fn software_model(model: SoftwarePricingModel) -> pb::SoftwarePricingModel {
    match model {
        SoftwarePricingModel::Hourly => pb::SoftwarePricingModel::Hourly,
        SoftwarePricingModel::HourlyAnnual => pb::SoftwarePricingModel::HourlyAnnual,
        SoftwarePricingModel::Contract => pb::SoftwarePricingModel::Contract,
        SoftwarePricingModel::Byol => pb::SoftwarePricingModel::Byol,
        SoftwarePricingModel::Monthly => pb::SoftwarePricingModel::Monthly,
    }
}

fn software(
    s: &SoftwareTerms,
    currency: &str,
) -> (
    i32,
    Vec<pb::DimensionPrice>,
    Vec<pb::ContractDimension>,
    i32,
) {
    (
        software_model(s.pricing_model) as i32,
        prices(&s.hourly_prices, currency),
        dimensions(&s.contract_dimensions, currency),
        months(s.duration_months),
    )
}

/// The contract terms of `pricing`.
pub fn terms(pricing: &Pricing, currency: &str) -> pb::OfferTerms {
    use pb::offer_terms::Kind;
    let kind = match pricing {
        Pricing::Subscription { usage_prices } => Kind::Subscription(pb::SubscriptionTerms {
            usage_prices: prices(usage_prices, currency),
        }),
        Pricing::Contract { contract: c } => Kind::Contract(contract(c, currency)),
        Pricing::ContractWithConsumption {
            contract: c,
            usage_prices,
        } => Kind::ContractWithConsumption(pb::ContractWithConsumptionTerms {
            contract: Some(contract(c, currency)),
            usage_prices: prices(usage_prices, currency),
        }),
        Pricing::Replacement {
            agreement_id,
            reason,
            contract: c,
            usage_prices,
        } => Kind::Replacement(pb::ReplacementTerms {
            agreement_id: agreement_id.clone(),
            reason: match reason {
                ReplacementReason::Upsell => pb::ReplacementReason::Upsell,
                ReplacementReason::Renewal => pb::ReplacementReason::Renewal,
                ReplacementReason::Replacement => pb::ReplacementReason::Replacement,
            } as i32,
            contract: Some(contract(c, currency)),
            usage_prices: prices(usage_prices, currency),
        }),
        Pricing::ProfessionalServices { contract: c } => {
            Kind::ProfessionalServices(pb::ProfessionalServicesTerms {
                duration_months: months(c.duration_months),
                dimensions: dimensions(&c.dimensions, currency),
            })
        }
        Pricing::Ami { software: s } => {
            let (pricing_model, hourly_prices, prepaid_dimensions, duration_months) =
                software(s, currency);
            Kind::Ami(pb::AmiTerms {
                pricing_model,
                hourly_prices,
                prepaid_dimensions,
                duration_months,
            })
        }
        Pricing::Container { software: s } => {
            let (pricing_model, hourly_prices, contract_dimensions, duration_months) =
                software(s, currency);
            Kind::Container(pb::ContainerTerms {
                pricing_model,
                hourly_prices,
                contract_dimensions,
                duration_months,
            })
        }
        Pricing::FreeTrial {
            duration_days,
            grants,
        } => Kind::FreeTrial(pb::FreeTrialTerms {
            duration_days: months(*duration_days),
            grants: grants
                .iter()
                .map(|g| pb::FreeTrialGrant {
                    dimension_key: g.dimension_key.clone(),
                    max_quantity: g.max_quantity,
                })
                .collect(),
        }),
    };
    pb::OfferTerms { kind: Some(kind) }
}

/// The contract EULA.
pub fn eula(eula: &Eula) -> pb::Eula {
    match eula {
        Eula::Standard { version } => pb::Eula {
            r#type: pb::EulaType::Standard as i32,
            standard_version: version.clone(),
            custom_url: String::new(),
        },
        Eula::Custom { url } => pb::Eula {
            r#type: pb::EulaType::Custom as i32,
            standard_version: String::new(),
            custom_url: url.clone(),
        },
    }
}

/// The contract offer.
pub fn offer(o: &Offer) -> pb::Offer {
    let d = &o.draft;
    let validity = &d.validity;
    pb::Offer {
        id: o.id.to_string(),
        integration_id: o.integration_id.to_string(),
        aws_offer_id: o.aws_offer_id.clone().unwrap_or_default(),
        product_id: d.product_id.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        state: state(o.state) as i32,
        kind: kind(o.kind()) as i32,
        terms: Some(with_renewal(
            terms(&d.pricing, &d.currency),
            d.renewal.as_ref(),
        )),
        currency_code: d.currency.clone(),
        payment_schedule: payment_schedule(&d.payment_schedule, &d.currency),
        eula: Some(eula(&d.eula)),
        buyer_account_ids: d.buyer_account_ids.clone(),
        expiry_time: d.expiry_time().map(timestamp),
        validity: (validity.agreement_start_date.is_some()
            || validity.agreement_end_date.is_some())
        .then(|| pb::Validity {
            agreement_start_date: validity.agreement_start_date.map(date),
            agreement_end_date: validity.agreement_end_date.map(date),
        }),
        refund_policy: d.refund_policy.clone(),
        resale_authorization_id: d
            .resale
            .as_ref()
            .map(|r| r.resale_authorization_id.clone())
            .unwrap_or_default(),
        markup_percentage: d
            .resale
            .as_ref()
            .map(|r| r.markup_percentage.clone())
            .unwrap_or_default(),
        change_set_id: o.change_set_id.clone().unwrap_or_default(),
        failure_code: o.failure_code.clone().unwrap_or_default(),
        failure_message: o.failure_message.clone().unwrap_or_default(),
        create_time: Some(timestamp(o.created_at)),
        update_time: Some(timestamp(o.updated_at)),
        agreement_id: o.agreement_id.clone().unwrap_or_default(),
        cloned_from_offer_id: o
            .cloned_from
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        net_payment_days: d.net_payment_days.map_or(0, months),
        notification_emails: d.notification_emails.clone(),
    }
}

/// The contract resale authorisation.
pub fn resale_authorization(ra: &ResaleAuthorization) -> pb::ResaleAuthorization {
    let d = &ra.draft;
    pb::ResaleAuthorization {
        id: ra.id.to_string(),
        integration_id: ra.integration_id.to_string(),
        aws_resale_authorization_id: ra.aws_id.clone().unwrap_or_default(),
        product_id: d.product_id.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        reseller_account_id: d.reseller_account_id.clone(),
        state: state(ra.state) as i32,
        terms: Some(terms(&d.pricing, &d.currency)),
        currency_code: d.currency.clone(),
        payment_schedule: payment_schedule(&d.payment_schedule, &d.currency),
        buyer_eula: Some(eula(&d.eula)),
        buyer_account_ids: d.buyer_account_ids.clone(),
        expiry_date: d.expiry_date.map(date),
        one_time: d.one_time,
        failure_code: ra.failure_code.clone().unwrap_or_default(),
        failure_message: ra.failure_message.clone().unwrap_or_default(),
        create_time: Some(timestamp(ra.created_at)),
        update_time: Some(timestamp(ra.updated_at)),
    }
}
