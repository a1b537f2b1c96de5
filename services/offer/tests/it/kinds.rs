//! One offer of every kind (but the replacement, which `lifecycle` makes from an agreement)
//! created through the RPC, released by the emulator, accepted by a buyer and seen accepted,
//! with the agreement's terms, read back through the official Agreement SDK client
//! (`DescribeAgreement`, `GetAgreementTerms`), equal field by field to what was asked: prices
//! per dimension, commits and grants, installments, currency, duration, dates and automatic
//! renewal; the invoices (the emulator's ledger) carry the asked payment period.

use aws_sdk_marketplaceagreement::types::AcceptedTerm;
use serde_json::{Value, json};
use souk_proto::common::Date;
use souk_proto::offer as pb;
use time::OffsetDateTime;

use super::harness::{BUYER, Harness, both};
use super::requests::{self, day};

/// `YYYY-MM-DD` of a requested date.
fn iso(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// The UTC day of an SDK timestamp, `YYYY-MM-DD`.
fn sdk_day(at: Option<&aws_sdk_marketplaceagreement::primitives::DateTime>) -> Value {
    match at {
        Some(at) => {
            let d = OffsetDateTime::from_unix_timestamp(at.secs())
                .expect("a timestamp")
                .date();
            json!(format!(
                "{:04}-{:02}-{:02}",
                d.year(),
                u8::from(d.month()),
                d.day()
            ))
        }
        None => Value::Null,
    }
}

/// `now`'s day `months` calendar months later (the end of an agreement of that duration),
/// the month's last day when it is shorter.
fn months_later(now: OffsetDateTime, months: u32) -> String {
    let d = now.date();
    let total = d.year() * 12 + i32::from(u8::from(d.month())) - 1
        + i32::try_from(months).expect("a few months");
    let month = u8::try_from(total % 12 + 1).expect("1 to 12");
    let month = time::Month::try_from(month).expect("a month");
    let year = total / 12;
    let end = time::Date::from_calendar_date(year, month, d.day().min(month.length(year)))
        .expect("a day of the month");
    format!(
        "{:04}-{:02}-{:02}",
        end.year(),
        u8::from(end.month()),
        end.day()
    )
}

fn rate_card(items: &[aws_sdk_marketplaceagreement::types::RateCardItem]) -> Value {
    items
        .iter()
        .map(|r| json!({ "dimension": r.dimension_key(), "price": r.price() }))
        .collect()
}

fn grant_items(items: &[aws_sdk_marketplaceagreement::types::GrantItem]) -> Value {
    items
        .iter()
        .map(|g| json!({ "dimension": g.dimension_key(), "max_quantity": g.max_quantity() }))
        .collect()
}

/// The agreement's pricing, payment, validity and renewal terms as the SDK reads them (legal
/// and support terms aside), one JSON object per term, in the order AWS answers.
pub(crate) async fn agreement_terms(h: &Harness, agreement_id: &str) -> Vec<Value> {
    let clients = h.assumer.clients(&h.role).await.expect("clients");
    let answer = clients
        .agreement
        .get_agreement_terms()
        .agreement_id(agreement_id)
        .send()
        .await
        .expect("GetAgreementTerms");
    answer
        .accepted_terms()
        .iter()
        .filter_map(|term| match term {
            AcceptedTerm::UsageBasedPricingTerm(t) => Some(json!({
                "usage": {
                    "currency": t.currency_code(),
                    "rate_cards": t.rate_cards().iter().map(|c| rate_card(c.rate_card())).collect::<Vec<_>>(),
                }
            })),
            AcceptedTerm::ConfigurableUpfrontPricingTerm(t) => Some(json!({
                "upfront": {
                    "currency": t.currency_code(),
                    "rate_cards": t.rate_cards().iter().map(|c| json!({
                        "duration": c.selector().and_then(|s| s.value()),
                        "multiple_dimensions": c.constraints().and_then(|c| c.multiple_dimension_selection()),
                        "quantity_change": c.constraints().and_then(|c| c.quantity_configuration()),
                        "rates": rate_card(c.rate_card()),
                    })).collect::<Vec<_>>(),
                    "chosen": t.configuration().map(|c| json!({
                        "duration": c.selector_value(),
                        "quantities": c.dimensions().iter().map(|d| json!({
                            "dimension": d.dimension_key(), "quantity": d.dimension_value(),
                        })).collect::<Vec<_>>(),
                    })),
                }
            })),
            AcceptedTerm::FixedUpfrontPricingTerm(t) => Some(json!({
                "fixed": {
                    "currency": t.currency_code(),
                    "duration": t.duration(),
                    "price": t.price(),
                    "grants": grant_items(t.grants()),
                }
            })),
            AcceptedTerm::FreeTrialPricingTerm(t) => Some(json!({
                "free_trial": { "duration": t.duration(), "grants": grant_items(t.grants()) }
            })),
            AcceptedTerm::PaymentScheduleTerm(t) => Some(json!({
                "installments": {
                    "currency": t.currency_code(),
                    "schedule": t.schedule().iter().map(|i| json!({
                        "date": sdk_day(i.charge_date()), "amount": i.charge_amount(),
                    })).collect::<Vec<_>>(),
                }
            })),
            AcceptedTerm::ValidityTerm(t) => Some(json!({
                "validity": {
                    "duration": t.agreement_duration(),
                    "start": sdk_day(t.agreement_start_date()),
                    "end": sdk_day(t.agreement_end_date()),
                }
            })),
            AcceptedTerm::RenewalTerm(t) => Some(json!({
                "renewal": { "auto_renew": t.configuration().map(|c| c.enable_auto_renew()) }
            })),
            AcceptedTerm::NetPaymentTerm(t) => Some(json!({
                "net_payment": t.payment_due_period()
            })),
            _ => None,
        })
        .collect()
}

/// The renewal terms of a contract-based offer's terms.
fn renewal_of(terms: Option<&pb::OfferTerms>) -> Option<pb::RenewalTerms> {
    use pb::offer_terms::Kind;
    match terms?.kind.as_ref()? {
        Kind::Contract(c) => c.renewal.clone(),
        Kind::ContractWithConsumption(c) => c.contract.as_ref()?.renewal.clone(),
        Kind::Replacement(r) => r.contract.as_ref()?.renewal.clone(),
        _ => None,
    }
}

/// The agreement as `DescribeAgreement` tells it: status, buyer, offer, dates and charges.
async fn describe(h: &Harness, agreement_id: &str) -> Value {
    let clients = h.assumer.clients(&h.role).await.expect("clients");
    let a = clients
        .agreement
        .describe_agreement()
        .agreement_id(agreement_id)
        .send()
        .await
        .expect("DescribeAgreement");
    json!({
        "status": a.status().map(|s| s.as_str().to_owned()),
        "buyer": a.acceptor().and_then(|p| p.account_id()),
        "offer": a.proposal_summary().and_then(|p| p.offer_id()),
        "start": sdk_day(a.start_time()),
        "end": sdk_day(a.end_time()),
        "currency": a.estimated_charges().and_then(|c| c.currency_code()),
        "value": a.estimated_charges().and_then(|c| c.agreement_value()),
    })
}

/// One kind: what is asked, how the buyer accepts, and what the agreement must say.
struct Case {
    name: &'static str,
    request: pb::CreatePrivateOfferRequest,
    accept: Value,
    /// The pricing, payment and validity terms.
    terms: Vec<Value>,
    /// The agreement's first and last day (`None`: open-ended) and its value.
    start: String,
    end: Option<String>,
    currency: &'static str,
    value: &'static str,
}

fn cases(now: OffsetDateTime) -> Vec<Case> {
    let today = iso(&day(now, 0));
    let year = months_later(now, 12);
    // A subscription with a fixed end date: the date is the agreement's.
    let mut subscription = requests::subscription(now);
    subscription.validity = Some(pb::Validity {
        agreement_start_date: Some(day(now, 31)),
        agreement_end_date: Some(day(now, 400)),
    });
    // A free trial capped at 100,000 API calls (an uncapped grant has no quantity to compare).
    let mut free_trial = requests::free_trial(now);
    free_trial.terms = Some(pb::OfferTerms {
        kind: Some(pb::offer_terms::Kind::FreeTrial(pb::FreeTrialTerms {
            duration_days: 14,
            grants: vec![pb::FreeTrialGrant {
                dimension_key: "api_calls".into(),
                max_quantity: Some(100_000),
            }],
        })),
    });
    // A contract paid on acceptance that starts on a future date (after the expiry date).
    let mut future = requests::saas_contract(now, "USD");
    future.payment_schedule.clear();
    future.validity = Some(pb::Validity {
        agreement_start_date: Some(day(now, 45)),
        agreement_end_date: None,
    });
    let future_end = months_later(now + time::Duration::days(45), 12);
    // A contract with consumption that renews itself, invoiced at 45 days.
    let mut renewing = requests::contract_with_consumption(now);
    if let Some(pb::offer_terms::Kind::ContractWithConsumption(t)) =
        renewing.terms.as_mut().and_then(|t| t.kind.as_mut())
        && let Some(c) = t.contract.as_mut()
    {
        c.renewal = Some(pb::RenewalTerms {
            max_renewals: 2,
            price_increase_percentage: "3.5".into(),
            lockout_days: 30,
        });
    }
    renewing.net_payment_days = 45;
    renewing.notification_emails = vec!["deals@example.com".into()];
    // Professional services paid in two installments: one before the expiry, one after it.
    let mut services_installments = requests::professional_services(now);
    services_installments.terms = Some(pb::OfferTerms {
        kind: Some(pb::offer_terms::Kind::ProfessionalServices(
            pb::ProfessionalServicesTerms {
                duration_months: 3,
                dimensions: vec![pb::ContractDimension {
                    dimension_key: "workshop".into(),
                    unit_price: requests::money(5_000_000_000, "EUR"),
                    quantity: 1,
                }],
            },
        )),
    });
    services_installments.payment_schedule = vec![
        pb::PaymentInstallment {
            charge_date: Some(day(now, 1)),
            amount: requests::money(2_000_000_000, "EUR"),
        },
        pb::PaymentInstallment {
            charge_date: Some(day(now, 60)),
            amount: requests::money(3_000_000_000, "EUR"),
        },
    ];
    vec![
        Case {
            name: "subscription",
            request: subscription,
            accept: json!({}),
            terms: vec![
                json!({"usage": {"currency": "USD", "rate_cards": [[{"dimension": "api_calls", "price": "0.002"}]]}}),
                json!({"validity": {"duration": null, "start": iso(&day(now, 31)), "end": iso(&day(now, 400))}}),
            ],
            start: iso(&day(now, 31)),
            end: Some(iso(&day(now, 400))),
            currency: "USD",
            value: "0.00",
        },
        Case {
            name: "contract",
            request: requests::saas_contract(now, "JPY"),
            accept: json!({}),
            terms: vec![
                json!({"fixed": {"currency": "JPY", "duration": null, "price": "0",
                    "grants": [{"dimension": "seats", "max_quantity": 20}]}}),
                json!({"validity": {"duration": "P12M", "start": null, "end": null}}),
                json!({"installments": {"currency": "JPY", "schedule": [
                    {"date": iso(&day(now, 1)), "amount": "1200.00"},
                    {"date": iso(&day(now, 60)), "amount": "800.00"},
                ]}}),
            ],
            start: today.clone(),
            end: Some(year.clone()),
            currency: "JPY",
            value: "2000.00",
        },
        Case {
            name: "contract with a future start",
            request: future,
            accept: json!({"quantities": [{"dimension_key": "seats", "quantity": 20}]}),
            terms: vec![
                json!({"upfront": {"currency": "USD", "rate_cards": [{"duration": "P12M",
                    "multiple_dimensions": "Disallowed", "quantity_change": "Disallowed",
                    "rates": [{"dimension": "seats", "price": "100"}]}],
                    "chosen": {"duration": "P12M", "quantities": [{"dimension": "seats", "quantity": 20}]}}}),
                json!({"validity": {"duration": "P12M", "start": iso(&day(now, 45)), "end": null}}),
            ],
            start: iso(&day(now, 45)),
            end: Some(future_end),
            currency: "USD",
            value: "2000.00",
        },
        Case {
            name: "contract with consumption",
            request: requests::contract_with_consumption(now),
            accept: json!({"quantities": [{"dimension_key": "seats", "quantity": 5}]}),
            terms: vec![
                json!({"upfront": {"currency": "USD", "rate_cards": [{"duration": "P12M",
                    "multiple_dimensions": "Disallowed", "quantity_change": "Allowed",
                    "rates": [{"dimension": "seats", "price": "50"}]}],
                    "chosen": {"duration": "P12M", "quantities": [{"dimension": "seats", "quantity": 5}]}}}),
                json!({"usage": {"currency": "USD", "rate_cards": [[{"dimension": "api_calls", "price": "0.001"}]]}}),
                json!({"validity": {"duration": "P12M", "start": null, "end": null}}),
            ],
            start: today.clone(),
            end: Some(year.clone()),
            currency: "USD",
            value: "250.00",
        },
        Case {
            name: "renewing contract with consumption, net 45",
            request: renewing,
            accept: json!({"quantities": [{"dimension_key": "seats", "quantity": 5}]}),
            terms: vec![
                json!({"upfront": {"currency": "USD", "rate_cards": [{"duration": "P12M",
                    "multiple_dimensions": "Disallowed", "quantity_change": "Allowed",
                    "rates": [{"dimension": "seats", "price": "50"}]}],
                    "chosen": {"duration": "P12M", "quantities": [{"dimension": "seats", "quantity": 5}]}}}),
                json!({"usage": {"currency": "USD", "rate_cards": [[{"dimension": "api_calls", "price": "0.001"}]]}}),
                json!({"validity": {"duration": "P12M", "start": null, "end": null}}),
                json!({"renewal": {"auto_renew": true}}),
                json!({"net_payment": "P45D"}),
            ],
            start: today.clone(),
            end: Some(year.clone()),
            currency: "USD",
            value: "250.00",
        },
        Case {
            name: "professional services",
            request: requests::professional_services(now),
            accept: json!({"quantities": [{"dimension_key": "audit", "quantity": 1}]}),
            terms: vec![
                json!({"upfront": {"currency": "EUR", "rate_cards": [{"duration": "P3M",
                    "multiple_dimensions": "Disallowed", "quantity_change": "Disallowed",
                    "rates": [{"dimension": "workshop", "price": "5000"}, {"dimension": "audit", "price": "9000"}]}],
                    "chosen": {"duration": "P3M", "quantities": [{"dimension": "audit", "quantity": 1}]}}}),
                json!({"validity": {"duration": "P3M", "start": null, "end": null}}),
            ],
            start: today.clone(),
            end: Some(months_later(now, 3)),
            currency: "EUR",
            value: "9000.00",
        },
        Case {
            name: "professional services in installments",
            request: services_installments,
            accept: json!({}),
            terms: vec![
                json!({"fixed": {"currency": "EUR", "duration": null, "price": "0",
                    "grants": [{"dimension": "workshop", "max_quantity": 1}]}}),
                json!({"validity": {"duration": "P3M", "start": null, "end": null}}),
                json!({"installments": {"currency": "EUR", "schedule": [
                    {"date": iso(&day(now, 1)), "amount": "2000.00"},
                    {"date": iso(&day(now, 60)), "amount": "3000.00"},
                ]}}),
            ],
            start: today.clone(),
            end: Some(months_later(now, 3)),
            currency: "EUR",
            value: "5000.00",
        },
        Case {
            name: "ami hourly",
            request: requests::ami_hourly(now),
            accept: json!({}),
            terms: vec![
                json!({"usage": {"currency": "USD", "rate_cards": [[{"dimension": "m5.large", "price": "0.125"}]]}}),
            ],
            start: today.clone(),
            end: None,
            currency: "USD",
            value: "0.00",
        },
        Case {
            name: "container contract",
            request: requests::container_contract(now),
            accept: json!({"quantities": [{"dimension_key": "pods", "quantity": 3}]}),
            terms: vec![
                json!({"upfront": {"currency": "GBP", "rate_cards": [{"duration": "P12M",
                    "multiple_dimensions": "Allowed", "quantity_change": "Allowed",
                    "rates": [{"dimension": "pods", "price": "300"}]}],
                    "chosen": {"duration": "P12M", "quantities": [{"dimension": "pods", "quantity": 3}]}}}),
                json!({"validity": {"duration": "P12M", "start": null, "end": null}}),
            ],
            start: today.clone(),
            end: Some(year),
            currency: "GBP",
            value: "900.00",
        },
        Case {
            name: "free trial",
            request: free_trial,
            accept: json!({}),
            terms: vec![
                json!({"free_trial": {"duration": "P14D", "grants": [{"dimension": "api_calls", "max_quantity": 100_000}]}}),
            ],
            start: today.clone(),
            end: Some(iso(&day(now, 14))),
            currency: "USD",
            value: "0.00",
        },
    ]
}

both!(every_kind_is_accepted_with_the_terms_asked, |h| {
    // The tracker passes move the clock by about 20 minutes: near midnight the agreements
    // would start a day later than the cases say.
    h.away_from_midnight().await;
    let now = h.now();
    for case in cases(now) {
        let Case {
            name,
            mut request,
            mut accept,
            terms,
            start,
            end,
            currency,
            value,
        } = case;
        request.integration_id = h.integration_id.to_string();
        let payment_due =
            (request.net_payment_days > 0).then(|| format!("P{}D", request.net_payment_days));
        let renewal = renewal_of(request.terms.as_ref());
        let net_payment_days = request.net_payment_days;
        let emails = request.notification_emails.clone();
        let created = h
            .create(&h.key, request)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let released = h.settle(&created.id).await;
        assert_eq!(
            pb::OfferState::try_from(released.state).unwrap_or_default(),
            pb::OfferState::Released,
            "{name}: {released:?}"
        );
        // The offer reads back with the renewal, payment period and contacts asked.
        assert_eq!(renewal_of(released.terms.as_ref()), renewal, "{name}");
        assert_eq!(released.net_payment_days, net_payment_days, "{name}");
        assert_eq!(released.notification_emails, emails, "{name}");
        accept["buyer_account_id"] = json!(BUYER);
        let agreement = h
            .control(
                "POST",
                &format!("/_souk/offers/{}/accept", released.aws_offer_id),
                accept,
            )
            .await;
        let agreement_id = agreement["id"].as_str().expect("an agreement id");
        assert_eq!(agreement["currency_code"], currency, "{name}: {agreement}");
        if let Some(due) = &payment_due {
            let invoices = h.control("GET", "/_souk/invoices", Value::Null).await;
            let ours: Vec<&Value> = invoices
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| i["agreement_id"] == agreement["id"])
                .collect();
            assert!(!ours.is_empty(), "{name}: no invoice in {invoices}");
            for invoice in ours {
                assert_eq!(
                    invoice["payment_due_period"],
                    json!(due),
                    "{name}: {invoice}"
                );
            }
        }

        assert_eq!(
            agreement_terms(&h, agreement_id).await,
            terms,
            "{name}: the agreement's terms"
        );
        assert_eq!(
            describe(&h, agreement_id).await,
            json!({
                "status": "ACTIVE",
                "buyer": BUYER,
                "offer": released.aws_offer_id,
                "start": start,
                "end": end,
                "currency": currency,
                "value": value,
            }),
            "{name}: the agreement"
        );

        h.track(120).await;
        let accepted = h.get(&h.key, &created.id).await.unwrap();
        assert_eq!(
            pb::OfferState::try_from(accepted.state).unwrap_or_default(),
            pb::OfferState::Accepted,
            "{name}: {accepted:?}"
        );
        assert_eq!(accepted.agreement_id, agreement_id, "{name}");
    }
});
