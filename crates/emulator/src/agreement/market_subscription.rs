//! The one place agreements drive the core's market: subscribing the buyer, setting contract
//! entitlements, and unsubscribing (which starts the final metering hour). Each function says
//! which notifications the market already emitted so agreement events are not sent twice.

use std::collections::BTreeMap;

use super::model::Agreement;
use crate::World;
use crate::at::At;
use crate::config::EmulatorConfig;
use crate::market::{self, EntitlementValue, SubscribeRequest, SubscriptionStatus};

/// What the market did.
#[derive(Debug, Default, Clone)]
pub struct MarketOutcome {
    /// The market emitted `Purchase Agreement Created/Ended - Proposer` itself.
    pub agreement_event_sent: bool,
    /// The market emitted `License Updated - Manufacturer` itself.
    pub license_event_sent: bool,
    /// The buyer's licence ARN, when subscribed.
    pub license_arn: Option<String>,
}

fn concurrent(world: &World, product_code: &str) -> bool {
    world
        .market
        .product(product_code)
        .is_some_and(|p| p.concurrent_agreements)
}

/// Subscribes the buyer (no-op for products the market doesn't hold) and sets entitlements.
pub fn subscribe(
    world: &mut World,
    config: &EmulatorConfig,
    agreement: &Agreement,
    entitlements: &[(String, Option<i64>)],
    free_trial: bool,
    now: At,
) -> MarketOutcome {
    let mut out = MarketOutcome::default();
    let code = agreement.product_code.clone();
    if world.market.product(&code).is_none() {
        return out;
    }
    let was_active = world
        .market
        .subscription(&code, &agreement.acceptor_account_id)
        .is_some_and(|s| s.status == SubscriptionStatus::Active);
    let request = SubscribeRequest {
        product_code: code.clone(),
        customer_aws_account_id: agreement.acceptor_account_id.clone(),
        offer_id: Some(agreement.offer_id.clone()),
        agreement_id: Some(agreement.id.clone()),
        free_trial,
    };
    match market::subscribe(world, config, request, now) {
        Ok(outcome) => {
            out.license_arn = Some(outcome.subscription.license_arn.clone());
            out.agreement_event_sent = !was_active && concurrent(world, &code);
        }
        Err(err) => {
            tracing::warn!(error = %err, agreement = %agreement.id, "market subscribe failed")
        }
    }
    out.license_event_sent = set_entitlements(world, config, agreement, entitlements);
    out
}

/// Replaces the buyer's contract entitlements with `entitlements` (dimensions the product
/// doesn't define are skipped; no quantity = unlimited, a boolean entitlement). Returns whether
/// the market emitted `License Updated - Manufacturer`.
pub fn set_entitlements(
    world: &mut World,
    config: &EmulatorConfig,
    agreement: &Agreement,
    entitlements: &[(String, Option<i64>)],
) -> bool {
    let code = agreement.product_code.clone();
    let Some(product) = world.market.product(&code).cloned() else {
        return false;
    };
    let values: BTreeMap<String, EntitlementValue> = entitlements
        .iter()
        .filter(|(k, _)| product.dimension(k).is_some())
        .map(|(k, q)| {
            (
                k.clone(),
                q.map_or(EntitlementValue::Boolean(true), EntitlementValue::Integer),
            )
        })
        .collect();
    if values.is_empty() {
        return false;
    }
    match market::set_entitlements(
        world,
        config,
        &code,
        &agreement.acceptor_account_id,
        values,
        agreement.end_time,
    ) {
        Ok(_) => product.concurrent_agreements,
        Err(err) => {
            tracing::warn!(error = %err, agreement = %agreement.id, "market set_entitlements failed");
            false
        }
    }
}

/// Unsubscribes the buyer (final metering hour). Returns whether the market emitted
/// `Purchase Agreement Ended - Proposer`.
pub fn unsubscribe(
    world: &mut World,
    config: &EmulatorConfig,
    agreement: &Agreement,
    now: At,
) -> bool {
    let code = agreement.product_code.clone();
    if world.market.product(&code).is_none() {
        return false;
    }
    match market::unsubscribe(world, config, &code, &agreement.acceptor_account_id, now) {
        Ok(_) => concurrent(world, &code),
        Err(err) => {
            tracing::debug!(error = %err, agreement = %agreement.id, "market unsubscribe skipped");
            false
        }
    }
}
