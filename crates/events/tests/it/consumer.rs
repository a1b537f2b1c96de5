//! Durable consumers: retries, dead-lettering of failing and malformed messages, and that the
//! consumer keeps going afterwards; on JetStream and on the in-process bus.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use souk_events::{
    Area, Backoff, ConsumerConfig, EventHandler, HandlerError, InProcessBus, OutgoingEvent,
    Publisher, outbox_record, start_bus_consumer, start_jetstream_consumer,
};
use souk_proto::events::Event;
use souk_store::Store;
use souk_store::dead_letter::{self, DeadLetterEntry, ListQuery};
use souk_testkit::both_backends;
use tokio::sync::mpsc;

use crate::support::{
    cancel_pending, delete_streams, eventually, migrated, publisher, unique_settings,
};

/// How often the handler was called, per event id.
type Calls = Arc<Mutex<HashMap<String, u32>>>;

/// Fails `retry_id` every time (retryable), `fatal_id` at once, handles everything else.
struct Handler {
    retry_id: String,
    fatal_id: String,
    calls: Calls,
    handled: mpsc::Sender<String>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(event.id.clone())
            .or_default() += 1;
        if event.id == self.retry_id {
            return Err(HandlerError::Retry("crm is down".into()));
        }
        if event.id == self.fatal_id {
            return Err(HandlerError::Fatal("unknown customer".into()));
        }
        let _ = self.handled.send(event.id.clone()).await;
        Ok(())
    }
}

fn config(name: &str) -> ConsumerConfig {
    ConsumerConfig {
        ack_wait: Duration::from_secs(5),
        handler_timeout: Duration::from_secs(4),
        retry_backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        ..ConsumerConfig::new(name, Area::Subscription)
    }
}

async fn letters(store: &Store, consumer: &str) -> Vec<DeadLetterEntry> {
    let query = ListQuery {
        consumer: Some(consumer.into()),
        limit: 100,
        ..ListQuery::default()
    };
    dead_letter::list(store.pool(), &query).await.unwrap()
}

fn outgoing(namespace: &souk_events::Namespace, event: &Event) -> OutgoingEvent {
    let record = outbox_record(namespace, event).unwrap();
    OutgoingEvent {
        id: record.event_id,
        subject: record.subject,
        event_type: record.event_type,
        organization_id: record.organization_id,
        payload: Bytes::from(record.payload),
    }
}

/// The id of [`malformed`].
const MALFORMED_ID: &str = "garbage-1";
/// The payload of [`malformed`]: not protobuf.
const MALFORMED_PAYLOAD: &[u8] = b"\xff\xffnot protobuf";

/// A message on the consumer's subject whose payload does not decode.
fn malformed(namespace: &souk_events::Namespace) -> OutgoingEvent {
    OutgoingEvent {
        id: MALFORMED_ID.into(),
        subject: namespace
            .subject_for_type("acme", "subscription.cancel_pending")
            .unwrap(),
        event_type: "subscription.cancel_pending".into(),
        organization_id: "acme".into(),
        payload: Bytes::from_static(MALFORMED_PAYLOAD),
    }
}

/// Waits (10 s at most) for the handler's next success and asserts it was `event`.
async fn expect_handled(handled: &mut mpsc::Receiver<String>, event: &Event) -> anyhow::Result<()> {
    let next = tokio::time::timeout(Duration::from_secs(10), handled.recv()).await?;
    assert_eq!(next.as_deref(), Some(event.id.as_str()));
    Ok(())
}

struct Scenario {
    retry: Event,
    fatal: Event,
    good: Event,
    later: Event,
}

impl Scenario {
    fn new() -> Self {
        Self {
            retry: cancel_pending("acme"),
            fatal: cancel_pending("acme"),
            good: cancel_pending("acme"),
            later: cancel_pending("acme"),
        }
    }

    fn handler(&self) -> (Handler, Calls, mpsc::Receiver<String>) {
        let calls = Arc::new(Mutex::new(HashMap::new()));
        let (handled, handled_rx) = mpsc::channel(16);
        let handler = Handler {
            retry_id: self.retry.id.clone(),
            fatal_id: self.fatal.id.clone(),
            calls: calls.clone(),
            handled,
        };
        (handler, calls, handled_rx)
    }

    /// Checks the dead letters once the good event went through.
    async fn check_parked(
        &self,
        store: &Store,
        consumer: &str,
        calls: &Mutex<HashMap<String, u32>>,
        expected: usize,
    ) {
        let parked = || async { letters(store, consumer).await.len() >= expected };
        assert!(
            eventually(Duration::from_secs(10), parked).await,
            "{expected} dead letters"
        );
        let letters = letters(store, consumer).await;
        assert_eq!(letters.len(), expected, "{letters:#?}");
        let by_id: HashMap<_, _> = letters
            .iter()
            .map(|l| (l.letter.event_id.clone(), &l.letter))
            .collect();

        let retried = by_id[&self.retry.id];
        assert_eq!(retried.attempts, 3);
        assert!(retried.reason.contains("crm is down"), "{}", retried.reason);
        assert!(
            retried.reason.contains("failed 3 times"),
            "{}",
            retried.reason
        );
        assert_eq!(retried.organization_id.as_deref(), Some("acme"));
        assert_eq!(calls.lock().unwrap()[&self.retry.id], 3);

        let fatal = by_id[&self.fatal.id];
        assert_eq!(fatal.attempts, 1);
        assert!(
            fatal.reason.contains("unknown customer"),
            "{}",
            fatal.reason
        );
        assert_eq!(calls.lock().unwrap()[&self.fatal.id], 1);

        let malformed = by_id[MALFORMED_ID];
        assert!(
            malformed.reason.starts_with("malformed event payload"),
            "{}",
            malformed.reason
        );
        assert_eq!(malformed.payload, MALFORMED_PAYLOAD.to_vec());
        assert_eq!(malformed.organization_id, None);
    }
}

both_backends!(
    jetstream_consumer_parks_failures_and_keeps_going,
    |store| async move {
        let store = migrated(store).await;
        let settings = unique_settings();
        let jetstream = publisher(&settings).await;
        let context = jetstream.context().clone();
        let namespace = settings.namespace.clone();
        let scenario = Scenario::new();
        let (handler, calls, mut handled) = scenario.handler();
        let name = "crm-sync";
        // Starts (and, below, restarts) the same durable consumer.
        let start = |handler| {
            start_jetstream_consumer(
                context.clone(),
                &settings,
                config(name),
                handler,
                store.clone(),
            )
        };
        let consumer = start(handler).await?;

        jetstream
            .publish(&outgoing(&namespace, &scenario.retry))
            .await?;
        jetstream
            .publish(&outgoing(&namespace, &scenario.fatal))
            .await?;
        jetstream.publish(&malformed(&namespace)).await?;
        jetstream
            .publish(&outgoing(&namespace, &scenario.good))
            .await?;

        expect_handled(&mut handled, &scenario.good).await?;
        scenario.check_parked(&store, name, &calls, 3).await;

        // Still running: the next good message is handled.
        assert!(!consumer.is_finished());
        jetstream
            .publish(&outgoing(&namespace, &scenario.later))
            .await?;
        expect_handled(&mut handled, &scenario.later).await?;
        consumer.shutdown().await;

        // Parked messages were terminated, not left for redelivery: a restarted consumer (same
        // durable name) gets nothing more.
        let (handler, calls, mut handled) = scenario.handler();
        let consumer = start(handler).await?;
        let nothing = tokio::time::timeout(Duration::from_millis(500), handled.recv()).await;
        assert!(nothing.is_err(), "nothing redelivered");
        assert!(calls.lock().unwrap().is_empty());
        consumer.shutdown().await;
        delete_streams(&context, &settings).await;
        anyhow::Ok(())
    }
);

both_backends!(
    bus_consumer_parks_failures_and_keeps_going,
    |store| async move {
        let store = migrated(store).await;
        let bus = InProcessBus::new(16);
        let namespace = souk_events::Namespace::default();
        let scenario = Scenario::new();
        let (handler, calls, mut handled) = scenario.handler();
        let name = "crm-sync-local";
        let consumer = start_bus_consumer(&bus, config(name), handler, store.clone())?;

        bus.publish(&outgoing(&namespace, &scenario.retry)).await?;
        bus.publish(&outgoing(&namespace, &scenario.fatal)).await?;
        let garbage = malformed(&namespace);
        bus.publish(&garbage).await?;
        // Decodes (an empty message is valid protobuf) but is no event.
        let empty = OutgoingEvent {
            id: "empty-1".into(),
            payload: Bytes::new(),
            ..garbage.clone()
        };
        bus.publish(&empty).await?;
        // Another area: not this consumer's business.
        let mut offer = crate::support::cancel_pending("acme");
        offer.r#type = "offer.created".into();
        bus.publish(&outgoing(&namespace, &offer)).await?;
        bus.publish(&outgoing(&namespace, &scenario.good)).await?;

        expect_handled(&mut handled, &scenario.good).await?;
        scenario.check_parked(&store, name, &calls, 4).await;
        let empty_letter = letters(&store, name)
            .await
            .into_iter()
            .find(|l| l.letter.event_id == "empty-1")
            .expect("empty payload parked");
        assert!(empty_letter.letter.reason.contains("no id or type"));
        assert!(!calls.lock().unwrap().contains_key(&offer.id));

        bus.publish(&outgoing(&namespace, &scenario.later)).await?;
        expect_handled(&mut handled, &scenario.later).await?;
        consumer.shutdown().await;
        anyhow::Ok(())
    }
);
