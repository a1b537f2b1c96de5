//! UpdatePaymentScheduleTerms: flexible payment schedules (FPS).

use serde_json::Value;

use super::{MAX_CHARGES, PRIVATE_CURRENCIES, terms_of};
use crate::at::At;
use crate::catalog::model::{ErrorDetail, Offer, OfferState};
use crate::support::format::{end_of, parse_date};
use crate::support::json::str_at;

/// UpdatePaymentScheduleTerms rules that depend only on the document and the clock.
pub fn schedule(doc: &Value, offer: &Offer, now: At) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    if offer.state == OfferState::Released {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_TERMS",
            "You cannot use the UpdatePaymentScheduleTerms change type on an offer that has already been published.",
        ));
    }
    for t in terms_of(doc) {
        let currency = str_at(&t, "CurrencyCode").unwrap_or_default();
        if !PRIVATE_CURRENCIES.contains(&currency) {
            errors.push(ErrorDetail::new(
                "INVALID_CURRENCY_CODE",
                format!("CurrencyCode {currency} isn't supported for PaymentScheduleTerm."),
            ));
        }
        let dates = charge_dates(&t);
        if dates.len() > MAX_CHARGES {
            errors.push(ErrorDetail::new(
                "TOO_MANY_CHARGES",
                format!("Provide up to {MAX_CHARGES} scheduled payments."),
            ));
        }
        let mut seen = Vec::new();
        for d in &dates {
            if seen.contains(d) {
                errors.push(ErrorDetail::new(
                    "DUPLICATE_CHARGE_DATES",
                    "Provide unique ChargeDate values.",
                ));
                break;
            }
            seen.push(*d);
        }
        if let Some(first) = dates.iter().min()
            && end_of(*first) < now
        {
            errors.push(ErrorDetail::new(
                "INVALID_CHARGE_DATES",
                "Provide a first charge date that isn't in the past.",
            ));
        }
        if offer
            .markup_percentage
            .as_deref()
            .and_then(|m| m.parse::<f64>().ok())
            .is_some_and(|m| m > 0.0)
        {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_MARKUP_PERCENTAGE",
                "PaymentScheduleTerm isn't supported when MarkupPercentage is greater than zero.",
            ));
        }
    }
    errors
}

/// The ChargeDates of a payment schedule term.
pub fn charge_dates(term: &Value) -> Vec<time::Date> {
    term.get("Schedule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| str_at(s, "ChargeDate").and_then(parse_date))
        .collect()
}
