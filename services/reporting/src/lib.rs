//! The reporting service of Souk: Seller Data Feed ingestion and revenue, disbursement and usage reports.
//!
//! Draft: the gRPC contract `souk.reporting.v1.ReportingService` is served (so clients, reflection and
//! health see it), and every RPC answers UNIMPLEMENTED until the service's own issue implements it.
//! Must not depend on other services' crates.

use souk_proto::reporting::reporting_service_server::{ReportingService, ReportingServiceServer};

/// The gRPC adapter of the reporting service.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReportingApi;

impl ReportingService for ReportingApi {}

/// The tonic server for this service, ready to add to a router.
pub fn server() -> ReportingServiceServer<ReportingApi> {
    ReportingServiceServer::new(ReportingApi)
}

/// The fully qualified gRPC service name, for health reporting.
pub const SERVICE_NAME: &str = "souk.reporting.v1.ReportingService";
