//! Offer change types (`Offer@1.0`): each applies its DetailsDocument to the offer in the
//! workspace and returns the asynchronous errors it earns.

use serde_json::{Value, json};

use super::apply::{Ctx, Workspace};
use super::members::str_at;
use super::model::{Change, ErrorDetail, Offer, OfferState, ResaleStatus, Targeting};
use super::terms;
use crate::agreement::AgreementStatus;
use crate::support::format::{end_of, parse_date};

const AFTER_RELEASE: &str = "The requested change can't be performed after the offer is released.";
const AFTER_EXPIRY: &str = "The requested change can't be performed after the offer is expired.";

fn blank(id: &str, product_id: &str, ctx: &Ctx<'_>) -> Offer {
    Offer {
        id: id.to_owned(),
        revision: 0,
        state: OfferState::Draft,
        product_id: product_id.to_owned(),
        resale_authorization_id: None,
        replaces_agreement_id: None,
        name: None,
        description: None,
        pre_existing_agreement: None,
        markup_percentage: None,
        offer_set_id: None,
        pricing_model: None,
        terms: Vec::new(),
        targeting: Targeting::default(),
        availability_end_date: None,
        release_date: None,
        last_modified: ctx.now,
    }
}

/// Applies one offer change.
pub fn apply(change: &Change, id: &str, ws: &mut Workspace, ctx: &Ctx<'_>) -> Vec<ErrorDetail> {
    let doc = &change.document;
    match change.change_type.as_str() {
        "CreateOffer" => create(doc, id, ws, ctx),
        "CreateReplacementOffer" => create_replacement(doc, id, None, ws, ctx),
        "CreateOfferUsingResaleAuthorization" => create_from_resale(doc, id, ws, ctx),
        "CreateReplacementOfferUsingResaleAuthorization" => {
            let ra = str_at(doc, "ResaleAuthorizationId")
                .unwrap_or_default()
                .to_owned();
            let mut errors = resale_usable(&ra, ws);
            errors.extend(create_replacement(doc, id, Some(ra), ws, ctx));
            errors
        }
        other => {
            let Some(mut offer) = ws.offers.get(id).cloned() else {
                return vec![ErrorDetail::new(
                    "INVALID_ENTITY",
                    format!("Offer {id} doesn't exist."),
                )];
            };
            let errors = update(other, doc, &mut offer, ws, ctx);
            offer.last_modified = ctx.now;
            ws.offers.insert(id.to_owned(), offer);
            errors
        }
    }
}

fn create(doc: &Value, id: &str, ws: &mut Workspace, ctx: &Ctx<'_>) -> Vec<ErrorDetail> {
    let product_id = str_at(doc, "ProductId").unwrap_or_default();
    let mut errors = Vec::new();
    match ctx.products.get(product_id) {
        Some(p) if matches!(p.visibility.as_str(), "Restricted" | "Draft") => {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_PRODUCT",
                "Use an active product in Limited or Public state.",
            ))
        }
        Some(_) => {}
        None => errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRODUCT",
            format!("Product {product_id} doesn't exist."),
        )),
    }
    let mut offer = blank(id, product_id, ctx);
    offer.name = str_at(doc, "Name").map(str::to_owned);
    offer.offer_set_id = str_at(doc, "OfferSetId").map(str::to_owned);
    ws.offers.insert(id.to_owned(), offer);
    errors
}

fn create_replacement(
    doc: &Value,
    id: &str,
    resale: Option<String>,
    ws: &mut Workspace,
    ctx: &Ctx<'_>,
) -> Vec<ErrorDetail> {
    let agreement_id = str_at(doc, "AgreementId").unwrap_or_default();
    let mut errors = Vec::new();
    let Some(agreement) = ctx.agreements.agreements.get(agreement_id) else {
        return vec![ErrorDetail::new(
            "INCOMPATIBLE_AGREEMENT",
            format!("Agreement {agreement_id} doesn't exist."),
        )];
    };
    if agreement.status != AgreementStatus::Active {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_AGREEMENT",
            "Provide an active agreement to replace.",
        ));
    }
    if resale.is_none() && agreement.resale_authorization_id.is_some() {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_AGREEMENT",
            "The agreement was created from a resale authorization. Use CreateReplacementOfferUsingResaleAuthorization change type.",
        ));
    }
    if let Some(p) = ctx.products.get(&agreement.product_id)
        && p.entity_type != "SaaSProduct@1.0"
    {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRODUCT",
            "Replacement offers aren't supported for the product.",
        ));
    }
    let mut offer = blank(id, &agreement.product_id, ctx);
    offer.name = str_at(doc, "Name").map(str::to_owned);
    offer.replaces_agreement_id = Some(agreement_id.to_owned());
    offer.targeting.buyer_accounts = vec![agreement.acceptor_account_id.clone()];
    offer.resale_authorization_id = resale;
    ws.offers.insert(id.to_owned(), offer);
    errors
}

/// Errors when a resale authorization can't be used to create an offer.
fn resale_usable(ra_id: &str, ws: &Workspace) -> Vec<ErrorDetail> {
    let Some(ra) = ws.resale.get(ra_id) else {
        return vec![ErrorDetail::new(
            "INCOMPATIBLE_RESALE_AUTHORIZATION",
            format!("Resale authorization {ra_id} doesn't exist."),
        )];
    };
    let mut errors = Vec::new();
    if ra.status != ResaleStatus::Active {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_RESALE_AUTHORIZATION",
            "Use an active resale authorization.",
        ));
    }
    if let Some(max) = ra.offers_max_quantity {
        let used = ws
            .offers
            .values()
            .filter(|o| o.resale_authorization_id.as_deref() == Some(ra_id))
            .count();
        if u64::try_from(used).unwrap_or(u64::MAX) >= max {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_RESALE_AUTHORIZATION",
                "The resale authorization has been used for the maximum number of offers.",
            ));
        }
    }
    errors
}

fn create_from_resale(
    doc: &Value,
    id: &str,
    ws: &mut Workspace,
    ctx: &Ctx<'_>,
) -> Vec<ErrorDetail> {
    let ra_id = str_at(doc, "ResaleAuthorizationId").unwrap_or_default();
    let errors = resale_usable(ra_id, ws);
    let Some(ra) = ws.resale.get(ra_id).cloned() else {
        return errors;
    };
    let mut offer = blank(id, &ra.product_id, ctx);
    offer.resale_authorization_id = Some(ra_id.to_owned());
    offer.name = str_at(doc, "Name").map(str::to_owned);
    offer.description = str_at(doc, "Description").map(str::to_owned);
    offer.pricing_model = ra.pricing_model.clone();
    offer.terms = super::resale::offer_terms_from(&ra);
    offer.markup_percentage = Some("0.0".to_owned());
    if let Some(t) = ra.term("BuyerTargetingTerm") {
        offer.targeting.buyer_accounts = terms::list(t.get("PositiveTargeting"), "BuyerAccounts");
    }
    ws.offers.insert(id.to_owned(), offer);
    errors
}

fn update(
    change_type: &str,
    doc: &Value,
    offer: &mut Offer,
    ws: &Workspace,
    ctx: &Ctx<'_>,
) -> Vec<ErrorDetail> {
    let released = offer.state == OfferState::Released;
    let expired = offer.is_expired(ctx.now) && released;
    let mut errors = Vec::new();
    if expired && change_type != "UpdateAvailability" {
        errors.push(ErrorDetail::new("INCOMPATIBLE_TERMS", AFTER_EXPIRY));
        return errors;
    }
    match change_type {
        "UpdateInformation" => {
            if let Some(name) = str_at(doc, "Name") {
                offer.name = Some(name.to_owned());
            }
            if let Some(description) = str_at(doc, "Description") {
                offer.description = Some(description.to_owned());
            }
            if let Some(pre) = doc.get("PreExistingAgreement") {
                if released {
                    errors.push(ErrorDetail::new(
                        "INCOMPATIBLE_PRE_EXISTING_AGREEMENT",
                        "PreExistingAgreement can't be changed after the offer is released.",
                    ));
                }
                offer.pre_existing_agreement = if pre.is_null() {
                    None
                } else {
                    Some(pre.clone())
                };
            }
        }
        "UpdateTargeting" => {
            errors.extend(terms::targeting(doc, offer));
            let positive = doc.get("PositiveTargeting");
            let accounts = terms::list(positive, "BuyerAccounts");
            if let Some(ra) = offer
                .resale_authorization_id
                .as_deref()
                .and_then(|r| ws.resale.get(r))
                && let Some(t) = ra.term("BuyerTargetingTerm")
            {
                let allowed = terms::list(t.get("PositiveTargeting"), "BuyerAccounts");
                if accounts.iter().any(|a| !allowed.contains(a)) {
                    errors.push(ErrorDetail::new(
                        "INCOMPATIBLE_RESALE_AUTHORIZATION",
                        "BuyerAccounts must be within the resale authorization's buyer targeting.",
                    ));
                }
            }
            offer.targeting = Targeting {
                buyer_accounts: accounts,
                country_codes: terms::list(positive, "CountryCodes"),
                negative_country_codes: terms::list(doc.get("NegativeTargeting"), "CountryCodes"),
            };
        }
        "UpdateSupportTerms" => {
            if released {
                errors.push(ErrorDetail::new("INCOMPATIBLE_TERMS", AFTER_RELEASE));
            }
            if offer.term("FreeTrialPricingTerm").is_some() {
                errors.push(ErrorDetail::new(
                    "INCOMPATIBLE_TERMS",
                    "SupportTerm isn't supported for free trial offers.",
                ));
            }
            offer.replace_terms(&["SupportTerm"], terms::terms_of(doc));
        }
        "UpdateLegalTerms" => {
            if released {
                errors.push(ErrorDetail::new("INCOMPATIBLE_TERMS", AFTER_RELEASE));
            }
            errors.extend(terms::legal(doc));
            offer.replace_terms(&["LegalTerm"], terms::terms_of(doc));
        }
        "UpdatePricingTerms" => {
            let product = ctx.products.get(&offer.product_id);
            errors.extend(terms::pricing(doc, offer, product));
            if let Some(ra) = offer
                .resale_authorization_id
                .as_deref()
                .and_then(|r| ws.resale.get(r))
            {
                errors.extend(super::resale::offer_pricing_compatible(doc, ra));
            }
            offer.pricing_model = str_at(doc, "PricingModel").map(str::to_owned);
            offer.replace_terms(super::validate::OFFER_PRICING_TERMS, terms::terms_of(doc));
        }
        "UpdateValidityTerms" => {
            errors.extend(terms::validity(doc, offer, ctx.now));
            offer.replace_terms(&["ValidityTerm"], terms::terms_of(doc));
        }
        "UpdatePaymentScheduleTerms" => {
            errors.extend(terms::schedule(doc, offer, ctx.now));
            offer.replace_terms(&["PaymentScheduleTerm"], terms::terms_of(doc));
        }
        "UpdateAvailability" => {
            let date = str_at(doc, "AvailabilityEndDate").and_then(parse_date);
            if let Some(d) = date
                && end_of(d) < ctx.now
                && !released
            {
                errors.push(ErrorDetail::new(
                    "INVALID_AVAILABILITY_END_DATE",
                    "Provide a future AvailabilityEndDate.",
                ));
            }
            offer.availability_end_date = date;
        }
        "UpdateRenewalTerms" => {
            errors.extend(terms::renewal(doc, offer));
            offer.replace_terms(&["RenewalTerm"], terms::terms_of(doc));
        }
        "UpdateNetPaymentTerms" => {
            errors.extend(terms::net_payment(doc, offer));
            offer.replace_terms(&["NetPaymentTerm"], terms::terms_of(doc));
        }
        "UpdateMarkup" => {
            if offer.resale_authorization_id.is_none() {
                errors.push(ErrorDetail::new(
                    "INCOMPATIBLE_RESALE_AUTHORIZATION",
                    "UpdateMarkup is only supported for offers created from a resale authorization.",
                ));
            }
            if released {
                errors.push(ErrorDetail::new("INCOMPATIBLE_TERMS", AFTER_RELEASE));
            }
            let pct = str_at(doc, "Percentage").unwrap_or("0");
            if pct.parse::<f64>().is_ok_and(|p| p > 0.0)
                && offer.term("PaymentScheduleTerm").is_some()
            {
                errors.push(ErrorDetail::new(
                    "INCOMPATIBLE_MARKUP_PERCENTAGE",
                    "MarkupPercentage must be zero when the offer contains a PaymentScheduleTerm.",
                ));
            }
            offer.markup_percentage = Some(pct.to_owned());
        }
        "ReleaseOffer" => {
            if released {
                errors.push(ErrorDetail::new(
                    "INVALID_UPDATE_REQUEST",
                    "The offer is already released.",
                ));
            }
            offer.state = OfferState::Released;
            offer.release_date = Some(ctx.now);
        }
        _ => {}
    }
    errors
}

/// The offer's `DetailsDocument` as DescribeEntity returns it (docs/aws/catalog.md, offer DetailsDocument).
pub fn details_document(offer: &Offer) -> Value {
    let mut rules = Vec::new();
    let t = &offer.targeting;
    if !t.buyer_accounts.is_empty()
        || !t.country_codes.is_empty()
        || !t.negative_country_codes.is_empty()
    {
        let mut rule = json!({ "Type": "TargetingRule" });
        if !t.buyer_accounts.is_empty() || !t.country_codes.is_empty() {
            let mut positive = serde_json::Map::new();
            if !t.buyer_accounts.is_empty() {
                positive.insert("BuyerAccounts".into(), json!(t.buyer_accounts));
            }
            if !t.country_codes.is_empty() {
                positive.insert("CountryCodes".into(), json!(t.country_codes));
            }
            rule["PositiveTargeting"] = Value::Object(positive);
        }
        if !t.negative_country_codes.is_empty() {
            rule["NegativeTargeting"] = json!({ "CountryCodes": t.negative_country_codes });
        }
        rules.push(rule);
    }
    if let Some(d) = offer.availability_end_date {
        rules.push(json!({ "Type": "AvailabilityRule", "AvailabilityEndDate": crate::support::format::iso_millis(end_of(d)) }));
    }
    let terms: Vec<Value> = offer.terms.iter().map(describe_term).collect();
    super::members::without_nulls(json!({
        "Id": offer.id,
        "State": match offer.state { OfferState::Draft => "Draft", OfferState::Released => "Released" },
        "Name": offer.name,
        "Description": offer.description,
        "ProductId": offer.product_id,
        "ResaleAuthorizationId": offer.resale_authorization_id,
        "MarkupPercentage": offer.markup_percentage,
        "PreExistingAgreement": offer.pre_existing_agreement,
        "OfferSetId": offer.offer_set_id,
        "AgreementId": offer.replaces_agreement_id,
        "PricingModel": offer.pricing_model,
        "Terms": terms,
        "Rules": rules,
    }))
}

/// A term as DescribeEntity shows it: dates inside schedules become timestamps.
fn describe_term(term: &Value) -> Value {
    let mut out = term.clone();
    if let Some(schedule) = out.get_mut("Schedule").and_then(Value::as_array_mut) {
        for item in schedule {
            if let Some(d) = item
                .get("ChargeDate")
                .and_then(Value::as_str)
                .and_then(parse_date)
            {
                item["ChargeDate"] = json!(crate::support::format::iso_millis(
                    crate::support::format::start_of(d)
                ));
            }
        }
    }
    out
}
