//! `souk emulator`: bad flags, and a state file that survives a restart.

use souk_e2e::{SoukProcess, http_request, souk};

#[tokio::test]
async fn a_zero_metering_window_is_refused() {
    let output = souk(
        &[
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--metering-window-hours",
            "0",
        ],
        &[],
    )
    .await
    .unwrap();
    assert!(!output.success);
    assert!(
        output
            .stderr
            .contains("error: --metering-window-hours must be at least 1"),
        "{}",
        output.stderr
    );
}

#[tokio::test]
async fn the_state_file_keeps_products_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("emulator.json");
    let state = state.to_str().unwrap();
    let args = ["emulator", "--listen", "127.0.0.1:0", "--state-file", state];

    let first = SoukProcess::start(&args, &[]).await.unwrap();
    let product = r#"{"product_code": "e2eprod", "kind": "saas", "dimensions": [{"name": "users", "type": "metered"}]}"#;
    let (status, body) = http_request(
        "POST",
        first.endpoint("emulator"),
        "/_souk/products",
        product,
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, _) = http_request(
        "POST",
        first.endpoint("emulator"),
        "/_souk/products",
        "{not json",
    )
    .await
    .unwrap();
    assert_eq!(status, 400);
    let (exit, rest) = first.terminate().await.unwrap();
    assert!(exit.success(), "{exit}");
    assert!(rest.contains("souk emulator stopped"), "{rest}");

    let second = SoukProcess::start(&args, &[]).await.unwrap();
    let (status, body) = http_request(
        "GET",
        second.endpoint("emulator"),
        "/_souk/products/e2eprod",
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let product: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(product["product_code"], "e2eprod");
    assert_eq!(product["dimensions"][0]["name"], "users");
    second.terminate().await.unwrap();
}
