//! UpdateRenewalTerms: lockout, price increase, renewal payment templates.

use serde_json::Value;

use super::terms_of;
use crate::catalog::model::{ErrorDetail, Offer, OfferState};
use crate::support::format::{IsoDuration, parse_micros};
use crate::support::json::str_at;

/// UpdateRenewalTerms rules.
pub fn renewal(doc: &Value, offer: &Offer) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    let terms = terms_of(doc);
    if terms.len() > 1 {
        errors.push(ErrorDetail::new(
            "DUPLICATE_TERM_TYPES",
            "Provide only one RenewalTerm.",
        ));
    }
    for t in &terms {
        let rich = [
            "LockoutPeriod",
            "AdjustmentDeadline",
            "MaxRenewals",
            "PriceIncrease",
            "TermTemplates",
        ]
        .iter()
        .any(|k| t.get(*k).is_some());
        if rich && !offer.is_private() && offer.state == OfferState::Released {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_TERMS",
                "Renewal settings are only supported for private offers.",
            ));
        }
        let increase = t.get("PriceIncrease");
        if rich && increase.is_none() {
            errors.push(ErrorDetail::new(
                "MISSING_PRICE_INCREASE",
                "Provide a PriceIncrease for the RenewalTerm.",
            ));
        }
        let range = increase.filter(|i| str_at(i, "Type") == Some("PercentageRange"));
        if let Some(range) = range {
            let r = range.get("Range");
            let get = |k: &str| {
                r.and_then(|r| str_at(r, k))
                    .and_then(|v| parse_micros(v, 2))
            };
            match (get("MinValue"), get("DefaultValue"), get("MaxValue")) {
                (Some(min), Some(def), Some(max)) if min <= def && def <= max && min != max && max <= 100_000_000 => {}
                _ => errors.push(ErrorDetail::new("INVALID_PERCENTAGE_RANGE", "Provide MinValue <= DefaultValue <= MaxValue between 0.00 and 100.00, with MinValue != MaxValue.")),
            }
            if t.get("AdjustmentDeadline").is_none() {
                errors.push(ErrorDetail::new(
                    "MISSING_ADJUSTMENT_DEADLINE",
                    "Provide an AdjustmentDeadline with a PercentageRange price increase.",
                ));
            }
        } else if t.get("AdjustmentDeadline").is_some() {
            errors.push(ErrorDetail::new(
                "INVALID_ADJUSTMENT_DEADLINE",
                "AdjustmentDeadline is only supported with a PercentageRange price increase.",
            ));
        }
        if let (Some(lock), Some(deadline)) = (
            str_at(t, "LockoutPeriod").and_then(IsoDuration::parse),
            str_at(t, "AdjustmentDeadline").and_then(IsoDuration::parse),
        ) && deadline.approx_days() < lock.approx_days() + 1
        {
            errors.push(ErrorDetail::new(
                "INVALID_ADJUSTMENT_DEADLINE",
                "AdjustmentDeadline must be at least one day longer than LockoutPeriod.",
            ));
        }
        for template in t
            .get("TermTemplates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let schedule = template
                .get("Schedule")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total: i64 = schedule
                .iter()
                .filter_map(|s| str_at(s, "ChargePercentage").and_then(|p| parse_micros(p, 2)))
                .fold(0_i64, i64::saturating_add);
            if total != 100_000_000 {
                errors.push(ErrorDetail::new(
                    "INVALID_CHARGE_PERCENTAGES",
                    "ChargePercentage values must add up to 100.",
                ));
            }
            let mut offsets: Vec<&str> = Vec::new();
            for s in &schedule {
                let offset = str_at(s, "ChargeDateOffset").unwrap_or_default();
                if IsoDuration::parse(offset).is_none() {
                    errors.push(ErrorDetail::new(
                        "INVALID_CHARGE_DATE_OFFSETS",
                        format!("ChargeDateOffset {offset} isn't a valid duration."),
                    ));
                }
                if offsets.contains(&offset) {
                    errors.push(ErrorDetail::new(
                        "DUPLICATE_CHARGE_DATE_OFFSETS",
                        "Provide unique ChargeDateOffset values.",
                    ));
                }
                offsets.push(offset);
                if let Some(day) = s.get("DayOfMonth").and_then(Value::as_i64)
                    && !(1..=28).contains(&day)
                {
                    errors.push(ErrorDetail::new(
                        "INVALID_DAY_OF_MONTH",
                        "DayOfMonth must be between 1 and 28.",
                    ));
                }
            }
        }
    }
    errors
}
