//! Injected faults (throttling, 5xx, latency, dropped responses) and per-role action denials,
//! applied per operation name for every protocol.
//!
//! Protocol handlers never look at faults themselves: the dispatcher in
//! [`crate::server`] wraps every AWS operation in [`guarded`], and routers of other modules
//! (catalog, agreement, SQS) do the same with their own [`CallContext`].

pub mod rules;

use std::future::Future;

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

pub use rules::{Decision, FaultKind, FaultRule, FaultState};

use crate::Emulator;
use crate::wire::{ApiError, Protocol};

/// Identifies one AWS call for faults and denials.
#[derive(Debug, Clone)]
pub struct CallContext<'a> {
    /// Short service name: `metering`, `entitlement`, `catalog`, `agreement`, `sts`, `sqs`, `s3`.
    pub service: &'a str,
    /// Operation name as on the wire.
    pub operation: &'a str,
    /// The protocol the request came in on (decides how errors are rendered).
    pub protocol: Protocol,
    /// The caller's access key id (from the SigV4 `Authorization` header), if any.
    pub access_key_id: Option<String>,
}

impl CallContext<'_> {
    /// The IAM action this call needs, e.g. `aws-marketplace:BatchMeterUsage`.
    pub fn iam_action(&self) -> String {
        let prefix = match self.service {
            "sts" => "sts",
            "sqs" => "sqs",
            "s3" => "s3",
            _ => "aws-marketplace",
        };
        format!("{prefix}:{}", self.operation)
    }
}

/// The service's throttling error in its protocol.
pub fn throttling_error(ctx: &CallContext<'_>) -> ApiError {
    match (ctx.service, ctx.protocol) {
        ("sqs", _) => ApiError::client("RequestThrottled", "Request is throttled."),
        ("s3", _) => ApiError::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
        ),
        // The Agreement model gives ThrottlingException @httpError(429) in every protocol.
        ("agreement", _) => ApiError::with_status(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
        ),
        (_, Protocol::AwsQuery) => ApiError::client("Throttling", "Rate exceeded"),
        (_, Protocol::RestJson1) => ApiError::with_status(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
        ),
        _ => ApiError::throttling(),
    }
}

/// The service's internal (5xx) error in its protocol.
pub fn server_error(ctx: &CallContext<'_>) -> ApiError {
    let code = match ctx.service {
        "metering" | "entitlement" => "InternalServiceErrorException",
        "catalog" => "InternalServiceException",
        "agreement" => "InternalServerException",
        "sqs" | "s3" => "InternalError",
        _ => "InternalFailure",
    };
    ApiError::server(code, "We encountered an internal error. Please try again.")
}

/// The AccessDenied error AWS returns when the caller's policy lacks the action:
/// `AccessDeniedException` (400 in JSON/CBOR protocols, 403 in restJson1 and wherever the model
/// gives it `@httpError(403)`, as Agreement does) or `AccessDenied` (403, awsQuery).
pub fn access_denied(ctx: &CallContext<'_>, caller_arn: &str) -> ApiError {
    let action = ctx.iam_action();
    let message = format!(
        "User: {caller_arn} is not authorized to perform: {action} because no identity-based policy allows the {action} action"
    );
    match ctx.protocol {
        Protocol::AwsQuery | Protocol::RestXml => {
            ApiError::with_status(StatusCode::FORBIDDEN, "AccessDenied", message)
        }
        Protocol::RestJson1 => {
            ApiError::with_status(StatusCode::FORBIDDEN, "AccessDeniedException", message)
        }
        _ if ctx.service == "agreement" => {
            ApiError::with_status(StatusCode::FORBIDDEN, "AccessDeniedException", message)
        }
        _ => ApiError::client("AccessDeniedException", message),
    }
}

/// The error AWS returns for a request signed with expired session credentials:
/// `ExpiredTokenException` (awsQuery: 400, as STS models it; other protocols: 403).
pub fn expired_token(ctx: &CallContext<'_>) -> ApiError {
    let message = "The security token included in the request is expired";
    match ctx.protocol {
        Protocol::AwsQuery => ApiError::client("ExpiredTokenException", message),
        _ => ApiError::with_status(StatusCode::FORBIDDEN, "ExpiredTokenException", message),
    }
}

/// Runs `handler` under the faults and denials in force for `ctx`: a denial or an injected
/// throttle/5xx answers without running it; latency delays it; a drop runs it and then cuts the
/// connection. This is the one helper every protocol router calls.
pub async fn guarded<F, Fut>(emulator: &Emulator, ctx: CallContext<'_>, handler: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response>,
{
    let decision = {
        let mut world = emulator.world();
        let now = emulator.clock().now_at();
        let expired = emulator.config().enforce_session_expiry
            && ctx
                .access_key_id
                .as_deref()
                .is_some_and(|key| world.sts.session_expired(key, now));
        if expired {
            drop(world);
            return render(&ctx, expired_token(&ctx));
        }
        let denied_as = ctx
            .access_key_id
            .as_deref()
            .and_then(|key| world.sts.denied_caller(key, &ctx.iam_action(), now));
        if let Some(caller_arn) = denied_as {
            drop(world);
            return render(&ctx, access_denied(&ctx, &caller_arn));
        }
        // Without rules nothing can fire; skipping the mutable borrow keeps the journal
        // from rewriting the fault state on every call.
        if world.faults.rules.is_empty() {
            Decision::default()
        } else {
            world.faults.decide(ctx.service, ctx.operation)
        }
    };
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    match decision.outcome {
        Some(FaultKind::Throttle) => render(&ctx, throttling_error(&ctx)),
        Some(FaultKind::ServerError) => render(&ctx, server_error(&ctx)),
        Some(FaultKind::Drop) => {
            let _processed = handler().await;
            dropped_response()
        }
        Some(FaultKind::Latency | FaultKind::Unprocessed) | None => handler().await,
    }
}

/// Renders an error the guard produced in the call's protocol; Agreement errors carry the
/// `requestId` member its model gives every error.
fn render(ctx: &CallContext<'_>, error: ApiError) -> Response {
    let error = if ctx.service == "agreement" {
        error.with_member("requestId", crate::wire::request_id())
    } else {
        error
    };
    error.into_response(ctx.protocol)
}

/// A response whose body fails: hyper aborts the connection, the client reads no response.
fn dropped_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "response dropped by fault injection",
        ))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rule(kind: FaultKind, count: Option<u32>) -> FaultRule {
        FaultRule {
            id: String::new(),
            operation: "BatchMeterUsage".into(),
            service: None,
            kind,
            count,
            probability: None,
            latency_ms: Some(5),
        }
    }

    #[test]
    fn counted_rules_expire() {
        let mut faults = FaultState::default();
        faults.add(rule(FaultKind::Throttle, Some(2)));
        assert_eq!(
            faults.decide("metering", "BatchMeterUsage").outcome,
            Some(FaultKind::Throttle)
        );
        assert_eq!(faults.decide("metering", "MeterUsage").outcome, None);
        assert_eq!(
            faults.decide("metering", "BatchMeterUsage").outcome,
            Some(FaultKind::Throttle)
        );
        assert_eq!(faults.decide("metering", "BatchMeterUsage").outcome, None);
        assert!(faults.rules.is_empty());
    }

    #[test]
    fn latency_adds_up_and_probability_zero_never_fires() {
        let mut faults = FaultState::default();
        faults.add(rule(FaultKind::Latency, None));
        faults.add(rule(FaultKind::Latency, None));
        faults.add(FaultRule {
            probability: Some(0.0),
            ..rule(FaultKind::ServerError, None)
        });
        let decision = faults.decide("metering", "BatchMeterUsage");
        assert_eq!(decision.delay, Duration::from_millis(10));
        assert_eq!(decision.outcome, None);
    }
}
