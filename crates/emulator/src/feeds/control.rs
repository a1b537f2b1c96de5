//! Control routes for data feeds: generate, disburse, refund, settings, and a JSON view of the
//! billing events.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::FeedSettings;
use crate::Emulator;

/// Routes under `/_souk/feeds/`.
pub fn control_router() -> Router<Emulator> {
    Router::new()
        .route("/_souk/feeds/generate", post(generate))
        .route(
            "/_souk/feeds/disbursements",
            post(disburse).get(list_disbursements),
        )
        .route("/_souk/feeds/refunds", post(refund).get(list_refunds))
        .route("/_souk/feeds/billing-events", get(billing_events))
        .route("/_souk/feeds/settings", get(get_settings).put(put_settings))
}

async fn generate(State(emu): State<Emulator>) -> Response {
    match super::generate(&emu).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => crate::wire::rest::error_response(&crate::wire::ApiError::with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            error,
        )),
    }
}

async fn disburse(State(emu): State<Emulator>) -> Response {
    let made = super::disburse(&emu);
    let body: Vec<_> = made
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "currency": d.currency,
                "amount": super::money::format_micros(d.amount_micros),
                "billing_events": d.event_ids.len(),
            })
        })
        .collect();
    (StatusCode::CREATED, Json(json!({ "disbursements": body }))).into_response()
}

async fn list_disbursements(State(emu): State<Emulator>) -> Response {
    let disbursements = emu.world().feeds.disbursements.clone();
    Json(json!({ "disbursements": disbursements })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundRequest {
    invoice_id: String,
    /// Decimal amount; the whole remaining invoice amount when absent.
    amount: Option<String>,
}

async fn refund(State(emu): State<Emulator>, body: axum::body::Bytes) -> Response {
    let request: RefundRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(format!("invalid refund request: {error}")),
    };
    let amount = match request
        .amount
        .as_deref()
        .map(super::money::parse_amount_micros)
    {
        Some(None) => {
            return bad_request("amount must be a decimal with at most six decimals".to_owned());
        }
        Some(Some(micros)) => Some(micros),
        None => None,
    };
    match super::refund(&emu, &request.invoice_id, amount) {
        Ok(refund) => (
            StatusCode::CREATED,
            Json(json!({
                "id": refund.id,
                "invoice_id": refund.invoice_id,
                "amount": super::money::format_micros(refund.amount_micros),
            })),
        )
            .into_response(),
        Err(message) => bad_request(message),
    }
}

async fn list_refunds(State(emu): State<Emulator>) -> Response {
    let refunds = emu.world().feeds.refunds.clone();
    Json(json!({ "refunds": refunds })).into_response()
}

async fn billing_events(State(emu): State<Emulator>) -> Response {
    Json(json!({ "billing_events": super::billing_events(&emu) })).into_response()
}

async fn get_settings(State(emu): State<Emulator>) -> Response {
    Json(emu.world().feeds.settings.clone()).into_response()
}

async fn put_settings(State(emu): State<Emulator>, body: axum::body::Bytes) -> Response {
    let settings: FeedSettings = match serde_json::from_slice(&body) {
        Ok(settings) => settings,
        Err(error) => return bad_request(format!("invalid settings: {error}")),
    };
    if !matches!(settings.usage_invoicing.as_str(), "monthly" | "hourly") {
        return bad_request("usage_invoicing must be monthly or hourly".to_owned());
    }
    if settings.listing_fee_bps > 10_000 {
        return bad_request("listing_fee_bps must be at most 10000".to_owned());
    }
    if settings.bucket.is_empty() || settings.bucket.contains('/') {
        return bad_request("bucket must be a non-empty name without '/'".to_owned());
    }
    if let Some(bad) = settings
        .usage_prices
        .values()
        .find(|p| super::money::parse_price_e8(p).is_none())
    {
        return bad_request(format!(
            "usage price {bad:?} is not a decimal with at most eight decimals"
        ));
    }
    emu.world().feeds.settings = settings.clone();
    Json(settings).into_response()
}

fn bad_request(message: String) -> Response {
    crate::wire::rest::invalid_argument(message)
}
