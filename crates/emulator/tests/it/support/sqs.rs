//! Test support for the SQS, notification, feed and S3 tests: a spawned emulator, an SQS client
//! from the official SDK, a blocking-free raw HTTP helper and a recording HTTP endpoint.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use souk_emulator::{Emulator, EmulatorConfig};

use crate::support;

/// A running emulator for one test.
pub struct TestEmulator {
    /// The emulator handle (clock, world).
    pub emu: Emulator,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _running: souk_emulator::RunningEmulator,
}

/// Spawns an emulator on an ephemeral port (delivery task running) that knows its own URL.
pub async fn spawn() -> TestEmulator {
    let running = match souk_emulator::spawn(EmulatorConfig::default()).await {
        Ok(running) => running,
        Err(error) => panic!("spawn: {error}"),
    };
    souk_emulator::notify::set_public_url(&running.emulator, &running.url);
    TestEmulator {
        emu: running.emulator.clone(),
        url: running.url.clone(),
        _running: running,
    }
}

/// An SQS client from the official SDK pointed at the emulator.
pub fn sqs_client(url: &str) -> aws_sdk_sqs::Client {
    let credentials =
        aws_sdk_sqs::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    crate::sdk_client!(aws_sdk_sqs, url, "us-east-1", credentials)
}

/// Creates queue `name` (default attributes) and returns its URL.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create")
        .queue_url
        .expect("url")
}

/// Asserts an SDK error is the modelled service error its `$is_kind` predicate names
/// (`is_queue_does_not_exist`, ...).
#[macro_export]
macro_rules! assert_service_error {
    ($error:expr, $is_kind:ident) => {
        assert!(
            $error.as_service_error().is_some_and(|e| e.$is_kind()),
            "{:?}",
            $error
        )
    };
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header lines, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl RawResponse {
    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not json ({e}): {}", self.body))
    }
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads the whole response (within two
/// minutes, long enough for long polls); header names come back lowercase.
pub async fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> RawResponse {
    let rest = url.strip_prefix("http://").expect("http url");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let timeout = Duration::from_secs(120);
    let raw = support::exchange(authority, method, path, headers, body.as_bytes(), timeout).await;
    assert!(raw.windows(4).any(|w| w == b"\r\n\r\n"), "header end");
    let support::Raw {
        status,
        headers,
        body,
    } = support::parse_response(&raw);
    assert_ne!(status, 0, "status");
    RawResponse {
        status,
        headers: headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect(),
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

/// POSTs JSON to the control API and returns the response.
pub async fn control(
    emulator: &TestEmulator,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> RawResponse {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    http(
        method,
        &format!("{}{path}", emulator.url),
        &[("Content-Type", "application/json")],
        &text,
    )
    .await
}

/// One request an [`Endpoint`] received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: String,
}

/// A local HTTP endpoint that records requests and answers with scripted statuses.
#[derive(Clone)]
pub struct Endpoint {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
struct EndpointState {
    received: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
}

impl Endpoint {
    /// Starts an endpoint answering `statuses` in order, then 200.
    pub async fn start(statuses: Vec<u16>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address: SocketAddr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = EndpointState {
            received: received.clone(),
            statuses: Arc::new(Mutex::new(statuses)),
        };
        let router = axum::Router::new().fallback(record).with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://{address}/hook"),
            received,
        }
    }

    /// Requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until at least `count` requests arrived (90 s at most: the first signed delivery of
    /// a fresh machine waits for the signing key to be generated).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..1800 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "endpoint got {} requests, expected {count}",
            self.received().len()
        );
    }
}

async fn record(State(state): State<EndpointState>, headers: HeaderMap, body: Bytes) -> Response {
    state.received.lock().expect("lock").push(Received {
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    });
    let status = {
        let mut statuses = state.statuses.lock().expect("lock");
        if statuses.is_empty() {
            200
        } else {
            statuses.remove(0)
        }
    };
    StatusCode::from_u16(status)
        .unwrap_or(StatusCode::OK)
        .into_response()
}
