//! The offer service of Souk: private offers and resale authorisations through the Catalog API.
//!
//! Draft: the gRPC contract `souk.offer.v1.OfferService` is served through the service kit (so
//! clients, reflection and health see it), and every RPC answers UNIMPLEMENTED until the
//! service's own issue implements it. Must not depend on other services' crates.

use serde::Deserialize;
use souk_proto::offer::offer_service_server::{OfferService, OfferServiceServer};
use souk_service::ServiceParts;

/// The store name (PostgreSQL schema, SQLite file stem) of this service.
pub const STORE_NAME: &str = "offer";

/// The `[offer]` configuration section (`SOUK_OFFER__<KEY>` in the environment); no
/// settings yet, so any key is reported as unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfferConfig {}

/// The gRPC adapter of the offer service.
#[derive(Debug, Default, Clone, Copy)]
pub struct OfferApi;

impl OfferService for OfferApi {}

/// What the binary serves for this service.
pub fn parts(_config: &OfferConfig) -> ServiceParts {
    ServiceParts::new(OfferServiceServer::new(OfferApi))
}
