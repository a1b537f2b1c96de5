//! StreamUsage: chunks acknowledged in order; a bad chunk ends the stream with its error, the
//! chunks before it stay recorded. And RESOURCE_EXHAUSTED at once beyond `max_in_flight`.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use souk_metering::MeteringConfig;
use souk_metering::domain::model::SubscriberState;
use souk_proto::metering as pb;
use souk_store::Backend;
use tonic::Code;

use crate::harness::{authed, both, event, expect_code, pairs, second, statuses, violations};

both!(chunks_are_acknowledged_in_order_until_a_bad_one, |h| {
    let customer = h.customer(SubscriberState::Active);
    let cus = customer.customer_id.to_string();
    let now = second(h.now());
    let chunk = |n: usize, customer: &str| pb::StreamUsageRequest {
        events: (0..3)
            .map(|i| event(&format!("c{n}-{i}"), customer, "requests", 1, now))
            .collect(),
    };
    let chunks = vec![
        chunk(0, &cus),
        chunk(1, &cus),
        chunk(2, "cus_nobody"),
        chunk(3, &cus),
    ];
    let mut answers = h
        .client()
        .stream_usage(authed(&h.key, futures::stream::iter(chunks)))
        .await
        .expect("stream opens")
        .into_inner();
    for n in 0..2 {
        let ack = answers
            .next()
            .await
            .expect("an acknowledgement")
            .expect("chunk recorded");
        assert_eq!(ack.chunk, n);
        assert_eq!(
            statuses(&ack.results),
            vec![pb::UsageEventStatus::Recorded; 3]
        );
        assert_eq!(ack.results[2].idempotency_key, format!("c{n}-2"));
    }
    let refused = answers
        .next()
        .await
        .expect("the error")
        .expect_err("chunk 2 is refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("chunk 2: "),
        "{}",
        refused.message()
    );
    let reason = "is not a known customer (a cus_ id, your linked account id, or the buyer's AWS account id)";
    assert_eq!(
        violations::<()>(Err(refused)),
        pairs(&[
            ("events[0].customer", reason),
            ("events[1].customer", reason),
            ("events[2].customer", reason),
        ])
    );
    assert!(answers.next().await.is_none(), "the stream ended");

    let records = h.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].quantity, 6, "chunks 0 and 1 only");
});

/// Holds the store's write lock (SQLite) or the usage table (PostgreSQL) until dropped, so
/// that ingestions wait.
async fn block_writes(h: &crate::harness::Harness) -> souk_store::Tx {
    let store = h.app.parts().store.expect("the service has a store");
    let mut tx = store.begin_write().await.expect("a write transaction");
    if store.backend() == Backend::Postgres {
        sqlx::query("LOCK TABLE usage_events IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .expect("lock");
    }
    tx
}

both!(
    writes_beyond_max_in_flight_are_refused_at_once,
    MeteringConfig {
        max_batch: 10,
        max_in_flight: 10,
        ..MeteringConfig::default()
    },
    |h| {
        let customer = h.customer(SubscriberState::Active);
        let cus = customer.customer_id.to_string();
        let now = second(h.now());
        let lock = block_writes(&h).await;
        let big: Vec<pb::UsageEvent> = (0..10)
            .map(|i| event(&format!("a-{i}"), &cus, "requests", 1, now))
            .collect();
        let writer = {
            let client = h.client();
            let key = h.key.clone();
            tokio::spawn(async move {
                client
                    .clone()
                    .record_usage(authed(&key, pb::RecordUsageRequest { events: big }))
                    .await
            })
        };
        // The first batch holds every permit while it waits for the database.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let refused = expect_code(
            h.record(vec![event("b-0", &cus, "requests", 100, now)])
                .await,
            Code::ResourceExhausted,
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "answered at once"
        );
        assert_eq!(
            refused.message(),
            "too much usage is being written (10 events in flight at most); retry after a short pause"
        );
        assert!(!writer.is_finished());
        lock.rollback().await.expect("release");
        let written = writer.await.expect("task").expect("first batch recorded");
        assert_eq!(written.into_inner().results.len(), 10);

        let records = h.records().await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].quantity, 10, "nothing of the refused batch");
        // Its event was not stored: sent again, it is recorded now.
        let again = h
            .recorded(vec![event("b-0", &cus, "requests", 100, now)])
            .await;
        assert_eq!(statuses(&again), vec![pb::UsageEventStatus::Recorded]);
    }
);
