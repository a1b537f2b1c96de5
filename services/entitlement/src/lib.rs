//! The entitlement service of Souk: fulfilment page, customers, subscriptions, agreements, entitlements and entitlement checks.
//!
//! Draft: the gRPC contract `souk.entitlement.v1.EntitlementService` is served (so clients, reflection and
//! health see it), and every RPC answers UNIMPLEMENTED until the service's own issue implements it.
//! Must not depend on other services' crates.

use souk_proto::entitlement::entitlement_service_server::{
    EntitlementService, EntitlementServiceServer,
};

/// The gRPC adapter of the entitlement service.
#[derive(Debug, Default, Clone, Copy)]
pub struct EntitlementApi;

impl EntitlementService for EntitlementApi {}

/// The tonic server for this service, ready to add to a router.
pub fn server() -> EntitlementServiceServer<EntitlementApi> {
    EntitlementServiceServer::new(EntitlementApi)
}

/// The fully qualified gRPC service name, for health reporting.
pub const SERVICE_NAME: &str = "souk.entitlement.v1.EntitlementService";
