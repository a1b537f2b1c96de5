//! UpdateValidityTerms: agreement duration, start and end dates.

use serde_json::Value;

use super::terms_of;
use crate::at::At;
use crate::catalog::model::{ErrorDetail, Offer, OfferState};
use crate::support::format::{IsoDuration, end_of, parse_date, start_of};
use crate::support::json::str_at;

/// UpdateValidityTerms rules.
pub fn validity(doc: &Value, offer: &Offer, now: At) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    for t in terms_of(doc) {
        let duration = str_at(&t, "AgreementDuration").and_then(IsoDuration::parse);
        let start = str_at(&t, "AgreementStartDate").and_then(parse_date);
        let end = str_at(&t, "AgreementEndDate").and_then(parse_date);
        let replacement = offer.replaces_agreement_id.is_some();
        match (duration, start, end) {
            (Some(_), _, Some(_)) => errors.push(ErrorDetail::new(
                "INVALID_AGREEMENT_TIME_INTERVAL",
                "AgreementDuration and AgreementEndDate can't be used together.",
            )),
            (None, Some(_), None) => errors.push(ErrorDetail::new(
                "MISSING_AGREEMENT_END_DATE",
                "Provide an AgreementEndDate or AgreementDuration with AgreementStartDate.",
            )),
            (None, None, Some(_)) if !replacement => errors.push(ErrorDetail::new(
                "INCOMPATIBLE_AGREEMENT_END_DATE",
                "AgreementEndDate isn't supported unless it's used in combination with a future AgreementStartDate or for replacement offers.",
            )),
            (None, None, None) => errors.push(ErrorDetail::new(
                "INVALID_AGREEMENT_TIME_INTERVAL",
                "Provide an AgreementDuration, or an AgreementStartDate with an AgreementEndDate.",
            )),
            _ => {}
        }
        if let Some(d) = duration
            && d.approx_days() < 1
        {
            errors.push(ErrorDetail::new(
                "INVALID_AGREEMENT_DURATION",
                "Provide an AgreementDuration of at least 1 day.",
            ));
        }
        if let Some(e) = end
            && end_of(e) < now
        {
            errors.push(ErrorDetail::new(
                "INVALID_AGREEMENT_END_DATE",
                "Provide a future AgreementEndDate.",
            ));
        }
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            errors.push(ErrorDetail::new(
                "INVALID_AGREEMENT_START_DATE",
                "Provide an AgreementStartDate that is before the AgreementEndDate.",
            ));
        }
        if let Some(s) = start
            && start_of(s) < now
        {
            errors.push(ErrorDetail::new(
                "INVALID_AGREEMENT_START_DATE",
                "Provide a future AgreementStartDate.",
            ));
        }
        if offer.state == OfferState::Released {
            let old = offer.term("ValidityTerm");
            let old_start = old.and_then(|o| str_at(o, "AgreementStartDate"));
            let old_end = old.and_then(|o| str_at(o, "AgreementEndDate"));
            if old_start != str_at(&t, "AgreementStartDate") {
                errors.push(ErrorDetail::new(
                    "INCOMPATIBLE_AGREEMENT_START_DATE",
                    "AgreementStartDate can't be changed after the offer is released.",
                ));
            }
            if old_end != str_at(&t, "AgreementEndDate") {
                errors.push(ErrorDetail::new(
                    "INCOMPATIBLE_AGREEMENT_END_DATE",
                    "AgreementEndDate can't be changed after the offer is released.",
                ));
            }
        }
    }
    errors
}
