//! Notifications: signed SNS envelopes (verified independently of the emulator's own code),
//! HTTP confirmation and retries, EventBridge events with the shared secret.

use std::time::Duration;

use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::der::{DecodePem, Encode};

use crate::support::sqs::{
    Endpoint, RawResponse, TestEmulator, control, create_queue, http, spawn, sqs_client,
};

const PRODUCT: &str = "prod-7x3example";

fn subscribe_success() -> Value {
    json!({ "Subscription": {
        "action": "subscribe-success",
        "product_code": PRODUCT,
        "customer_identifier": "X01EXAMPLEX",
        "customer_aws_account_id": "444455556666",
        "offer_id": "offer-abc123",
        "free_trial": true
    }})
}

/// Asks the emulator to emit `event` to every matching subscription.
async fn emit(emulator: &TestEmulator, event: Value) -> RawResponse {
    control(emulator, "POST", "/_souk/notifications/emit", event).await
}

async fn queue(emulator: &TestEmulator, name: &str) -> String {
    let sqs = sqs_client(&emulator.url);
    create_queue(&sqs, name).await
}

async fn receive_bodies(emulator: &TestEmulator, url: &str, count: usize) -> Vec<String> {
    let sqs = sqs_client(&emulator.url);
    let mut bodies = Vec::new();
    // Up to 90 s: the first signed delivery on a fresh machine waits for the signing key.
    for _ in 0..90 {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        bodies.extend(
            received
                .messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
        if bodies.len() >= count {
            return bodies;
        }
    }
    panic!("expected {count} messages on {url}, got {bodies:?}");
}

/// Independent SNS verification (docs/aws/notifications.md, verifying SNS signatures): string to sign, certificate fetched from
/// SigningCertURL over HTTP, PKCS#1 v1.5 with SHA1 (version 1) or SHA256 (version 2).
async fn verify(envelope: &Value) -> bool {
    let field = |k: &str| envelope[k].as_str().map(str::to_owned);
    let keys: &[&str] = if field("Type").as_deref() == Some("Notification") {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut to_sign = String::new();
    for key in keys {
        if let Some(value) = field(key) {
            to_sign.push_str(&format!("{key}\n{value}\n"));
        }
    }
    let cert_url = field("SigningCertURL").expect("SigningCertURL");
    let cert = http("GET", &cert_url, &[], "").await;
    assert_eq!(cert.status, 200);
    let certificate = x509_cert::Certificate::from_pem(cert.body.as_bytes()).expect("certificate");
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("spki");
    let key = RsaPublicKey::from_public_key_der(&spki).expect("rsa key");
    let signature = base64::engine::general_purpose::STANDARD
        .decode(field("Signature").expect("Signature"))
        .expect("base64");
    match field("SignatureVersion").as_deref() {
        Some("1") => key
            .verify(
                Pkcs1v15Sign::new::<Sha1>(),
                &Sha1::digest(to_sign.as_bytes()),
                &signature,
            )
            .is_ok(),
        Some("2") => key
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(to_sign.as_bytes()),
                &signature,
            )
            .is_ok(),
        other => panic!("unexpected SignatureVersion {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sns_envelopes_to_sqs_verify_with_sha1_and_sha256() {
    let emulator = spawn().await;
    for version in ["1", "2"] {
        let url = queue(&emulator, &format!("sns-v{version}")).await;
        let created = control(
            &emulator,
            "POST",
            "/_souk/notifications/subscriptions",
            json!({
                "type": "sns", "protocol": "sqs", "endpoint": url, "product_code": PRODUCT,
                "topics": ["subscription"], "signature_version": version
            }),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let subscription = &created.json()["subscriptions"][0];
        assert_eq!(subscription["status"], "confirmed");
    }
    let emitted = emit(&emulator, subscribe_success()).await;
    assert_eq!(emitted.status, 202, "{}", emitted.body);

    for version in ["1", "2"] {
        let url = format!("{}/111122223333/sns-v{version}", emulator.url);
        let body = receive_bodies(&emulator, &url, 1).await.remove(0);
        let envelope: Value = serde_json::from_str(&body).expect("envelope json");
        assert_eq!(envelope["Type"], "Notification");
        assert_eq!(envelope["SignatureVersion"], version);
        assert_eq!(
            envelope["TopicArn"],
            format!(
                "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-{PRODUCT}"
            )
        );
        assert!(
            envelope["MessageId"]
                .as_str()
                .is_some_and(|id| id.len() == 36)
        );
        assert!(
            envelope["Timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
            "{envelope}"
        );
        assert!(
            envelope["UnsubscribeURL"]
                .as_str()
                .is_some_and(|u| u.contains("Action=Unsubscribe"))
        );
        let message: Value = serde_json::from_str(envelope["Message"].as_str().expect("message"))
            .expect("message json");
        assert_eq!(
            message,
            json!({
                "action": "subscribe-success",
                "customer-identifier": "X01EXAMPLEX",
                "product-code": PRODUCT,
                "offer-identifier": "offer-abc123",
                "isFreeTrialTermPresent": "true"
            })
        );
        assert!(
            verify(&envelope).await,
            "signature version {version} verifies"
        );
        let mut tampered = envelope.clone();
        tampered["Message"] = Value::String(
            envelope["Message"]
                .as_str()
                .expect("message")
                .replace("subscribe-success", "subscribe-fail"),
        );
        assert!(!verify(&tampered).await, "tampered message must not verify");
        let mut wrong_version = envelope.clone();
        wrong_version["SignatureVersion"] =
            Value::String(if version == "1" { "2" } else { "1" }.to_owned());
        assert!(
            !verify(&wrong_version).await,
            "a signature checked with the other hash must not verify"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_delivery_and_entitlement_topic() {
    let emulator = spawn().await;
    let url = queue(&emulator, "raw").await;
    let created = control(&emulator, "POST", "/_souk/notifications/subscriptions", json!({
        "protocol": "sqs", "endpoint": url, "product_code": PRODUCT, "raw_message_delivery": true
    })).await;
    assert_eq!(
        created.json()["subscriptions"].as_array().map(Vec::len),
        Some(2),
        "both topics by default"
    );
    emulator
        .emu
        .world()
        .notify
        .emit(souk_emulator::notify::Notification::EntitlementUpdated {
            product_code: PRODUCT.to_owned(),
            customer_identifier: "X01EXAMPLEX".to_owned(),
        });
    let other_product = souk_emulator::notify::Notification::EntitlementUpdated {
        product_code: "someone-else".to_owned(),
        customer_identifier: "X".to_owned(),
    };
    emulator.emu.world().notify.emit(other_product);
    let bodies = receive_bodies(&emulator, &url, 1).await;
    let message: Value = serde_json::from_str(&bodies[0]).expect("raw message is the bare JSON");
    assert_eq!(
        message,
        json!({ "action": "entitlement-updated", "customer-identifier": "X01EXAMPLEX", "product-code": PRODUCT })
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sqs = sqs_client(&emulator.url);
    let rest = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive");
    assert!(
        rest.messages().is_empty(),
        "other products' notifications are not delivered"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_subscription_is_confirmed_then_receives_signed_notifications() {
    let emulator = spawn().await;
    let endpoint = Endpoint::start(vec![]).await;
    let created = control(
        &emulator,
        "POST",
        "/_souk/notifications/subscriptions",
        json!({
            "protocol": "http", "endpoint": endpoint.url, "product_code": PRODUCT,
            "topics": ["subscription"], "signature_version": "2"
        }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.json()["subscriptions"][0]["status"],
        "pending_confirmation"
    );

    // Not delivered before confirmation.
    emit(&emulator, subscribe_success()).await;
    let confirmation = endpoint.wait_for(1).await.remove(0);
    assert_eq!(
        confirmation.headers["x-amz-sns-message-type"],
        "SubscriptionConfirmation"
    );
    let envelope: Value = serde_json::from_str(&confirmation.body).expect("json");
    assert_eq!(envelope["Type"], "SubscriptionConfirmation");
    assert!(verify(&envelope).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        endpoint.received().len(),
        1,
        "nothing delivered while pending"
    );

    let confirmed = http(
        "GET",
        envelope["SubscribeURL"].as_str().expect("SubscribeURL"),
        &[],
        "",
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(
        confirmed.body.contains("<SubscriptionArn>"),
        "{}",
        confirmed.body
    );

    emit(&emulator, subscribe_success()).await;
    let notification = endpoint.wait_for(2).await.remove(1);
    assert_eq!(
        notification.headers["x-amz-sns-message-type"],
        "Notification"
    );
    assert!(
        notification
            .headers
            .contains_key("x-amz-sns-subscription-arn")
    );
    assert!(
        notification.headers["content-type"]
            .to_str()
            .is_ok_and(|v| v.starts_with("text/plain"))
    );
    let envelope: Value = serde_json::from_str(&notification.body).expect("json");
    assert_eq!(
        notification.headers["x-amz-sns-message-id"].to_str().ok(),
        envelope["MessageId"].as_str()
    );
    assert!(verify(&envelope).await);

    // The UnsubscribeURL removes the subscription.
    let unsubscribed = http(
        "GET",
        envelope["UnsubscribeURL"].as_str().expect("UnsubscribeURL"),
        &[],
        "",
    )
    .await;
    assert_eq!(unsubscribed.status, 200, "{}", unsubscribed.body);
    let listed = control(
        &emulator,
        "GET",
        "/_souk/notifications/subscriptions",
        Value::Null,
    )
    .await;
    assert_eq!(listed.json()["subscriptions"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_deliveries_are_retried_with_backoff_then_marked_failed() {
    let emulator = spawn().await;
    let flaky = Endpoint::start(vec![500, 503]).await;
    let dead = Endpoint::start(vec![500; 10]).await;
    for endpoint in [&flaky, &dead] {
        control(
            &emulator,
            "POST",
            "/_souk/notifications/subscriptions",
            json!({
                "type": "eventbridge", "protocol": "http", "endpoint": endpoint.url
            }),
        )
        .await;
    }
    control(
        &emulator,
        "PUT",
        "/_souk/notifications/settings",
        json!({ "max_attempts": 3, "backoff_ms": 50, "public_url": emulator.url }),
    )
    .await;
    emit(&emulator, json!({ "EventBridge": {
        "source": "aws.marketplace", "detail_type": "Disbursement Paused", "resources": [], "detail": {}
    }})).await;
    assert_eq!(flaky.wait_for(3).await.len(), 3);
    assert_eq!(dead.wait_for(3).await.len(), 3);
    let mut failed = Value::Null;
    for _ in 0..50 {
        failed = control(
            &emulator,
            "GET",
            "/_souk/notifications/deliveries?status=failed",
            Value::Null,
        )
        .await
        .json();
        if failed["deliveries"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = failed["deliveries"].as_array().expect("deliveries").clone();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["attempts"], 3);
    assert_eq!(failed[0]["last_http_status"], 500);
    assert_eq!(failed[0]["target"]["endpoint"], dead.url);
    let delivered = control(
        &emulator,
        "GET",
        "/_souk/notifications/deliveries?status=delivered",
        Value::Null,
    )
    .await
    .json();
    assert_eq!(delivered["deliveries"][0]["attempts"], 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dead.received().len(), 3, "no attempts after the last one");
}

#[tokio::test(flavor = "multi_thread")]
async fn eventbridge_events_have_the_documented_shape_and_carry_the_secret() {
    let emulator = spawn().await;
    let url = queue(&emulator, "events").await;
    let endpoint = Endpoint::start(vec![]).await;
    control(&emulator, "POST", "/_souk/notifications/subscriptions", json!({
        "type": "eventbridge", "protocol": "sqs", "endpoint": url, "sources": ["aws.agreement-marketplace"]
    })).await;
    let created = control(
        &emulator,
        "POST",
        "/_souk/notifications/subscriptions",
        json!({
            "type": "eventbridge", "protocol": "http", "endpoint": endpoint.url, "secret": "s3cret",
            "detail_types": ["Purchase Agreement Created - Proposer"]
        }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let detail = json!({
        "requestId": "r-1", "catalog": "AWSMarketplace",
        "agreement": { "id": "agmt-1", "intent": "NEW", "status": "ACTIVE" },
        "acceptor": { "accountId": "444455556666" }, "proposer": { "accountId": "111122223333" },
        "offer": { "id": "offer-1" }
    });
    emulator
        .emu
        .world()
        .notify
        .emit(souk_emulator::notify::Notification::EventBridge {
            source: "aws.agreement-marketplace".to_owned(),
            detail_type: "Purchase Agreement Created - Proposer".to_owned(),
            resources: vec!["arn:aws:aws-marketplace::aws:agreement:agmt-1".to_owned()],
            detail: detail.clone(),
        });
    emulator
        .emu
        .world()
        .notify
        .emit(souk_emulator::notify::Notification::EventBridge {
            source: "aws.marketplacecatalog".to_owned(),
            detail_type: "Change Set Succeeded".to_owned(),
            resources: vec![],
            detail: json!({}),
        });
    let body = receive_bodies(&emulator, &url, 1).await.remove(0);
    let event: Value = serde_json::from_str(&body).expect("event json");
    assert_eq!(event["version"], "0");
    assert!(event["id"].as_str().is_some_and(|id| id.len() == 36));
    assert_eq!(
        event["detail-type"],
        "Purchase Agreement Created - Proposer"
    );
    assert_eq!(event["source"], "aws.agreement-marketplace");
    assert_eq!(event["account"], "111122223333");
    assert_eq!(event["region"], "us-east-1");
    assert!(
        event["time"]
            .as_str()
            .is_some_and(|t| t.len() == 20 && t.ends_with('Z')),
        "{event}"
    );
    assert_eq!(
        event["resources"],
        json!(["arn:aws:aws-marketplace::aws:agreement:agmt-1"])
    );
    assert_eq!(event["detail"], detail);

    let received = endpoint.wait_for(1).await;
    assert_eq!(received[0].headers["x-souk-eventbridge-secret"], "s3cret");
    assert_eq!(received[0].headers["content-type"], "application/json");
    let event: Value = serde_json::from_str(&received[0].body).expect("json");
    assert_eq!(
        event["detail-type"],
        "Purchase Agreement Created - Proposer"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        endpoint.received().len(),
        1,
        "the catalog event does not match the http rule"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn control_api_rejects_bad_subscriptions() {
    let emulator = spawn().await;
    let cases = [
        json!({ "protocol": "sqs", "endpoint": "http://x/1/none", "product_code": PRODUCT }),
        json!({ "protocol": "http", "endpoint": "https://example.com", "product_code": PRODUCT }),
        json!({ "protocol": "http", "endpoint": "http://127.0.0.1:9/x" }),
        json!({ "protocol": "carrier-pigeon", "endpoint": "x", "product_code": PRODUCT }),
        json!({ "type": "sms", "protocol": "http", "endpoint": "http://127.0.0.1:9/x" }),
        json!({ "protocol": "http", "endpoint": "http://127.0.0.1:9/x", "product_code": PRODUCT, "signature_version": "3" }),
        json!("nonsense"),
    ];
    for case in cases {
        let response = control(
            &emulator,
            "POST",
            "/_souk/notifications/subscriptions",
            case.clone(),
        )
        .await;
        assert_eq!(response.status, 400, "{case}: {}", response.body);
    }
    let response = emit(&emulator, json!({ "Nope": {} })).await;
    assert_eq!(response.status, 400);
    let response = control(
        &emulator,
        "DELETE",
        "/_souk/notifications/subscriptions/none",
        Value::Null,
    )
    .await;
    assert_eq!(response.status, 404);
    let response = control(
        &emulator,
        "GET",
        "/_souk/notifications/deliveries?status=weird",
        Value::Null,
    )
    .await;
    assert_eq!(response.status, 400);
    let response = http(
        "GET",
        &format!("{}/_souk/sns/confirm?Token=bogus", emulator.url),
        &[],
        "",
    )
    .await;
    assert_eq!(response.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_and_subscriptions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = souk_emulator::EmulatorConfig {
        state_file: Some(dir.path().join("state.json")),
        ..Default::default()
    };
    let first = souk_emulator::spawn(config.clone()).await.expect("spawn");
    let sqs = sqs_client(&first.url);
    let url = create_queue(&sqs, "kept").await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("still here")
        .send()
        .await
        .expect("send");
    let created = http(
        "POST",
        &format!("{}/_souk/notifications/subscriptions", first.url),
        &[("Content-Type", "application/json")],
        &json!({ "protocol": "sqs", "endpoint": url, "product_code": PRODUCT, "topics": ["entitlement"] }).to_string(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    first.stop().await.expect("stop");

    let second = souk_emulator::spawn(config).await.expect("respawn");
    let sqs = sqs_client(&second.url);
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive");
    assert_eq!(received.messages()[0].body(), Some("still here"));
    let subscriptions = second.emulator.world().notify.subscriptions.clone();
    assert_eq!(subscriptions.len(), 1);
    assert!(matches!(
        subscriptions[0].feed,
        souk_emulator::notify::Feed::Sns {
            topic: souk_emulator::notify::SnsTopic::Entitlement,
            ..
        }
    ));
}
