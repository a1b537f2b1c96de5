//! A snapshot for a process that does not serve the entitlement service (`souk serve metering`):
//! the customers' views read from the entitlement store and kept current by the same
//! [`Follower`], without the service's pollers, housekeeping or any write.

use std::sync::Arc;

use async_trait::async_trait;
use souk_core::{Id, MillisClock, SharedClock};
use souk_events::{EventFactory, Namespace};
use souk_store::Store;

use super::follower::{Follower, FollowerConfig};
use super::{Snapshot, Staleness};
use crate::config::EntitlementConfig;
use crate::domain::model::Entitlement;
use crate::domain::ports::{
    Directory, EntitlementQuery, IntegrationInfo, ListingProduct, MarketError, Marketplace,
    ResolvedBuyer,
};
use crate::domain::{Entitlements, Error};
use crate::store::{SqlStore, migrations};

/// Starts read-only snapshots of the entitlement store.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotReader;

impl SnapshotReader {
    /// Migrates `store` (the entitlement service's own, see [`crate::STORE_NAME`]; migrating
    /// is idempotent and safe beside a running entitlement service) and starts following it: a
    /// full load at once (retried until the store answers), then a catch-up read at least every
    /// `config.snapshot_poll_interval` and a full reload every `config.snapshot_full_reload`.
    /// Nothing is written. The snapshot is empty until the first load
    /// ([`Snapshot::age`] is `None`); notify [`Follower::trigger`] when an entitlement event
    /// arrives from the bus to catch up at once, and stop it with [`Follower::shutdown`].
    pub async fn start(
        store: Store,
        clock: SharedClock,
        config: &EntitlementConfig,
    ) -> Result<(Snapshot, Follower), souk_core::Error> {
        config.validate()?;
        store.migrate(migrations()).await?;
        let clock: SharedClock = Arc::new(MillisClock(clock));
        // No write happens: the event factory is never used.
        let events = EventFactory::new(clock.clone(), Namespace::default());
        let sql = SqlStore::new(store.clone(), events, clock.clone());
        let entitlements = Entitlements::new(
            Arc::new(sql),
            Arc::new(NoDirectory),
            Arc::new(NoMarketplace),
            clock.clone(),
        );
        let snapshot = Snapshot::new(Staleness::of(config), clock);
        let follower = Follower::start(
            entitlements,
            snapshot.clone(),
            store.outbox_waker(),
            FollowerConfig::of(config),
        );
        Ok((snapshot, follower))
    }
}

const READ_ONLY: &str = "the entitlement snapshot reader reaches no integration nor AWS";

/// The follower reads only the store: no integration is ever asked for.
struct NoDirectory;

#[async_trait]
impl Directory for NoDirectory {
    async fn integration(
        &self,
        _organization_id: Option<&Id>,
        _id: &Id,
    ) -> Result<Option<IntegrationInfo>, Error> {
        Err(Error::Internal(READ_ONLY.to_owned()))
    }

    async fn all_integrations(&self) -> Result<Vec<IntegrationInfo>, Error> {
        Err(Error::Internal(READ_ONLY.to_owned()))
    }
}

/// The follower reads only the store: AWS is never called.
struct NoMarketplace;

#[async_trait]
impl Marketplace for NoMarketplace {
    async fn resolve_customer(
        &self,
        _integration: &IntegrationInfo,
        _token: &str,
    ) -> Result<ResolvedBuyer, MarketError> {
        Err(MarketError::Unavailable(READ_ONLY.to_owned()))
    }

    async fn get_entitlements(
        &self,
        _integration: &IntegrationInfo,
        _query: &EntitlementQuery,
    ) -> Result<Vec<Entitlement>, MarketError> {
        Err(MarketError::Unavailable(READ_ONLY.to_owned()))
    }

    async fn listing(
        &self,
        _integration: &IntegrationInfo,
    ) -> Result<Vec<ListingProduct>, MarketError> {
        Err(MarketError::Unavailable(READ_ONLY.to_owned()))
    }
}
