//! Helpers shared by the tests: per-test namespaces and streams, events, outbox appends.

use std::time::Duration;

use async_nats::jetstream;
use souk_core::SystemClock;
use souk_events::{Area, JetStreamPublisher, Namespace, StreamSettings, new_event, outbox_record};
use souk_proto::events::{Event, SubscriptionCancelPending, event::Payload};
use souk_store::{Store, outbox};

/// Stream settings under a prefix of their own, so tests never share streams.
pub fn unique_settings() -> StreamSettings {
    let namespace = Namespace::new(&souk_testkit::nats::unique_prefix()).unwrap();
    StreamSettings {
        namespace,
        // Leftovers of a crashed test go away on their own.
        max_age: Duration::from_secs(600),
        ..StreamSettings::default()
    }
}

/// A JetStream publisher with its streams created.
pub async fn publisher(settings: &StreamSettings) -> JetStreamPublisher {
    let client = souk_testkit::nats::connect().await.unwrap();
    JetStreamPublisher::start(client, settings.clone())
        .await
        .unwrap()
}

/// Deletes the streams of `settings`.
pub async fn delete_streams(context: &jetstream::Context, settings: &StreamSettings) {
    for area in Area::ALL {
        let _ = context
            .delete_stream(settings.namespace.stream_name(area))
            .await;
    }
}

/// How many messages the stream of `area` holds.
pub async fn stream_len(
    context: &jetstream::Context,
    settings: &StreamSettings,
    area: Area,
) -> u64 {
    let stream = context
        .get_stream(settings.namespace.stream_name(area))
        .await
        .unwrap();
    stream.cached_info().state.messages
}

/// A `subscription.cancel_pending` event of `org`.
pub fn cancel_pending(org: &str) -> Event {
    let mut event = new_event(&SystemClock, "subscription.cancel_pending", org).unwrap();
    event.payload = Some(Payload::SubscriptionCancelPending(
        SubscriptionCancelPending::default(),
    ));
    event
}

/// A store with the shared tables migrated.
pub async fn migrated(store: Store) -> Store {
    store.migrate(&[]).await.unwrap();
    store
}

/// Appends `event` in a transaction of its own and commits; returns its seq.
pub async fn append(store: &Store, namespace: &Namespace, event: &Event) -> i64 {
    let record = outbox_record(namespace, event).unwrap();
    let mut tx = store.begin_write().await.unwrap();
    let seq = outbox::append(&mut tx, &record).await.unwrap();
    tx.commit().await.unwrap();
    seq
}

/// How many outbox rows are still pending.
pub async fn pending(store: &Store) -> usize {
    outbox::pending(store.pool(), 10_000).await.unwrap().len()
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
