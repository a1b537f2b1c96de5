//! What `souk dev` and `souk serve` share: opening each service's store, building the services
//! from their [`ServiceParts`] in one loop, the outbox relays, and the integration service
//! (which owns API keys, so every process authenticates through it).

use std::sync::Arc;

use anyhow::Context;
use souk_auth::{Authenticator, Caller, RoleAssumer, RoleAssumerOptions};
use souk_core::SharedClock;
use souk_entitlement::{Background, EntitlementApp};
use souk_events::{
    OutboxRelay, Publisher, RelayConfig, RelayHandle, WatchConfig, WatchEventsService,
};
use souk_integration::IntegrationApp;
use souk_metering::MeteringApp;
use souk_proto::events::event_service_server::EventServiceServer;
use souk_service::ServiceParts;
use souk_store::{Store, StoreConfig};

use super::subscribers::SnapshotSubscribers;
use crate::args::ServiceName;
use crate::config::Config;

/// Where the services' stores live.
#[derive(Debug, Clone)]
pub enum Databases {
    /// One SQLite file per service in this directory (`souk dev`).
    SqliteDir(std::path::PathBuf),
    /// One schema per service in this PostgreSQL database (`souk serve`).
    Postgres(String),
}

impl Databases {
    /// Opens (and creates) the store of `service`.
    pub async fn open(&self, service: &str, max_connections: u32) -> anyhow::Result<Store> {
        let url = match self {
            Self::SqliteDir(dir) => format!("sqlite://{}", dir.display()),
            Self::Postgres(url) => url.clone(),
        };
        let config = StoreConfig::new(url, service).with_max_connections(max_connections);
        Store::connect(&config).await.with_context(|| {
            format!(
                "cannot open the {service} store ({})",
                config.redacted_url()
            )
        })
    }
}

/// The running pieces of one process, torn down in order on shutdown.
pub struct Assembly {
    /// Every service of the process (health and reflection are added by the server).
    pub services: Vec<ServiceParts>,
    /// Authenticates every RPC against the integration service's API keys.
    pub authenticator: Authenticator,
    /// The integration service.
    pub integration: IntegrationApp,
    /// The entitlement service, when this process serves it.
    pub entitlement: Option<EntitlementApp>,
    /// The metering service, when this process serves it.
    pub metering: Option<MeteringApp>,
    /// Background work of the served services (snapshot followers, pollers).
    pub backgrounds: Vec<Background>,
    /// The metering service's sealing and shipping loop.
    pub metering_background: Option<souk_metering::Background>,
    /// The offer service's tracker (change sets, acceptances, expiries).
    pub offer_background: Option<souk_offer::Background>,
    /// The reporting service's scheduled data feed ingestion.
    pub reporting_background: Option<souk_reporting::Background>,
    /// The entitlement snapshot a process follows without serving the entitlement service
    /// (`souk serve metering`: its subscribers), with the store it reads.
    pub followers: Vec<(souk_entitlement::Follower, Store)>,
    /// Outbox relays, one per store with events.
    pub relays: Vec<RelayHandle>,
    /// Stores to close last.
    pub stores: Vec<Store>,
}

/// How long start-up waits for the first read of the customers metering answers for.
const SNAPSHOT_LOAD: std::time::Duration = std::time::Duration::from_secs(30);

/// Builds the role assumer: static dummy base credentials when AWS is emulated, the standard
/// AWS credential chain otherwise; every AWS call goes to `config.aws_endpoint_url` when set.
pub async fn role_assumer(config: &Config, emulated: bool) -> RoleAssumer {
    let options = RoleAssumerOptions {
        endpoint_url: config.aws_endpoint_url.clone(),
        sts_region: config.aws_region.clone(),
        ..RoleAssumerOptions::default()
    };
    if emulated {
        RoleAssumer::with_static_credentials("AKIDSOUKDEV", "souk-dev-secret", options)
    } else {
        RoleAssumer::from_environment(options).await
    }
}

/// What every service of a process shares besides the configuration.
#[derive(Clone)]
pub struct Runtime {
    /// The services' clock (the emulator's in the sandbox).
    pub clock: SharedClock,
    /// The HTTP port's base URL, as buyers and AWS reach it unless configured otherwise.
    pub http_url: String,
}

/// Opens the stores, builds the services `serve` asks for (all of them for `souk dev`) and
/// relays the outbox of each served service's store to `publisher`. The integration store is
/// always opened: API keys live there. Without a publisher (`souk bootstrap`) events stay in
/// the outbox for a serving process to publish.
pub async fn assemble(
    config: &Config,
    databases: &Databases,
    serve: &[ServiceName],
    publisher: Option<Arc<dyn Publisher>>,
    assumer: RoleAssumer,
    runtime: &Runtime,
) -> anyhow::Result<Assembly> {
    let integration_store = databases
        .open(
            souk_integration::STORE_NAME,
            config.database_max_connections,
        )
        .await?;
    let integration = IntegrationApp::with_options(
        integration_store.clone(),
        assumer.clone(),
        config.integration_config(),
        souk_integration::AppOptions {
            clock: runtime.clock.clone(),
            ..souk_integration::AppOptions::default()
        },
    )
    .await
    .context("cannot start the integration service")?;
    let authenticator = integration.authenticator();

    let mut services = Vec::new();
    let mut entitlement: Option<EntitlementApp> = None;
    let mut metering = None;
    let mut metering_background = None;
    let mut offer_background = None;
    let mut reporting_background = None;
    let mut followers = Vec::new();
    // Other services' stores a served service reads (closed with the rest).
    let mut read_stores = Vec::new();
    let mut backgrounds = Vec::new();
    for service in serve {
        services.push(match service {
            ServiceName::Integration => integration.parts(),
            ServiceName::Entitlement => {
                let store = databases
                    .open(
                        souk_entitlement::STORE_NAME,
                        config.database_max_connections,
                    )
                    .await?;
                let app = EntitlementApp::new(
                    store,
                    Arc::new(super::directory::IntegrationDirectory(integration.clone())),
                    assumer.clone(),
                    config.entitlement.clone(),
                    &runtime.http_url,
                    souk_entitlement::AppOptions {
                        clock: runtime.clock.clone(),
                        ..souk_entitlement::AppOptions::default()
                    },
                )
                .await
                .context("cannot start the entitlement service")?;
                backgrounds.push(app.start());
                let parts = app.parts();
                entitlement = Some(app);
                parts
            }
            ServiceName::Metering => {
                let store = databases
                    .open(souk_metering::STORE_NAME, config.database_max_connections)
                    .await?;
                let subscribers = match &entitlement {
                    Some(app) => SnapshotSubscribers(app.snapshot().clone()),
                    None => {
                        let (subscribers, follower, entitlement_store) =
                            super::subscribers::reader(databases, config, runtime.clock.clone())
                                .await?;
                        followers.push((follower, entitlement_store));
                        subscribers
                    }
                };
                if !subscribers.wait_loaded(SNAPSHOT_LOAD).await {
                    tracing::warn!(
                        "the customers are not loaded yet; usage is refused as unknown until they are"
                    );
                }
                let app = MeteringApp::new(
                    store,
                    Arc::new(subscribers),
                    Arc::new(super::roles::IntegrationRoleDirectory(integration.clone())),
                    assumer.clone(),
                    config.metering.clone(),
                    souk_metering::AppOptions {
                        clock: runtime.clock.clone(),
                        ..souk_metering::AppOptions::default()
                    },
                )
                .await
                .context("cannot start the metering service")?;
                metering_background = Some(app.start());
                let parts = app.parts();
                metering = Some(app);
                parts
            }
            ServiceName::Offer => {
                let store = databases
                    .open(souk_offer::STORE_NAME, config.database_max_connections)
                    .await?;
                let app = souk_offer::OfferApp::new(
                    store,
                    Arc::new(super::roles::IntegrationRoleDirectory(integration.clone())),
                    assumer.clone(),
                    config.offer.clone(),
                    souk_offer::AppOptions {
                        clock: runtime.clock.clone(),
                        ..souk_offer::AppOptions::default()
                    },
                )
                .await
                .context("cannot start the offer service")?;
                offer_background = Some(app.start());
                app.parts()
            }
            ServiceName::Reporting => {
                let store = databases
                    .open(souk_reporting::STORE_NAME, config.database_max_connections)
                    .await?;
                // The usage report and the reconciliation read the metering records and the
                // accepted offers; their tables are migrated here too (idempotent, safe beside
                // the running services) so that a reporting-only process finds them.
                let metering_store = databases
                    .open(souk_metering::STORE_NAME, config.database_max_connections)
                    .await?;
                metering_store
                    .migrate(souk_metering::store::migrations())
                    .await
                    .context("cannot migrate the metering store the reports read")?;
                read_stores.push(metering_store.clone());
                let offer_store = databases
                    .open(souk_offer::STORE_NAME, config.database_max_connections)
                    .await?;
                offer_store
                    .migrate(souk_offer::store::migrations())
                    .await
                    .context("cannot migrate the offer store the reports read")?;
                read_stores.push(offer_store.clone());
                let app = souk_reporting::ReportingApp::new(
                    store,
                    Arc::new(super::roles::IntegrationRoleDirectory(integration.clone())),
                    assumer.clone(),
                    config.reporting.clone(),
                    souk_reporting::AppOptions {
                        clock: runtime.clock.clone(),
                        authenticator: Some(authenticator.clone()),
                        metered: Some(Arc::new(super::metered::MeteringRecords(
                            souk_metering::store::UsageTotals::new(metering_store),
                        ))),
                        schedules: Some(Arc::new(super::schedules::OfferStoreSchedules(
                            souk_offer::store::AcceptedSchedules::new(offer_store),
                        ))),
                        ..souk_reporting::AppOptions::default()
                    },
                )
                .await
                .context("cannot start the reporting service")?;
                reporting_background = Some(app.start());
                app.parts()
            }
        });
    }
    let mut relays = Vec::new();
    let mut stores = vec![integration_store.clone()];
    for store in services.iter().filter_map(|parts| parts.store.clone()) {
        if let Some(publisher) = &publisher {
            relays.push(
                OutboxRelay::new(store.clone(), Arc::clone(publisher), RelayConfig::default())
                    .start(),
            );
        }
        if !stores.iter().any(|s| s.service() == store.service()) {
            stores.push(store);
        }
    }
    stores.extend(read_stores);
    // WatchEvents merges the outboxes of every store this process opened; a caller sees only
    // its own organisation's events and needs read access.
    let watch = WatchEventsService::new(stores.clone(), org_of_reader, WatchConfig::default());
    services.push(ServiceParts::new(EventServiceServer::new(watch)));

    Ok(Assembly {
        services,
        authenticator,
        integration,
        entitlement,
        metering,
        backgrounds,
        metering_background,
        offer_background,
        reporting_background,
        followers,
        relays,
        stores,
    })
}

fn org_of_reader(
    request: &tonic::Request<souk_proto::events::WatchEventsRequest>,
) -> Result<String, tonic::Status> {
    let caller: &Caller = souk_auth::authorized(request, souk_auth::Permission::Read)?;
    Ok(caller.organization_id.to_string())
}

impl Assembly {
    /// Stops the background work and the relays (after the servers stopped accepting work) and
    /// closes the stores.
    pub async fn shutdown(self) {
        if let Some(background) = self.metering_background {
            background.shutdown().await;
        }
        if let Some(background) = self.offer_background {
            background.shutdown().await;
        }
        if let Some(background) = self.reporting_background {
            background.shutdown().await;
        }
        for background in self.backgrounds {
            background.shutdown().await;
        }
        for (follower, store) in self.followers {
            follower.shutdown().await;
            store.close().await;
        }
        for relay in self.relays {
            relay.shutdown().await;
        }
        for store in self.stores {
            store.close().await;
        }
    }
}
