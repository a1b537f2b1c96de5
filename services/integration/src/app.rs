//! Wiring by hand: store, events, verifier and gRPC adapter of the integration service.

use std::sync::Arc;

use souk_auth::{AuthOptions, Authenticator, KeyRevocations, KeyStore, RoleAssumer, Scope};
use souk_core::{SharedClock, SystemClock};
use souk_events::{Namespace, OutboxWaker};
use souk_proto::integration::integration_service_server::IntegrationServiceServer;
use souk_store::Store;

use crate::api::IntegrationGrpc;
use crate::aws::AwsVerifier;
use crate::config::IntegrationConfig;
use crate::domain::verify::Verifier;
use crate::domain::{
    Error, Integration, Licensing, NewApiKey, NewIntegration, Notifications, Organization, Product,
    ProductType,
};
use crate::events::EventFactory;
use crate::store::{IntegrationStore, SqlKeyStore, migrations};
use souk_core::PageRequest;

/// The demo seller integration `souk dev --emulate-aws` keeps in the first organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoIntegration {
    /// Integration name, unique in the organisation.
    pub name: String,
    /// The demo seller role (in the emulator).
    pub role_arn: String,
    /// Region.
    pub region: String,
    /// The demo SaaS product code.
    pub product_code: String,
}

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const SERVICE_NAME: &str = "integration";

/// Less common knobs of [`IntegrationApp`].
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Clock for timestamps and expiry.
    pub clock: SharedClock,
    /// Subject namespace of the events.
    pub namespace: Namespace,
    /// Wakes the outbox relay after a commit.
    pub waker: Option<OutboxWaker>,
    /// Replaces the AWS verifier (the default assumes roles with the given [`RoleAssumer`]).
    pub verifier: Option<Arc<dyn Verifier>>,
}

impl std::fmt::Debug for dyn Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier")
    }
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            namespace: Namespace::default(),
            waker: None,
            verifier: None,
        }
    }
}

/// A clock truncated to whole milliseconds, the precision of stored instants.
#[derive(Debug)]
struct MillisClock(SharedClock);

impl souk_core::Clock for MillisClock {
    fn now(&self) -> time::OffsetDateTime {
        let now = self.0.now();
        now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(now)
    }
}

/// The integration service, ready to serve.
#[derive(Debug, Clone)]
pub struct IntegrationApp {
    grpc: IntegrationGrpc,
    store: IntegrationStore,
    key_store: Arc<SqlKeyStore>,
    clock: SharedClock,
}

impl IntegrationApp {
    /// Migrates `store` (the service's own, see [`SERVICE_NAME`]) and wires the service with
    /// default options; `waker` is the outbox relay's.
    pub async fn new(
        store: Store,
        assumer: RoleAssumer,
        config: IntegrationConfig,
        waker: Option<OutboxWaker>,
    ) -> Result<Self, souk_core::Error> {
        Self::with_options(
            store,
            assumer,
            config,
            AppOptions {
                waker,
                ..AppOptions::default()
            },
        )
        .await
    }

    /// Like [`new`](Self::new) with explicit options.
    pub async fn with_options(
        store: Store,
        assumer: RoleAssumer,
        config: IntegrationConfig,
        options: AppOptions,
    ) -> Result<Self, souk_core::Error> {
        config.validate()?;
        store.migrate(migrations()).await?;
        // Instants are stored in milliseconds: hand out only what a later read returns.
        let clock: SharedClock = Arc::new(MillisClock(options.clock));
        let events = EventFactory::new(clock.clone(), options.namespace);
        let integration_store =
            IntegrationStore::new(store.clone(), events, clock.clone(), options.waker);
        let revocations = KeyRevocations::new();
        let key_store = Arc::new(SqlKeyStore::new(store, revocations.clone()));
        let verifier = options.verifier.unwrap_or_else(|| {
            Arc::new(AwsVerifier::new(
                assumer.clone(),
                clock.clone(),
                config.probe_timeout,
            )) as Arc<dyn Verifier>
        });
        let grpc = IntegrationGrpc::new(
            integration_store.clone(),
            verifier,
            Some(assumer),
            revocations,
            config,
            clock.clone(),
        );
        Ok(Self {
            grpc,
            store: integration_store,
            key_store,
            clock,
        })
    }

    /// The tonic service to add to a server (behind the auth layer).
    pub fn server(&self) -> IntegrationServiceServer<IntegrationGrpc> {
        IntegrationServiceServer::new(self.grpc.clone())
    }

    /// The API keys of every organisation, for the [`Authenticator`]; revocations through this
    /// service reach authenticators built on it at once.
    pub fn key_store(&self) -> Arc<SqlKeyStore> {
        Arc::clone(&self.key_store)
    }

    /// An authenticator over [`key_store`](Self::key_store) with default options.
    pub fn authenticator(&self) -> Authenticator {
        let store: Arc<dyn KeyStore> = self.key_store();
        Authenticator::with_options(
            store,
            AuthOptions {
                clock: self.clock.clone(),
                ..AuthOptions::default()
            },
        )
    }

    /// The server and the key store, for the CLI's wiring.
    pub fn into_parts(self) -> (IntegrationServiceServer<IntegrationGrpc>, Arc<SqlKeyStore>) {
        (self.server(), self.key_store)
    }

    /// On first start (`souk dev`): creates organisation `name` with an ADMIN API key if no
    /// organisation exists, and returns it with the key's secret (shown once). `None` when an
    /// organisation exists already.
    pub async fn bootstrap_default_organization(
        &self,
        name: &str,
    ) -> Result<Option<(Organization, String)>, Error> {
        crate::domain::validate::name(name).map_err(|reason| Error::invalid("name", reason))?;
        if self.store.has_organizations().await? {
            return Ok(None);
        }
        let now = self.clock.now();
        let organization = Organization::new(name.to_owned(), now);
        let (key, secret) = NewApiKey {
            name: "bootstrap admin key".into(),
            scopes: vec![Scope::Admin],
            expires_at: None,
        }
        .issue(organization.id.clone(), now);
        if !self
            .store
            .create_first_organization(&organization, &key, &secret.hash())
            .await?
        {
            return Ok(None);
        }
        tracing::info!(organization_id = %organization.id, "created the first organization with an admin api key");
        Ok(Some((organization, secret.expose().to_owned())))
    }

    /// `souk dev --emulate-aws`: the integration named `demo.name` in the first organisation,
    /// created (with its event, like any other) when missing.
    pub async fn ensure_demo_integration(
        &self,
        demo: DemoIntegration,
    ) -> Result<Integration, Error> {
        let organization = self.store.first_organization().await?.ok_or_else(|| {
            Error::invalid(
                "organization",
                "no organisation exists yet: bootstrap one first",
            )
        })?;
        let mut page = PageRequest {
            size: souk_core::paging::MAX_PAGE_SIZE,
            after: None,
        };
        loop {
            let found = self
                .store
                .list_integrations(&organization.id, &page)
                .await?;
            if let Some(existing) = found.items.iter().find(|i| i.name == demo.name) {
                return Ok(existing.clone());
            }
            match found.items.last() {
                Some(last) if !found.next_page_token.is_empty() => {
                    page.after = Some(last.id.to_string())
                }
                _ => break,
            }
        }
        let integration = NewIntegration {
            name: demo.name,
            role_arn: demo.role_arn,
            region: demo.region,
            products: vec![Product {
                product_code: demo.product_code,
                product_id: None,
                product_type: ProductType::Saas,
                licensing: Licensing::ProductCode,
            }],
            notifications: Notifications::default(),
            data_feed_bucket: String::new(),
        }
        .into_integration(
            organization.id,
            souk_auth::generate_external_id(),
            self.clock.now(),
        );
        self.store
            .create_integration(&integration, None, Vec::new)
            .await?;
        Ok(integration)
    }
}
