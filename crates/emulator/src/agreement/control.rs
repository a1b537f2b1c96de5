//! Control routes (`/_souk/...`) for buyers' agreements and the invoice ledger:
//!
//! | route | body | effect |
//! |---|---|---|
//! | `POST /_souk/offers/{offerId}/accept` | `{"buyer_account_id", "quantities"?: [{"dimension_key","quantity"}], "selector_value"?}` | new agreement (NEW, or REPLACE for a replacement offer) |
//! | `POST /_souk/agreements/{id}/amend` | `{"quantities": [...]}` | AMEND: new quantities and entitlements, added units billed |
//! | `POST /_souk/agreements/{id}/renew` | `{"offer_id"?}` | RENEW: new agreement, old one RENEWED |
//! | `POST /_souk/agreements/{id}/cancel` | `{"status"?: "CANCELLED" \| "TERMINATED" \| "EXPIRED"}` | ends it; final metering hour |
//! | `GET /_souk/agreements` / `GET /_souk/agreements/{id}` | | the stored agreements |
//! | `GET /_souk/invoices` | | the invoice ledger |

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::StatusCode;
use serde::de::DeserializeOwned;

use super::lifecycle::{self, AcceptRequest, AmendRequest, EndRequest, RenewRequest};
use crate::Emulator;
use crate::wire::{ApiError, Protocol, rest};

/// The agreement control routes.
pub fn router() -> Router<Emulator> {
    Router::new()
        .route("/_souk/offers/{offer_id}/accept", post(accept))
        .route("/_souk/agreements", get(list))
        .route("/_souk/agreements/{id}", get(show))
        .route("/_souk/agreements/{id}/amend", post(amend))
        .route("/_souk/agreements/{id}/renew", post(renew))
        .route("/_souk/agreements/{id}/cancel", post(cancel))
        .route("/_souk/invoices", get(invoices))
}

/// Parses a control body (empty = `{}`).
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|err| ApiError::validation(format!("invalid request body: {err}")))
}

fn respond<T: serde::Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(value) => rest::ok_response(&value),
        Err(error) => error.into_response(Protocol::RestJson1),
    }
}

async fn accept(
    State(emu): State<Emulator>,
    Path(offer_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(parse::<AcceptRequest>(&body).and_then(|request| {
        let now = emu.clock().now_at();
        lifecycle::accept(&mut emu.world(), emu.config(), now, &offer_id, &request)
    }))
}

async fn amend(State(emu): State<Emulator>, Path(id): Path<String>, body: Bytes) -> Response {
    respond(parse::<AmendRequest>(&body).and_then(|request| {
        let now = emu.clock().now_at();
        lifecycle::amend(&mut emu.world(), emu.config(), now, &id, &request)
    }))
}

async fn renew(State(emu): State<Emulator>, Path(id): Path<String>, body: Bytes) -> Response {
    respond(parse::<RenewRequest>(&body).and_then(|request| {
        let now = emu.clock().now_at();
        lifecycle::renew(&mut emu.world(), emu.config(), now, &id, &request)
    }))
}

async fn cancel(State(emu): State<Emulator>, Path(id): Path<String>, body: Bytes) -> Response {
    respond(parse::<EndRequest>(&body).and_then(|request| {
        let now = emu.clock().now_at();
        lifecycle::end(&mut emu.world(), emu.config(), now, &id, &request)
    }))
}

async fn list(State(emu): State<Emulator>) -> Response {
    let world = emu.world();
    let all: Vec<_> = world.agreements.agreements.values().cloned().collect();
    rest::ok_response(&all)
}

async fn show(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    let world = emu.world();
    respond(
        world
            .agreements
            .agreements
            .get(&id)
            .cloned()
            .ok_or_else(|| {
                ApiError::with_status(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    format!("agreement {id} does not exist"),
                )
            }),
    )
}

async fn invoices(State(emu): State<Emulator>) -> Response {
    let world = emu.world();
    rest::ok_response(&world.agreements.invoices)
}
