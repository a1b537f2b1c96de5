//! Buyer-side agreement lifecycle driven by the control API: accept an offer (NEW, or REPLACE
//! for a replacement offer), amend quantities (AMEND), renew (RENEW), and end (cancel,
//! terminate, expire). Each step updates the market (subscription, entitlements), the invoice
//! ledger and emits the agreement events.

use http::StatusCode;
use serde::Deserialize;

mod accept;
mod change;
mod end;

pub use accept::accept;
pub use change::{amend, renew};
pub use end::end;

use super::billing::{self, InvoiceParty, Priced};
use super::model::{Agreement, AgreementStatus, DimensionQuantity};
use super::{events, market_subscription};
use crate::World;
use crate::at::At;
use crate::catalog::change_set::{self, Account};
use crate::catalog::model::{Offer, OfferState};
use crate::config::EmulatorConfig;
use crate::support::json::str_at;
use crate::wire::ApiError;

/// A buyer accepting an offer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The buyer's 12-digit account id.
    pub buyer_account_id: String,
    /// Configurable-upfront quantities (default: one unit of the first dimension).
    #[serde(default)]
    pub quantities: Vec<DimensionQuantity>,
    /// The rate-card duration to buy (default: the first rate card).
    #[serde(default)]
    pub selector_value: Option<String>,
}

/// A buyer changing the quantities of a contract.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendRequest {
    /// New quantities (replace the old ones).
    pub quantities: Vec<DimensionQuantity>,
}

/// Renewing an agreement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// Renew onto another (released) offer's terms; default: the same terms.
    #[serde(default)]
    pub offer_id: Option<String>,
}

/// Ending an agreement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// `CANCELLED` (default), `TERMINATED` or `EXPIRED`.
    #[serde(default)]
    pub status: Option<String>,
}

pub(super) fn not_found(message: String) -> ApiError {
    ApiError::with_status(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
}

pub(super) fn conflict(message: String) -> ApiError {
    ApiError::with_status(StatusCode::CONFLICT, "ConflictException", message)
}

fn account(config: &EmulatorConfig) -> Account {
    Account {
        seller_account_id: config.seller_account_id.clone(),
        region: config.region.clone(),
    }
}

/// Finishes due change sets, then expires agreements whose end time has passed. Only
/// [`crate::advance::advance`] calls it.
pub(crate) fn progress(world: &mut World, config: &EmulatorConfig, now: At) {
    change_set::progress(world, now, &account(config));
    let due: Vec<String> = world
        .agreements
        .agreements
        .values()
        .filter(|a| a.status == AgreementStatus::Active && a.end_time.is_some_and(|e| e <= now))
        .map(|a| a.id.clone())
        .collect();
    for id in due {
        let _ = end::finish(world, config, &id, AgreementStatus::Expired, now);
    }
}

pub(super) fn party(agreement: &Agreement, offer: Option<&Offer>) -> InvoiceParty {
    InvoiceParty {
        agreement_id: agreement.id.clone(),
        offer_id: agreement.offer_id.clone(),
        product_id: agreement.product_id.clone(),
        product_code: agreement.product_code.clone(),
        buyer_account_id: agreement.acceptor_account_id.clone(),
        seller_account_id: agreement.proposer_account_id.clone(),
        manufacturer_account_id: agreement.manufacturer_account_id.clone(),
        resale_authorization_id: agreement.resale_authorization_id.clone(),
        payment_due_period: offer
            .and_then(|o| o.term("NetPaymentTerm"))
            .and_then(|t| str_at(t, "PaymentDuePeriod"))
            .map(str::to_owned),
    }
}

/// Records a new agreement, subscribes the buyer, bills it and emits its events.
pub(super) fn start_agreement(
    world: &mut World,
    config: &EmulatorConfig,
    agreement: Agreement,
    priced: &Priced,
    offer: Option<&Offer>,
    now: At,
) -> Result<Agreement, ApiError> {
    world
        .agreements
        .agreements
        .insert(agreement.id.clone(), agreement.clone());
    let outcome = market_subscription::subscribe(
        world,
        config,
        &agreement,
        &priced.entitlements,
        priced.free_trial,
        now,
    );
    let at = agreement.start_time.max(now);
    let lines = billing::invoices(&party(&agreement, offer), priced, at);
    world.agreements.invoices.extend(lines);
    if !outcome.agreement_event_sent {
        events::created(world, &agreement);
    }
    if !outcome.license_event_sent {
        events::license_updated(world, &agreement, outcome.license_arn.as_deref());
    }
    Ok(agreement)
}

pub(super) fn markup(world: &World, agreement: &Agreement) -> Option<String> {
    world
        .catalog
        .offers
        .get(&agreement.offer_id)
        .and_then(|o| o.markup_percentage.clone())
}

/// A copy of offer `offer_id`, which must exist (404) and be released (409).
pub(super) fn released_offer(world: &World, offer_id: &str) -> Result<Offer, ApiError> {
    let offer = world
        .catalog
        .offers
        .get(offer_id)
        .cloned()
        .ok_or_else(|| not_found(format!("offer {offer_id} does not exist")))?;
    if offer.state != OfferState::Released {
        return Err(conflict(format!("offer {offer_id} is not released")));
    }
    Ok(offer)
}

pub(super) fn active(world: &World, id: &str) -> Result<Agreement, ApiError> {
    let agreement = world
        .agreements
        .agreements
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(format!("agreement {id} does not exist")))?;
    if agreement.status != AgreementStatus::Active {
        return Err(conflict(format!(
            "agreement {id} is {}",
            agreement.status.as_str()
        )));
    }
    Ok(agreement)
}
