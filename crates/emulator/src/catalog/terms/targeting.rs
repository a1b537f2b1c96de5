//! UpdateTargeting: buyer accounts and country codes.

use serde_json::Value;

use crate::catalog::model::{ErrorDetail, Offer, OfferState};
use crate::support::format::is_account_id;

/// UpdateTargeting rules.
pub fn targeting(doc: &Value, offer: &Offer) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    let positive = doc.get("PositiveTargeting").filter(|v| !v.is_null());
    let negative = doc.get("NegativeTargeting").filter(|v| !v.is_null());
    if positive.is_some() && negative.is_some() {
        errors.push(ErrorDetail::new(
            "INVALID_TARGETING",
            "Use either PositiveTargeting or NegativeTargeting, not both.",
        ));
    }
    if offer.state == OfferState::Released {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_TARGETING",
            "The requested change can't be performed after the offer is released.",
        ));
    }
    if offer.replaces_agreement_id.is_some() {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_TARGETING",
            "UpdateTargeting isn't supported for replacement offers.",
        ));
    }
    let accounts: Vec<String> = list(positive, "BuyerAccounts");
    if accounts.iter().any(|a| !is_account_id(a)) {
        errors.push(ErrorDetail::new(
            "INVALID_BUYER_ACCOUNTS",
            "Provide valid 12-digit AWS account IDs for BuyerAccounts.",
        ));
    }
    if accounts.len() > 26 {
        errors.push(ErrorDetail::new(
            "TOO_MANY_BUYER_ACCOUNTS",
            "Provide up to 26 BuyerAccounts.",
        ));
    }
    let mut countries = list(positive, "CountryCodes");
    countries.extend(list(negative, "CountryCodes"));
    if countries
        .iter()
        .any(|c| c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()))
    {
        errors.push(ErrorDetail::new(
            "INVALID_COUNTRY_CODES",
            "Provide ISO 3166-1 alpha-2 CountryCodes.",
        ));
    }
    errors
}

/// A string list under `key` of an optional object.
pub fn list(value: Option<&Value>, key: &str) -> Vec<String> {
    value
        .and_then(|v| v.get(key))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}
