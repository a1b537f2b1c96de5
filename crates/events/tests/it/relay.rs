//! The relay: crash between publish and mark, several relays on PostgreSQL, prompt wake-ups,
//! broker failures.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use souk_events::{
    Area, Error, JetStreamPublisher, OutboxRelay, OutgoingEvent, PublishReceipt, Publisher,
    RelayConfig,
};
use souk_store::outbox;
use souk_testkit::both_backends;
use souk_testkit::db::{Backend, run};
use tokio::sync::mpsc;

use crate::support::{
    append, cancel_pending, delete_streams, eventually, migrated, pending, publisher, stream_len,
    unique_settings,
};

/// Publishes to the broker, then hangs forever: the relay "dies" before it marks the row.
struct PublishThenHang {
    inner: JetStreamPublisher,
    published: mpsc::Sender<String>,
}

#[async_trait]
impl Publisher for PublishThenHang {
    async fn publish(&self, event: &OutgoingEvent) -> Result<PublishReceipt, Error> {
        self.inner.publish(event).await?;
        let _ = self.published.send(event.id.clone()).await;
        std::future::pending().await
    }
}

/// Records every publish and what the broker answered.
#[derive(Clone)]
struct Recording<P> {
    inner: P,
    receipts: Arc<Mutex<Vec<(String, bool)>>>,
}

#[async_trait]
impl<P: Publisher> Publisher for Recording<P> {
    async fn publish(&self, event: &OutgoingEvent) -> Result<PublishReceipt, Error> {
        let receipt = self.inner.publish(event).await?;
        self.receipts
            .lock()
            .unwrap()
            .push((event.id.clone(), receipt.duplicate));
        Ok(receipt)
    }
}

fn fast_config() -> RelayConfig {
    RelayConfig {
        poll_interval: Duration::from_millis(50),
        ..RelayConfig::default()
    }
}

both_backends!(
    a_relay_killed_between_publish_and_mark_republishes_once,
    |store| async move {
        let store = migrated(store).await;
        let settings = unique_settings();
        let jetstream = publisher(&settings).await;
        let context = jetstream.context().clone();
        let event = cancel_pending("acme");
        append(&store, &settings.namespace, &event).await;

        let (published_tx, mut published_rx) = mpsc::channel(1);
        let hanging = PublishThenHang {
            inner: jetstream.clone(),
            published: published_tx,
        };
        let relay = OutboxRelay::new(store.clone(), hanging, fast_config()).start();
        let published = tokio::time::timeout(Duration::from_secs(10), published_rx.recv()).await?;
        assert_eq!(published.as_deref(), Some(event.id.as_str()));
        relay.abort();

        // The broker has it, the outbox still says pending.
        assert_eq!(stream_len(&context, &settings, Area::Subscription).await, 1);
        assert_eq!(pending(&store).await, 1);

        let recording = Recording {
            inner: jetstream.clone(),
            receipts: Arc::default(),
        };
        let relay = OutboxRelay::new(store.clone(), recording.clone(), fast_config()).start();
        assert!(
            eventually(Duration::from_secs(10), || async {
                pending(&store).await == 0
            })
            .await
        );
        relay.shutdown().await;

        let receipts = recording.receipts.lock().unwrap().clone();
        assert_eq!(
            receipts,
            vec![(event.id.clone(), true)],
            "the republish is a duplicate"
        );
        assert_eq!(
            stream_len(&context, &settings, Area::Subscription).await,
            1,
            "stored exactly once"
        );
        delete_streams(&context, &settings).await;
        anyhow::Ok(())
    }
);

#[test]
fn several_relays_on_postgres_never_publish_a_row_twice() {
    run(Backend::Postgres, |db| async move {
        let store = migrated(db.store("relays").await?).await;
        let settings = unique_settings();
        let jetstream = publisher(&settings).await;
        let context = jetstream.context().clone();
        let mut ids = Vec::new();
        for _ in 0..120 {
            let event = cancel_pending("acme");
            append(&store, &settings.namespace, &event).await;
            ids.push(event.id);
        }
        let recording = Recording {
            inner: jetstream.clone(),
            receipts: Arc::default(),
        };
        let config = RelayConfig {
            batch_size: 7,
            ..fast_config()
        };
        let relays: Vec<_> = (0..3)
            .map(|_| OutboxRelay::new(store.clone(), recording.clone(), config.clone()).start())
            .collect();
        assert!(
            eventually(Duration::from_secs(30), || async {
                pending(&store).await == 0
            })
            .await
        );
        for relay in relays {
            relay.shutdown().await;
        }
        let receipts = recording.receipts.lock().unwrap().clone();
        assert_eq!(
            receipts.len(),
            ids.len(),
            "each row published by exactly one relay"
        );
        assert!(receipts.iter().all(|(_, duplicate)| !duplicate));
        let published: HashSet<_> = receipts.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(published, ids.iter().cloned().collect::<HashSet<_>>());
        assert_eq!(
            stream_len(&context, &settings, Area::Subscription).await,
            120
        );
        delete_streams(&context, &settings).await;
        db.cleanup().await?;
        anyhow::Ok(())
    });
}

both_backends!(a_commit_wakes_the_relay_at_once, |store| async move {
    let store = migrated(store).await;
    let settings = unique_settings();
    let jetstream = publisher(&settings).await;
    let context = jetstream.context().clone();
    // Polling alone would take a minute.
    let config = RelayConfig {
        poll_interval: Duration::from_secs(60),
        ..RelayConfig::default()
    };
    let relay = OutboxRelay::new(store.clone(), jetstream, config).start();
    let waker = relay.waker();
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&store, &settings.namespace, &cancel_pending("acme")).await;
    waker.wake();
    assert!(
        eventually(Duration::from_secs(3), || async {
            pending(&store).await == 0
        })
        .await
    );
    relay.shutdown().await;
    assert_eq!(stream_len(&context, &settings, Area::Subscription).await, 1);
    delete_streams(&context, &settings).await;
    anyhow::Ok(())
});

/// Fails the first `failures` publishes as if the broker were down.
struct Flaky<P> {
    inner: P,
    failures: Mutex<u32>,
}

#[async_trait]
impl<P: Publisher> Publisher for Flaky<P> {
    async fn publish(&self, event: &OutgoingEvent) -> Result<PublishReceipt, Error> {
        {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(Error::Broker("connection refused".into()));
            }
        }
        self.inner.publish(event).await
    }
}

both_backends!(
    broker_failures_are_recorded_and_retried_in_order,
    |store| async move {
        let store = migrated(store).await;
        let settings = unique_settings();
        let jetstream = publisher(&settings).await;
        let context = jetstream.context().clone();
        let first = cancel_pending("acme");
        let second = cancel_pending("acme");
        append(&store, &settings.namespace, &first).await;
        append(&store, &settings.namespace, &second).await;
        let recording = Recording {
            inner: jetstream.clone(),
            receipts: Arc::default(),
        };
        let flaky = Flaky {
            inner: recording.clone(),
            failures: Mutex::new(2),
        };
        let config = RelayConfig {
            retry_backoff: souk_events::Backoff {
                base: Duration::from_millis(20),
                max: Duration::from_millis(100),
            },
            ..fast_config()
        };
        let relay = OutboxRelay::new(store.clone(), flaky, config).start();
        assert!(
            eventually(Duration::from_secs(10), || async {
                pending(&store).await == 0
            })
            .await
        );
        relay.shutdown().await;
        let order: Vec<String> = recording
            .receipts
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        assert_eq!(order, vec![first.id.clone(), second.id.clone()]);
        let rows = outbox::read_after(store.pool(), "acme", 0, 10).await?;
        assert_eq!(rows[0].attempts, 2);
        assert_eq!(
            rows[0].last_error.as_deref(),
            Some("broker unavailable: connection refused")
        );
        assert_eq!(rows[1].attempts, 0);
        assert_eq!(stream_len(&context, &settings, Area::Subscription).await, 2);
        delete_streams(&context, &settings).await;
        anyhow::Ok(())
    }
);

both_backends!(
    a_row_that_cannot_be_published_does_not_block_the_rest,
    |store| async move {
        let store = migrated(store).await;
        let settings = unique_settings();
        let jetstream = publisher(&settings).await;
        let context = jetstream.context().clone();
        // Written by an older version with another prefix: no stream of ours captures it.
        let stray = cancel_pending("acme");
        let mut record = souk_events::outbox_record(&settings.namespace, &stray)?;
        record.subject = "elsewhere.acme.subscription.cancel_pending".into();
        let mut tx = store.begin_write().await?;
        outbox::append(&mut tx, &record).await?;
        tx.commit().await?;
        let good = cancel_pending("acme");
        append(&store, &settings.namespace, &good).await;

        let relay = OutboxRelay::new(store.clone(), jetstream, RelayConfig::default());
        let cancel = tokio_util::sync::CancellationToken::new();
        let pass = relay.run_once(&cancel).await?;
        assert_eq!((pass.leased, pass.published, pass.poisoned), (2, 1, 1));
        assert_eq!(pass.broker_error, None);
        let rows = outbox::read_after(store.pool(), "acme", 0, 10).await?;
        assert_eq!(rows[0].published_at, None);
        assert_eq!(rows[0].attempts, 1);
        assert!(
            rows[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("not captured")
        );
        assert!(rows[1].published_at.is_some());

        // Skipped for a while, not retried on every pass.
        let pass = relay.run_once(&cancel).await?;
        assert_eq!((pass.leased, pass.published, pass.poisoned), (1, 0, 1));
        let rows = outbox::read_after(store.pool(), "acme", 0, 10).await?;
        assert_eq!(rows[0].attempts, 1);
        delete_streams(&context, &settings).await;
        anyhow::Ok(())
    }
);
