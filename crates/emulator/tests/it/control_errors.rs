//! The control API answers every mistake in its own error shape: JSON `{"Message"}` with
//! `x-amzn-ErrorType`, never a plain-text rejection, S3 XML or an AWS protocol error.

use serde_json::{Value, json};

use crate::support::*;

/// Sends `body` (bytes as given) and asserts a JSON `{"Message"}` error with `status`.
async fn assert_control_error(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    status: u16,
) -> Raw {
    let response = raw(url, method, path, headers, body).await;
    assert_eq!(
        response.status,
        status,
        "{method} {path}: {}",
        response.text()
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{method} {path}"
    );
    assert!(
        response.json()["Message"].is_string(),
        "{method} {path}: {}",
        response.text()
    );
    assert!(response.header("x-amzn-ErrorType").is_some());
    response
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

#[tokio::test]
async fn malformed_bodies_are_json_errors() {
    let env = env().await;
    let url = &env.emu.url;
    // Wrong member types (axum's Json answered a plain-text 422).
    assert_control_error(
        url,
        "POST",
        "/_souk/clock/advance",
        JSON,
        br#"{"hours":"soon"}"#,
        400,
    )
    .await;
    assert_control_error(
        url,
        "POST",
        "/_souk/products",
        JSON,
        br#"{"dimensions":"users"}"#,
        400,
    )
    .await;
    // Not JSON at all.
    assert_control_error(url, "POST", "/_souk/subscribe", JSON, b"product=x", 400).await;
    // Unknown members are mistakes, not no-ops.
    let response = assert_control_error(
        url,
        "POST",
        "/_souk/clock/advance",
        JSON,
        br#"{"days":1}"#,
        400,
    )
    .await;
    assert!(response.text().contains("days"), "{}", response.text());
    for (path, body) in [
        (
            "/_souk/faults",
            json!({"operation": "*", "kind": "throttle", "times": 1}),
        ),
        (
            "/_souk/sts/access-keys",
            json!({"access_key_id": "AKID", "account_id": "123456789012", "acount": "x"}),
        ),
        (
            "/_souk/notifications/subscriptions",
            json!({"protocol": "http", "endpoint": "http://x/", "product": "p"}),
        ),
        (
            "/_souk/feeds/refunds",
            json!({"invoice_id": "inv-1", "amont": "1.00"}),
        ),
    ] {
        assert_control_error(url, "POST", path, JSON, body.to_string().as_bytes(), 400).await;
    }
    assert_control_error(
        url,
        "PUT",
        "/_souk/feeds/settings",
        JSON,
        br#"{"listing_fee":1}"#,
        400,
    )
    .await;
    let advanced = control(url, "GET", "/_souk/clock", Value::Null).await;
    assert_eq!(advanced.1["offset_seconds"], 0, "nothing moved the clock");
}

#[tokio::test]
async fn a_missing_content_type_is_accepted() {
    let env = env().await;
    let response = raw(
        &env.emu.url,
        "POST",
        "/_souk/clock/advance",
        &[],
        br#"{"seconds":5}"#,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn unknown_control_routes_are_json_404s() {
    let env = env().await;
    for method in ["GET", "POST", "DELETE", "PUT"] {
        let response = assert_control_error(
            &env.emu.url,
            method,
            "/_souk/no-such-route",
            JSON,
            b"{}",
            404,
        )
        .await;
        assert_eq!(response.header("x-amzn-ErrorType"), Some("NotFound"));
    }
    assert_control_error(&env.emu.url, "GET", "/_souk", &[], b"", 404).await;
}

#[tokio::test]
async fn ledger_timestamps_are_whole_seconds() {
    let env = env().await;
    seed(&env.emu.url).await;
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    let at = a_moment_ago(&env, 30);
    let body = json!({
        "ProductCode": PRODUCT,
        "UsageRecords": [{ "Timestamp": at as f64 + 0.75, "CustomerAWSAccountId": BUYER,
                           "Dimension": "users", "Quantity": 3 }]
    });
    let response = aws_json(
        &env.emu.url,
        "AWSMPMeteringService.BatchMeterUsage",
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let ledger = metering_ledger(&env.emu.url).await;
    let record = &ledger["records"][0];
    assert_eq!(record["timestamp"], json!(at), "{ledger}");
    assert!(record["recorded_at"].is_i64());
    assert!(record["hour"].is_i64());
}

#[tokio::test]
async fn regions_must_be_region_codes() {
    let env = env().await;
    for region in ["mars-1", "", "us-east", "US-EAST-1", "us-east-1x"] {
        assert_control_error(
            &env.emu.url,
            "POST",
            "/_souk/regions/disable",
            JSON,
            json!({ "region": region }).to_string().as_bytes(),
            400,
        )
        .await;
    }
    for region in ["eu-west-3", "us-gov-west-1", "ap-southeast-5"] {
        control_ok(
            &env.emu.url,
            "POST",
            "/_souk/regions/disable",
            json!({ "region": region }),
        )
        .await;
    }
}

#[tokio::test]
async fn oversized_product_titles_are_refused() {
    let env = env().await;
    let huge = "x".repeat(1 << 20);
    let body = json!({ "product_code": "big", "kind": "saas", "title": huge, "dimensions": [] });
    assert_control_error(
        &env.emu.url,
        "POST",
        "/_souk/products",
        JSON,
        body.to_string().as_bytes(),
        400,
    )
    .await;
    let products = control_ok(&env.emu.url, "GET", "/_souk/products", Value::Null).await;
    assert_eq!(products["products"], json!([]));
    let body = json!({ "title": huge });
    let response = raw(
        &env.emu.url,
        "POST",
        "/_souk/catalog/products",
        JSON,
        body.to_string().as_bytes(),
    )
    .await;
    assert!((400..500).contains(&response.status), "{}", response.status);
    assert!(response.json()["Message"].is_string());
    let fits = "t".repeat(255);
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/products",
        json!({ "product_code": "fits", "title": fits }),
    )
    .await;
}
