//! The EventBridge API-destination endpoint, `POST /aws/eventbridge/{integration_id}`. EventBridge
//! signs nothing: the API destination's connection sends the integration's shared secret in
//! `x-souk-eventbridge-secret`, which is the only authentication.
//!
//! Answers: 403 when the integration has no secret yet, 401 for a missing or wrong secret, 400
//! for a body that is not an event (all parked); then as the SNS endpoint: 200 when applied,
//! ignored or parked as never applicable, 503 when it may work later.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use sha2::{Digest as _, Sha256};

use super::endpoint::{self, reply};
use super::park::{self, Applied, Origin, Refused, Route};
use crate::app::HttpContext;
use crate::notifications::{Inbound, parse_eventbridge};

/// The header carrying the shared secret (the emulator's default too).
pub const SECRET_HEADER: &str = "x-souk-eventbridge-secret";

/// The routes under `/aws/eventbridge/{integration_id}`.
pub fn routes() -> Router<HttpContext> {
    Router::new().route("/aws/eventbridge/{integration_id}", post(receive))
}

async fn receive(
    State(context): State<HttpContext>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (integration, settings) =
        match endpoint::integration(&context, Route::EventBridge.label(), &raw_id).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let body = match endpoint::read_body(body).await {
        Ok(body) => body,
        Err(refused) => {
            let origin = Origin::new(Route::EventBridge, &integration, &[]);
            return endpoint::refuse(&context, &origin, refused).await;
        }
    };
    let mut origin = Origin::new(Route::EventBridge, &integration, &body);
    let Some(expected) = settings.eventbridge_secret.as_deref() else {
        let refused = Refused::new(
            StatusCode::FORBIDDEN,
            "no_secret",
            "no EventBridge secret is configured for this integration",
        );
        return endpoint::refuse(&context, &origin, refused).await;
    };
    let given = headers.get(SECRET_HEADER).map(|value| value.as_bytes());
    if !given.is_some_and(|given| same_secret(given, expected.as_bytes())) {
        let refused = Refused::new(
            StatusCode::UNAUTHORIZED,
            "bad_secret",
            format!("missing or wrong {SECRET_HEADER} header"),
        );
        return endpoint::refuse(&context, &origin, refused).await;
    }
    match parse_eventbridge(&body) {
        Err(error) => {
            let refused = Refused::new(StatusCode::BAD_REQUEST, "malformed", error.to_string());
            endpoint::refuse(&context, &origin, refused).await
        }
        Ok(Inbound::Notice(notice)) => {
            origin.event_id = Some(&notice.message_id);
            match park::apply(&context, &origin, &notice).await {
                Applied::Done => reply(StatusCode::OK, "ok"),
                Applied::Parked => reply(StatusCode::OK, "parked: the notice cannot be applied"),
                Applied::Retry => endpoint::temporarily_unavailable(),
            }
        }
        Ok(Inbound::Ignored { reason }) => {
            tracing::debug!(integration_id = %integration.id, %reason, "EventBridge event ignored");
            reply(StatusCode::OK, "ignored")
        }
        // Only SNS asks for confirmations; an event never parses as one.
        Ok(Inbound::Confirmation(_)) => {
            let refused = Refused::new(
                StatusCode::BAD_REQUEST,
                "malformed",
                "not an EventBridge event",
            );
            endpoint::refuse(&context, &origin, refused).await
        }
    }
}

/// Compares digests of the two secrets, so the time taken tells nothing about where they
/// differ or how long the expected one is.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let expected = Sha256::digest(expected);
    let difference = given
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_exactly() {
        assert!(same_secret(b"souk_eb_abc", b"souk_eb_abc"));
        assert!(!same_secret(b"souk_eb_abd", b"souk_eb_abc"));
        assert!(!same_secret(b"souk_eb_ab", b"souk_eb_abc"));
        assert!(!same_secret(b"", b"souk_eb_abc"));
    }
}
