//! The offer service of Souk: private offers and resale authorisations through the Catalog API.
//!
//! Draft: the gRPC contract `souk.offer.v1.OfferService` is served (so clients, reflection and
//! health see it), and every RPC answers UNIMPLEMENTED until the service's own issue implements it.
//! Must not depend on other services' crates.

use souk_proto::offer::offer_service_server::{OfferService, OfferServiceServer};

/// The gRPC adapter of the offer service.
#[derive(Debug, Default, Clone, Copy)]
pub struct OfferApi;

impl OfferService for OfferApi {}

/// The tonic server for this service, ready to add to a router.
pub fn server() -> OfferServiceServer<OfferApi> {
    OfferServiceServer::new(OfferApi)
}

/// The fully qualified gRPC service name, for health reporting.
pub const SERVICE_NAME: &str = "souk.offer.v1.OfferService";
