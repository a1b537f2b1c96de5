//! Accepting an offer: a NEW agreement, or REPLACE for a replacement offer.

use http::StatusCode;

use super::{AcceptRequest, conflict, not_found, released_offer, start_agreement};
use crate::World;
use crate::agreement::billing;
use crate::agreement::model::{Agreement, AgreementStatus};
use crate::at::At;
use crate::catalog::model::Offer;
use crate::config::EmulatorConfig;
use crate::support::format::new_id;
use crate::wire::ApiError;

fn proposer_and_manufacturer(
    world: &World,
    config: &EmulatorConfig,
    offer: &Offer,
) -> (String, String) {
    let seller = config.seller_account_id.clone();
    match offer
        .resale_authorization_id
        .as_deref()
        .and_then(|r| world.catalog.resale_authorizations.get(r))
    {
        Some(ra) => (
            ra.reseller_account_id.clone(),
            ra.manufacturer_account_id.clone(),
        ),
        None => (seller.clone(), seller),
    }
}

fn product_code(world: &World, config: &EmulatorConfig, product_id: &str) -> String {
    crate::catalog::products::directory(world, &config.seller_account_id)
        .get(product_id)
        .map(|p| p.product_code.clone())
        .unwrap_or_default()
}

/// Accepts a released offer as `request.buyer_account_id`.
pub fn accept(
    world: &mut World,
    config: &EmulatorConfig,
    now: At,
    offer_id: &str,
    request: &AcceptRequest,
) -> Result<Agreement, ApiError> {
    if !crate::support::format::is_account_id(&request.buyer_account_id) {
        return Err(ApiError::validation(
            "buyer_account_id must be a 12-digit AWS account id",
        ));
    }
    let offer = released_offer(world, offer_id)?;
    if offer.is_expired(now) {
        return Err(conflict(format!("offer {offer_id} has expired")));
    }
    if offer.is_private()
        && !offer
            .targeting
            .buyer_accounts
            .contains(&request.buyer_account_id)
    {
        return Err(ApiError::with_status(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            format!(
                "offer {offer_id} is not targeted at {}",
                request.buyer_account_id
            ),
        ));
    }
    let previous = match &offer.replaces_agreement_id {
        Some(old_id) => {
            let old = world
                .agreements
                .agreements
                .get(old_id)
                .ok_or_else(|| not_found(format!("agreement {old_id} does not exist")))?;
            if old.status != AgreementStatus::Active
                || old.acceptor_account_id != request.buyer_account_id
            {
                return Err(conflict(format!(
                    "agreement {old_id} is not an active agreement of {}",
                    request.buyer_account_id
                )));
            }
            Some(old_id.clone())
        }
        None => None,
    };
    let duplicate = world.agreements.agreements.values().any(|a| {
        a.offer_id == offer.id
            && a.acceptor_account_id == request.buyer_account_id
            && a.status == AgreementStatus::Active
    });
    if duplicate {
        return Err(conflict(format!(
            "{} already has an active agreement for offer {offer_id}",
            request.buyer_account_id
        )));
    }
    let priced = billing::price(
        &offer.terms,
        offer.markup_percentage.as_deref(),
        &request.quantities,
        request.selector_value.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let (start, end) = billing::dates(&offer.terms, &priced, now);
    let (proposer, manufacturer) = proposer_and_manufacturer(world, config, &offer);
    let agreement = Agreement {
        id: new_id("agmt-", 25),
        intent: if previous.is_some() {
            "REPLACE".to_owned()
        } else {
            "NEW".to_owned()
        },
        status: AgreementStatus::Active,
        acceptor_account_id: request.buyer_account_id.clone(),
        proposer_account_id: proposer,
        manufacturer_account_id: manufacturer,
        offer_id: offer.id.clone(),
        offer_set_id: offer.offer_set_id.clone(),
        product_id: offer.product_id.clone(),
        product_code: product_code(world, config, &offer.product_id),
        resale_authorization_id: offer.resale_authorization_id.clone(),
        previous_agreement_id: previous.clone(),
        acceptance_time: now,
        start_time: start,
        end_time: end,
        terms: offer.terms.clone(),
        selector_value: priced.selector_value.clone(),
        quantities: priced.quantities.clone(),
        currency_code: priced.currency_code.clone(),
        agreement_value_micros: priced.value_micros(),
        auto_renew: offer.term("RenewalTerm").is_some(),
        updated_at: now,
    };
    if let Some(old_id) = &previous
        && let Some(old) = world.agreements.agreements.get_mut(old_id)
    {
        old.status = AgreementStatus::Replaced;
        old.end_time = Some(now);
        old.updated_at = now;
    }
    start_agreement(world, config, agreement, &priced, Some(&offer), now)
}
