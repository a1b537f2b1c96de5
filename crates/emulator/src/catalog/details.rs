//! Synchronous schema checks (HTTP 422) of each change type's DetailsDocument: required
//! members, lengths, enums, and the formats of dates, durations and prices.

use serde_json::{Map, Value};

use super::error::{CatalogError, CatalogResult};
use super::members::{
    object, opt_array, opt_int, opt_len, opt_str, req_array, req_len, req_str, safe_text,
    string_list,
};
use super::validate::{OFFER_PRICING_TERMS, RESALE_PRICING_TERMS};
use crate::support::format::{IsoDuration, is_account_id, parse_date, parse_micros};

fn terms<'a>(
    doc: &'a Map<String, Value>,
    field: &str,
    expected: &[&str],
) -> CatalogResult<Vec<&'a Map<String, Value>>> {
    let items = req_array(doc, "Terms", field)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let term_field = format!("{field}.Terms[{i}]");
        let map = object(item, &term_field)?;
        let term_type = req_str(map, "Type", &term_field)?;
        if !expected.contains(&term_type) {
            return Err(CatalogError::validation(format!(
                "{term_field}.Type must be one of {}.",
                expected.join(", ")
            )));
        }
        out.push(map);
    }
    Ok(out)
}

fn date_field(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
    required: bool,
) -> CatalogResult<()> {
    let valid = |v: &str| parse_date(v).is_some();
    formatted_field(
        map,
        key,
        field,
        required,
        valid,
        "a valid date in YYYY-MM-DD format",
    )
}

fn duration_field(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
    required: bool,
) -> CatalogResult<()> {
    let valid = |v: &str| IsoDuration::parse(v).is_some();
    formatted_field(
        map,
        key,
        field,
        required,
        valid,
        "an ISO 8601 duration such as P12M",
    )
}

/// Checks the string at `key` (which must be present when `required`) with `valid`; a value that
/// fails is reported as "`{field}.{key}` must be `{expected}`."
fn formatted_field(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
    required: bool,
    valid: impl Fn(&str) -> bool,
    expected: &str,
) -> CatalogResult<()> {
    let value = if required {
        Some(req_str(map, key, field)?)
    } else {
        opt_str(map, key, field)?
    };
    if let Some(v) = value
        && !valid(v)
    {
        return Err(CatalogError::validation(format!(
            "{field}.{key} must be {expected}."
        )));
    }
    Ok(())
}

fn price_field(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
    decimals: usize,
) -> CatalogResult<()> {
    let value = req_str(map, key, field)?;
    if parse_micros(value, decimals).is_none() {
        return Err(CatalogError::validation(format!(
            "{field}.{key} must be a non-negative price up to 100000000 with at most {decimals} decimals."
        )));
    }
    Ok(())
}

fn empty(doc: &Map<String, Value>, field: &str) -> CatalogResult<()> {
    if doc.is_empty() {
        Ok(())
    } else {
        Err(CatalogError::validation(format!("{field} must be empty.")))
    }
}

/// Schema checks of an `Offer@1.0` change's DetailsDocument.
pub fn offer_details(
    change_type: &str,
    doc: &Map<String, Value>,
    field: &str,
) -> CatalogResult<()> {
    match change_type {
        "CreateOffer" => {
            let product = req_len(doc, "ProductId", field, 1, 50)?;
            if !safe_text(product) {
                return Err(CatalogError::validation(format!(
                    "{field}.ProductId contains invalid characters."
                )));
            }
            name_field(doc, field, 150)?;
            opt_str(doc, "OfferSetId", field)?;
        }
        "CreateReplacementOffer" => {
            agreement_id(doc, field)?;
            name_field(doc, field, 150)?;
        }
        "CreateOfferUsingResaleAuthorization" => {
            req_len(doc, "ResaleAuthorizationId", field, 1, 64)?;
            name_field(doc, field, 150)?;
            opt_len(doc, "Description", field, 1, 255)?;
        }
        "CreateReplacementOfferUsingResaleAuthorization" => {
            req_len(doc, "ResaleAuthorizationId", field, 1, 64)?;
            agreement_id(doc, field)?;
            name_field(doc, field, 150)?;
        }
        "UpdateInformation" => information(doc, field, 150, "PreExistingAgreement")?,
        "UpdateTargeting" => targeting(doc, field)?,
        "UpdateSupportTerms" => {
            let terms = terms(doc, field, &["SupportTerm"])?;
            if terms.len() > 1 {
                return Err(CatalogError::validation(format!(
                    "{field}.Terms must contain at most 1 term."
                )));
            }
            for t in terms {
                let policy = req_len(t, "RefundPolicy", field, 1, 500)?;
                if policy.trim() != policy {
                    return Err(CatalogError::validation(format!(
                        "{field}.RefundPolicy can't start or end with spaces."
                    )));
                }
            }
        }
        "UpdateLegalTerms" => legal(
            doc,
            field,
            &["LegalTerm"],
            &["CustomEula", "StandardEula", "CustomDsa", "StandardDsa"],
        )?,
        "UpdatePricingTerms" => pricing(
            doc,
            field,
            OFFER_PRICING_TERMS,
            &["Usage", "Contract", "Free", "Byol"],
        )?,
        "UpdateValidityTerms" => {
            let terms = terms(doc, field, &["ValidityTerm"])?;
            if terms.len() > 1 {
                return Err(CatalogError::validation(format!(
                    "{field}.Terms must contain at most 1 term."
                )));
            }
            for t in terms {
                duration_field(t, "AgreementDuration", field, false)?;
                date_field(t, "AgreementStartDate", field, false)?;
                date_field(t, "AgreementEndDate", field, false)?;
            }
        }
        "UpdatePaymentScheduleTerms" => schedule(doc, field, "PaymentScheduleTerm")?,
        "UpdateAvailability" => date_field(doc, "AvailabilityEndDate", field, true)?,
        "UpdateRenewalTerms" => renewal(doc, field)?,
        "UpdateNetPaymentTerms" => {
            for t in terms(doc, field, &["NetPaymentTerm"])? {
                req_str(t, "PaymentDuePeriod", field)?;
            }
        }
        "UpdateMarkup" => {
            let pct = req_str(doc, "Percentage", field)?;
            let (whole, frac) = pct.split_once('.').unwrap_or(("", pct));
            let ok = whole.chars().all(|c| c.is_ascii_digit())
                && !frac.is_empty()
                && frac.len() <= 9
                && frac.chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(CatalogError::validation(format!(
                    "{field}.Percentage must match ^(\\d*\\.)?\\d{{1,9}}$."
                )));
            }
        }
        "ReleaseOffer" => empty(doc, field)?,
        _ => {}
    }
    Ok(())
}

/// Schema checks of a `ResaleAuthorization@1.0` change's DetailsDocument.
pub fn resale_details(
    change_type: &str,
    doc: &Map<String, Value>,
    field: &str,
) -> CatalogResult<()> {
    match change_type {
        "CreateResaleAuthorization" => {
            req_len(doc, "ProductId", field, 1, 50)?;
            req_len(doc, "Name", field, 1, 100)?;
            opt_len(doc, "Description", field, 1, 255)?;
            let reseller = req_str(doc, "ResellerAccountId", field)?;
            if !is_account_id(reseller) {
                return Err(CatalogError::validation(format!(
                    "{field}.ResellerAccountId must be a 12-digit AWS account id."
                )));
            }
        }
        "UpdateInformation" => information(doc, field, 100, "PreExistingBuyerAgreement")?,
        "UpdatePricingTerms" => pricing(
            doc,
            field,
            RESALE_PRICING_TERMS,
            &["Usage", "Contract", "Free"],
        )?,
        "UpdatePaymentScheduleTerms" => schedule(doc, field, "ResalePaymentScheduleTerm")?,
        "UpdateLegalTerms" => legal(
            doc,
            field,
            &["BuyerLegalTerm", "ResaleLegalTerm"],
            &[
                "StandardEula",
                "CustomEula",
                "StandardResellerContract",
                "CustomResellerContract",
            ],
        )?,
        "UpdateBuyerTargetingTerms" => {
            for t in terms(doc, field, &["BuyerTargetingTerm"])? {
                let positive = t.get("PositiveTargeting").ok_or_else(|| {
                    CatalogError::validation(format!("{field}.PositiveTargeting is required."))
                })?;
                let positive = object(positive, &format!("{field}.PositiveTargeting"))?;
                let accounts = req_array(positive, "BuyerAccounts", field)?;
                string_list(accounts, &format!("{field}.BuyerAccounts"))?;
                if accounts.is_empty() || accounts.len() > 25 {
                    return Err(CatalogError::validation(format!(
                        "{field}.BuyerAccounts must contain 1 to 25 accounts."
                    )));
                }
            }
        }
        "UpdateBuyerValidityTerms" => {
            for t in terms(doc, field, &["BuyerValidityTerm"])? {
                date_field(t, "MaximumAgreementStartDate", field, true)?;
            }
        }
        "UpdateAvailability" => {
            date_field(doc, "AvailabilityEndDate", field, false)?;
            if let Some(q) = opt_int(doc, "OffersMaxQuantity", field)?
                && q < 1
            {
                return Err(CatalogError::validation(format!(
                    "{field}.OffersMaxQuantity must be at least 1."
                )));
            }
        }
        "ReleaseResaleAuthorization" | "RestrictResaleAuthorization" => empty(doc, field)?,
        _ => {}
    }
    Ok(())
}

fn name_field(doc: &Map<String, Value>, field: &str, max: usize) -> CatalogResult<()> {
    if let Some(name) = opt_len(doc, "Name", field, 1, max)?
        && !safe_text(name)
    {
        return Err(CatalogError::validation(format!(
            "{field}.Name contains invalid characters."
        )));
    }
    Ok(())
}

fn agreement_id(doc: &Map<String, Value>, field: &str) -> CatalogResult<()> {
    let id = req_len(doc, "AgreementId", field, 1, 64)?;
    if id.chars().any(char::is_whitespace) {
        return Err(CatalogError::validation(format!(
            "{field}.AgreementId must not contain whitespace."
        )));
    }
    Ok(())
}

fn information(
    doc: &Map<String, Value>,
    field: &str,
    max_name: usize,
    pre_key: &str,
) -> CatalogResult<()> {
    if !doc.contains_key("Name") && !doc.contains_key("Description") && !doc.contains_key(pre_key) {
        return Err(CatalogError::validation(format!(
            "{field}: provide at least one of Name, Description, {pre_key}."
        )));
    }
    name_field(doc, field, max_name)?;
    opt_len(doc, "Description", field, 1, 255)?;
    match doc.get(pre_key) {
        None | Some(Value::Null) => {}
        Some(pre) => {
            let pre = object(pre, &format!("{field}.{pre_key}"))?;
            let channel = req_str(pre, "AcquisitionChannel", field)?;
            let model = req_str(pre, "PricingModel", field)?;
            if !["AwsMarketplace", "External"].contains(&channel) {
                return Err(CatalogError::validation(format!(
                    "{field}.AcquisitionChannel must be AwsMarketplace or External."
                )));
            }
            if !["Contract", "Usage", "Byol", "Free"].contains(&model) {
                return Err(CatalogError::validation(format!(
                    "{field}.PricingModel must be Contract, Usage, Byol or Free."
                )));
            }
        }
    }
    Ok(())
}

fn targeting(doc: &Map<String, Value>, field: &str) -> CatalogResult<()> {
    for key in ["PositiveTargeting", "NegativeTargeting"] {
        let Some(value) = doc.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let map = object(value, &format!("{field}.{key}"))?;
        for list in ["BuyerAccounts", "CountryCodes"] {
            if let Some(items) = opt_array(map, list, &format!("{field}.{key}"))? {
                string_list(items, &format!("{field}.{key}.{list}"))?;
            }
        }
    }
    Ok(())
}

fn legal(
    doc: &Map<String, Value>,
    field: &str,
    types: &[&str],
    document_types: &[&str],
) -> CatalogResult<()> {
    let terms = terms(doc, field, types)?;
    if terms.is_empty() {
        return Err(CatalogError::validation(format!(
            "{field}.Terms must contain a legal term."
        )));
    }
    for t in terms {
        let documents = req_array(t, "Documents", field)?;
        if documents.is_empty() {
            return Err(CatalogError::validation(format!(
                "{field}.Documents must contain 1 document."
            )));
        }
        for d in documents {
            let d = object(d, &format!("{field}.Documents"))?;
            let doc_type = req_str(d, "Type", field)?;
            if !document_types.contains(&doc_type) {
                return Err(CatalogError::validation(format!(
                    "{field}.Documents.Type must be one of {}.",
                    document_types.join(", ")
                )));
            }
            opt_len(d, "Url", field, 1, 32_000)?;
            opt_str(d, "Version", field)?;
        }
    }
    Ok(())
}

fn schedule(doc: &Map<String, Value>, field: &str, term_type: &str) -> CatalogResult<()> {
    let terms = terms(doc, field, &[term_type])?;
    if terms.len() > 1 {
        return Err(CatalogError::validation(format!(
            "{field}.Terms must contain at most 1 term."
        )));
    }
    for t in terms {
        req_str(t, "CurrencyCode", field)?;
        let items = req_array(t, "Schedule", field)?;
        if items.is_empty() {
            return Err(CatalogError::validation(format!(
                "{field}.Schedule must contain at least 1 payment."
            )));
        }
        for item in items {
            let item = object(item, &format!("{field}.Schedule"))?;
            date_field(item, "ChargeDate", &format!("{field}.Schedule"), true)?;
            price_field(item, "ChargeAmount", &format!("{field}.Schedule"), 2)?;
        }
    }
    Ok(())
}

fn pricing(
    doc: &Map<String, Value>,
    field: &str,
    allowed: &[&str],
    models: &[&str],
) -> CatalogResult<()> {
    let model = req_str(doc, "PricingModel", field)?;
    if !models.contains(&model) {
        return Err(CatalogError::validation(format!(
            "{field}.PricingModel must be one of {}.",
            models.join(", ")
        )));
    }
    let terms = terms(doc, field, allowed)?;
    if terms.is_empty() {
        return Err(CatalogError::validation(format!(
            "{field}.Terms must contain at least 1 pricing term."
        )));
    }
    for (i, t) in terms.iter().enumerate() {
        let term_field = format!("{field}.Terms[{i}]");
        let term_type = req_str(t, "Type", &term_field)?;
        let needs_currency = !matches!(term_type, "ByolPricingTerm" | "FreeTrialPricingTerm");
        if needs_currency {
            req_str(t, "CurrencyCode", &term_field)?;
        }
        if t.contains_key("Price")
            || term_type.contains("FixedUpfront")
            || term_type == "RecurringPaymentTerm"
        {
            price_field(t, "Price", &term_field, 3)?;
        }
        duration_field(
            t,
            "Duration",
            &term_field,
            term_type == "FreeTrialPricingTerm",
        )?;
        if let Some(grants) = opt_array(t, "Grants", &term_field)? {
            for g in grants {
                let g = object(g, &format!("{term_field}.Grants"))?;
                req_len(g, "DimensionKey", &term_field, 1, 100)?;
                if let Some(q) = opt_int(g, "MaxQuantity", &term_field)?
                    && !(1..=2_147_483_646).contains(&q)
                {
                    return Err(CatalogError::validation(format!(
                        "{term_field}.MaxQuantity must be between 1 and 2147483646."
                    )));
                }
            }
        } else if term_type.contains("FixedUpfront") || term_type == "FreeTrialPricingTerm" {
            return Err(CatalogError::validation(format!(
                "{term_field}.Grants is required."
            )));
        }
        if let Some(cards) = opt_array(t, "RateCards", &term_field)? {
            for card in cards {
                let card = object(card, &format!("{term_field}.RateCards"))?;
                if let Some(selector) = card.get("Selector") {
                    let selector = object(selector, &format!("{term_field}.Selector"))?;
                    req_str(selector, "Type", &term_field)?;
                    duration_field(selector, "Value", &format!("{term_field}.Selector"), true)?;
                }
                for rate in req_array(card, "RateCard", &term_field)? {
                    let rate = object(rate, &format!("{term_field}.RateCard"))?;
                    req_len(rate, "DimensionKey", &term_field, 1, 100)?;
                    price_field(rate, "Price", &format!("{term_field}.RateCard"), 8)?;
                }
            }
        } else if term_type.contains("UsageBased") || term_type.contains("ConfigurableUpfront") {
            return Err(CatalogError::validation(format!(
                "{term_field}.RateCards is required."
            )));
        }
    }
    Ok(())
}

fn renewal(doc: &Map<String, Value>, field: &str) -> CatalogResult<()> {
    for t in terms(doc, field, &["RenewalTerm"])? {
        duration_field(t, "LockoutPeriod", field, false)?;
        duration_field(t, "AdjustmentDeadline", field, false)?;
        if let Some(n) = opt_int(t, "MaxRenewals", field)?
            && n < 1
        {
            return Err(CatalogError::validation(format!(
                "{field}.MaxRenewals must be at least 1."
            )));
        }
        if let Some(increase) = t.get("PriceIncrease") {
            let increase = object(increase, &format!("{field}.PriceIncrease"))?;
            let kind = req_str(increase, "Type", field)?;
            if kind != "FixedPercentage" && kind != "PercentageRange" {
                return Err(CatalogError::validation(format!(
                    "{field}.PriceIncrease.Type must be FixedPercentage or PercentageRange."
                )));
            }
        }
    }
    Ok(())
}
