//! What the SNS and EventBridge endpoints share: the integration named by the path, a body read
//! no further than [`MAX_BODY_BYTES`], and short plain-text answers.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use souk_core::Id;

use super::park::{self, Origin, Refused};
use crate::app::HttpContext;
use crate::domain::Error;
use crate::domain::model::FulfilmentSettings;
use crate::domain::ports::IntegrationInfo;
use crate::notifications::MAX_BODY_BYTES;

/// A plain-text answer.
pub(super) fn reply(status: StatusCode, text: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.into(),
    )
        .into_response()
}

/// The integration `raw_id` and its settings; otherwise the answer: 404 when there is no such
/// integration, 503 when it cannot be read now (the sender retries).
pub(super) async fn integration(
    context: &HttpContext,
    route: &'static str,
    raw_id: &str,
) -> Result<(IntegrationInfo, FulfilmentSettings), Response> {
    let unknown = || reply(StatusCode::NOT_FOUND, "unknown integration");
    let Ok(id) = Id::parse("int", raw_id) else {
        return Err(unknown());
    };
    match context.entitlements.fulfilment_settings(None, &id).await {
        Ok(found) => Ok(found),
        Err(Error::NotFound(_)) => {
            tracing::warn!(route, integration_id = %id, "notification for an unknown integration");
            Err(unknown())
        }
        Err(error) => {
            tracing::warn!(route, integration_id = %id, %error, "reading the integration failed");
            Err(temporarily_unavailable())
        }
    }
}

/// 503 without details: the sender retries.
pub(super) fn temporarily_unavailable() -> Response {
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily unavailable, retry later",
    )
}

/// The whole body, refused with 413 past [`MAX_BODY_BYTES`] (never read further).
pub(super) async fn read_body(body: Body) -> Result<Bytes, Refused> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("body exceeds {MAX_BODY_BYTES} bytes"),
        )),
        Err(error) => Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "unreadable",
            format!("unreadable body: {error}"),
        )),
    }
}

/// Answers a refusal: parked and answered with its status and reason, or, when temporary,
/// answered 503 without being parked so the sender redelivers it.
pub(super) async fn refuse(
    context: &HttpContext,
    origin: &Origin<'_>,
    refused: Refused,
) -> Response {
    if refused.is_temporary() {
        tracing::warn!(
            route = origin.route.label(),
            integration_id = %origin.integration.id,
            reason = %refused.reason,
            "notification not processed now; the sender will retry"
        );
        return temporarily_unavailable();
    }
    // Whether the store took it or not, the sender gets its refusal (the log has the failure).
    park::park(context, origin, refused.class, &refused.reason).await;
    reply(refused.status, refused.reason)
}
