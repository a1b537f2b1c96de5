//! The fate of notifications Souk will not act on: refused ones (unreadable, unauthenticated,
//! from a foreign topic, stale) and notices the domain can never apply are parked in the service
//! store's dead letters with the reason, counted for `/metrics` and logged, so nothing is dropped
//! silently. Parking is best effort: a store that is down is logged, and the sender still gets
//! its answer rather than a 500.

use std::time::Duration;

use http::StatusCode;
use sha2::{Digest as _, Sha256};
use souk_store::dead_letter::{self, DeadLetter};

use crate::app::HttpContext;
use crate::domain::Error;
use crate::domain::notice::Notice;
use crate::domain::notices::NoticeOutcome;
use crate::domain::ports::IntegrationInfo;

/// Parking gives up after this long: a store that does not answer must not hold the sender.
const PARK_TIMEOUT: Duration = Duration::from_secs(5);

/// The way a notification arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The SNS HTTPS endpoint.
    Sns,
    /// The EventBridge API-destination endpoint.
    EventBridge,
    /// An SQS queue.
    Sqs,
}

impl Route {
    /// The `route` label of `souk_notifications_parked`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sns => "sns",
            Self::EventBridge => "eventbridge",
            Self::Sqs => "sqs",
        }
    }

    /// The dead-letter consumer name.
    fn consumer(self) -> &'static str {
        match self {
            Self::Sns => "entitlement.sns",
            Self::EventBridge => "entitlement.eventbridge",
            Self::Sqs => "entitlement.sqs",
        }
    }
}

/// Where a notification came from, as its dead letter records it.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    /// The route.
    pub route: Route,
    /// The integration it was sent to.
    pub integration: &'a IntegrationInfo,
    /// An id the sender cannot choose (a verified SNS `MessageId`, an SQS `MessageId`); `None`
    /// keys the dead letter on a hash of the body, so that one forgery reusing a genuine id
    /// cannot overwrite the record of another.
    pub event_id: Option<&'a str>,
    /// The raw body.
    pub payload: &'a [u8],
    /// Deliveries so far (SQS's receive count; 1 for the endpoints).
    pub attempts: i64,
}

impl<'a> Origin<'a> {
    /// A first delivery of `payload` by `route`, not yet authenticated.
    pub fn new(route: Route, integration: &'a IntegrationInfo, payload: &'a [u8]) -> Self {
        Self {
            route,
            integration,
            event_id: None,
            payload,
            attempts: 1,
        }
    }
}

/// Why a notification is refused: what the sender is answered, the `reason` label of the
/// metric, and the text kept with the dead letter (also the answer's body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status; 503 means "temporarily", and such a refusal is not parked.
    pub status: StatusCode,
    /// Short reason class (`bad_signature`, `unknown_topic`, ...).
    pub class: &'static str,
    /// The reason, for the dead letter, the log and the answer.
    pub reason: String,
}

impl Refused {
    /// A refusal.
    pub fn new(status: StatusCode, class: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            class,
            reason: reason.into(),
        }
    }

    /// Whether the same message may succeed later (the sender should redeliver it).
    pub fn is_temporary(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Parks a refused notification and counts it; false if the store did not take it (logged).
pub async fn park(
    context: &HttpContext,
    origin: &Origin<'_>,
    class: &'static str,
    reason: &str,
) -> bool {
    let route = origin.route.label();
    context.parked.count(route, class);
    tracing::warn!(
        route,
        integration_id = %origin.integration.id,
        reason_class = class,
        %reason,
        event_id = origin.event_id.unwrap_or(""),
        bytes = origin.payload.len(),
        "notification parked"
    );
    let letter = DeadLetter {
        consumer: origin.route.consumer().to_owned(),
        event_id: origin
            .event_id
            .map_or_else(|| body_hash(origin.payload), str::to_owned),
        organization_id: Some(origin.integration.organization_id.to_string()),
        subject: format!("{route}/{}", origin.integration.id),
        payload: origin.payload.to_vec(),
        reason: reason.to_owned(),
        attempts: origin.attempts,
        created_at: context.entitlements.now(),
    };
    match tokio::time::timeout(
        PARK_TIMEOUT,
        dead_letter::park(context.store.pool(), &letter),
    )
    .await
    {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => {
            tracing::error!(route, integration_id = %origin.integration.id, %error, "parking a notification failed");
            false
        }
        Err(_) => {
            tracing::error!(route, integration_id = %origin.integration.id, "parking a notification timed out");
            false
        }
    }
}

/// `sha256:<hex>` of a body.
fn body_hash(payload: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(payload)))
}

/// What became of a notice handed to the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied, or a duplicate of one applied before.
    Done,
    /// It can never be applied, and is parked: acknowledge it so AWS stops redelivering.
    Parked,
    /// It may apply later (the store or AWS is unavailable, or it could not be parked): have
    /// it redelivered.
    Retry,
}

/// Applies an authenticated notice: errors that retrying cannot fix park it, the others ask for
/// a redelivery.
pub async fn apply(context: &HttpContext, origin: &Origin<'_>, notice: &Notice) -> Applied {
    let integration = origin.integration;
    match context
        .entitlements
        .receive_notice(integration, notice)
        .await
    {
        Ok(outcome) => {
            let applied = matches!(outcome, NoticeOutcome::Applied { .. });
            tracing::info!(
                route = origin.route.label(),
                integration_id = %integration.id,
                message_id = %notice.message_id,
                action = notice.kind.action(),
                applied,
                "notice received"
            );
            Applied::Done
        }
        Err(error) if is_permanent(&error) => {
            if park(context, origin, "rejected", &error.to_string()).await {
                Applied::Parked
            } else {
                Applied::Retry
            }
        }
        Err(error) => {
            tracing::warn!(
                route = origin.route.label(),
                integration_id = %integration.id,
                message_id = %notice.message_id,
                %error,
                "applying a notice failed; it will be redelivered"
            );
            Applied::Retry
        }
    }
}

/// Whether a domain error means the notice can never be applied, rather than "not now".
fn is_permanent(error: &Error) -> bool {
    !matches!(
        error,
        Error::Unavailable(_) | Error::Internal(_) | Error::Aborted(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_of_the_moment_are_retried() {
        assert!(is_permanent(&Error::invalid("notice", "names no customer")));
        assert!(is_permanent(&Error::FailedPrecondition(
            "not a product".into()
        )));
        assert!(is_permanent(&Error::NotFound("customer".into())));
        assert!(!is_permanent(&Error::Unavailable("store".into())));
        assert!(!is_permanent(&Error::Internal("bug".into())));
        assert!(!is_permanent(&Error::Aborted("concurrent".into())));
    }

    #[test]
    fn unauthenticated_bodies_are_keyed_by_their_hash() {
        assert_eq!(
            body_hash(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
