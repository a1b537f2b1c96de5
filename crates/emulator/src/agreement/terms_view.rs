//! Offer terms (catalog DetailsDocument form, PascalCase) as the Agreement API's
//! `AcceptedTerm` union (camelCase, timestamps as epoch seconds).

use serde_json::{Map, Value, json};

use super::model::Agreement;
use crate::support::format::{end_of, parse_date, start_of};

fn s(term: &Value, key: &str) -> Value {
    term.get(key).cloned().unwrap_or(Value::Null)
}

fn rate_card(items: Option<&Value>) -> Value {
    let items = items.and_then(Value::as_array).cloned().unwrap_or_default();
    Value::Array(
        items
            .iter()
            .map(|r| json!({ "dimensionKey": s(r, "DimensionKey"), "price": s(r, "Price") }))
            .collect(),
    )
}

fn grants(term: &Value) -> Value {
    let items = term
        .get("Grants")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        items
            .iter()
            .map(|g| {
                let mut out = json!({ "dimensionKey": s(g, "DimensionKey") });
                if let Some(q) = g.get("MaxQuantity") {
                    out["maxQuantity"] = q.clone();
                }
                out
            })
            .collect(),
    )
}

fn epoch(date: Option<&str>, end: bool) -> Value {
    match date.and_then(parse_date) {
        Some(d) => json!((if end { end_of(d) } else { start_of(d) }).seconds()),
        None => Value::Null,
    }
}

fn compact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// The agreement's accepted terms.
pub fn accepted_terms(agreement: &Agreement) -> Vec<Value> {
    let mut out = Vec::new();
    for term in &agreement.terms {
        let kind = term.get("Type").and_then(Value::as_str).unwrap_or_default();
        let (member, body) = match kind {
            "LegalTerm" => {
                let documents: Vec<Value> = term
                    .get("Documents")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|d| compact(json!({ "type": s(d, "Type"), "url": s(d, "Url"), "version": s(d, "Version") })))
                    .collect();
                ("legalTerm", json!({ "type": kind, "documents": documents }))
            }
            "SupportTerm" => (
                "supportTerm",
                json!({ "type": kind, "refundPolicy": s(term, "RefundPolicy") }),
            ),
            "RenewalTerm" => (
                "renewalTerm",
                json!({ "type": kind, "configuration": { "enableAutoRenew": agreement.auto_renew } }),
            ),
            "UsageBasedPricingTerm" => {
                let cards: Vec<Value> = term
                    .get("RateCards")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| json!({ "rateCard": rate_card(c.get("RateCard")) }))
                    .collect();
                (
                    "usageBasedPricingTerm",
                    json!({ "type": kind, "currencyCode": s(term, "CurrencyCode"), "rateCards": cards }),
                )
            }
            "ConfigurableUpfrontPricingTerm" => {
                let cards: Vec<Value> = term
                    .get("RateCards")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let selector = c.get("Selector").cloned().unwrap_or(Value::Null);
                        let constraints = c.get("Constraints").cloned().unwrap_or(Value::Null);
                        json!({
                            "selector": { "type": s(&selector, "Type"), "value": s(&selector, "Value") },
                            "constraints": {
                                "multipleDimensionSelection": s(&constraints, "MultipleDimensionSelection"),
                                "quantityConfiguration": s(&constraints, "QuantityConfiguration"),
                            },
                            "rateCard": rate_card(c.get("RateCard")),
                        })
                    })
                    .collect();
                let dimensions: Vec<Value> = agreement
                    .quantities
                    .iter()
                    .map(|q| json!({ "dimensionKey": q.dimension_key, "dimensionValue": q.quantity }))
                    .collect();
                let configuration = json!({
                    "selectorValue": agreement.selector_value.clone().unwrap_or_default(),
                    "dimensions": dimensions,
                });
                (
                    "configurableUpfrontPricingTerm",
                    json!({ "type": kind, "currencyCode": s(term, "CurrencyCode"), "rateCards": cards, "configuration": configuration }),
                )
            }
            "ByolPricingTerm" => ("byolPricingTerm", json!({ "type": kind })),
            "NetPaymentTerm" => (
                "netPaymentTerm",
                json!({ "type": kind, "paymentDuePeriod": s(term, "PaymentDuePeriod") }),
            ),
            "RecurringPaymentTerm" => (
                "recurringPaymentTerm",
                json!({ "type": kind, "currencyCode": s(term, "CurrencyCode"), "billingPeriod": s(term, "BillingPeriod"), "price": s(term, "Price") }),
            ),
            "ValidityTerm" => (
                "validityTerm",
                compact(json!({
                    "type": kind,
                    "agreementDuration": s(term, "AgreementDuration"),
                    "agreementStartDate": epoch(term.get("AgreementStartDate").and_then(Value::as_str), false),
                    "agreementEndDate": epoch(term.get("AgreementEndDate").and_then(Value::as_str), true),
                })),
            ),
            "PaymentScheduleTerm" => {
                let schedule: Vec<Value> = term
                    .get("Schedule")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|i| json!({ "chargeDate": epoch(i.get("ChargeDate").and_then(Value::as_str), false), "chargeAmount": s(i, "ChargeAmount") }))
                    .collect();
                (
                    "paymentScheduleTerm",
                    json!({ "type": kind, "currencyCode": s(term, "CurrencyCode"), "schedule": schedule }),
                )
            }
            "FreeTrialPricingTerm" => (
                "freeTrialPricingTerm",
                json!({ "type": kind, "duration": s(term, "Duration"), "grants": grants(term) }),
            ),
            "FixedUpfrontPricingTerm" => (
                "fixedUpfrontPricingTerm",
                compact(json!({
                    "type": kind,
                    "currencyCode": s(term, "CurrencyCode"),
                    "duration": s(term, "Duration"),
                    "price": s(term, "Price"),
                    "grants": grants(term),
                })),
            ),
            _ => continue,
        };
        let mut union = Map::new();
        union.insert(member.to_owned(), body);
        out.push(Value::Object(union));
    }
    out
}
