//! Wiring by hand: the store, the event factory and the data feed bucket under the use cases,
//! the gRPC adapter over them, and the loop that reads every integration's feeds on a schedule.

use std::sync::Arc;

use souk_auth::{Authenticator, RoleAssumer};
use souk_core::{MillisClock, SharedClock, SystemClock};
use souk_events::{EventFactory, Namespace};
use souk_proto::reporting::reporting_service_server::ReportingServiceServer;
use souk_service::ServiceParts;
use souk_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::ReportingApi;
use crate::aws::{AwsFeedBucket, IntegrationFeeds, RoleSellerAccounts};
use crate::config::ReportingConfig;
use crate::domain::ingest::Ingestion;
use crate::domain::ports::{Acting, FeedBucket, MeteredUsage, OfferSchedules, SellerAccounts};
use crate::domain::reconciliation::Reconciler;
use crate::domain::revenue::Reports;
use crate::domain::usage::UsageReports;
use crate::store::{SqlStore, migrations};
use crate::web::auth::LinkSigner;

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
    /// The usage the metering service recorded (the binary reads its store); without it the
    /// usage report and the reconciliation answer FAILED_PRECONDITION.
    pub metered: Option<Arc<dyn MeteredUsage>>,
    /// The accepted offers' payment schedules (the binary reads the offer store); without it
    /// the reconciliation checks no installments.
    pub schedules: Option<Arc<dyn OfferSchedules>>,
    /// Authenticates the revenue page's callers (`GET /reports`); without it the service has
    /// no HTTP routes.
    pub authenticator: Option<Authenticator>,
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
            metered: None,
            schedules: None,
            authenticator: None,
        }
    }
}

/// The wired reporting service.
#[derive(Clone)]
pub struct ReportingApp {
    ingestion: Ingestion,
    reports: Reports,
    usage: UsageReports,
    reconciler: Reconciler,
    store: Store,
    feeds: Arc<dyn IntegrationFeeds>,
    config: Arc<ReportingConfig>,
    clock: SharedClock,
    links: LinkSigner,
    authenticator: Option<Authenticator>,
}

/// The scheduled ingestion of one replica, stopped by [`Background::shutdown`].
#[derive(Debug)]
pub struct Background {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Background {
    /// Stops the loop (a file being stored is stored whole or not at all).
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// What one scheduled pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Integrations read.
    pub integrations: u64,
    /// Integrations whose reading failed (logged; tried again next pass).
    pub failed: u64,
    /// Rows inserted or updated.
    pub rows: u64,
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
        let sellers: Arc<dyn SellerAccounts> =
            Arc::new(RoleSellerAccounts::new(Arc::clone(&feeds)));
        let links = match &config.page_link_secret {
            Some(secret) => LinkSigner::new(secret.expose()),
            None => LinkSigner::random(),
        };
        let reports = Reports::new(sql.clone(), sellers, clock.clone());
        let usage = UsageReports::new(reports.clone(), options.metered);
        let reconciler = Reconciler::new(usage.clone(), options.schedules);
        Ok(Self {
            ingestion: Ingestion::new(bucket, sql, clock.clone())
                .with_reconciliation(reconciler.clone()),
            reports,
            usage,
            reconciler,
            store,
            feeds,
            config: Arc::new(config),
            clock,
            links,
            authenticator: options.authenticator,
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

    /// The usage report use case.
    pub fn usage(&self) -> &UsageReports {
        &self.usage
    }

    /// The reconciliation use cases.
    pub fn reconciler(&self) -> &Reconciler {
        &self.reconciler
    }

    /// The tonic service.
    pub fn server(&self) -> ReportingServiceServer<ReportingApi> {
        ReportingServiceServer::new(ReportingApi::new(
            self.ingestion.clone(),
            self.reports.clone(),
            self.usage.clone(),
            self.reconciler.clone(),
        ))
    }

    /// The revenue page (`GET /reports`, `POST /reports/links`), its callers authenticated by
    /// `authenticator`.
    pub fn http(&self, authenticator: Authenticator) -> axum::Router {
        crate::web::router(crate::web::Web::new(
            self.reports.clone(),
            self.reconciler.clone(),
            authenticator,
            self.links.clone(),
            self.clock.clone(),
        ))
    }

    /// What the binary serves: the gRPC service, the revenue page on the HTTP port (when the
    /// options gave an authenticator) and the store whose outbox is relayed.
    pub fn parts(&self) -> ServiceParts {
        let parts = ServiceParts::new(self.server()).with_store(self.store.clone());
        match &self.authenticator {
            Some(authenticator) => parts.with_http(self.http(authenticator.clone())),
            None => parts,
        }
    }

    /// Reads the feeds of every integration with a data feed bucket now (what the loop does
    /// every `ingest_interval`); a failing integration is logged and does not stop the others.
    pub async fn ingest_all(&self) -> Result<PassReport, String> {
        let mut pass = PassReport::default();
        for (organization_id, integration_id) in self.feeds.integrations_with_feeds().await? {
            let acting = Acting {
                organization_id,
                integration_id,
            };
            pass.integrations += 1;
            match self.ingestion.ingest(&acting, false).await {
                Ok(report) => pass.rows += report.rows,
                Err(error) => {
                    pass.failed += 1;
                    tracing::warn!(integration_id = %acting.integration_id, %error, "scheduled data feed ingestion failed");
                }
            }
        }
        Ok(pass)
    }

    /// Starts the replica's scheduled ingestion (unless `ingest` is off): a pass at once, then
    /// every `ingest_interval`.
    pub fn start(&self) -> Background {
        let stop = CancellationToken::new();
        let app = self.clone();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                loop {
                    if app.config.ingest {
                        match app.ingest_all().await {
                            Ok(pass) if pass.integrations > 0 => tracing::info!(
                                integrations = pass.integrations,
                                failed = pass.failed,
                                rows = pass.rows,
                                "scheduled data feed ingestion"
                            ),
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "listing the integrations to ingest failed");
                            }
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(app.config.ingest_interval) => {}
                    }
                }
            }
        });
        Background { stop, task }
    }
}
