//! One test per rule: the exact field violation a bad offer gets, and that a good offer of each
//! kind passes.

#![allow(clippy::unwrap_used)]

use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

use super::*;
use crate::domain::model::{Renewal, ReplacementReason, Validity};

const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);
const EXPIRY: Date = date!(2026 - 12 - 31);

fn contract() -> ContractTerms {
    ContractTerms {
        duration_months: 12,
        dimensions: vec![ContractDimension {
            dimension_key: "seats".into(),
            unit_price_micros: 100_000_000,
            quantity: 20,
        }],
        allow_multiple_dimensions: false,
        allow_quantity_change: false,
    }
}

/// A SaaS contract of 2,000 USD paid in two installments: one before the expiry, one after.
pub(crate) fn saas_contract() -> OfferDraft {
    OfferDraft {
        product_id: "prod-abc123".into(),
        name: "Acme annual".into(),
        description: "renewal for Acme".into(),
        pricing: Pricing::Contract {
            contract: contract(),
        },
        currency: "USD".into(),
        payment_schedule: vec![
            Installment {
                charge_date: date!(2026 - 12 - 15),
                amount_micros: 1_200_000_000,
            },
            Installment {
                charge_date: date!(2027 - 06 - 15),
                amount_micros: 800_000_000,
            },
        ],
        eula: Eula::Standard {
            version: "2022-07-14".into(),
        },
        buyer_account_ids: vec!["444455556666".into()],
        expiry_date: Some(EXPIRY),
        validity: Validity::default(),
        refund_policy: String::new(),
        renewal: None,
        net_payment_days: None,
        notification_emails: Vec::new(),
        resale: None,
    }
}

fn usage(key: &str, micros: i64) -> DimensionPrice {
    DimensionPrice {
        dimension_key: key.into(),
        price_micros: micros,
    }
}

/// The violations of `draft` as (field, reason) pairs.
fn violations(draft: &OfferDraft) -> Vec<(String, String)> {
    match super::draft(draft, NOW) {
        Ok(()) => Vec::new(),
        Err(e) => e
            .violations
            .into_iter()
            .map(|v| (v.field, v.reason))
            .collect(),
    }
}

fn only(draft: &OfferDraft) -> (String, String) {
    let found = violations(draft);
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

fn pair(field: &str, reason: &str) -> (String, String) {
    (field.to_owned(), reason.to_owned())
}

#[test]
fn a_valid_contract_with_installments_passes() {
    assert_eq!(violations(&saas_contract()), Vec::new());
}

#[test]
fn every_kind_has_a_valid_shape() {
    let mut sub = saas_contract();
    sub.payment_schedule.clear();
    sub.pricing = Pricing::Subscription {
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(violations(&sub), Vec::new());

    let mut consumption = saas_contract();
    consumption.pricing = Pricing::ContractWithConsumption {
        contract: contract(),
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(violations(&consumption), Vec::new());

    let mut replacement = saas_contract();
    replacement.buyer_account_ids.clear();
    replacement.validity.agreement_end_date = Some(date!(2027 - 12 - 31));
    replacement.pricing = Pricing::Replacement {
        agreement_id: "agmt-1234".into(),
        reason: ReplacementReason::Upsell,
        contract: contract(),
        usage_prices: vec![],
    };
    assert_eq!(violations(&replacement), Vec::new());

    let mut services = saas_contract();
    services.pricing = Pricing::ProfessionalServices {
        contract: contract(),
    };
    assert_eq!(violations(&services), Vec::new());

    let mut ami = saas_contract();
    ami.payment_schedule.clear();
    ami.pricing = Pricing::Ami {
        software: SoftwareTerms {
            pricing_model: SoftwarePricingModel::HourlyAnnual,
            hourly_prices: vec![usage("m5.large", 120_000)],
            contract_dimensions: vec![ContractDimension {
                dimension_key: "m5.large".into(),
                unit_price_micros: 800_000_000,
                quantity: 0,
            }],
            duration_months: 0,
        },
    };
    assert_eq!(violations(&ami), Vec::new());

    let mut container = saas_contract();
    container.currency = "EUR".into();
    container.payment_schedule.clear();
    container.pricing = Pricing::Container {
        software: SoftwareTerms {
            pricing_model: SoftwarePricingModel::Contract,
            hourly_prices: vec![],
            contract_dimensions: vec![ContractDimension {
                dimension_key: "pods".into(),
                unit_price_micros: 50_000_000,
                quantity: 0,
            }],
            duration_months: 12,
        },
    };
    assert_eq!(violations(&container), Vec::new());

    let mut trial = saas_contract();
    trial.payment_schedule.clear();
    trial.buyer_account_ids.clear();
    trial.expiry_date = None;
    trial.pricing = Pricing::FreeTrial {
        duration_days: 30,
        grants: vec![FreeTrialGrant {
            dimension_key: "seats".into(),
            max_quantity: None,
        }],
    };
    assert_eq!(violations(&trial), Vec::new());
}

#[test]
fn a_charge_date_in_the_past_is_refused() {
    let mut d = saas_contract();
    d.payment_schedule[0].charge_date = date!(2026 - 11 - 29);
    assert_eq!(
        only(&d),
        pair(
            "payment_schedule[0].charge_date",
            "2026-11-29 is in the past: AWS refuses charge dates before today (2026-11-30)"
        )
    );
}

#[test]
fn a_charge_today_is_not_in_the_past() {
    let mut d = saas_contract();
    d.payment_schedule[0].charge_date = date!(2026 - 11 - 30);
    assert_eq!(violations(&d), Vec::new());
}

#[test]
fn two_installments_on_or_before_the_expiry_are_refused() {
    let mut d = saas_contract();
    d.payment_schedule[1].charge_date = EXPIRY;
    assert_eq!(
        only(&d),
        pair(
            "payment_schedule[1].charge_date",
            "only one installment may fall on or before the expiry date 2026-12-31 (payment_schedule[0] does): move this one after it"
        )
    );
}

#[test]
fn installments_must_add_up_to_the_commit() {
    let mut d = saas_contract();
    d.payment_schedule[1].amount_micros = 700_000_000;
    assert_eq!(
        only(&d),
        pair(
            "payment_schedule",
            "the installments add up to 1900.00 USD but the contract commits 2000.00 USD (unit prices x quantities): they must be equal"
        )
    );
}

#[test]
fn installment_amounts_have_two_decimals_and_are_positive() {
    let mut d = saas_contract();
    d.payment_schedule[0].amount_micros = 1_200_005_000;
    d.payment_schedule[1].amount_micros = 799_995_000;
    assert_eq!(
        violations(&d),
        vec![
            pair(
                "payment_schedule[0].amount.amount_micros",
                "must have at most 2 decimals (a multiple of 10000 micros)"
            ),
            pair(
                "payment_schedule[1].amount.amount_micros",
                "must have at most 2 decimals (a multiple of 10000 micros)"
            ),
        ]
    );
    let mut d = saas_contract();
    d.payment_schedule[1].amount_micros = 0;
    d.payment_schedule[0].amount_micros = 2_000_000_000;
    assert_eq!(
        only(&d),
        pair(
            "payment_schedule[1].amount.amount_micros",
            "must be a positive number of micros"
        )
    );
}

#[test]
fn duplicate_charge_dates_are_refused() {
    let mut d = saas_contract();
    d.payment_schedule[0].charge_date = date!(2027 - 06 - 15);
    assert_eq!(
        only(&d),
        pair(
            "payment_schedule[1].charge_date",
            "repeats payment_schedule[0].charge_date: one installment per day"
        )
    );
}

#[test]
fn a_charge_after_the_agreement_can_end_is_refused() {
    let mut d = saas_contract();
    d.payment_schedule[1].charge_date = date!(2028 - 01 - 01);
    assert_eq!(
        only(&d),
        pair(
            "payment_schedule[1].charge_date",
            "2028-01-01 is after the agreement can end (2027-12-31): charge before the end"
        )
    );
}

#[test]
fn a_schedule_is_refused_on_a_subscription() {
    let mut d = saas_contract();
    d.pricing = Pricing::Subscription {
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(
        only(&d),
        pair(
            "payment_schedule",
            "is not allowed for a subscription offer: a subscription is billed by usage, not installments"
        )
    );
}

#[test]
fn too_many_installments_are_refused() {
    let mut d = saas_contract();
    d.expiry_date = Some(date!(2026 - 12 - 01));
    d.pricing = Pricing::Contract {
        contract: ContractTerms {
            duration_months: 60,
            dimensions: vec![ContractDimension {
                dimension_key: "seats".into(),
                unit_price_micros: 10_000_000,
                quantity: 61,
            }],
            ..contract()
        },
    };
    d.payment_schedule = (0..61)
        .map(|i| Installment {
            charge_date: date!(2026 - 12 - 02) + time::Duration::days(i * 20),
            amount_micros: 10_000_000,
        })
        .collect();
    assert_eq!(
        only(&d),
        pair("payment_schedule", "at most 60 installments, got 61")
    );
}

#[test]
fn a_currency_the_kind_does_not_allow_is_refused() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.currency = "EUR".into();
    d.pricing = Pricing::Subscription {
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(
        only(&d),
        pair(
            "currency_code",
            "EUR is not allowed for a subscription offer: usage prices are billed in USD only; use USD"
        )
    );
    let mut d = saas_contract();
    d.currency = "EUR".into();
    d.pricing = Pricing::ContractWithConsumption {
        contract: contract(),
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(
        only(&d),
        pair(
            "currency_code",
            "EUR is not allowed for a contract with consumption offer: its usage prices are billed in USD only, so the whole offer is in USD; use USD"
        )
    );
}

#[test]
fn a_currency_aws_does_not_take_is_refused_and_a_contract_takes_the_five() {
    let mut d = saas_contract();
    d.currency = "CHF".into();
    assert_eq!(
        only(&d),
        pair(
            "currency_code",
            "\"CHF\" is not a currency AWS takes for private offers: use one of USD, EUR, GBP, JPY, AUD"
        )
    );
    for currency in ["USD", "EUR", "GBP", "JPY", "AUD"] {
        let mut d = saas_contract();
        d.currency = currency.into();
        assert_eq!(violations(&d), Vec::new(), "{currency}");
    }
}

#[test]
fn an_end_before_the_expiry_is_refused() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.validity = Validity {
        agreement_start_date: Some(date!(2027 - 01 - 01)),
        agreement_end_date: Some(date!(2026 - 12 - 20)),
    };
    assert_eq!(
        violations(&d),
        vec![
            pair(
                "validity.agreement_end_date",
                "2026-12-20 is before the expiry date 2026-12-31: the agreement would end before the buyer could accept; end it later or expire the offer earlier"
            ),
            pair(
                "validity.agreement_end_date",
                "must be after agreement_start_date"
            ),
        ]
    );
}

#[test]
fn a_start_on_or_before_the_expiry_is_refused() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.validity.agreement_start_date = Some(EXPIRY);
    assert_eq!(
        only(&d),
        pair(
            "validity.agreement_start_date",
            "must be after the expiry date 2026-12-31: a future start comes after the last day to accept"
        )
    );
}

#[test]
fn an_end_date_alone_is_only_for_replacements() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.validity.agreement_end_date = Some(date!(2027 - 12 - 31));
    assert_eq!(
        only(&d),
        pair(
            "validity.agreement_end_date",
            "needs an agreement_start_date: AWS takes an end date alone only on replacement offers"
        )
    );
}

#[test]
fn an_expiry_in_the_past_is_refused() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.expiry_date = Some(date!(2026 - 11 - 29));
    assert_eq!(
        only(&d),
        pair(
            "expiry_date",
            "2026-11-29 is in the past: choose a day from 2026-11-30 on"
        )
    );
    d.expiry_date = None;
    assert_eq!(
        only(&d),
        pair(
            "expiry_date",
            "is required: the last day the buyers can accept the offer"
        )
    );
}

#[test]
fn bad_account_ids_are_named() {
    let mut d = saas_contract();
    d.buyer_account_ids = vec!["444455556666".into(), "12345".into(), "444455556666".into()];
    assert_eq!(
        violations(&d),
        vec![
            pair("buyer_account_ids[1]", "must be a 12-digit AWS account id"),
            pair("buyer_account_ids[2]", "repeats buyer_account_ids[0]"),
        ]
    );
    d.buyer_account_ids.clear();
    assert_eq!(
        only(&d),
        pair(
            "buyer_account_ids",
            "at least one buyer account is required for a private offer"
        )
    );
}

#[test]
fn too_many_buyers_are_refused() {
    let mut d = saas_contract();
    d.buyer_account_ids = (0..27).map(|i| format!("{:012}", 100_000 + i)).collect();
    assert_eq!(
        only(&d),
        pair(
            "buyer_account_ids",
            "at most 26 buyer accounts per offer, got 27"
        )
    );
}

#[test]
fn duplicate_dimensions_are_refused() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.pricing = Pricing::ContractWithConsumption {
        contract: ContractTerms {
            dimensions: vec![
                ContractDimension {
                    dimension_key: "seats".into(),
                    unit_price_micros: 1_000_000,
                    quantity: 1,
                },
                ContractDimension {
                    dimension_key: "seats".into(),
                    unit_price_micros: 2_000_000,
                    quantity: 1,
                },
            ],
            ..contract()
        },
        usage_prices: vec![usage("api", 1), usage("api", 2)],
    };
    assert_eq!(
        violations(&d),
        vec![
            pair(
                "terms.contract_with_consumption.contract.dimensions[1].dimension_key",
                "repeats terms.contract_with_consumption.contract.dimensions[0]: name each dimension once"
            ),
            pair(
                "terms.contract_with_consumption.usage_prices[1].dimension_key",
                "repeats terms.contract_with_consumption.usage_prices[0]: name each dimension once"
            ),
        ]
    );
}

#[test]
fn prices_must_be_positive_micros() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.pricing = Pricing::Subscription {
        usage_prices: vec![
            usage("a", 0),
            usage("b", -5),
            usage("c", MAX_PRICE_MICROS + 1),
        ],
    };
    assert_eq!(
        violations(&d),
        vec![
            pair(
                "terms.subscription.usage_prices[0].price.amount_micros",
                "must be a positive number of micros"
            ),
            pair(
                "terms.subscription.usage_prices[1].price.amount_micros",
                "must be a positive number of micros"
            ),
            pair(
                "terms.subscription.usage_prices[2].price.amount_micros",
                "must be at most 100000000000000 (100000000 units)"
            ),
        ]
    );
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.pricing = Pricing::Contract {
        contract: ContractTerms {
            dimensions: vec![ContractDimension {
                dimension_key: "seats".into(),
                unit_price_micros: 1_000_500,
                quantity: 0,
            }],
            ..contract()
        },
    };
    assert_eq!(
        only(&d),
        pair(
            "terms.contract.dimensions[0].unit_price.amount_micros",
            "must have at most 3 decimals (a multiple of 1000 micros)"
        )
    );
}

#[test]
fn byol_and_monthly_containers_are_refused_with_the_reason() {
    let software = |model| SoftwareTerms {
        pricing_model: model,
        hourly_prices: vec![usage("m5.large", 100_000)],
        contract_dimensions: vec![],
        duration_months: 0,
    };
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.pricing = Pricing::Ami {
        software: software(SoftwarePricingModel::Byol),
    };
    assert_eq!(
        only(&d),
        pair(
            "terms.ami.pricing_model",
            "AWS does not support private offers for BYOL AMI products through the Catalog API: the buyer brings a licence bought outside AWS; choose hourly or contract pricing"
        )
    );
    d.pricing = Pricing::Container {
        software: software(SoftwarePricingModel::Monthly),
    };
    assert_eq!(
        only(&d),
        pair(
            "terms.container.pricing_model",
            "AWS has no monthly pricing for container offers: choose hourly or contract pricing"
        )
    );
    d.pricing = Pricing::Container {
        software: software(SoftwarePricingModel::HourlyAnnual),
    };
    assert_eq!(
        only(&d),
        pair(
            "terms.container.pricing_model",
            "hourly with annual pricing exists for AMI products only: choose hourly or contract pricing"
        )
    );
}

#[test]
fn a_contract_duration_is_one_month_to_five_years() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.pricing = Pricing::Contract {
        contract: ContractTerms {
            duration_months: 61,
            ..contract()
        },
    };
    assert_eq!(
        only(&d),
        pair(
            "terms.contract.duration_months",
            "must be 1 to 60 months (AWS contracts last up to 5 years)"
        )
    );
}

#[test]
fn a_standard_eula_needs_a_known_version_and_a_custom_one_https() {
    let mut d = saas_contract();
    d.eula = Eula::Standard {
        version: "2020-01-01".into(),
    };
    assert_eq!(
        only(&d),
        pair(
            "eula.standard_version",
            "\"2020-01-01\" is not a version of the Standard Contract for AWS Marketplace: use 2022-07-14 or 2019-04-24"
        )
    );
    d.eula = Eula::Custom {
        url: "http://example.com/eula.pdf".into(),
    };
    assert_eq!(
        only(&d),
        pair(
            "eula.custom_url",
            "must be an https:// URL of the EULA document that AWS can read"
        )
    );
}

#[test]
fn a_replacement_needs_its_end_date_and_no_buyers() {
    let mut d = saas_contract();
    d.pricing = Pricing::Replacement {
        agreement_id: "agmt-1".into(),
        reason: ReplacementReason::Renewal,
        contract: contract(),
        usage_prices: vec![],
    };
    assert_eq!(
        violations(&d),
        vec![
            pair(
                "buyer_account_ids",
                "must be empty for a replacement offer: AWS offers it to the buyer of the agreement it replaces"
            ),
            pair(
                "validity.agreement_end_date",
                "is required for a replacement offer: the day the new agreement ends"
            ),
        ]
    );
}

#[test]
fn name_description_and_product_are_required() {
    let mut d = saas_contract();
    d.name = String::new();
    d.description = " ".into();
    d.product_id = "abc".into();
    assert_eq!(
        violations(&d),
        vec![
            pair("name", "must not be empty"),
            pair("description", "must not be empty"),
            pair(
                "product_id",
                "must be a Catalog product id (\"prod-...\", at most 50 characters)"
            ),
        ]
    );
}

#[test]
fn amounts_read_as_decimals() {
    assert_eq!(units(2_000_000_000), "2000.00");
    assert_eq!(units(1_500), "0.0015");
    assert_eq!(units(-10_000), "-0.01");
}

fn renewal(max: Option<u32>, increase: &str, lockout: Option<u32>) -> Option<Renewal> {
    Some(Renewal {
        max_renewals: max,
        price_increase_percentage: increase.into(),
        lockout_days: lockout,
    })
}

#[test]
fn renewal_net_payment_and_contacts_pass_on_the_contract_kinds() {
    let mut d = saas_contract();
    d.renewal = renewal(Some(3), "5.00", Some(30));
    d.net_payment_days = Some(30);
    d.notification_emails = vec!["deals@example.com".into(), "Finance.Team@acme.co.uk".into()];
    assert_eq!(violations(&d), Vec::new());
    // A plain automatic renewal needs no price increase.
    d.renewal = Some(Renewal::default());
    assert_eq!(violations(&d), Vec::new());

    let mut consumption = d.clone();
    consumption.renewal = renewal(None, "0", None);
    consumption.pricing = Pricing::ContractWithConsumption {
        contract: contract(),
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(violations(&consumption), Vec::new());

    let mut replacement = d.clone();
    replacement.renewal = renewal(Some(1), "100", Some(10));
    replacement.buyer_account_ids.clear();
    replacement.validity.agreement_end_date = Some(date!(2027 - 12 - 31));
    replacement.pricing = Pricing::Replacement {
        agreement_id: "agmt-1234".into(),
        reason: ReplacementReason::Renewal,
        contract: contract(),
        usage_prices: vec![],
    };
    assert_eq!(violations(&replacement), Vec::new());

    for days in NET_PAYMENT_DAYS {
        d.net_payment_days = Some(*days);
        assert_eq!(violations(&d), Vec::new(), "{days}");
    }
}

#[test]
fn renewal_limits_need_a_price_increase() {
    let mut d = saas_contract();
    d.renewal = renewal(Some(2), "", None);
    assert_eq!(
        only(&d),
        pair(
            "terms.contract.renewal.price_increase_percentage",
            "is required with max_renewals or lockout_days (AWS asks for a price increase with them): give one, \"0\" for none"
        )
    );
    d.renewal = renewal(None, "", Some(30));
    assert_eq!(
        only(&d).0,
        "terms.contract.renewal.price_increase_percentage"
    );
}

#[test]
fn a_price_increase_is_a_percentage_up_to_100_with_two_decimals() {
    for good in ["0", "5", "5.5", "5.00", "99.99", "100", "100.00"] {
        assert!(price_increase_hundredths(good).is_some(), "{good}");
    }
    assert_eq!(price_increase_hundredths("5.5"), Some(550));
    assert_eq!(price_increase_hundredths("100"), Some(10_000));
    for bad in [
        "100.01", "150", "5.001", "-1", "+5", ".5", "5.", "five", "5 ", "1e2", "0100",
    ] {
        assert_eq!(price_increase_hundredths(bad), None, "{bad}");
    }
    let mut d = saas_contract();
    d.renewal = renewal(None, "7.125", None);
    d.pricing = Pricing::ContractWithConsumption {
        contract: contract(),
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(
        only(&d),
        pair(
            "terms.contract_with_consumption.contract.renewal.price_increase_percentage",
            "\"7.125\" is not a percentage from 0 to 100 with at most 2 decimals: write it like \"5.00\""
        )
    );
}

#[test]
fn max_renewals_and_lockout_are_at_least_one() {
    let mut d = saas_contract();
    d.renewal = renewal(Some(0), "5.00", Some(0));
    assert_eq!(
        violations(&d),
        vec![
            pair(
                "terms.contract.renewal.max_renewals",
                "must be at least 1, or 0 in the request (unset) for unlimited renewals"
            ),
            pair(
                "terms.contract.renewal.lockout_days",
                "must be at least 1 day, or 0 in the request (unset) for AWS's default"
            ),
        ]
    );
}

#[test]
fn a_lockout_is_shorter_than_the_agreement() {
    // Accepted on the expiry day (2026-12-31) at the latest, the 12 months end on 2027-12-31.
    let mut d = saas_contract();
    d.renewal = renewal(None, "5.00", Some(364));
    assert_eq!(violations(&d), Vec::new());
    d.renewal = renewal(None, "5.00", Some(365));
    assert_eq!(
        only(&d),
        pair(
            "terms.contract.renewal.lockout_days",
            "365 days is not shorter than the agreement, which can run as few as 365 days (to 2027-12-31): choose fewer days"
        )
    );
    // A replacement runs from acceptance to its end date.
    let mut r = saas_contract();
    r.buyer_account_ids.clear();
    r.validity.agreement_end_date = Some(date!(2027 - 01 - 30));
    r.renewal = renewal(None, "5.00", Some(30));
    r.pricing = Pricing::Replacement {
        agreement_id: "agmt-1234".into(),
        reason: ReplacementReason::Renewal,
        contract: contract(),
        usage_prices: vec![],
    };
    r.payment_schedule.clear();
    assert_eq!(
        only(&r),
        pair(
            "terms.replacement.contract.renewal.lockout_days",
            "30 days is not shorter than the agreement, which can run as few as 30 days (to 2027-01-30): choose fewer days"
        )
    );
}

#[test]
fn renewal_is_only_for_contract_kinds() {
    let mut d = saas_contract();
    d.payment_schedule.clear();
    d.renewal = renewal(None, "5.00", None);
    d.pricing = Pricing::Subscription {
        usage_prices: vec![usage("api_calls", 1_500)],
    };
    assert_eq!(
        only(&d),
        pair(
            "renewal",
            "is not allowed for a subscription offer: AWS renews contract, contract with consumption and replacement offers only; leave it unset"
        )
    );
    d.pricing = Pricing::ProfessionalServices {
        contract: contract(),
    };
    assert_eq!(
        only(&d).1,
        "is not allowed for a professional services offer: AWS renews contract, contract with consumption and replacement offers only; leave it unset"
    );
}

#[test]
fn net_payment_days_are_one_of_aws_periods_on_private_offers() {
    let mut d = saas_contract();
    d.net_payment_days = Some(31);
    assert_eq!(
        only(&d),
        pair(
            "net_payment_days",
            "31 is not a payment period AWS offers: use 15, 30, 45, 60, 90 or 120 days, or 0 for AWS's default"
        )
    );
    let mut trial = saas_contract();
    trial.payment_schedule.clear();
    trial.buyer_account_ids.clear();
    trial.expiry_date = None;
    trial.net_payment_days = Some(30);
    trial.pricing = Pricing::FreeTrial {
        duration_days: 30,
        grants: vec![FreeTrialGrant {
            dimension_key: "seats".into(),
            max_quantity: None,
        }],
    };
    assert_eq!(
        only(&trial),
        pair(
            "net_payment_days",
            "must be 0 for a free trial: it is a public offer, and AWS takes payment terms on private offers only"
        )
    );
}

#[test]
fn notification_emails_are_addresses_each_once_and_at_most_ten() {
    let mut d = saas_contract();
    d.notification_emails = vec![
        "deals@example.com".into(),
        "DEALS@example.com".into(),
        "no-at-sign.example.com".into(),
        "a@localhost".into(),
        "two words@example.com".into(),
        "a@b.c".into(),
        "a@-bad-.com".into(),
        format!("{}@example.com", "x".repeat(250)),
    ];
    let bad = |e: &str| format!("\"{e}\" is not an email address: write it like name@example.com");
    assert_eq!(
        violations(&d),
        vec![
            pair("notification_emails[1]", "repeats notification_emails[0]"),
            pair("notification_emails[2]", &bad("no-at-sign.example.com")),
            pair("notification_emails[3]", &bad("a@localhost")),
            pair("notification_emails[4]", &bad("two words@example.com")),
            pair("notification_emails[5]", &bad("a@b.c")),
            pair("notification_emails[6]", &bad("a@-bad-.com")),
            pair("notification_emails[7]", "must be at most 254 characters"),
        ]
    );
    d.notification_emails = (0..11).map(|i| format!("ops{i}@example.com")).collect();
    assert_eq!(
        only(&d),
        pair(
            "notification_emails",
            "at most 10 addresses per offer, got 11"
        )
    );
}
