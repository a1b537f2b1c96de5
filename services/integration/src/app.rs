//! Wiring by hand: the store, the event factory, the AWS verifier and the key revocations under
//! the use cases, and the gRPC adapter over them.

use std::sync::Arc;

use souk_auth::{AuthOptions, Authenticator, KeyRevocations, KeyStore, RoleAssumer};
use souk_core::{Id, MillisClock, SharedClock, SystemClock};
use souk_events::{EventFactory, Namespace};
use souk_proto::integration::integration_service_server::IntegrationServiceServer;
use souk_service::ServiceParts;
use souk_store::Store;

use crate::api::IntegrationApi;
use crate::aws::AwsVerifier;
use crate::config::IntegrationConfig;
use crate::domain::Integrations;
use crate::domain::ports::{Revocations, Verifier};
use crate::store::{SqlKeyStore, SqlStore, migrations};

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "integration";

/// Less common knobs of [`IntegrationApp`].
#[derive(Clone)]
pub struct AppOptions {
    /// Clock for timestamps and expiry.
    pub clock: SharedClock,
    /// Subject namespace of the events.
    pub namespace: Namespace,
    /// Replaces the AWS verifier (the default assumes roles with the given [`RoleAssumer`]).
    pub verifier: Option<Arc<dyn Verifier>>,
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
            verifier: None,
        }
    }
}

/// Revocations through this service reach the authenticators of this process at once.
impl Revocations for KeyRevocations {
    fn revoked(&self, key_id: &Id) {
        KeyRevocations::revoked(self, key_id);
    }
}

/// The integration service, ready to serve.
#[derive(Debug, Clone)]
pub struct IntegrationApp {
    integrations: Integrations,
    store: Store,
    key_store: Arc<SqlKeyStore>,
    clock: SharedClock,
}

impl IntegrationApp {
    /// Migrates `store` (the service's own, see [`STORE_NAME`]) and wires the service with
    /// default options.
    pub async fn new(
        store: Store,
        assumer: RoleAssumer,
        config: IntegrationConfig,
    ) -> Result<Self, souk_core::Error> {
        Self::with_options(store, assumer, config, AppOptions::default()).await
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
        let clock: SharedClock = Arc::new(MillisClock(options.clock));
        let events = EventFactory::new(clock.clone(), options.namespace);
        let sql = SqlStore::new(store.clone(), events, clock.clone());
        let revocations = KeyRevocations::new();
        let key_store = Arc::new(SqlKeyStore::new(store.clone(), revocations.clone()));
        let verifier = options.verifier.unwrap_or_else(|| {
            Arc::new(AwsVerifier::new(
                assumer,
                clock.clone(),
                config.probe_timeout,
            ))
        });
        let integrations = Integrations::new(
            Arc::new(sql),
            verifier,
            Arc::new(revocations),
            clock.clone(),
            config.template_settings(),
        );
        Ok(Self {
            integrations,
            store,
            key_store,
            clock,
        })
    }

    /// The use cases (bootstrap and the demo integration are called directly by the binary).
    pub fn integrations(&self) -> &Integrations {
        &self.integrations
    }

    /// The tonic service.
    pub fn server(&self) -> IntegrationServiceServer<IntegrationApi> {
        IntegrationServiceServer::new(IntegrationApi::new(self.integrations.clone()))
    }

    /// What the binary serves: the gRPC service and the store whose outbox is relayed.
    pub fn parts(&self) -> ServiceParts {
        ServiceParts::new(self.server()).with_store(self.store.clone())
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
}
