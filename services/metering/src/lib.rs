//! The metering service of Souk: usage ingestion, hourly aggregation and exactly-once shipping to BatchMeterUsage.
//!
//! Draft: the gRPC contract `souk.metering.v1.MeteringService` is served (so clients, reflection and
//! health see it), and every RPC answers UNIMPLEMENTED until the service's own issue implements it.
//! Must not depend on other services' crates.

use souk_proto::metering::metering_service_server::{MeteringService, MeteringServiceServer};

/// The gRPC adapter of the metering service.
#[derive(Debug, Default, Clone, Copy)]
pub struct MeteringApi;

impl MeteringService for MeteringApi {}

/// The tonic server for this service, ready to add to a router.
pub fn server() -> MeteringServiceServer<MeteringApi> {
    MeteringServiceServer::new(MeteringApi)
}

/// The fully qualified gRPC service name, for health reporting.
pub const SERVICE_NAME: &str = "souk.metering.v1.MeteringService";
