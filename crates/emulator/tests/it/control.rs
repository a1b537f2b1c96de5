//! The control API: persistence across restarts, reset, clock, errors.

use serde_json::{Value, json};
use souk_emulator::EmulatorConfig;

use crate::support::*;

#[tokio::test]
async fn state_survives_a_restart_through_the_state_file() {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("tempdir: {err}"),
    };
    let config = EmulatorConfig {
        state_file: Some(dir.path().join("state.json")),
        ..EmulatorConfig::default()
    };
    let env = env_with(config.clone()).await;
    seed(&env.emu.url).await;
    let sub = subscribe(&env.emu.url, PRODUCT, BUYER).await;
    advance(&env.emu.url, 600).await;
    let offset = env.emu.emulator.clock().offset_millis();
    drop(env);

    let again = env_with(config).await;
    assert!(again.emu.emulator.clock().offset_millis() >= offset);
    let token = sub["registration_token"].as_str().unwrap_or_default();
    let out = again
        .metering
        .resolve_customer()
        .registration_token(token)
        .send()
        .await;
    assert!(out.is_ok(), "{out:?}");
    let products = control_ok(&again.emu.url, "GET", "/_souk/products", Value::Null).await;
    assert_eq!(products["products"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn reset_clears_everything() {
    let env = env().await;
    seed(&env.emu.url).await;
    advance(&env.emu.url, 3600).await;
    control_ok(&env.emu.url, "POST", "/_souk/reset", Value::Null).await;
    let products = control_ok(&env.emu.url, "GET", "/_souk/products", Value::Null).await;
    assert_eq!(products["products"].as_array().map(Vec::len), Some(0));
    assert_eq!(env.emu.emulator.clock().offset_millis(), 0);
}

#[tokio::test]
async fn control_errors_are_specific() {
    let env = env().await;
    let (status, body) = control(
        &env.emu.url,
        "POST",
        "/_souk/subscribe",
        json!({"product_code": "none", "customer_aws_account_id": BUYER}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    seed(&env.emu.url).await;
    let (status, _) = control(
        &env.emu.url,
        "POST",
        "/_souk/subscribe",
        json!({"product_code": PRODUCT, "customer_aws_account_id": "12"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(try_unsubscribe(&env.emu.url, PRODUCT, BUYER).await.0, 404);
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    let (status, _) = control(&env.emu.url, "POST", "/_souk/entitlements", json!({
        "product_code": PRODUCT, "customer_aws_account_id": BUYER, "values": {"unknown-dimension": 1}
    }))
    .await;
    assert_eq!(status, 400);
    unsubscribe(&env.emu.url, PRODUCT, BUYER).await;
    assert_eq!(try_unsubscribe(&env.emu.url, PRODUCT, BUYER).await.0, 409);
    let (status, _) = control(
        &env.emu.url,
        "POST",
        "/_souk/faults",
        json!({"operation": "X", "kind": "throttle", "probability": 2.0}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = control(
        &env.emu.url,
        "DELETE",
        "/_souk/faults/fault-999",
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn resubscribing_during_the_final_hour_keeps_the_subscription() {
    let env = env().await;
    seed(&env.emu.url).await;
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    unsubscribe(&env.emu.url, PRODUCT, BUYER).await;
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    advance(&env.emu.url, 2 * 3600).await;
    let subs = control_ok(&env.emu.url, "GET", "/_souk/subscriptions", Value::Null).await;
    assert_eq!(subs["subscriptions"][0]["status"]["state"], "active");
}
