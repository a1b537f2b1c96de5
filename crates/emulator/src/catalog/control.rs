//! Control routes (`/_souk/...`) of the catalog, merged with the agreement control routes:
//!
//! | route | body | effect |
//! |---|---|---|
//! | `GET/POST /_souk/catalog/settings` | [`CatalogSettings`] (snake_case, partial) | change-set timing, open-change-set quota |
//! | `POST /_souk/catalog/products` | [`NewCatalogProduct`] | a catalog-only product (market products are served too) |
//! | `POST /_souk/catalog/tick` | | finishes change sets whose time has come |
//! | `GET /_souk/catalog/offers/{id}` | | the stored offer |

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{CatalogProduct, CatalogSettings};
use crate::Emulator;
use crate::agreement::control::parse;
use crate::wire::{ApiError, Protocol, rest};

/// The control routes of the catalog and agreement emulation.
pub fn control_router() -> Router<Emulator> {
    Router::new()
        .route(
            "/_souk/catalog/settings",
            get(get_settings).post(set_settings),
        )
        .route("/_souk/catalog/products", post(add_product))
        .route("/_souk/catalog/tick", post(tick))
        .route("/_souk/catalog/offers/{id}", get(show_offer))
}

/// A product seeded directly into the catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCatalogProduct {
    /// `prod-…` (generated when absent).
    #[serde(default)]
    pub product_id: Option<String>,
    /// `saas`, `ami`, `container`, `professional_services` (default `saas`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Title.
    pub title: String,
    /// Product code (generated when absent).
    #[serde(default)]
    pub product_code: Option<String>,
    /// `Public` (default), `Limited`, `Restricted`, `Draft`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Owner (default: the emulated seller; another account makes offers on it `AccessDenied`).
    #[serde(default)]
    pub seller_account_id: Option<String>,
    /// Dimension keys.
    #[serde(default)]
    pub dimensions: Vec<String>,
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => rest::ok_response(&value),
        Err(error) => error.into_response(Protocol::RestJson1),
    }
}

async fn get_settings(State(emu): State<Emulator>) -> Response {
    let settings = emu.world().catalog.settings.clone();
    rest::ok_response(&settings)
}

async fn set_settings(State(emu): State<Emulator>, body: Bytes) -> Response {
    respond(parse::<Value>(&body).and_then(|patch| {
        let mut world = emu.world();
        let mut current = serde_json::to_value(&world.catalog.settings).unwrap_or(Value::Null);
        if let (Some(current), Some(patch)) = (current.as_object_mut(), patch.as_object()) {
            for (k, v) in patch {
                current.insert(k.clone(), v.clone());
            }
        }
        let settings: CatalogSettings = serde_json::from_value(current)
            .map_err(|err| ApiError::validation(format!("invalid settings: {err}")))?;
        world.catalog.settings = settings.clone();
        Ok(serde_json::to_value(settings).unwrap_or(Value::Null))
    }))
}

async fn add_product(State(emu): State<Emulator>, body: Bytes) -> Response {
    respond(parse::<NewCatalogProduct>(&body).and_then(|new| {
        let limit = crate::market::MAX_TITLE_CHARS;
        if new.title.chars().count() > limit {
            return Err(ApiError::validation(format!(
                "title must be at most {limit} characters"
            )));
        }
        let now = emu.clock().now_at();
        let id = new
            .product_id
            .unwrap_or_else(|| crate::support::format::new_id("prod-", 13));
        let product = CatalogProduct {
            id: id.clone(),
            entity_type: super::products::entity_type_for(new.kind.as_deref().unwrap_or("saas"))
                .to_owned(),
            title: new.title,
            product_code: new
                .product_code
                .unwrap_or_else(|| crate::support::format::new_id("", 25)),
            visibility: new.visibility.unwrap_or_else(|| "Public".to_owned()),
            seller_account_id: new
                .seller_account_id
                .unwrap_or_else(|| emu.config().seller_account_id.clone()),
            dimensions: new
                .dimensions
                .iter()
                .map(|k| json!({ "Key": k, "Name": k, "Types": ["Entitled", "ExternallyMetered"] }))
                .collect(),
            last_modified: now,
        };
        emu.world().catalog.products.insert(id, product.clone());
        Ok(serde_json::to_value(product).unwrap_or(Value::Null))
    }))
}

async fn tick(State(emu): State<Emulator>) -> Response {
    emu.advance_world();
    let world = emu.world();
    rest::ok_response(&json!({ "changeSets": world.catalog.change_sets.len() }))
}

async fn show_offer(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    let world = emu.world();
    respond(
        world
            .catalog
            .offers
            .get(&id)
            .map(|o| json!(o))
            .ok_or_else(|| {
                ApiError::with_status(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    format!("offer {id} does not exist"),
                )
            }),
    )
}
