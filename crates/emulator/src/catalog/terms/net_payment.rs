//! UpdateNetPaymentTerms: pay-by-invoice due periods.

use serde_json::Value;

use super::terms_of;
use crate::catalog::model::{ErrorDetail, Offer, OfferState};
use crate::support::json::str_at;

/// UpdateNetPaymentTerms rules.
pub fn net_payment(doc: &Value, offer: &Offer) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    let terms = terms_of(doc);
    if terms.len() > 1 {
        errors.push(ErrorDetail::new(
            "DUPLICATE_TERM_TYPES",
            "Provide only one NetPaymentTerm.",
        ));
    }
    if offer.state == OfferState::Released {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_TERMS",
            "The requested change can't be performed after the offer is released.",
        ));
    }
    for t in &terms {
        let period = str_at(t, "PaymentDuePeriod").unwrap_or_default();
        if !["P15D", "P30D", "P45D", "P60D", "P90D", "P120D"].contains(&period) {
            errors.push(ErrorDetail::new(
                "INVALID_PAYMENT_DUE_PERIOD",
                "PaymentDuePeriod must be one of P15D, P30D, P45D, P60D, P90D, P120D.",
            ));
        }
    }
    errors
}
