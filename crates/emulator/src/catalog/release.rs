//! Whole-offer rules: cross-term consistency checked whenever a change set touches an offer, and
//! the publication rules `ReleaseOffer` enforces.

use super::apply::{Ctx, Workspace};
use super::members::str_at;
use super::model::{ErrorDetail, Offer, OfferState};
use super::terms::charge_dates;
use super::validate::OFFER_PRICING_TERMS;
use crate::at::At;
use crate::support::format::{IsoDuration, end_of, parse_date, parse_micros, start_of};

/// The errors `offer` has as a whole. `releasing`: a ReleaseOffer is part of the change set.
pub fn consistency(
    offer: &Offer,
    ws: &Workspace,
    ctx: &Ctx<'_>,
    releasing: bool,
) -> Vec<ErrorDetail> {
    let publishing = releasing || offer.state == OfferState::Released;
    let mut errors = cross_terms(offer, publishing);
    if publishing {
        errors.extend(publication(offer, ws, ctx, releasing));
    }
    errors
}

/// Contradictions between terms are reported whenever the offer changes; terms that are merely
/// missing (the seller may add them in a later change set) only when publishing.
fn cross_terms(offer: &Offer, publishing: bool) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    let schedule = offer.term("PaymentScheduleTerm");
    let fixed = offer.term("FixedUpfrontPricingTerm");
    if let Some(schedule) = schedule {
        match fixed {
            None if !publishing => {}
            None => errors.push(ErrorDetail::new(
                "MISSING_MANDATORY_TERMS",
                "Provide a FixedUpfrontPricingTerm when the offer contains a PaymentScheduleTerm.",
            )),
            Some(f) if str_at(f, "Price").and_then(|p| parse_micros(p, 8)).unwrap_or(0) != 0 => errors.push(ErrorDetail::new(
                "INCOMPATIBLE_TERMS",
                "Provide zero (0) price for FixedUpfrontPricingTerm when the offer contains a PaymentScheduleTerm.",
            )),
            Some(_) => {}
        }
        let dates = charge_dates(schedule);
        if let Some(expiry) = offer.availability_end_date {
            let backdated = dates.iter().filter(|d| **d <= expiry).count();
            if backdated > 1 {
                errors.push(ErrorDetail::new(
                    "TOO_MANY_BACKDATED_CHARGES",
                    "Provide up to 1 scheduled payment before AvailabilityEndDate.",
                ));
            }
        }
        if let Some(end) = agreement_end(offer)
            && dates.iter().any(|d| start_of(*d) > end)
        {
            errors.push(ErrorDetail::new(
                "INVALID_CHARGE_DATES",
                "Provide charge dates that are before the AgreementEndDate.",
            ));
        }
    }
    if let Some(f) = fixed
        && publishing
        && schedule.is_none()
        && offer.term("ByolPricingTerm").is_none()
        && f.get("Duration").is_none()
    {
        errors.push(ErrorDetail::new(
            "MISSING_MANDATORY_TERMS",
            "FixedUpfrontPricingTerm is only supported when paired with ByolPricingTerm or PaymentScheduleTerm.",
        ));
    }
    let mut currencies: Vec<&str> = offer
        .terms
        .iter()
        .filter_map(|t| str_at(t, "CurrencyCode"))
        .collect();
    currencies.dedup();
    currencies.sort_unstable();
    currencies.dedup();
    if currencies.len() > 1 {
        errors.push(ErrorDetail::new(
            "INVALID_CURRENCY_CODE",
            "Provide the same CurrencyCode across all pricing and payment terms.",
        ));
    }
    let validity = offer.term("ValidityTerm");
    let end_date = validity
        .and_then(|v| str_at(v, "AgreementEndDate"))
        .and_then(parse_date);
    let start_date = validity
        .and_then(|v| str_at(v, "AgreementStartDate"))
        .and_then(parse_date);
    if let (Some(expiry), Some(end)) = (offer.availability_end_date, end_date)
        && expiry > end
    {
        errors.push(ErrorDetail::new(
            "INVALID_AVAILABILITY_END_DATE",
            "Provide an AvailabilityEndDate that is before AgreementEndDate.",
        ));
    }
    if let (Some(expiry), Some(start)) = (offer.availability_end_date, start_date)
        && start <= expiry
    {
        errors.push(ErrorDetail::new(
            "INVALID_AGREEMENT_START_DATE",
            "Provide an AgreementStartDate that is after AvailabilityEndDate.",
        ));
    }
    errors
}

/// The latest instant the agreement could end if the offer were accepted on its last day.
fn agreement_end(offer: &Offer) -> Option<At> {
    let validity = offer.term("ValidityTerm")?;
    if let Some(end) = str_at(validity, "AgreementEndDate").and_then(parse_date) {
        return Some(end_of(end));
    }
    let duration = str_at(validity, "AgreementDuration").and_then(IsoDuration::parse)?;
    let from = str_at(validity, "AgreementStartDate")
        .and_then(parse_date)
        .or(offer.availability_end_date)
        .map(end_of)?;
    Some(duration.add_to(from))
}

fn is_free_trial(offer: &Offer) -> bool {
    offer.term("FreeTrialPricingTerm").is_some()
}

fn publication(offer: &Offer, ws: &Workspace, ctx: &Ctx<'_>, releasing: bool) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    if offer.name.as_deref().is_none_or(str::is_empty) {
        errors.push(ErrorDetail::new(
            "MISSING_NAME",
            "Provide a Name for the offer.",
        ));
    }
    if offer.description.as_deref().is_none_or(str::is_empty)
        && offer.resale_authorization_id.is_none()
    {
        errors.push(ErrorDetail::new(
            "MISSING_DESCRIPTION",
            "Provide a Description for the offer.",
        ));
    }
    let has_pricing = offer
        .terms
        .iter()
        .any(|t| OFFER_PRICING_TERMS.contains(&str_at(t, "Type").unwrap_or_default()));
    if !has_pricing {
        errors.push(ErrorDetail::new(
            "MISSING_MANDATORY_TERMS",
            "Provide pricing terms for the offer.",
        ));
    }
    if offer.term("LegalTerm").is_none() {
        errors.push(ErrorDetail::new(
            "MISSING_MANDATORY_TERMS",
            "Provide a LegalTerm for the offer.",
        ));
    }
    if offer.is_private() {
        if offer.availability_end_date.is_none() {
            errors.push(ErrorDetail::new(
                "MISSING_AVAILABILITY_END_DATE",
                "Provide an AvailabilityEndDate for private offer.",
            ));
        }
    } else {
        if offer.resale_authorization_id.is_some() {
            errors.push(ErrorDetail::new(
                "MISSING_BUYER_ACCOUNTS",
                "Provide BuyerAccounts for offers created from a resale authorization.",
            ));
        }
        if offer.availability_end_date.is_some() && offer.replaces_agreement_id.is_none() {
            errors.push(ErrorDetail::new(
                "INVALID_AVAILABILITY_END_DATE",
                "AvailabilityEndDate isn't supported for public offers.",
            ));
        }
        for term in ["ValidityTerm", "NetPaymentTerm", "PaymentScheduleTerm"] {
            if offer.term(term).is_some() {
                errors.push(ErrorDetail::new(
                    "INCOMPATIBLE_TERMS",
                    format!("{term} isn't supported for public offers."),
                ));
            }
        }
        if offer.pre_existing_agreement.is_some() || offer.offer_set_id.is_some() {
            errors.push(ErrorDetail::new(
                "INCOMPATIBLE_TARGETING",
                "PreExistingAgreement and OfferSetId are only supported for buyer-targeted offers.",
            ));
        }
        if releasing {
            let clash = ws.offers.values().any(|o| {
                o.id != offer.id
                    && o.product_id == offer.product_id
                    && o.state == OfferState::Released
                    && !o.is_private()
                    && o.resale_authorization_id.is_none()
                    && is_free_trial(o) == is_free_trial(offer)
            });
            if clash {
                errors.push(ErrorDetail::new(
                    "TOO_MANY_OFFERS",
                    "The product already has a public offer of this kind.",
                ));
            }
        }
    }
    if offer.replaces_agreement_id.is_some()
        && offer
            .term("ValidityTerm")
            .and_then(|v| str_at(v, "AgreementEndDate"))
            .is_none()
    {
        errors.push(ErrorDetail::new(
            "MISSING_AGREEMENT_END_DATE",
            "Provide an AgreementEndDate for replacement offers.",
        ));
    }
    if let Some(product) = ctx.products.get(&offer.product_id)
        && product.seller_account_id != ctx.seller_account_id
        && offer.resale_authorization_id.is_none()
    {
        errors.push(ErrorDetail::new(
            "INCOMPATIBLE_PRODUCT",
            "The product belongs to another seller.",
        ));
    }
    errors
}
