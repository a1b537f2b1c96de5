//! Wiring by hand: the store, the event factory, the subscribers and AWS under the use cases;
//! the gRPC adapter over them, and the background loop that seals closed hours and ships them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use souk_auth::RoleAssumer;
use souk_core::{Id, MillisClock, SharedClock, SystemClock};
use souk_events::{EventFactory, Namespace};
use souk_proto::metering::metering_service_server::MeteringServiceServer;
use souk_service::ServiceParts;
use souk_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::MeteringApi;
use crate::aws::{AwsMarketplace, IntegrationRoles};
use crate::config::MeteringConfig;
use crate::domain::Metering;
use crate::domain::ports::{Counts, Marketplace, Subscribers};
use crate::domain::sealing::Sealer;
use crate::domain::shipping::{ShipOptions, ShipReport, Shipper};
use crate::store::{SqlStore, migrations};

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "metering";

/// How often a replica reloads the meters (to see other replicas' PutMeter).
const METER_RELOAD: Duration = Duration::from_secs(5);

/// Less common knobs of [`MeteringApp`].
#[derive(Clone)]
pub struct AppOptions {
    /// Clock for hours, sealing and leases (the emulator's clock in the sandbox).
    pub clock: SharedClock,
    /// Subject namespace of the events.
    pub namespace: Namespace,
    /// Replaces AWS Marketplace (the default calls it through the role assumer).
    pub marketplace: Option<Arc<dyn Marketplace>>,
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            namespace: Namespace::default(),
            marketplace: None,
        }
    }
}

/// What the shipping loop did since start, for `/metrics`.
#[derive(Debug, Default)]
pub struct ShipStats {
    calls: AtomicU64,
    throttled: AtomicU64,
    sent: AtomicU64,
    held: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
}

/// A copy of [`ShipStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipTotals {
    /// BatchMeterUsage calls.
    pub calls: u64,
    /// Calls answered ThrottlingException.
    pub throttled: u64,
    /// Records AWS accepted.
    pub sent: u64,
    /// Records held (CustomerNotSubscribed).
    pub held: u64,
    /// Records refused for good.
    pub failed: u64,
    /// Records to send again (throttling, 5xx, transport errors, unprocessed).
    pub retried: u64,
}

impl ShipStats {
    fn add(&self, report: &ShipReport) {
        self.calls.fetch_add(report.calls, Ordering::Relaxed);
        self.throttled
            .fetch_add(report.throttled, Ordering::Relaxed);
        self.sent.fetch_add(report.sent, Ordering::Relaxed);
        self.held.fetch_add(report.held, Ordering::Relaxed);
        self.failed.fetch_add(report.failed, Ordering::Relaxed);
        self.retried.fetch_add(report.retried, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn totals(&self) -> ShipTotals {
        ShipTotals {
            calls: self.calls.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            held: self.held.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
        }
    }
}

/// The wired metering service.
#[derive(Clone)]
pub struct MeteringApp {
    metering: Metering,
    store: Store,
    config: Arc<MeteringConfig>,
    sealer: Sealer,
    shipper: Shipper,
    stats: Arc<ShipStats>,
}

impl std::fmt::Debug for MeteringApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteringApp").finish_non_exhaustive()
    }
}

/// The shipping loop of one replica, stopped by [`Background::shutdown`].
#[derive(Debug)]
pub struct Background {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl MeteringApp {
    /// Migrates `store` (the service's own, see [`STORE_NAME`]) and wires the service;
    /// `subscribers` answers for the customers (the entitlement service's view), `roles` for
    /// the integrations' AWS roles, which `assumer` assumes to call AWS.
    pub async fn new(
        store: Store,
        subscribers: Arc<dyn Subscribers>,
        roles: Arc<dyn IntegrationRoles>,
        assumer: RoleAssumer,
        config: MeteringConfig,
        options: AppOptions,
    ) -> Result<Self, souk_core::Error> {
        config.validate()?;
        store.migrate(migrations()).await?;
        let clock: SharedClock = Arc::new(MillisClock(options.clock));
        let events = EventFactory::new(clock.clone(), options.namespace);
        let sql: Arc<dyn crate::domain::ports::Store> =
            Arc::new(SqlStore::new(store.clone(), events, clock.clone()));
        let marketplace = options.marketplace.unwrap_or_else(|| {
            Arc::new(AwsMarketplace::new(
                assumer,
                roles,
                config.batch_meter_usage_per_second,
            ))
        });
        let metering = Metering::new(
            Arc::clone(&sql),
            Arc::clone(&subscribers),
            clock,
            config.limits(),
        );
        metering
            .reload_meters()
            .await
            .map_err(|e| souk_core::Error::internal(format!("loading the meters: {e}")))?;
        let sealer = Sealer::new(Arc::clone(&sql), subscribers, config.seal_grace);
        let shipper = Shipper::new(
            sql,
            marketplace,
            ShipOptions {
                lease: config.lease,
                ..ShipOptions::default()
            },
        );
        Ok(Self {
            metering,
            store,
            config: Arc::new(config),
            sealer,
            shipper,
            stats: Arc::new(ShipStats::default()),
        })
    }

    /// The use cases.
    pub fn metering(&self) -> &Metering {
        &self.metering
    }

    /// The tonic service.
    pub fn server(&self) -> MeteringServiceServer<MeteringApi> {
        MeteringServiceServer::new(MeteringApi::new(self.metering.clone()))
    }

    /// What the binary serves: the gRPC service and the store whose outbox is relayed.
    pub fn parts(&self) -> ServiceParts {
        ServiceParts::new(self.server()).with_store(self.store.clone())
    }

    /// What the shipping loop did since start.
    pub fn ship_totals(&self) -> ShipTotals {
        self.stats.totals()
    }

    /// Records per status with the oldest unsent hour, over every organisation (for metrics).
    pub async fn backlog(&self) -> Result<Vec<Counts>, crate::domain::Error> {
        self.metering.store().counts(None).await
    }

    /// One sealing and shipping pass now (what the loop does every `ship_interval`); returns
    /// what was shipped.
    pub async fn ship_now(&self, owner: &str) -> Result<ShipReport, crate::domain::Error> {
        let now = self.metering.now();
        self.sealer.seal_once(now).await?;
        let mut total = ShipReport::default();
        loop {
            let report = self.shipper.ship_once(owner, self.metering.now()).await?;
            self.stats.add(&report);
            total.add(&report);
            // A full lease means more may be due; a partial one drained what is due now.
            if report.leased == 0
                || report.settled == 0
                || report.leased < u64::from(ShipOptions::default().batch)
            {
                return Ok(total);
            }
        }
    }

    /// Starts the replica's background work: reloading meters and, unless `ship` is off,
    /// sealing closed hours and shipping due records every `ship_interval`.
    pub fn start(&self) -> Background {
        let stop = CancellationToken::new();
        let app = self.clone();
        let owner = format!("{}-{}", std::process::id(), Id::generate("shp"));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut last_reload = tokio::time::Instant::now();
                loop {
                    if last_reload.elapsed() >= METER_RELOAD {
                        if let Err(error) = app.metering.reload_meters().await {
                            tracing::warn!(%error, "cannot reload the meters");
                        }
                        last_reload = tokio::time::Instant::now();
                    }
                    if app.config.ship {
                        match app.ship_now(&owner).await {
                            Ok(report) if report.leased > 0 => tracing::info!(
                                leased = report.leased,
                                calls = report.calls,
                                sent = report.sent,
                                held = report.held,
                                failed = report.failed,
                                retried = report.retried,
                                "shipped usage records"
                            ),
                            Ok(_) => {}
                            Err(error) => tracing::warn!(%error, "metering pass failed"),
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(app.config.ship_interval) => {}
                    }
                }
            }
        });
        Background { stop, task }
    }
}

impl Background {
    /// Stops the loop (a pass in progress finishes its current call; anything leased and not
    /// settled is taken over after the lease by any replica).
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
