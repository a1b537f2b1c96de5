//! Shared fixtures: a spawned emulator, SDK clients pointed at it, a raw HTTP/1.1 client for the
//! control API and wire-level assertions.

#![allow(dead_code)]

pub mod catalog;
pub mod sqs;

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use souk_emulator::{EmulatorConfig, RunningEmulator};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub const PRODUCT: &str = "prod-saas-1";
pub const LICENSED: &str = "prod-concurrent-1";
pub const BUYER: &str = "210987654321";
pub const OTHER_BUYER: &str = "310987654321";

/// A spawned emulator with SDK clients.
pub struct Env {
    pub emu: RunningEmulator,
    pub metering: aws_sdk_marketplacemetering::Client,
    pub entitlement: aws_sdk_marketplaceentitlement::Client,
    pub sts: aws_sdk_sts::Client,
}

pub fn creds(key: &str) -> Credentials {
    Credentials::new(key, "test-secret", None, None, "test")
}

/// SDK credentials from the temporary credentials an STS answer carries.
pub fn session_credentials(sts: &aws_sdk_sts::types::Credentials) -> Credentials {
    Credentials::new(
        sts.access_key_id(),
        sts.secret_access_key(),
        Some(sts.session_token().to_owned()),
        None,
        "assumed",
    )
}

pub async fn env() -> Env {
    env_with(EmulatorConfig::default()).await
}

pub async fn env_with(config: EmulatorConfig) -> Env {
    let emu = match souk_emulator::spawn(config).await {
        Ok(emu) => emu,
        Err(err) => panic!("spawn: {err}"),
    };
    let metering = metering_client(&emu.url, creds("AKIDTEST"));
    let entitlement = entitlement_client(&emu.url, creds("AKIDTEST"));
    let sts = sts_client(&emu.url, creds("AKIDTEST"));
    Env {
        emu,
        metering,
        entitlement,
        sts,
    }
}

/// An official SDK client of crate `$sdk` pointed at the emulator at `$url`, signing for
/// `$region` with `$credentials`; with `$retry` when given, else the SDK's default retries.
#[macro_export]
macro_rules! sdk_client {
    ($sdk:ident, $url:expr, $region:expr, $credentials:expr $(, $retry:expr)?) => {{
        let builder = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new($region))
            .endpoint_url($url)
            .credentials_provider($credentials);
        $(let builder = builder.retry_config($retry);)?
        $sdk::Client::from_conf(builder.build())
    }};
}

/// No retries: a test sees the first answer the emulator gives.
pub fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

pub fn metering_client(
    url: &str,
    credentials: impl aws_credential_types::provider::ProvideCredentials + 'static,
) -> aws_sdk_marketplacemetering::Client {
    sdk_client!(
        aws_sdk_marketplacemetering,
        url,
        "us-east-1",
        credentials,
        no_retries()
    )
}

/// A metering client signing for another region.
pub fn metering_in(url: &str, region: &'static str) -> aws_sdk_marketplacemetering::Client {
    sdk_client!(
        aws_sdk_marketplacemetering,
        url,
        region,
        creds("AKIDTEST"),
        no_retries()
    )
}

pub fn entitlement_client(
    url: &str,
    credentials: Credentials,
) -> aws_sdk_marketplaceentitlement::Client {
    sdk_client!(
        aws_sdk_marketplaceentitlement,
        url,
        "us-east-1",
        credentials,
        no_retries()
    )
}

pub fn sts_client(url: &str, credentials: Credentials) -> aws_sdk_sts::Client {
    sts_in(url, "us-east-1", credentials)
}

/// An STS client signing for `region`.
pub fn sts_in(url: &str, region: &'static str, credentials: Credentials) -> aws_sdk_sts::Client {
    sdk_client!(aws_sdk_sts, url, region, credentials, no_retries())
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request over a fresh connection (`Connection: close`) and reads the response.
pub async fn raw(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let addr = url.trim_start_matches("http://");
    let response = exchange(addr, method, path, headers, body, Duration::from_secs(10)).await;
    parse_response(&response)
}

/// Writes one HTTP/1.1 request to `authority` over a fresh connection (`Connection: close`) and
/// returns the raw response bytes, which must all arrive within `timeout`.
pub async fn exchange(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Vec<u8> {
    let mut stream = match tokio::net::TcpStream::connect(authority).await {
        Ok(s) => s,
        Err(err) => panic!("connect {authority}: {err}"),
    };
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    if let Err(err) = stream.write_all(&bytes).await {
        panic!("write: {err}");
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(timeout, stream.read_to_end(&mut response)).await;
    assert!(matches!(read, Ok(Ok(_))), "read response: {read:?}");
    response
}

/// Parses an HTTP/1.1 response (status 0 when the status line is unreadable), de-chunking a
/// chunked body.
pub fn parse_response(bytes: &[u8]) -> Raw {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut body = bytes.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Raw {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = data.get(start + size + 2..).unwrap_or_default();
    }
    out
}

/// POSTs JSON to the control API and returns (status, body).
pub async fn control(url: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let response = raw(
        url,
        method,
        path,
        &[("content-type", "application/json")],
        &bytes,
    )
    .await;
    (response.status, response.json())
}

/// Like [`control`], asserting a 2xx.
pub async fn control_ok(url: &str, method: &str, path: &str, body: Value) -> Value {
    let (status, value) = control(url, method, path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {value}"
    );
    value
}

/// Creates the standard products: a legacy SaaS product and a concurrent-agreement one.
pub async fn seed(url: &str) {
    for (code, concurrent) in [(PRODUCT, false), (LICENSED, true)] {
        control_ok(
            url,
            "POST",
            "/_souk/products",
            json!({
                "product_code": code, "kind": "saas", "concurrent_agreements": concurrent,
                "fulfillment_url": "https://seller.example/fulfil",
                "dimensions": [
                    {"name": "users", "type": "metered"},
                    {"name": "gb", "type": "metered"},
                    {"name": "seats", "type": "entitled"},
                    {"name": "tier", "type": "entitled"},
                    {"name": "sso", "type": "entitled"}
                ]
            }),
        )
        .await;
    }
}

/// Subscribes `account` to `product` and returns the control API's answer.
pub async fn subscribe(url: &str, product: &str, account: &str) -> Value {
    control_ok(
        url,
        "POST",
        "/_souk/subscribe",
        json!({ "product_code": product, "customer_aws_account_id": account }),
    )
    .await
}

/// Asks the control API to unsubscribe `account` from `product`; returns (status, body).
pub async fn try_unsubscribe(url: &str, product: &str, account: &str) -> (u16, Value) {
    control(
        url,
        "POST",
        "/_souk/unsubscribe",
        json!({ "product_code": product, "customer_aws_account_id": account }),
    )
    .await
}

/// Unsubscribes `account` from `product`, asserting a 2xx.
pub async fn unsubscribe(url: &str, product: &str, account: &str) -> Value {
    control_ok(
        url,
        "POST",
        "/_souk/unsubscribe",
        json!({ "product_code": product, "customer_aws_account_id": account }),
    )
    .await
}

pub async fn advance(url: &str, seconds: i64) {
    control_ok(
        url,
        "POST",
        "/_souk/clock/advance",
        json!({ "seconds": seconds }),
    )
    .await;
}

pub async fn fault(url: &str, rule: Value) -> String {
    let v = control_ok(url, "POST", "/_souk/faults", rule).await;
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// The metering ledger (`records` and `total_quantity`) from the control API.
pub async fn metering_ledger(url: &str) -> Value {
    control_ok(url, "GET", "/_souk/metering/ledger", Value::Null).await
}

/// Injects one fault of `kind` (`throttle`, `server_error`, ...) into the next `operation` call.
pub async fn fault_once(url: &str, operation: &str, kind: &str) -> String {
    fault(
        url,
        json!({ "operation": operation, "kind": kind, "count": 1 }),
    )
    .await
}

/// Like [`fault_once`], for an operation of one `service` (`catalog`, `agreement`).
pub async fn fault_once_in(url: &str, service: &str, operation: &str, kind: &str) -> String {
    fault(
        url,
        json!({ "operation": operation, "service": service, "kind": kind, "count": 1 }),
    )
    .await
}

/// Asserts the transient faults surface as the modelled errors: after one injected throttle
/// `$call` (an SDK call, sent afresh each time) fails with `$error::ThrottlingException` (400),
/// after one injected server error with `$error::InternalServiceErrorException` (500), which it
/// returns.
#[macro_export]
macro_rules! assert_transient_faults {
    ($url:expr, $operation:expr, $call:expr, $error:ident) => {{
        $crate::support::fault_once($url, $operation, "throttle").await;
        $crate::service_error!($call, 400, $error::ThrottlingException(_));
        $crate::support::fault_once($url, $operation, "server_error").await;
        $crate::service_error!($call, 500, $error::InternalServiceErrorException(_))
    }};
}

/// The emulator's "now" in epoch seconds.
pub fn now(env: &Env) -> i64 {
    env.emu.emulator.clock().now().unix_timestamp()
}

/// `seconds` before the emulator's "now", but not before the start of the current hour: AWS
/// refuses usage from before the subscription's hour, so a test that subscribed in the first
/// seconds of an hour must not stamp its usage in the previous one.
pub fn a_moment_ago(env: &Env, seconds: i64) -> i64 {
    let now = now(env);
    (now - seconds).max(now - now.rem_euclid(3600))
}

/// Raw awsJson call.
pub async fn aws_json(url: &str, target: &str, body: &[u8]) -> Raw {
    raw(
        url,
        "POST",
        "/",
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target),
        ],
        body,
    )
    .await
}

/// Asserts an SDK error is a service error with this HTTP status (and, when given, one that
/// matches `$pattern`), returning the service error.
#[macro_export]
macro_rules! service_error {
    ($result:expr, $status:expr, $pattern:pat) => {{
        let err = $crate::service_error!($result, $status);
        assert!(matches!(err, $pattern), "{err:?}");
        err
    }};
    ($result:expr, $status:expr) => {{
        match $result {
            Ok(out) => panic!("expected an error, got {out:?}"),
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                assert_eq!(status, Some($status), "status of {err:?}");
                err.into_service_error()
            }
        }
    }};
}
