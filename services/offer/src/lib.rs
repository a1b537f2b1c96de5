//! The offer service of Souk: private offers and resale authorisations through the Catalog API.
//!
//! An offer is checked against every rule AWS would apply later (so a mistake is reported
//! while the seller is still there), stored as a draft, sent as one Catalog change set and
//! followed until it is released, accepted, expired, cancelled or failed (docs/offers.md).
//! Must not depend on other services' crates: the binary supplies the integrations' roles.

pub mod aws;
pub mod domain;

pub mod api;
pub mod app;
pub mod config;
pub mod events;
pub mod proto;
pub mod store;

pub use app::{AppOptions, Background, OfferApp, STORE_NAME};
pub use config::OfferConfig;
