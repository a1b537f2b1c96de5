//! Wiring by hand: the store, the event factory, the integration directory and AWS under the use
//! cases; the gRPC adapter, the HTTP endpoints (fulfilment page, SNS and EventBridge
//! notifications) and the background work (snapshot follower, SQS pollers, housekeeping) over
//! them.

use std::sync::Arc;

use souk_auth::RoleAssumer;
use souk_core::{MillisClock, SharedClock, SystemClock};
use souk_events::{EventFactory, Namespace};
use souk_proto::entitlement::entitlement_service_server::EntitlementServiceServer;
use souk_service::ServiceParts;
use souk_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::EntitlementApi;
use crate::aws::AwsMarketplace;
use crate::config::EntitlementConfig;
use crate::domain::Entitlements;
use crate::domain::ports::{Directory, Marketplace};
use crate::inbound::sqs::{AwsQueueReader, QueueReader};
use crate::inbound::{self, Parked};
use crate::notifications::{CertificatePolicy, HttpCertificateFetcher, SnsVerifier};
use crate::snapshot::follower::{Follower, FollowerConfig};
use crate::snapshot::{Snapshot, Staleness};
use crate::store::{SqlStore, migrations};

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "entitlement";

/// Less common knobs of [`EntitlementApp`].
#[derive(Clone)]
pub struct AppOptions {
    /// Clock for timestamps, expiry and the check path (the emulator's clock in the sandbox).
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

/// What the HTTP endpoints share.
#[derive(Clone)]
pub struct HttpContext {
    /// The use cases.
    pub entitlements: Entitlements,
    /// The service's store (dead letters of refused notifications).
    pub store: Store,
    /// Settings.
    pub config: Arc<EntitlementConfig>,
    /// Verifies SNS signatures.
    pub verifier: Arc<SnsVerifier>,
    /// Counts of parked notifications.
    pub parked: Parked,
    /// Reads the integrations' SQS queues.
    pub sqs: Arc<dyn QueueReader>,
}

/// The entitlement service, ready to serve.
#[derive(Clone)]
pub struct EntitlementApp {
    entitlements: Entitlements,
    store: Store,
    snapshot: Snapshot,
    config: Arc<EntitlementConfig>,
    http: HttpContext,
    public_url: String,
}

impl std::fmt::Debug for EntitlementApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntitlementApp").finish_non_exhaustive()
    }
}

/// The background work of one replica, stopped by [`Background::shutdown`].
pub struct Background {
    follower: Follower,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl EntitlementApp {
    /// Migrates `store` (the service's own, see [`STORE_NAME`]) and wires the service;
    /// `directory` answers for the integrations, `assumer` reaches AWS as their roles;
    /// `public_url` is the HTTP port's base URL (overridden by `config.public_url`).
    pub async fn new(
        store: Store,
        directory: Arc<dyn Directory>,
        assumer: RoleAssumer,
        config: EntitlementConfig,
        public_url: &str,
        options: AppOptions,
    ) -> Result<Self, souk_core::Error> {
        config.validate()?;
        store.migrate(migrations()).await?;
        let clock: SharedClock = Arc::new(MillisClock(options.clock));
        let events = EventFactory::new(clock.clone(), options.namespace);
        let sql = SqlStore::new(store.clone(), events, clock.clone());
        let sqs: Arc<dyn QueueReader> = Arc::new(AwsQueueReader::new(assumer.clone()));
        let marketplace = options.marketplace.unwrap_or_else(|| {
            Arc::new(AwsMarketplace::new(
                assumer,
                config.get_entitlements_per_second,
            ))
        });
        let entitlements = Entitlements::new(Arc::new(sql), directory, marketplace, clock.clone());
        let snapshot = Snapshot::new(Staleness::of(&config), clock);
        let mut policy = CertificatePolicy::aws();
        if let Some(prefix) = &config.sns_certificate_url_prefix {
            policy = policy.with_extra_prefix(prefix).map_err(|e| {
                souk_core::Error::invalid_field("sns_certificate_url_prefix", e.to_string())
            })?;
        }
        let fetcher = HttpCertificateFetcher::new()
            .map_err(|e| souk_core::Error::internal(format!("certificate fetcher: {e}")))?;
        let config = Arc::new(config);
        let http = HttpContext {
            entitlements: entitlements.clone(),
            store: store.clone(),
            config: Arc::clone(&config),
            verifier: Arc::new(SnsVerifier::new(policy, Arc::new(fetcher))),
            parked: Parked::default(),
            sqs,
        };
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| public_url.to_owned());
        Ok(Self {
            entitlements,
            store,
            snapshot,
            config,
            http,
            public_url,
        })
    }

    /// The use cases.
    pub fn entitlements(&self) -> &Entitlements {
        &self.entitlements
    }

    /// The replica's check snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Counts of notifications parked since start, by route and reason.
    pub fn parked(&self) -> &Parked {
        &self.http.parked
    }

    /// The HTTP port's base URL as reported to sellers.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The tonic service.
    pub fn server(&self) -> EntitlementServiceServer<EntitlementApi> {
        EntitlementServiceServer::new(EntitlementApi::new(
            self.entitlements.clone(),
            self.snapshot.clone(),
            self.public_url.clone(),
        ))
    }

    /// What the binary serves: the gRPC service, the HTTP endpoints and the store whose outbox
    /// is relayed.
    pub fn parts(&self) -> ServiceParts {
        ServiceParts::new(self.server())
            .with_store(self.store.clone())
            .with_http(inbound::router(self.http.clone()))
    }

    /// Starts the replica's background work: the snapshot follower, one SQS poller per
    /// configured queue, and the housekeeping loop (entitlement reads to retry, expiry
    /// notices).
    pub fn start(&self) -> Background {
        let follower = Follower::start(
            self.entitlements.clone(),
            self.snapshot.clone(),
            self.store.outbox_waker(),
            FollowerConfig::of(&self.config),
        );
        let stop = CancellationToken::new();
        let tasks = vec![
            inbound::sqs::start(self.http.clone(), stop.clone()),
            tokio::spawn(housekeeping(
                self.entitlements.clone(),
                self.config.housekeeping_interval,
                stop.clone(),
            )),
        ];
        Background {
            follower,
            stop,
            tasks,
        }
    }
}

impl Background {
    /// Notified, makes the snapshot catch up now (an event of this service arrived from the
    /// bus, published by another replica).
    pub fn snapshot_trigger(&self) -> Arc<tokio::sync::Notify> {
        self.follower.trigger()
    }

    /// Stops every task.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.follower.shutdown().await;
    }
}

/// Retries entitlement reads AWS did not answer and sends due expiry notices, every
/// `interval`.
async fn housekeeping(
    entitlements: Entitlements,
    interval: std::time::Duration,
    stop: CancellationToken,
) {
    loop {
        if let Err(error) = entitlements.sync_pending(100).await {
            tracing::warn!(%error, "entitlement sync retry failed");
        }
        if let Err(error) = entitlements.send_expiry_notices().await {
            tracing::warn!(%error, "sending expiry notices failed");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
