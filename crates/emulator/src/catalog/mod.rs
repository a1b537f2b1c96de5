//! Marketplace Catalog API (restJson1, service `AWSMPSeymour`): asynchronous change sets over
//! offers and resale authorizations, and the entities (offers, resale authorizations, products)
//! they produce.
//!
//! A change set is validated synchronously (schema, references, existence, locks, quota: HTTP
//! errors), then stays `PREPARING` for [`CatalogSettings::preparing_millis`] and `APPLYING` for
//! [`CatalogSettings::applying_millis`] of emulator time; when that time has passed (checked on
//! every catalog call, agreement call and control call) its changes are evaluated against the
//! business rules and applied all together, or it fails with per-change `ErrorDetailList`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod apply;
pub mod change_set;
pub mod control;
pub mod details;
pub mod entity;
pub mod error;
pub mod market_products;
pub mod members;
pub mod model;
pub mod offer;
pub mod paging;
pub mod products;
pub mod release;
pub mod resale;
pub mod routes;
pub mod tagging;
pub mod terms;
pub mod validate;
pub mod views;

pub use control::control_router;
pub use model::{CatalogProduct, CatalogSettings, ChangeSet, Offer, ResaleAuthorization};
pub use routes::router;

/// Catalog entities and change sets.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CatalogState {
    /// Timing and quota knobs.
    #[serde(default)]
    pub settings: CatalogSettings,
    /// Change sets by id.
    #[serde(default)]
    pub change_sets: BTreeMap<String, ChangeSet>,
    /// Offers by id.
    #[serde(default)]
    pub offers: BTreeMap<String, Offer>,
    /// Resale authorizations by id.
    #[serde(default)]
    pub resale_authorizations: BTreeMap<String, ResaleAuthorization>,
    /// Products seeded directly into the catalog (the market's products are served too).
    #[serde(default)]
    pub products: BTreeMap<String, CatalogProduct>,
    /// Tags by resource ARN (entities and change sets).
    #[serde(default)]
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Resource policies by entity ARN.
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
}
