//! The entitlement service's use cases, over their ports. Each write loads what it needs,
//! applies the rules (`lifecycle`, `plan`, `check`), writes, and emits its events in one
//! transaction. The use cases live in one file per concern: `fulfilment`, `notices`, `sync`,
//! `plans`, `queries`.
//!
//! Mutations take the request's idempotency and an `encode` of the response to remember: a retry
//! gets [`Outcome::Replayed`] with the first call's response, whatever changed since.

use std::sync::Arc;

use souk_core::{Id, Outcome, SharedClock};
use time::OffsetDateTime;

use super::error::Error;
use super::event::{EntitlementChange, EntitlementEvent};
use super::model::Customer;
use super::plan::derive_features;
use super::ports::{CustomerRecord, Directory, IntegrationInfo, Marketplace, Store, Transaction};

/// The use cases, over their ports.
#[derive(Clone)]
pub struct Entitlements {
    pub(super) store: Arc<dyn Store>,
    pub(super) directory: Arc<dyn Directory>,
    pub(super) marketplace: Arc<dyn Marketplace>,
    pub(super) clock: SharedClock,
}

impl std::fmt::Debug for Entitlements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entitlements").finish_non_exhaustive()
    }
}

impl Entitlements {
    /// The use cases over `store`, the integration `directory` and AWS `marketplace`, timed by
    /// `clock`.
    pub fn new(
        store: Arc<dyn Store>,
        directory: Arc<dyn Directory>,
        marketplace: Arc<dyn Marketplace>,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            directory,
            marketplace,
            clock,
        }
    }

    /// The service's "now" (the emulator's clock in the sandbox).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Integration `id` of `organization_id` (any organisation when `None`, for the public
    /// endpoints, which authenticate otherwise).
    pub async fn integration(
        &self,
        organization_id: Option<&Id>,
        id: &Id,
    ) -> Result<IntegrationInfo, Error> {
        self.directory
            .integration(organization_id, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("integration {id}")))
    }
}

/// Starts a write; a replay ends the use case at once with the stored response.
macro_rules! begin {
    ($self:expr, $org:expr, $idem:expr) => {
        match $self.store.begin($org, $idem.as_ref()).await? {
            $crate::domain::ports::Begun::Fresh(tx) => tx,
            $crate::domain::ports::Begun::Replayed(bytes) => {
                return Ok(souk_core::Outcome::Replayed(bytes));
            }
        }
    };
}
pub(super) use begin;

/// Commits `tx`, remembering `encode(&value)` for an idempotent request.
pub(super) async fn commit<T>(
    tx: Box<dyn Transaction>,
    value: T,
    encode: impl FnOnce(&T) -> Vec<u8>,
) -> Result<Outcome<T>, Error> {
    let response = if tx.remembers_response() {
        encode(&value)
    } else {
        Vec::new()
    };
    tx.commit(response).await?;
    Ok(Outcome::Done(value))
}

/// Derives the customer's features again from its subscription, entitlements and its product's
/// plans; writes them and emits `entitlement.changed` when they (or `previous_entitlements`,
/// when given) differ. Returns whether anything changed.
pub(super) async fn refresh_features(
    tx: &mut dyn Transaction,
    record: &CustomerRecord,
    previous_entitlements: Option<Vec<super::model::Entitlement>>,
    cause: &'static str,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    let customer: &Customer = &record.customer;
    let entitlements = tx.entitlements_of(&customer.id).await?;
    let plans = tx
        .plans_of(
            &customer.organization_id,
            &customer.integration_id,
            &customer.product_code,
        )
        .await?;
    let features = derive_features(Some(record.subscription.state), &entitlements, &plans, now);
    let previous_features = tx.features_of(&customer.id).await?;
    let entitlements_changed = previous_entitlements
        .as_ref()
        .is_some_and(|before| !same_entitlements(before, &entitlements));
    if previous_features == features && !entitlements_changed {
        return Ok(false);
    }
    tx.replace_features(customer, &features).await?;
    tx.emit(EntitlementEvent::EntitlementChanged(EntitlementChange {
        organization_id: customer.organization_id.clone(),
        integration_id: customer.integration_id.clone(),
        customer_id: customer.id.clone(),
        product_code: customer.product_code.clone(),
        previous_entitlements: previous_entitlements.unwrap_or_else(|| entitlements.clone()),
        entitlements,
        features,
        previous_features,
        cause,
    }))?;
    Ok(true)
}

/// Whether two entitlement sets grant the same (ignoring when they were read).
pub(super) fn same_entitlements(
    a: &[super::model::Entitlement],
    b: &[super::model::Entitlement],
) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| x.same_grant(y)))
}
