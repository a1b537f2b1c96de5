//! The entitlement service of Souk: fulfilment page, customers, subscriptions, agreements, entitlements and entitlement checks.
//!
//! Draft: the gRPC contract `souk.entitlement.v1.EntitlementService` is served through the service kit (so
//! clients, reflection and health see it), and every RPC answers UNIMPLEMENTED until the
//! service's own issue implements it. Must not depend on other services' crates.

use serde::Deserialize;
use souk_proto::entitlement::entitlement_service_server::{
    EntitlementService, EntitlementServiceServer,
};
use souk_service::ServiceParts;

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "entitlement";

/// The `[entitlement]` configuration section (`SOUK_ENTITLEMENT__<KEY>` in the environment); no
/// settings yet, so any key is reported as unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntitlementConfig {}

/// The gRPC adapter of the entitlement service.
#[derive(Debug, Default, Clone, Copy)]
pub struct EntitlementApi;

impl EntitlementService for EntitlementApi {}

/// What the binary serves for this service.
pub fn parts(_config: &EntitlementConfig) -> ServiceParts {
    ServiceParts::new(EntitlementServiceServer::new(EntitlementApi))
}
