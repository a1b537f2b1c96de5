//! What `souk dev` and `souk serve` share: opening each service's store, the outbox relays, the
//! integration service (which owns API keys, so every process authenticates through it), and
//! the gRPC routes.

use std::sync::Arc;

use anyhow::Context;
use souk_auth::{Authenticator, Caller, RoleAssumer, RoleAssumerOptions};
use souk_events::{
    OutboxRelay, OutboxWaker, Publisher, RelayConfig, RelayHandle, WatchConfig, WatchEventsService,
};
use souk_integration::{IntegrationApp, IntegrationConfig};
use souk_proto::events::event_service_server::EventServiceServer;
use souk_store::{Store, StoreConfig};
use tonic::service::Routes;

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
    /// Every gRPC service of the process (health and reflection are added by the server).
    pub routes: Routes,
    /// Fully qualified names of the served services, for health.
    pub names: Vec<&'static str>,
    /// Authenticates every RPC against the integration service's API keys.
    pub authenticator: Authenticator,
    /// The integration service.
    pub integration: IntegrationApp,
    /// Outbox relays, one per store with events.
    pub relays: Vec<RelayHandle>,
    /// Stores to close last.
    pub stores: Vec<Store>,
}

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

/// Opens the stores, starts the relays and builds the services `serve` asks for (all of them
/// for `souk dev`). The integration store is always opened: API keys live there. Its outbox is
/// relayed to `publisher` only by a process that serves the integration service; without a
/// publisher (`souk bootstrap`) events stay in the outbox for that process to publish.
pub async fn assemble(
    config: &Config,
    databases: &Databases,
    serve: &[ServiceName],
    publisher: Option<Arc<dyn Publisher>>,
    assumer: RoleAssumer,
) -> anyhow::Result<Assembly> {
    let integration_store = databases
        .open(
            souk_integration::SERVICE_NAME,
            config.database_max_connections,
        )
        .await?;
    let relay = publisher
        .filter(|_| serve.contains(&ServiceName::Integration))
        .map(|publisher| {
            OutboxRelay::new(integration_store.clone(), publisher, RelayConfig::default())
        });
    let waker = relay
        .as_ref()
        .map_or_else(OutboxWaker::new, OutboxRelay::waker);
    let integration_config = IntegrationConfig {
        souk_principal_arn: config.souk_principal_arn.clone(),
        ..IntegrationConfig::default()
    };
    let integration = IntegrationApp::new(
        integration_store.clone(),
        assumer,
        integration_config,
        Some(waker.clone()),
    )
    .await
    .context("cannot start the integration service")?;
    let relays = relay.into_iter().map(OutboxRelay::start).collect();
    let authenticator = integration.authenticator();

    let mut routes = Routes::default();
    let mut names = Vec::new();
    for service in serve {
        match service {
            ServiceName::Integration => {
                routes = routes.add_service(integration.server());
                names.push(souk_proto_names::INTEGRATION);
            }
            ServiceName::Entitlement => {
                routes = routes.add_service(souk_entitlement::server());
                names.push(souk_entitlement::SERVICE_NAME);
            }
            ServiceName::Metering => {
                routes = routes.add_service(souk_metering::server());
                names.push(souk_metering::SERVICE_NAME);
            }
            ServiceName::Offer => {
                routes = routes.add_service(souk_offer::server());
                names.push(souk_offer::SERVICE_NAME);
            }
            ServiceName::Reporting => {
                routes = routes.add_service(souk_reporting::server());
                names.push(souk_reporting::SERVICE_NAME);
            }
        }
    }
    // WatchEvents streams the integration service's outbox (the only service with events so
    // far); a caller sees only its own organisation's events and needs read access.
    let watch = WatchEventsService::new(
        integration_store.clone(),
        org_of_reader,
        WatchConfig::default(),
    )
    .with_waker(waker);
    routes = routes.add_service(EventServiceServer::new(watch));
    names.push(souk_proto_names::EVENTS);

    Ok(Assembly {
        routes,
        names,
        authenticator,
        integration,
        relays,
        stores: vec![integration_store],
    })
}

fn org_of_reader(
    request: &tonic::Request<souk_proto::events::WatchEventsRequest>,
) -> Result<String, tonic::Status> {
    let caller: &Caller = souk_auth::caller(request)?;
    caller.require_status(souk_auth::Permission::Read)?;
    Ok(caller.organization_id.to_string())
}

impl Assembly {
    /// Stops the relays (after the servers stopped accepting work) and closes the stores.
    pub async fn shutdown(self) {
        for relay in self.relays {
            relay.shutdown().await;
        }
        for store in self.stores {
            store.close().await;
        }
    }
}

/// Fully qualified names of services whose crates do not export one.
mod souk_proto_names {
    pub const INTEGRATION: &str = "souk.integration.v1.IntegrationService";
    pub const EVENTS: &str = "souk.events.v1.EventService";
}
