//! Wiring by hand: the store, the event factory and the Catalog under the use cases; the gRPC
//! adapter over them, and the background tracker that follows every offer that is not final.

use std::sync::Arc;

use souk_auth::RoleAssumer;
use souk_core::{MillisClock, SharedClock, SystemClock};
use souk_events::{EventFactory, Namespace};
use souk_proto::offer::offer_service_server::OfferServiceServer;
use souk_service::ServiceParts;
use souk_store::Store;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::OfferApi;
use crate::aws::{AwsCatalog, IntegrationRoles};
use crate::config::OfferConfig;
use crate::domain::ports::Catalog;
use crate::domain::{Offers, TrackReport, Tracker};
use crate::store::{SqlStore, migrations};

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "offer";

/// Less common knobs of [`OfferApp`].
#[derive(Clone)]
pub struct AppOptions {
    /// Clock of the lifecycle (the emulator's clock in the sandbox).
    pub clock: SharedClock,
    /// Subject namespace of the events.
    pub namespace: Namespace,
    /// Replaces the Catalog (the default calls AWS through the role assumer).
    pub catalog: Option<Arc<dyn Catalog>>,
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
            catalog: None,
        }
    }
}

/// The wired offer service.
#[derive(Clone)]
pub struct OfferApp {
    offers: Offers,
    tracker: Tracker,
    store: Store,
    config: Arc<OfferConfig>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for OfferApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferApp").finish_non_exhaustive()
    }
}

/// The tracker loop of one replica, stopped by [`Background::shutdown`].
#[derive(Debug)]
pub struct Background {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl OfferApp {
    /// Migrates `store` (the service's own, see [`STORE_NAME`]) and wires the service; `roles`
    /// answers for the integrations' AWS roles, which `assumer` assumes to call AWS.
    pub async fn new(
        store: Store,
        roles: Arc<dyn IntegrationRoles>,
        assumer: RoleAssumer,
        config: OfferConfig,
        options: AppOptions,
    ) -> Result<Self, souk_core::Error> {
        config.validate()?;
        store.migrate(migrations()).await?;
        let clock: SharedClock = Arc::new(MillisClock(options.clock));
        let events = EventFactory::new(clock.clone(), options.namespace);
        let sql: Arc<dyn crate::domain::ports::Store> =
            Arc::new(SqlStore::new(store.clone(), events, clock.clone()));
        let catalog = options
            .catalog
            .unwrap_or_else(|| Arc::new(AwsCatalog::new(assumer, roles)));
        let wake = Arc::new(Notify::new());
        let offers = Offers::new(
            Arc::clone(&sql),
            Arc::clone(&catalog),
            clock.clone(),
            Arc::clone(&wake),
        );
        let tracker = Tracker::new(sql, catalog, clock, config.track_options());
        Ok(Self {
            offers,
            tracker,
            store,
            config: Arc::new(config),
            wake,
        })
    }

    /// The use cases.
    pub fn offers(&self) -> &Offers {
        &self.offers
    }

    /// The tonic service.
    pub fn server(&self) -> OfferServiceServer<OfferApi> {
        OfferServiceServer::new(OfferApi::new(self.offers.clone()))
    }

    /// What the binary serves: the gRPC service and the store whose outbox is relayed.
    pub fn parts(&self) -> ServiceParts {
        ServiceParts::new(self.server()).with_store(self.store.clone())
    }

    /// One tracker pass now (what the loop does every `track_interval`).
    pub async fn track_now(&self) -> Result<TrackReport, crate::domain::Error> {
        self.tracker.track_once().await
    }

    /// Starts the replica's tracker (unless `track` is off): a pass every `track_interval`,
    /// and at once when an offer is created.
    pub fn start(&self) -> Background {
        let stop = CancellationToken::new();
        let app = self.clone();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                loop {
                    if app.config.track {
                        match app.track_now().await {
                            Ok(report) if report.transitions > 0 || report.retried > 0 => {
                                tracing::debug!(
                                    checked = report.checked,
                                    transitions = report.transitions,
                                    retried = report.retried,
                                    "offer tracker pass"
                                );
                            }
                            Ok(_) => {}
                            Err(error) => tracing::warn!(%error, "offer tracker pass failed"),
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = app.wake.notified() => {}
                        () = tokio::time::sleep(app.config.track_interval) => {}
                    }
                }
            }
        });
        Background { stop, task }
    }
}

impl Background {
    /// Stops the loop (a pass in progress finishes its current offer; the next process
    /// resumes from the store).
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
