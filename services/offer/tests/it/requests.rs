//! Valid requests of every kind, dated from the emulator's clock.

use souk_proto::common::{Date, Money};
use souk_proto::offer as pb;
use time::OffsetDateTime;

use super::harness::{AMI, BUYER, CONTAINER, SAAS, SERVICES};

/// `now`'s day plus `days`.
pub fn day(now: OffsetDateTime, days: i64) -> Date {
    let d = (now + time::Duration::days(days)).date();
    Date {
        year: d.year(),
        month: i32::from(u8::from(d.month())),
        day: i32::from(d.day()),
    }
}

pub fn money(micros: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_micros: micros,
        currency_code: currency.into(),
    })
}

fn dimension(key: &str, unit_micros: i64, quantity: i64, currency: &str) -> pb::ContractDimension {
    pb::ContractDimension {
        dimension_key: key.into(),
        unit_price: money(unit_micros, currency),
        quantity,
    }
}

fn price(key: &str, micros: i64) -> pb::DimensionPrice {
    pb::DimensionPrice {
        dimension_key: key.into(),
        price: money(micros, "USD"),
    }
}

fn base(
    now: OffsetDateTime,
    product: &str,
    kind: pb::OfferKind,
    terms: pb::offer_terms::Kind,
) -> pb::CreatePrivateOfferRequest {
    pb::CreatePrivateOfferRequest {
        integration_id: String::new(),
        product_id: product.into(),
        name: format!("{kind:?} offer"),
        description: "made by the offer tests".into(),
        terms: Some(pb::OfferTerms { kind: Some(terms) }),
        currency_code: "USD".into(),
        payment_schedule: vec![],
        eula: None,
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(day(now, 30)),
        validity: None,
        refund_policy: String::new(),
        idempotency_key: String::new(),
        kind: kind as i32,
        net_payment_days: 0,
        notification_emails: vec![],
    }
}

/// A 12-month SaaS contract: 20 seats at 100 (2,000 in `currency`), paid in two installments,
/// one before the expiry (day 1) and one after it (day 60).
pub fn saas_contract(now: OffsetDateTime, currency: &str) -> pb::CreatePrivateOfferRequest {
    let mut r = base(
        now,
        SAAS,
        pb::OfferKind::Contract,
        pb::offer_terms::Kind::Contract(pb::ContractTerms {
            duration_months: 12,
            dimensions: vec![dimension("seats", 100_000_000, 20, currency)],
            ..pb::ContractTerms::default()
        }),
    );
    r.currency_code = currency.into();
    r.payment_schedule = vec![
        pb::PaymentInstallment {
            charge_date: Some(day(now, 1)),
            amount: money(1_200_000_000, currency),
        },
        pb::PaymentInstallment {
            charge_date: Some(day(now, 60)),
            amount: money(800_000_000, currency),
        },
    ];
    r
}

/// A SaaS pay-as-you-go offer.
pub fn subscription(now: OffsetDateTime) -> pb::CreatePrivateOfferRequest {
    base(
        now,
        SAAS,
        pb::OfferKind::Subscription,
        pb::offer_terms::Kind::Subscription(pb::SubscriptionTerms {
            usage_prices: vec![price("api_calls", 2_000)],
        }),
    )
}

/// A SaaS contract paid upfront with usage on top.
pub fn contract_with_consumption(now: OffsetDateTime) -> pb::CreatePrivateOfferRequest {
    base(
        now,
        SAAS,
        pb::OfferKind::ContractWithConsumption,
        pb::offer_terms::Kind::ContractWithConsumption(pb::ContractWithConsumptionTerms {
            contract: Some(pb::ContractTerms {
                duration_months: 12,
                dimensions: vec![dimension("seats", 50_000_000, 0, "USD")],
                allow_quantity_change: true,
                ..pb::ContractTerms::default()
            }),
            usage_prices: vec![price("api_calls", 1_000)],
        }),
    )
}

/// Professional services: two commits, the buyer picks one.
pub fn professional_services(now: OffsetDateTime) -> pb::CreatePrivateOfferRequest {
    let mut r = base(
        now,
        SERVICES,
        pb::OfferKind::ProfessionalServices,
        pb::offer_terms::Kind::ProfessionalServices(pb::ProfessionalServicesTerms {
            duration_months: 3,
            dimensions: vec![
                dimension("workshop", 5_000_000_000, 1, "EUR"),
                dimension("audit", 9_000_000_000, 1, "EUR"),
            ],
        }),
    );
    r.currency_code = "EUR".into();
    r
}

/// An hourly AMI offer.
pub fn ami_hourly(now: OffsetDateTime) -> pb::CreatePrivateOfferRequest {
    base(
        now,
        AMI,
        pb::OfferKind::Ami,
        pb::offer_terms::Kind::Ami(pb::AmiTerms {
            pricing_model: pb::SoftwarePricingModel::Hourly as i32,
            hourly_prices: vec![price("m5.large", 125_000)],
            ..pb::AmiTerms::default()
        }),
    )
}

/// A container contract in GBP.
pub fn container_contract(now: OffsetDateTime) -> pb::CreatePrivateOfferRequest {
    let mut r = base(
        now,
        CONTAINER,
        pb::OfferKind::Container,
        pb::offer_terms::Kind::Container(pb::ContainerTerms {
            pricing_model: pb::SoftwarePricingModel::Contract as i32,
            contract_dimensions: vec![dimension("pods", 300_000_000, 0, "GBP")],
            duration_months: 12,
            ..pb::ContainerTerms::default()
        }),
    );
    r.currency_code = "GBP".into();
    r
}

/// A public free trial of 14 days.
pub fn free_trial(now: OffsetDateTime) -> pb::CreatePrivateOfferRequest {
    let mut r = base(
        now,
        SAAS,
        pb::OfferKind::FreeTrial,
        pb::offer_terms::Kind::FreeTrial(pb::FreeTrialTerms {
            duration_days: 14,
            grants: vec![pb::FreeTrialGrant {
                dimension_key: "api_calls".into(),
                max_quantity: None,
            }],
        }),
    );
    r.buyer_account_ids.clear();
    r.expiry_date = None;
    r
}
