//! The reporting service of Souk: Seller Data Feed ingestion and revenue, disbursement and usage reports.
//!
//! Draft: the gRPC contract `souk.reporting.v1.ReportingService` is served through the service kit (so
//! clients, reflection and health see it), and every RPC answers UNIMPLEMENTED until the
//! service's own issue implements it. Must not depend on other services' crates.

use serde::Deserialize;
use souk_proto::reporting::reporting_service_server::{ReportingService, ReportingServiceServer};
use souk_service::ServiceParts;

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "reporting";

/// The `[reporting]` configuration section (`SOUK_REPORTING__<KEY>` in the environment); no
/// settings yet, so any key is reported as unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportingConfig {}

/// The gRPC adapter of the reporting service.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReportingApi;

impl ReportingService for ReportingApi {}

/// What the binary serves for this service.
pub fn parts(_config: &ReportingConfig) -> ServiceParts {
    ServiceParts::new(ReportingServiceServer::new(ReportingApi))
}
