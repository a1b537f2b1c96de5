//! The products the catalog serves as entities (`SaaSProduct@1.0`, `AmiProduct@1.0`,
//! `ContainerProduct@1.0`, `ProfessionalServicesProduct@1.0`): those the market holds (seeded
//! through the core's control API) plus any seeded directly into the catalog.

use std::collections::BTreeMap;

use super::model::CatalogProduct;
use crate::World;

/// Every product by id.
pub fn directory(world: &World, seller_account_id: &str) -> BTreeMap<String, CatalogProduct> {
    let mut out = world.catalog.products.clone();
    for product in super::market_products::market_products(world, seller_account_id) {
        out.entry(product.id.clone()).or_insert(product);
    }
    out
}

/// The entity type for a product kind (`saas`, `ami`, `container`, `professional_services`...).
pub fn entity_type_for(kind: &str) -> &'static str {
    match kind
        .to_ascii_lowercase()
        .replace(['-', '_', ' '], "")
        .as_str()
    {
        "ami" | "amiproduct" => "AmiProduct@1.0",
        "container" | "containerproduct" => "ContainerProduct@1.0",
        "professionalservices" | "professionalservicesproduct" | "proserv" => {
            "ProfessionalServicesProduct@1.0"
        }
        "data" | "dataproduct" => "DataProduct@1.0",
        "ml" | "machinelearning" | "machinelearningproduct" => "MachineLearningProduct@1.0",
        _ => "SaaSProduct@1.0",
    }
}
