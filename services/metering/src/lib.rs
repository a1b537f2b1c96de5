//! The metering service of Souk: usage ingestion, hourly aggregation and exactly-once shipping to BatchMeterUsage.
//!
//! Draft: the gRPC contract `souk.metering.v1.MeteringService` is served through the service kit (so
//! clients, reflection and health see it), and every RPC answers UNIMPLEMENTED until the
//! service's own issue implements it. Must not depend on other services' crates.

use serde::Deserialize;
use souk_proto::metering::metering_service_server::{MeteringService, MeteringServiceServer};
use souk_service::ServiceParts;

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "metering";

/// The `[metering]` configuration section (`SOUK_METERING__<KEY>` in the environment); no
/// settings yet, so any key is reported as unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeteringConfig {}

/// The gRPC adapter of the metering service.
#[derive(Debug, Default, Clone, Copy)]
pub struct MeteringApi;

impl MeteringService for MeteringApi {}

/// What the binary serves for this service.
pub fn parts(_config: &MeteringConfig) -> ServiceParts {
    ServiceParts::new(MeteringServiceServer::new(MeteringApi))
}
