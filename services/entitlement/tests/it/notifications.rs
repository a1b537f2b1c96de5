//! Notifications from the emulator reaching the entitlement service by its three routes (the SNS
//! endpoint, an SQS queue, the EventBridge endpoint), and forged or replayed ones refused,
//! parked and counted without changing anything.
//!
//! Genuine envelopes to tamper with are captured from an emulator queue (the delivery log keeps
//! each body), so only the test's own POSTs reach the endpoint and every answer is asserted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use souk_entitlement::domain::model::SubscriptionState;

use crate::harness::{
    BUYER, CONCURRENT_PRODUCT, FOREIGN_PRODUCT, Harness, PRODUCT, envelope_action,
    envelope_timestamp, eventually, ids, subscription_topic,
};

const HOUR: time::Duration = time::Duration::hours(1);

/// The body of the first delivery of emulator subscription `id`.
async fn captured(harness: &Harness, id: &str) -> String {
    let deliveries = harness.settled_deliveries(id, 1).await;
    assert_eq!(deliveries[0]["status"], "delivered", "{deliveries:?}");
    deliveries[0]["body"]
        .as_str()
        .expect("delivery body")
        .to_owned()
}

/// A genuine subscribe-success envelope for `product`, captured from a queue.
async fn genuine_envelope(harness: &Harness, queue: &str, product: &str) -> String {
    let id = harness
        .sns_subscribe("sqs", queue, product, &["subscription"])
        .await
        .remove(0);
    harness.buyer_subscribes(product).await;
    captured(harness, &id).await
}

/// `body` (an envelope) with member `key` set to `value`.
fn with(body: &str, key: &str, value: Value) -> String {
    let mut envelope: Value = serde_json::from_str(body).expect("envelope JSON");
    envelope[key] = value;
    envelope.to_string()
}

/// The delivered envelope of subscription `id` whose message has `action`.
async fn delivered_action(harness: &Harness, id: &str, action: &str) -> String {
    eventually(&format!("a delivered {action}"), || async {
        harness
            .deliveries(id)
            .await
            .into_iter()
            .filter(|d| d["status"] == "delivered")
            .filter_map(|d| d["body"].as_str().map(str::to_owned))
            .find(|body| envelope_action(body) == action)
    })
    .await
}

/// Subscribe, cancel, and the final hour passing, as `integration` sees them through `id`'s
/// deliveries.
async fn lifecycle(harness: &Harness, subscription_topic_id: &str) {
    let integration = &harness.legacy;
    harness.buyer_subscribes(PRODUCT).await;
    let active = harness
        .subscription_where(integration, "an active subscription", |s| {
            s.state == SubscriptionState::Active
        })
        .await;
    assert_eq!(active.product_code, PRODUCT);

    harness.buyer_unsubscribes(PRODUCT).await;
    let pending = harness
        .subscription_where(integration, "a cancel-pending subscription", |s| {
            s.state == SubscriptionState::CancelPending
        })
        .await;
    let notice = delivered_action(harness, subscription_topic_id, "unsubscribe-pending").await;
    assert_eq!(
        pending.final_metering_deadline,
        Some(envelope_timestamp(&notice) + HOUR),
        "the final metering hour starts at the notice"
    );

    harness.advance_hours(2).await;
    let cancelled = harness
        .subscription_where(integration, "a cancelled subscription", |s| {
            s.state == SubscriptionState::Cancelled
        })
        .await;
    assert_eq!(cancelled.id, active.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn sns_http_subscriptions_are_confirmed_for_accepted_topics_only_and_drive_the_lifecycle() {
    let harness = Harness::start().await;
    let endpoint = format!("{}/aws/sns/{}", harness.url, harness.legacy.id);
    let accepted = harness
        .sns_subscribe("http", &endpoint, PRODUCT, &["subscription", "entitlement"])
        .await;
    let foreign = harness
        .sns_subscribe("http", &endpoint, FOREIGN_PRODUCT, &["subscription"])
        .await;

    eventually("both accepted topics confirmed", || async {
        let statuses = harness.subscription_statuses(&accepted).await;
        (statuses.len() == 2 && statuses.iter().all(|(_, s)| s == "confirmed")).then_some(())
    })
    .await;
    let refused = harness.settled_deliveries(&foreign[0], 1).await;
    assert_eq!(refused[0]["kind"], "SubscriptionConfirmation");
    assert_eq!(refused[0]["status"], "failed");
    assert_eq!(refused[0]["last_http_status"], 403);
    assert_eq!(
        harness.subscription_statuses(&foreign).await,
        vec![(foreign[0].clone(), "pending_confirmation".to_owned())],
        "a foreign topic's confirmation is never visited"
    );
    let letters = harness.dead_letters("entitlement.sns").await;
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].letter.reason,
        format!(
            "topic {} is not accepted for this integration",
            subscription_topic(FOREIGN_PRODUCT)
        )
    );
    assert_eq!(
        letters[0].letter.subject,
        format!("sns/{}", harness.legacy.id)
    );

    lifecycle(&harness, &accepted[0]).await;
    assert_eq!(harness.parked(), vec![("sns", "unknown_topic", 1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sqs_queue_drives_the_lifecycle_and_unreadable_messages_are_parked_and_deleted() {
    let harness = Harness::start().await;
    let queue = harness.create_queue("souk-notifications").await;
    let topics = harness
        .sns_subscribe("sqs", &queue, PRODUCT, &["subscription", "entitlement"])
        .await;
    harness
        .directory
        .set_queues(&harness.legacy.id, vec![queue.clone()]);
    let background = harness.app.start();

    lifecycle(&harness, &topics[0]).await;

    harness.send_message(&queue, "not json").await;
    let letters = eventually("the unreadable message parked", || async {
        let letters = harness.dead_letters("entitlement.sqs").await;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0]
            .letter
            .reason
            .starts_with("SQS body: invalid JSON"),
        "{}",
        letters[0].letter.reason
    );
    assert_eq!(letters[0].letter.payload, b"not json");
    eventually("every message deleted", || async {
        (harness.queue_depth(&queue).await == 0).then_some(())
    })
    .await;
    assert_eq!(harness.parked(), vec![("sqs", "malformed", 1)]);

    tokio::time::timeout(Duration::from_secs(10), background.shutdown())
        .await
        .expect("the pollers stop promptly");
}

/// Counts connections to a host that must never be contacted.
async fn trap() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (format!("http://{address}"), connections)
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_sns_messages_are_refused_change_nothing_and_are_parked() {
    let harness = Harness::start().await;
    let capture = harness.create_queue("capture").await;
    let genuine = genuine_envelope(&harness, &capture, PRODUCT).await;
    let foreign = genuine_envelope(&harness, &capture, FOREIGN_PRODUCT).await;
    let (trap_url, trap_connections) = trap().await;

    let signature: Value =
        serde_json::from_str::<Value>(&genuine).expect("JSON")["Signature"].clone();
    let mut signature = base64::engine::general_purpose::STANDARD
        .decode(signature.as_str().expect("Signature"))
        .expect("base64");
    signature[10] ^= 0x01;
    let flipped = base64::engine::general_purpose::STANDARD.encode(signature);

    let foreign_cert = format!("{trap_url}/_souk/sns/SimpleNotificationService-souk.pem");
    let look_alike = "https://sns.us-east-1.amazonaws.com.evil.test/x.pem";
    let cases: Vec<(&str, String, u16, String)> = vec![
        (
            "bad signature",
            with(&genuine, "Signature", json!(flipped)),
            403,
            "bad signature".to_owned(),
        ),
        (
            "certificate on a foreign host",
            with(&genuine, "SigningCertURL", json!(foreign_cert)),
            403,
            format!("certificate URL not allowed: {foreign_cert}"),
        ),
        (
            "certificate on a look-alike host",
            with(&genuine, "SigningCertURL", json!(look_alike)),
            403,
            format!("certificate URL not allowed: {look_alike}"),
        ),
        (
            "genuine, but from a topic the integration does not accept",
            foreign.clone(),
            403,
            format!(
                "topic {} is not accepted for this integration",
                subscription_topic(FOREIGN_PRODUCT)
            ),
        ),
        (
            "unknown SignatureVersion",
            with(&genuine, "SignatureVersion", json!("3")),
            400,
            "unsupported SignatureVersion \"3\"".to_owned(),
        ),
        (
            "not an envelope",
            "{\"hello\": \"world\"}".to_owned(),
            400,
            "SNS envelope: missing Type".to_owned(),
        ),
        (
            "over 256 KiB",
            format!("{{\"Message\": \"{}\"}}", "x".repeat(300 * 1024)),
            413,
            "body exceeds 262144 bytes".to_owned(),
        ),
    ];
    for (case, body, status, reason) in &cases {
        let answer = harness.post_sns(&harness.legacy, body.clone()).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (*status, reason.as_str()),
            "{case}"
        );
    }
    let unknown = harness
        .post(
            "/aws/sns/int_0123456789abcdef0123456789abcdef",
            &[],
            genuine.clone(),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (404, "unknown integration")
    );

    assert_eq!(
        trap_connections.load(Ordering::SeqCst),
        0,
        "nothing fetched from the foreign host"
    );
    assert!(
        harness.customers(&harness.legacy).await.is_empty(),
        "nothing changed"
    );
    assert_eq!(
        harness.parked(),
        vec![
            ("sns", "bad_signature", 1),
            ("sns", "certificate_url", 2),
            ("sns", "malformed", 1),
            ("sns", "too_large", 1),
            ("sns", "unknown_topic", 1),
            ("sns", "unsupported_signature_version", 1),
        ]
    );
    let letters = harness.dead_letters("entitlement.sns").await;
    let reasons: Vec<&str> = letters.iter().map(|l| l.letter.reason.as_str()).collect();
    let expected: Vec<&str> = cases
        .iter()
        .map(|(_, _, _, reason)| reason.as_str())
        .collect();
    assert_eq!(
        reasons, expected,
        "one dead letter per refused body, with its reason"
    );
    let organization = harness.legacy.organization_id.to_string();
    assert!(
        letters
            .iter()
            .all(|l| l.letter.organization_id.as_deref() == Some(&organization))
    );
    assert_eq!(letters[0].letter.payload, cases[0].1.as_bytes());
    assert!(
        letters[6].letter.payload.is_empty(),
        "an oversized body is not kept"
    );

    // The message all the forgeries were made of is accepted as it came.
    let answer = harness.post_sns(&harness.legacy, genuine).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    let [subscription] = harness
        .subscriptions(&harness.legacy)
        .await
        .try_into()
        .expect("one");
    assert_eq!(subscription.state, SubscriptionState::Active);
}

/// Souk's clock is the emulator's (as in the sandbox), so moving it past `sns_max_age` makes a
/// captured genuine envelope a replay, with no re-signing and no waiting.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_sns_message_is_refused_as_stale() {
    let harness = Harness::start().await;
    let capture = harness.create_queue("capture").await;
    let genuine = genuine_envelope(&harness, &capture, PRODUCT).await;
    let first = harness.post_sns(&harness.legacy, genuine.clone()).await;
    assert_eq!((first.status, first.body.as_str()), (200, "ok"));

    harness.advance_hours(2).await;
    let replayed = harness.post_sns(&harness.legacy, genuine.clone()).await;
    assert_eq!(
        (replayed.status, replayed.body.as_str()),
        (400, "stale message: Timestamp is older than sns_max_age")
    );
    assert_eq!(harness.parked(), vec![("sns", "stale", 1)]);
    let letters = harness.dead_letters("entitlement.sns").await;
    let message_id = serde_json::from_str::<Value>(&genuine).expect("JSON")["MessageId"].clone();
    assert_eq!(
        json!(letters[0].letter.event_id),
        message_id,
        "an authenticated message is parked under its own id"
    );
    let [subscription] = harness
        .subscriptions(&harness.legacy)
        .await
        .try_into()
        .expect("one");
    assert_eq!(subscription.state, SubscriptionState::Active);
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_topics_replace_the_defaults_and_a_notice_that_cannot_apply_is_parked() {
    let harness = Harness::start().await;
    let capture = harness.create_queue("capture").await;
    let genuine = genuine_envelope(&harness, &capture, PRODUCT).await;
    let foreign = genuine_envelope(&harness, &capture, FOREIGN_PRODUCT).await;
    harness
        .update_settings(
            &harness.legacy,
            Some(vec![subscription_topic(FOREIGN_PRODUCT)]),
        )
        .await;

    let own = harness.post_sns(&harness.legacy, genuine).await;
    assert_eq!(own.status, 403, "{}", own.body);
    // Authentic and from an accepted topic, but about a product the integration does not sell:
    // acknowledged so that SNS stops retrying, and parked.
    let answer = harness.post_sns(&harness.legacy, foreign).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "parked: the notice cannot be applied")
    );
    assert_eq!(
        harness.parked(),
        vec![("sns", "rejected", 1), ("sns", "unknown_topic", 1)]
    );
    let letters = harness.dead_letters("entitlement.sns").await;
    assert_eq!(
        letters[1].letter.reason,
        format!(
            "product {FOREIGN_PRODUCT} is not a product of integration {}",
            harness.legacy.id
        )
    );
    assert!(harness.customers(&harness.legacy).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn eventbridge_events_need_the_integrations_secret() {
    let harness = Harness::start().await;
    let integration = &harness.concurrent;
    let path = format!("/aws/eventbridge/{}", integration.id);
    let secret_header = "x-souk-eventbridge-secret";

    let no_secret = harness.post(&path, &[(secret_header, "guess")], "{}").await;
    assert_eq!(
        (no_secret.status, no_secret.body.as_str()),
        (
            403,
            "no EventBridge secret is configured for this integration"
        )
    );
    let secret = harness
        .update_settings(integration, None)
        .await
        .expect("the first settings change generates the secret");

    // A genuine `Purchase Agreement Created - Proposer` event, captured from a queue.
    let capture = harness.create_queue("capture").await;
    let created = harness
        .control_post(
            "/_souk/notifications/subscriptions",
            json!({"type": "eventbridge", "protocol": "sqs", "endpoint": capture,
                   "detail_types": ["Purchase Agreement Created - Proposer"]}),
        )
        .await;
    harness.buyer_subscribes(CONCURRENT_PRODUCT).await;
    let event = captured(&harness, &ids(&created)[0]).await;

    let wrong_secret = format!("{secret}x");
    for headers in [vec![(secret_header, wrong_secret.as_str())], vec![]] {
        let answer = harness.post(&path, &headers, event.clone()).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (401, "missing or wrong x-souk-eventbridge-secret header")
        );
    }
    assert!(
        harness.customers(integration).await.is_empty(),
        "nothing changed"
    );

    let answer = harness
        .post(&path, &[(secret_header, secret.as_str())], event)
        .await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    let active = harness
        .subscription_where(integration, "an active subscription", |s| {
            s.state == SubscriptionState::Active
        })
        .await;
    let [customer] = harness
        .customers(integration)
        .await
        .try_into()
        .expect("one");
    assert_eq!(customer.aws_account_id.as_deref(), Some(BUYER));
    assert_eq!(active.customer_id, customer.id);

    // The emulator's own API-destination delivery, with the secret in its header.
    harness
        .control_post(
            "/_souk/notifications/subscriptions",
            json!({"type": "eventbridge", "protocol": "http",
                   "endpoint": format!("{}{path}", harness.url), "secret": secret,
                   "detail_types": ["Purchase Agreement Ended - Proposer"]}),
        )
        .await;
    harness.buyer_unsubscribes(CONCURRENT_PRODUCT).await;
    harness
        .subscription_where(integration, "a cancel-pending subscription", |s| {
            s.state == SubscriptionState::CancelPending
        })
        .await;

    assert_eq!(
        harness.parked(),
        vec![
            ("eventbridge", "bad_secret", 2),
            ("eventbridge", "no_secret", 1)
        ]
    );
    let letters = harness.dead_letters("entitlement.eventbridge").await;
    let reasons: Vec<&str> = letters.iter().map(|l| l.letter.reason.as_str()).collect();
    // The two refusals of the same body share one dead letter (keyed by the body's hash).
    assert_eq!(
        reasons,
        vec![
            "no EventBridge secret is configured for this integration",
            "missing or wrong x-souk-eventbridge-secret header",
        ]
    );
    assert!(
        letters
            .iter()
            .all(|l| !String::from_utf8_lossy(&l.letter.payload).contains(&secret)),
        "the secret is never stored"
    );
}
