//! Resale authorizations (`ResaleAuthorization@1.0`, the ISV side of CPPO): change types, the
//! offer terms a channel partner's offer inherits, and compatibility of the partner's pricing.

use serde_json::{Value, json};

use super::apply::{Ctx, Workspace};
use super::members::str_at;
use super::model::{Change, ErrorDetail, ResaleAuthorization, ResaleStatus};
use super::terms::{self, PRIVATE_CURRENCIES};
use crate::support::format::{end_of, is_account_id, parse_date};

const AFTER_RELEASE: &str =
    "The requested change can't be performed after the resale authorization is released.";

/// Applies one resale-authorization change.
pub fn apply(change: &Change, id: &str, ws: &mut Workspace, ctx: &Ctx<'_>) -> Vec<ErrorDetail> {
    let doc = &change.document;
    if change.change_type == "CreateResaleAuthorization" {
        return create(doc, id, ws, ctx);
    }
    let Some(mut ra) = ws.resale.get(id).cloned() else {
        return vec![ErrorDetail::new(
            "INVALID_ENTITY",
            format!("Resale authorization {id} doesn't exist."),
        )];
    };
    let errors = update(&change.change_type, doc, &mut ra, ctx);
    ra.last_modified = ctx.now;
    ws.resale.insert(id.to_owned(), ra);
    errors
}

fn create(doc: &Value, id: &str, ws: &mut Workspace, ctx: &Ctx<'_>) -> Vec<ErrorDetail> {
    let product_id = str_at(doc, "ProductId").unwrap_or_default();
    let mut errors = Vec::new();
    match ctx.products.get(product_id) {
        None => errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRODUCT",
            format!("Product {product_id} doesn't exist."),
        )),
        Some(p) if p.visibility != "Public" && p.visibility != "Limited" => {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_PRODUCT",
                "Use an active product in Limited or Public state.",
            ));
        }
        Some(_) => {}
    }
    let reseller = str_at(doc, "ResellerAccountId").unwrap_or_default();
    if reseller == ctx.seller_account_id {
        errors.push(ErrorDetail::new(
            "INVALID_RESELLER_ACCOUNT_ID",
            "The reseller can't be the manufacturer.",
        ));
    }
    ws.resale.insert(
        id.to_owned(),
        ResaleAuthorization {
            id: id.to_owned(),
            revision: 0,
            status: ResaleStatus::Draft,
            product_id: product_id.to_owned(),
            name: str_at(doc, "Name").unwrap_or_default().to_owned(),
            description: str_at(doc, "Description").map(str::to_owned),
            reseller_account_id: reseller.to_owned(),
            manufacturer_account_id: ctx.seller_account_id.to_owned(),
            pre_existing_buyer_agreement: None,
            pricing_model: None,
            terms: Vec::new(),
            availability_end_date: None,
            offers_max_quantity: None,
            created: ctx.now,
            last_modified: ctx.now,
        },
    );
    errors
}

fn replace(ra: &mut ResaleAuthorization, types: &[&str], doc: &Value) {
    ra.terms
        .retain(|t| !types.contains(&str_at(t, "Type").unwrap_or_default()));
    ra.terms.extend(terms::terms_of(doc));
}

fn update(
    change_type: &str,
    doc: &Value,
    ra: &mut ResaleAuthorization,
    ctx: &Ctx<'_>,
) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    let released = ra.status != ResaleStatus::Draft;
    let terms_only_in_draft = matches!(
        change_type,
        "UpdatePricingTerms"
            | "UpdatePaymentScheduleTerms"
            | "UpdateLegalTerms"
            | "UpdateBuyerTargetingTerms"
            | "UpdateBuyerValidityTerms"
    );
    if released && terms_only_in_draft {
        errors.push(ErrorDetail::new("INCOMPATIBLE_TERMS", AFTER_RELEASE));
    }
    match change_type {
        "UpdateInformation" => {
            if let Some(n) = str_at(doc, "Name") {
                ra.name = n.to_owned();
            }
            if let Some(d) = str_at(doc, "Description") {
                ra.description = Some(d.to_owned());
            }
            if let Some(pre) = doc.get("PreExistingBuyerAgreement") {
                ra.pre_existing_buyer_agreement = (!pre.is_null()).then(|| pre.clone());
            }
        }
        "UpdatePricingTerms" => {
            let list = terms::terms_of(doc);
            for dup in terms::duplicate_types(&list) {
                errors.push(ErrorDetail::new(
                    "DUPLICATE_TERM_TYPES",
                    format!("Provide only one {dup}."),
                ));
            }
            for t in &list {
                let c = str_at(t, "CurrencyCode").unwrap_or("USD");
                if !PRIVATE_CURRENCIES.contains(&c) {
                    errors.push(ErrorDetail::new(
                        "INVALID_CURRENCY_CODE",
                        format!("CurrencyCode {c} isn't supported."),
                    ));
                }
            }
            ra.pricing_model = str_at(doc, "PricingModel").map(str::to_owned);
            replace(ra, super::validate::RESALE_PRICING_TERMS, doc);
        }
        "UpdatePaymentScheduleTerms" => replace(ra, &["ResalePaymentScheduleTerm"], doc),
        "UpdateLegalTerms" => replace(ra, &["BuyerLegalTerm", "ResaleLegalTerm"], doc),
        "UpdateBuyerTargetingTerms" => {
            for t in doc
                .get("Terms")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if terms::list(t.get("PositiveTargeting"), "BuyerAccounts")
                    .iter()
                    .any(|a| !is_account_id(a))
                {
                    errors.push(ErrorDetail::new(
                        "INVALID_BUYER_ACCOUNTS",
                        "Provide valid 12-digit AWS account IDs for BuyerAccounts.",
                    ));
                }
            }
            replace(ra, &["BuyerTargetingTerm"], doc);
        }
        "UpdateBuyerValidityTerms" => replace(ra, &["BuyerValidityTerm"], doc),
        "UpdateAvailability" => {
            if let Some(d) = str_at(doc, "AvailabilityEndDate").and_then(parse_date) {
                if end_of(d) < ctx.now {
                    errors.push(ErrorDetail::new(
                        "INVALID_AVAILABILITY_END_DATE",
                        "Provide a future AvailabilityEndDate.",
                    ));
                }
                ra.availability_end_date = Some(d);
            }
            if let Some(q) = doc.get("OffersMaxQuantity").and_then(Value::as_u64) {
                ra.offers_max_quantity = Some(q);
            }
        }
        "ReleaseResaleAuthorization" => {
            if released {
                errors.push(ErrorDetail::new(
                    "INVALID_UPDATE_REQUEST",
                    "The resale authorization is already released.",
                ));
            }
            if ra.pricing_model.is_none() {
                errors.push(ErrorDetail::new(
                    "MISSING_MANDATORY_TERMS",
                    "Provide pricing terms for the resale authorization.",
                ));
            }
            if ra.term("BuyerLegalTerm").is_none() && ra.term("ResaleLegalTerm").is_none() {
                errors.push(ErrorDetail::new(
                    "MISSING_MANDATORY_TERMS",
                    "Provide legal terms for the resale authorization.",
                ));
            }
            ra.status = ResaleStatus::Active;
        }
        "RestrictResaleAuthorization" => {
            if ra.status != ResaleStatus::Active {
                errors.push(ErrorDetail::new(
                    "INVALID_UPDATE_REQUEST",
                    "Only an active resale authorization can be restricted.",
                ));
            }
            ra.status = ResaleStatus::Restricted;
        }
        _ => {}
    }
    errors
}

/// The offer terms a channel partner's offer starts from: the authorization's pricing with the
/// `Resale` prefix dropped, its payment schedule, and its buyer legal term.
pub fn offer_terms_from(ra: &ResaleAuthorization) -> Vec<Value> {
    let mut out = Vec::new();
    for t in &ra.terms {
        let kind = str_at(t, "Type").unwrap_or_default();
        let mapped = match kind {
            "ResaleUsageBasedPricingTerm" => "UsageBasedPricingTerm",
            "ResaleConfigurableUpfrontPricingTerm" => "ConfigurableUpfrontPricingTerm",
            "ResaleFixedUpfrontPricingTerm" => "FixedUpfrontPricingTerm",
            "ResalePaymentScheduleTerm" => "PaymentScheduleTerm",
            "BuyerLegalTerm" => "LegalTerm",
            _ => continue,
        };
        let mut term = t.clone();
        term["Type"] = json!(mapped);
        out.push(term);
    }
    out
}

/// Errors when a channel partner's pricing doesn't match the authorization.
pub fn offer_pricing_compatible(doc: &Value, ra: &ResaleAuthorization) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    if let Some(model) = str_at(doc, "PricingModel")
        && ra.pricing_model.as_deref().is_some_and(|m| m != model)
    {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_RESALE_AUTHORIZATION",
            "PricingModel must match the resale authorization.",
        ));
    }
    let ra_currency = ra.terms.iter().find_map(|t| str_at(t, "CurrencyCode"));
    for t in doc
        .get("Terms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(c), Some(rc)) = (str_at(t, "CurrencyCode"), ra_currency)
            && c != rc
        {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_RESALE_AUTHORIZATION",
                "CurrencyCode must match the resale authorization.",
            ));
        }
    }
    errors
}

/// The authorization's `DetailsDocument` as DescribeEntity returns it.
pub fn details_document(ra: &ResaleAuthorization) -> Value {
    super::members::without_nulls(json!({
        "Id": ra.id,
        "Name": ra.name,
        "Description": ra.description,
        "ProductId": ra.product_id,
        "ResellerAccountId": ra.reseller_account_id,
        "ManufacturerAccountId": ra.manufacturer_account_id,
        "Status": status_str(ra.status),
        "PreExistingBuyerAgreement": ra.pre_existing_buyer_agreement,
        "PricingModel": ra.pricing_model,
        "Terms": ra.terms,
        "AvailabilityEndDate": ra.availability_end_date.map(|d| crate::support::format::iso_millis(end_of(d))),
        "OffersMaxQuantity": ra.offers_max_quantity,
    }))
}

/// `Draft`, `Active` or `Restricted`.
pub fn status_str(status: ResaleStatus) -> &'static str {
    match status {
        ResaleStatus::Draft => "Draft",
        ResaleStatus::Active => "Active",
        ResaleStatus::Restricted => "Restricted",
    }
}
