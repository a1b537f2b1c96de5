//! Wiring by hand: the store, the event factory and the data feed bucket under the use cases,
//! and the gRPC adapter over them.

use std::sync::Arc;

use souk_auth::RoleAssumer;
use souk_core::{MillisClock, SharedClock, SystemClock};
use souk_events::{EventFactory, Namespace};
use souk_proto::reporting::reporting_service_server::ReportingServiceServer;
use souk_service::ServiceParts;
use souk_store::Store;

use crate::api::ReportingApi;
use crate::aws::{AwsFeedBucket, IntegrationFeeds, RoleSellerAccounts};
use crate::config::ReportingConfig;
use crate::domain::ingest::Ingestion;
use crate::domain::ports::{FeedBucket, SellerAccounts};
use crate::domain::revenue::Reports;
use crate::store::{SqlStore, migrations};

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "reporting";

/// Less common knobs of [`ReportingApp`].
#[derive(Clone)]
pub struct AppOptions {
    /// Clock of the records (the emulator's clock in the sandbox).
    pub clock: SharedClock,
    /// Subject namespace of the events.
    pub namespace: Namespace,
    /// Replaces the data feed bucket (the default reads S3 through the role assumer).
    pub bucket: Option<Arc<dyn FeedBucket>>,
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
            bucket: None,
        }
    }
}

/// The wired reporting service.
#[derive(Clone)]
pub struct ReportingApp {
    ingestion: Ingestion,
    reports: Reports,
    store: Store,
}

impl std::fmt::Debug for ReportingApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportingApp").finish_non_exhaustive()
    }
}

impl ReportingApp {
    /// Migrates `store` (the service's own, see [`STORE_NAME`]) and wires the service; `feeds`
    /// answers for the integrations' roles and data feed buckets, which `assumer` reads.
    pub async fn new(
        store: Store,
        feeds: Arc<dyn IntegrationFeeds>,
        assumer: RoleAssumer,
        config: ReportingConfig,
        options: AppOptions,
    ) -> Result<Self, souk_core::Error> {
        config.validate()?;
        store.migrate(migrations()).await?;
        let clock: SharedClock = Arc::new(MillisClock(options.clock));
        let events = EventFactory::new(clock.clone(), options.namespace);
        let sql: Arc<dyn crate::domain::ports::Store> =
            Arc::new(SqlStore::new(store.clone(), events, clock.clone()));
        let bucket = options
            .bucket
            .unwrap_or_else(|| Arc::new(AwsFeedBucket::new(assumer, Arc::clone(&feeds))));
        let sellers: Arc<dyn SellerAccounts> = Arc::new(RoleSellerAccounts::new(feeds));
        Ok(Self {
            ingestion: Ingestion::new(bucket, Arc::clone(&sql), clock),
            reports: Reports::new(sql, sellers),
            store,
        })
    }

    /// The ingestion use case.
    pub fn ingestion(&self) -> &Ingestion {
        &self.ingestion
    }

    /// The report use cases.
    pub fn reports(&self) -> &Reports {
        &self.reports
    }

    /// The tonic service.
    pub fn server(&self) -> ReportingServiceServer<ReportingApi> {
        ReportingServiceServer::new(ReportingApi::new(
            self.ingestion.clone(),
            self.reports.clone(),
        ))
    }

    /// What the binary serves: the gRPC service and the store whose outbox is relayed.
    pub fn parts(&self) -> ServiceParts {
        ServiceParts::new(self.server()).with_store(self.store.clone())
    }
}
