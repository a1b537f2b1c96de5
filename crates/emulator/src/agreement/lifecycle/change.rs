//! Changing an active agreement: AMEND (quantities) and RENEW.

use super::{
    AmendRequest, RenewRequest, active, conflict, markup, party, released_offer, start_agreement,
};
use crate::World;
use crate::agreement::billing::{self, Line, Priced};
use crate::agreement::model::{Agreement, AgreementStatus};
use crate::agreement::{events, market_subscription};
use crate::at::At;
use crate::config::EmulatorConfig;
use crate::support::format::new_id;
use crate::support::json::str_at;
use crate::wire::ApiError;

/// Changes the quantities of an active contract (intent AMEND); bills the added units.
pub fn amend(
    world: &mut World,
    config: &EmulatorConfig,
    now: At,
    id: &str,
    request: &AmendRequest,
) -> Result<Agreement, ApiError> {
    let mut agreement = active(world, id)?;
    let old = billing::price(
        &agreement.terms,
        markup(world, &agreement).as_deref(),
        &agreement.quantities,
        agreement.selector_value.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let new = billing::price(
        &agreement.terms,
        markup(world, &agreement).as_deref(),
        &request.quantities,
        agreement.selector_value.as_deref(),
    )
    .map_err(ApiError::validation)?;
    if agreement
        .terms
        .iter()
        .all(|t| str_at(t, "Type") != Some("ConfigurableUpfrontPricingTerm"))
    {
        return Err(conflict(format!(
            "agreement {id} has no configurable contract quantities to amend"
        )));
    }
    let delta: Vec<(Option<String>, Line)> = new
        .upfront
        .iter()
        .map(|(k, amount)| {
            let before = old
                .upfront
                .iter()
                .find(|(ok, _)| ok == k)
                .map_or(Line::default(), |(_, a)| *a);
            (
                k.clone(),
                Line {
                    amount_micros: amount.amount_micros - before.amount_micros,
                    wholesale_micros: amount.wholesale_micros - before.wholesale_micros,
                },
            )
        })
        .filter(|(_, d)| d.amount_micros > 0)
        .collect();
    agreement.intent = "AMEND".to_owned();
    agreement.quantities = new.quantities.clone();
    agreement.agreement_value_micros = new.value_micros();
    agreement.updated_at = now;
    world
        .agreements
        .agreements
        .insert(agreement.id.clone(), agreement.clone());
    let offer = world.catalog.offers.get(&agreement.offer_id).cloned();
    let charge = Priced {
        upfront: delta,
        currency_code: new.currency_code.clone(),
        ..Priced::default()
    };
    let lines = billing::invoices(&party(&agreement, offer.as_ref()), &charge, now);
    world.agreements.invoices.extend(lines);
    let license_sent =
        market_subscription::set_entitlements(world, config, &agreement, &new.entitlements);
    events::amended(world, &agreement);
    if !license_sent {
        events::license_updated(world, &agreement, None);
    }
    Ok(agreement)
}

/// Renews an agreement: a new agreement (intent RENEW, `previousAgreementId`) starting when
/// the old one ends; the old one becomes RENEWED.
pub fn renew(
    world: &mut World,
    config: &EmulatorConfig,
    now: At,
    id: &str,
    request: &RenewRequest,
) -> Result<Agreement, ApiError> {
    let old = active(world, id)?;
    let offer = match &request.offer_id {
        Some(offer_id) => Some(released_offer(world, offer_id)?),
        None => world.catalog.offers.get(&old.offer_id).cloned(),
    };
    let terms = offer
        .as_ref()
        .filter(|_| request.offer_id.is_some())
        .map_or_else(|| old.terms.clone(), |o| o.terms.clone());
    let markup = offer.as_ref().and_then(|o| o.markup_percentage.clone());
    let priced = billing::price(
        &terms,
        markup.as_deref(),
        &old.quantities,
        old.selector_value.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let start = old.end_time.unwrap_or(now).max(now);
    let end = priced
        .duration
        .map(|d| d.add_to(start))
        .or_else(|| old.end_time.map(|e| start + (e - old.start_time)));
    let mut renewed = old.clone();
    renewed.id = new_id("agmt-", 25);
    renewed.intent = "RENEW".to_owned();
    renewed.previous_agreement_id = Some(old.id.clone());
    renewed.offer_id = offer
        .as_ref()
        .map_or(old.offer_id.clone(), |o| o.id.clone());
    renewed.terms = terms;
    renewed.acceptance_time = now;
    renewed.start_time = start;
    renewed.end_time = end;
    renewed.agreement_value_micros = priced.value_micros();
    renewed.updated_at = now;
    // Payment schedules are not repeated on renewal: installments belong to the first term.
    let priced = Priced {
        schedule: Vec::new(),
        ..priced
    };
    if let Some(o) = world.agreements.agreements.get_mut(id) {
        o.status = AgreementStatus::Renewed;
        o.updated_at = now;
    }
    start_agreement(world, config, renewed, &priced, offer.as_ref(), now)
}
