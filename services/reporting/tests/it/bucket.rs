//! `AwsFeedBucket` against the emulator's S3 through the official SDK client, as the
//! integration's assumed role: listing every page, whole objects, and S3's errors and injected
//! faults in the domain's terms.

use std::sync::Arc;

use souk_core::Id;
use souk_reporting::aws::{AwsFeedBucket, FeedSource};
use souk_reporting::domain::ports::{CallError, FeedBucket, FeedObject};

use crate::support::Emu;

fn bucket(emu: &Emu) -> AwsFeedBucket {
    AwsFeedBucket::new(emu.assumer.clone(), emu.feeds.clone())
}

fn refused(result: Result<impl std::fmt::Debug, CallError>) -> (String, String) {
    match result {
        Err(CallError::Refused { code, message }) => (code, message),
        other => panic!("expected Refused, got {other:?}"),
    }
}

fn retry(result: Result<impl std::fmt::Debug, CallError>) -> String {
    match result {
        Err(CallError::Retry(message)) => message,
        other => panic!("expected Retry, got {other:?}"),
    }
}

async fn listed(emu: &Emu, key: &str) -> FeedObject {
    bucket(emu)
        .list(&emu.acting())
        .await
        .expect("lists")
        .into_iter()
        .find(|o| o.key == key)
        .expect("listed")
}

#[tokio::test]
async fn list_returns_every_generated_key_over_pages_as_a_direct_get_sees_it() {
    let emu = Emu::start().await;
    assert!(emu.keys.len() > 3, "feeds generated: {:?}", emu.keys);
    // Three keys a page: several ListObjectsV2 calls with continuation tokens.
    let objects = bucket(&emu)
        .with_page_size(3)
        .list(&emu.acting())
        .await
        .expect("lists");
    let mut keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    let mut generated: Vec<&str> = emu.keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    generated.sort_unstable();
    assert_eq!(keys, generated);
    assert!(
        objects
            .iter()
            .any(|o| o.key.starts_with("billing_event_v1/"))
    );
    for object in &objects {
        let direct = emu.direct_get(&object.key).await;
        assert_eq!(direct.status, 200, "{}", object.key);
        assert_eq!(Some(&object.etag), direct.etag.as_ref(), "{}", object.key);
        assert!(!object.etag.contains('"'));
        assert_eq!(object.size, direct.body.len() as u64, "{}", object.key);
        assert!(object.last_modified.is_some(), "{}", object.key);
    }
    // One page of everything lists the same.
    let whole = bucket(&emu).list(&emu.acting()).await.expect("lists");
    assert_eq!(whole, objects);
}

#[tokio::test]
async fn get_returns_the_exact_bytes_of_every_object() {
    let emu = Emu::start().await;
    let feed = bucket(&emu);
    for object in feed.list(&emu.acting()).await.expect("lists") {
        let bytes = feed.get(&emu.acting(), &object).await.expect("reads");
        assert_eq!(
            bytes,
            emu.direct_get(&object.key).await.body,
            "{}",
            object.key
        );
        assert_eq!(bytes.len() as u64, object.size);
    }
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_refused() {
    let emu = Emu::start().await;
    let integration = Id::generate("int");
    emu.set_source(
        &integration,
        Some(FeedSource {
            role: emu.role.clone(),
            bucket: "souk-no-such-feed-bucket".into(),
        }),
    );
    let feed = bucket(&emu);
    let (code, message) = refused(feed.list(&emu.acting_for(&integration)).await);
    assert_eq!(code, "NoSuchBucket");
    assert!(message.contains("souk-no-such-feed-bucket"), "{message}");
    assert!(message.contains("data_feed_bucket"), "{message}");
    let object = listed(&emu, &emu.keys[0]).await;
    let (code, _) = refused(feed.get(&emu.acting_for(&integration), &object).await);
    assert_eq!(code, "NoSuchBucket");
}

#[tokio::test]
async fn an_integration_without_a_feed_bucket_is_refused() {
    let emu = Emu::start().await;
    let feed = bucket(&emu);
    let unknown = Id::generate("int");
    let (code, message) = refused(feed.list(&emu.acting_for(&unknown)).await);
    assert_eq!(code, "NoDataFeedBucket");
    assert!(message.contains("set data_feed_bucket"), "{message}");

    let blank = Id::generate("int");
    emu.set_source(
        &blank,
        Some(FeedSource {
            role: emu.role.clone(),
            bucket: " ".into(),
        }),
    );
    let object = listed(&emu, &emu.keys[0]).await;
    let (code, _) = refused(feed.get(&emu.acting_for(&blank), &object).await);
    assert_eq!(code, "NoDataFeedBucket");

    let roleless = Id::generate("int");
    let mut role = emu.role.clone();
    role.role_arn = String::new();
    emu.set_source(
        &roleless,
        Some(FeedSource {
            role,
            bucket: emu.bucket.clone(),
        }),
    );
    let (code, message) = refused(feed.list(&emu.acting_for(&roleless)).await);
    assert_eq!(code, "NoRole");
    assert!(message.contains("role_arn"), "{message}");
}

#[tokio::test]
async fn a_role_sts_refuses_is_refused() {
    let emu = Emu::start().await;
    let integration = Id::generate("int");
    let mut role = emu.role.clone();
    role.integration_id = integration.to_string();
    role.external_id = "not-the-external-id".into();
    emu.set_source(
        &integration,
        Some(FeedSource {
            role,
            bucket: emu.bucket.clone(),
        }),
    );
    let (code, message) = refused(bucket(&emu).list(&emu.acting_for(&integration)).await);
    assert_eq!(code, "AssumeRoleFailed");
    assert!(message.contains("ExternalId"), "{message}");
}

#[tokio::test]
async fn a_key_gone_since_listing_is_refused() {
    let emu = Emu::start().await;
    let mut object = listed(&emu, &emu.keys[0]).await;
    object.key = "billing_event_v1/year=1999/month=01/data.csv".into();
    let (code, _) = refused(bucket(&emu).get(&emu.acting(), &object).await);
    assert_eq!(code, "NoSuchKey");
}

#[tokio::test]
async fn denied_s3_actions_are_refused_with_what_to_allow() {
    let emu = Emu::start().await;
    let object = listed(&emu, &emu.keys[0]).await;
    emu.control(
        "POST",
        "/_souk/sts/roles/deny",
        serde_json::json!({"role_arn": crate::support::ROLE_ARN, "actions": ["s3:*"]}),
    )
    .await;
    let feed = bucket(&emu);
    let (code, message) = refused(feed.list(&emu.acting()).await);
    assert!(code.starts_with("AccessDenied"), "{code}: {message}");
    assert!(message.contains("s3:ListBucket"), "{message}");
    let (code, _) = refused(feed.get(&emu.acting(), &object).await);
    assert!(code.starts_with("AccessDenied"), "{code}");
}

#[tokio::test]
async fn s3_slow_down_a_couple_of_times_is_retried_transparently() {
    let emu = Emu::start().await;
    // S3's own throttling answer (503 `SlowDown` in S3's `<Error>` shape) to the first two
    // S3 requests of each call, then the emulator.
    let front = emu.slow_down_front(2).await;
    let feed = AwsFeedBucket::new(emu.assumer_at(&front.url), emu.feeds.clone());
    let objects = feed
        .list(&emu.acting())
        .await
        .expect("lists after two SlowDowns");
    assert_eq!(front.throttled(), 2);
    assert_eq!(objects.len(), emu.keys.len());

    let front = emu.slow_down_front(2).await;
    let feed = AwsFeedBucket::new(emu.assumer_at(&front.url), emu.feeds.clone());
    let bytes = feed
        .get(&emu.acting(), &objects[0])
        .await
        .expect("reads after two SlowDowns");
    assert_eq!(front.throttled(), 2);
    assert_eq!(bytes, emu.direct_get(&objects[0].key).await.body);

    // Still throttled after the SDK's attempts: Retry.
    let front = emu.slow_down_front(u32::MAX).await;
    let feed = AwsFeedBucket::new(emu.assumer_at(&front.url), emu.feeds.clone());
    let message = retry(feed.list(&emu.acting()).await);
    assert!(message.contains("SlowDown"), "{message}");
    assert!(message.contains("503"), "{message}");
}

/// The emulator's S3 `throttle` fault is S3's `503 SlowDown`, which the SDK's standard retry
/// retries.
#[tokio::test]
async fn emulator_throttling_a_couple_of_times_is_retried_transparently() {
    let emu = Emu::start().await;
    let feed = bucket(&emu);
    emu.fault("ListObjectsV2", "throttle", Some(2)).await;
    let objects = feed
        .list(&emu.acting())
        .await
        .expect("lists after two throttles");
    assert_eq!(objects.len(), emu.keys.len());
    assert!(emu.faults().await.is_empty(), "both throttles were hit");

    emu.fault("GetObject", "throttle", Some(2)).await;
    let bytes = feed
        .get(&emu.acting(), &objects[0])
        .await
        .expect("reads after two throttles");
    assert_eq!(bytes, emu.direct_get(&objects[0].key).await.body);
    assert!(emu.faults().await.is_empty(), "both throttles were hit");
}

#[tokio::test]
async fn a_couple_of_5xx_are_retried_transparently() {
    let emu = Emu::start().await;
    let feed = bucket(&emu);
    emu.fault("ListObjectsV2", "server_error", Some(2)).await;
    let objects = feed
        .list(&emu.acting())
        .await
        .expect("lists after two 500s");
    assert_eq!(objects.len(), emu.keys.len());
    emu.fault("GetObject", "server_error", Some(2)).await;
    feed.get(&emu.acting(), &objects[0])
        .await
        .expect("reads after two 500s");
    assert!(emu.faults().await.is_empty());
}

#[tokio::test]
async fn persistent_5xx_and_throttling_end_as_retry() {
    let emu = Emu::start().await;
    let feed = bucket(&emu);
    let object = listed(&emu, &emu.keys[0]).await;
    emu.fault("ListObjectsV2", "server_error", None).await;
    let message = retry(feed.list(&emu.acting()).await);
    assert!(message.contains("InternalError"), "{message}");
    emu.fault("GetObject", "throttle", None).await;
    let message = retry(feed.get(&emu.acting(), &object).await);
    assert!(message.contains("SlowDown"), "{message}");
    emu.control("DELETE", "/_souk/faults", serde_json::Value::Null)
        .await;
    feed.list(&emu.acting()).await.expect("lists once healed");
}

#[tokio::test]
async fn an_object_shorter_or_longer_than_listed_is_retried_never_returned() {
    let emu = Emu::start().await;
    let feed = bucket(&emu);
    let key = emu
        .keys
        .iter()
        .find(|k| k.starts_with("billing_event_v1/"))
        .expect("billing events")
        .clone();
    let object = listed(&emu, &key).await;
    let original = std::fs::read(emu.file(&key)).expect("feed file");
    assert_eq!(original.len() as u64, object.size);

    // Cut short after listing: what a truncated transfer would hand over.
    std::fs::write(emu.file(&key), &original[..original.len() / 2]).expect("truncate");
    let message = retry(feed.get(&emu.acting(), &object).await);
    assert!(
        message.contains(&format!("listed with {}", object.size)),
        "{message}"
    );

    // Grown after listing.
    let mut longer = original.clone();
    longer.extend_from_slice(b"\"extra\"\n");
    std::fs::write(emu.file(&key), &longer).expect("grow");
    retry(feed.get(&emu.acting(), &object).await);

    // Listed again, the new content is whole.
    let relisted = listed(&emu, &key).await;
    assert_eq!(relisted.size, longer.len() as u64);
    assert_ne!(relisted.etag, object.etag);
    assert_eq!(
        feed.get(&emu.acting(), &relisted).await.expect("reads"),
        longer
    );
}

#[tokio::test]
async fn one_feed_bucket_serves_concurrent_reads() {
    let emu = Emu::start().await;
    let feed = Arc::new(bucket(&emu));
    let objects = feed.list(&emu.acting()).await.expect("lists");
    let reads = objects.iter().cloned().map(|object| {
        let feed = Arc::clone(&feed);
        let acting = emu.acting();
        tokio::spawn(async move { feed.get(&acting, &object).await })
    });
    for read in reads.collect::<Vec<_>>() {
        read.await.expect("joins").expect("reads");
    }
}

#[tokio::test]
async fn dropped_connections_are_retried_transparently_then_end_as_retry() {
    let emu = Emu::start().await;
    let feed = bucket(&emu);
    emu.fault("ListObjectsV2", "drop", Some(1)).await;
    let objects = feed
        .list(&emu.acting())
        .await
        .expect("lists after one drop");
    assert_eq!(objects.len(), emu.keys.len());
    emu.fault("GetObject", "drop", Some(1)).await;
    let bytes = feed
        .get(&emu.acting(), &objects[0])
        .await
        .expect("reads after one drop");
    assert_eq!(bytes, emu.direct_get(&objects[0].key).await.body);
    assert!(emu.faults().await.is_empty(), "both drops were hit");

    emu.fault("GetObject", "drop", None).await;
    let message = retry(feed.get(&emu.acting(), &objects[0]).await);
    assert!(message.contains("connection failed"), "{message}");
}
