//! The one place the catalog reads the core's market state (products and dimensions).

use serde_json::json;

use super::model::CatalogProduct;
use crate::World;
use crate::market::{DimensionKind, ProductKind};

/// Products held by the market, as catalog products owned by `seller_account_id`.
pub fn market_products(world: &World, seller_account_id: &str) -> Vec<CatalogProduct> {
    world
        .market
        .products
        .values()
        .map(|p| CatalogProduct {
            id: p.product_id.clone(),
            entity_type: match p.kind {
                ProductKind::Saas => "SaaSProduct@1.0",
                ProductKind::Ami => "AmiProduct@1.0",
                ProductKind::Container => "ContainerProduct@1.0",
                ProductKind::ProfessionalServices => "ProfessionalServicesProduct@1.0",
            }
            .to_owned(),
            title: p.title.clone(),
            product_code: p.product_code.clone(),
            visibility: "Public".to_owned(),
            seller_account_id: seller_account_id.to_owned(),
            dimensions: p
                .dimensions
                .iter()
                .map(|d| {
                    let types = match d.kind {
                        DimensionKind::Metered => json!(["ExternallyMetered"]),
                        DimensionKind::Entitled => json!(["Entitled"]),
                    };
                    json!({ "Key": d.name, "Name": d.name, "Description": d.description, "Types": types })
                })
                .collect(),
            last_modified: p.last_modified,
        })
        .collect()
}
