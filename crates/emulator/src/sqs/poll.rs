//! Long polling for ReceiveMessage without holding the world lock across an await: the HTTP
//! response (status and headers) is returned at once and its body resolves when a message becomes
//! visible (woken by SendMessage, re-checked every 100 ms for visibility timeouts that lapse on the
//! emulator clock) or when `WaitTimeSeconds` have passed.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::ops::{ReceiveOutput, ReceivePlan, receive_now};
use crate::Emulator;

const RECHECK: Duration = Duration::from_millis(100);

/// Renders a ReceiveMessage result into a response body.
pub type Render = fn(&ReceiveOutput, &str) -> String;

/// Receives now, or long-polls when nothing is visible and the plan asks to wait.
pub fn receive_response(
    emu: &Emulator,
    plan: ReceivePlan,
    content_type: &'static str,
    request_id: String,
    render: Render,
) -> Response {
    let first = receive_now(emu, &plan).unwrap_or_default();
    if !first.messages.is_empty() || plan.wait_seconds == 0 {
        return respond(
            Body::from(render(&first, &request_id)),
            content_type,
            &request_id,
        );
    }
    let emu = emu.clone();
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(plan.wait_seconds.unsigned_abs());
    let request_id_for_body = request_id.clone();
    let body = futures::stream::once(async move {
        let output = wait_for_messages(&emu, &plan, deadline).await;
        Ok::<_, std::convert::Infallible>(render(&output, &request_id_for_body))
    });
    respond(Body::from_stream(body), content_type, &request_id)
}

async fn wait_for_messages(
    emu: &Emulator,
    plan: &ReceivePlan,
    deadline: tokio::time::Instant,
) -> ReceiveOutput {
    loop {
        let wake = emu.world().sqs.wake.clone();
        let notified = wake.notified();
        let Some(output) = receive_now(emu, plan) else {
            return ReceiveOutput::default();
        };
        let now = tokio::time::Instant::now();
        if !output.messages.is_empty() || now >= deadline {
            return output;
        }
        let pause = RECHECK.min(deadline - now);
        let _ = tokio::time::timeout(pause, notified).await;
    }
}

fn respond(body: Body, content_type: &'static str, request_id: &str) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}
