//! UpdatePricingTerms: duplicate term types, currencies, dimensions, pricing-model changes.

use serde_json::Value;

use super::{PRIVATE_CURRENCIES, dimension_keys, duplicate_types, prices, terms_of};
use crate::catalog::model::{CatalogProduct, ErrorDetail, Offer, OfferState};
use crate::support::json::str_at;

/// UpdatePricingTerms rules.
pub fn pricing(doc: &Value, offer: &Offer, product: Option<&CatalogProduct>) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    let terms = terms_of(doc);
    let model = str_at(doc, "PricingModel").unwrap_or_default();
    for dup in duplicate_types(&terms) {
        errors.push(ErrorDetail::new(
            "DUPLICATE_TERM_TYPES",
            format!("Provide only one {dup}."),
        ));
    }
    let released = offer.state == OfferState::Released;
    if released
        && let Some(old) = offer.pricing_model.as_deref()
        && old != model
    {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRICING_MODEL",
            format!("PricingModel can't change from {old} to {model}."),
        ));
    }
    if offer.replaces_agreement_id.is_some() && model != "Contract" {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRICING_MODEL",
            "Replacement offers are only supported for contract pricing model.",
        ));
    }
    let mut currencies: Vec<&str> = Vec::new();
    for t in &terms {
        let kind = str_at(t, "Type").unwrap_or_default();
        if let Some(c) = str_at(t, "CurrencyCode") {
            let usd_only = matches!(kind, "UsageBasedPricingTerm" | "RecurringPaymentTerm");
            if (usd_only && c != "USD") || !PRIVATE_CURRENCIES.contains(&c) {
                errors.push(ErrorDetail::new(
                    "INVALID_CURRENCY_CODE",
                    format!("CurrencyCode {c} isn't supported for {kind}."),
                ));
            }
            if !currencies.contains(&c) {
                currencies.push(c);
            }
        }
        let keys = dimension_keys(t);
        let mut seen: Vec<&String> = Vec::new();
        for k in &keys {
            if seen.contains(&k) && !kind.starts_with("ConfigurableUpfront") {
                errors.push(ErrorDetail::new(
                    "DUPLICATE_DIMENSION_KEYS",
                    format!("DimensionKey {k} appears more than once in {kind}."),
                ));
            }
            seen.push(k);
        }
        if let Some(product) = product
            && !product.dimensions.is_empty()
        {
            for k in &keys {
                let known = product
                    .dimensions
                    .iter()
                    .any(|d| str_at(d, "Key") == Some(k.as_str()));
                if !known {
                    errors.push(ErrorDetail::new(
                        "INCOMPATIBLE_PRODUCT",
                        format!("Dimension {k} isn't defined for product {}.", product.id),
                    ));
                }
            }
        }
        if model == "Free" && prices(t).iter().any(|p| *p != 0) {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_RATES",
                "Provide zero (0) prices for the Free pricing model.",
            ));
        }
        if kind == "FixedUpfrontPricingTerm"
            && offer
                .markup_percentage
                .as_deref()
                .and_then(|m| m.parse::<f64>().ok())
                .is_some_and(|m| m > 0.0)
            && offer.resale_authorization_id.is_none()
        {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_TERMS",
                "FixedUpfrontPricingTerm isn't supported when MarkupPercentage is greater than zero.",
            ));
        }
        if released
            && let Some(old_currency) = offer_currency(offer)
            && str_at(t, "CurrencyCode").is_some_and(|c| c != old_currency)
        {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_CURRENCY_CODE",
                "CurrencyCode can't be changed after the offer is released.",
            ));
        }
    }
    if currencies.len() > 1 {
        errors.push(ErrorDetail::new(
            "INVALID_CURRENCY_CODE",
            "Provide the same CurrencyCode across all pricing and payment terms.",
        ));
    }
    let has = |k: &str| terms.iter().any(|t| str_at(t, "Type") == Some(k));
    if model == "Byol" && !has("ByolPricingTerm") {
        errors.push(ErrorDetail::new(
            "MISSING_MANDATORY_TERMS",
            "Provide a ByolPricingTerm when using Byol pricing model.",
        ));
    }
    if model == "Free"
        && !has("FreeTrialPricingTerm")
        && !has("UsageBasedPricingTerm")
        && !has("ConfigurableUpfrontPricingTerm")
    {
        errors.push(ErrorDetail::new(
            "MISSING_MANDATORY_TERMS",
            "Provide a pricing term with $0.00 rates for the Free pricing model.",
        ));
    }
    if model == "Contract"
        && !has("ConfigurableUpfrontPricingTerm")
        && !has("FixedUpfrontPricingTerm")
    {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRICING_MODEL",
            "Contract pricing requires a ConfigurableUpfrontPricingTerm or FixedUpfrontPricingTerm.",
        ));
    }
    if model == "Usage" && !has("UsageBasedPricingTerm") {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRICING_MODEL",
            "Usage pricing requires a UsageBasedPricingTerm.",
        ));
    }
    errors
}

/// The currency of the offer's existing pricing or payment terms.
pub fn offer_currency(offer: &Offer) -> Option<&str> {
    offer.terms.iter().find_map(|t| str_at(t, "CurrencyCode"))
}
