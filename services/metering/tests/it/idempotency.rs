//! Each event's idempotency key: a resend is acknowledged with the first answer and counted
//! once, whatever the interleaving; a key reused for other content is refused.

use std::collections::HashMap;

use souk_metering::domain::model::SubscriberState;
use souk_proto::metering as pb;
use tonic::Code;

use crate::harness::{both, event, expect_code, second, statuses};

both!(
    a_resent_event_is_a_duplicate_and_other_content_is_refused,
    |h| {
        let customer = h.customer(SubscriberState::Active);
        let cus = customer.customer_id.to_string();
        let now = second(h.now());
        let first = h
            .recorded(vec![event("e1", &cus, "requests", 5, now)])
            .await;
        assert_eq!(statuses(&first), vec![pb::UsageEventStatus::Recorded]);
        assert!(first[0].usage_id.starts_with("use_"), "{first:?}");

        let again = h
            .recorded(vec![event("e1", &cus, "requests", 5, now)])
            .await;
        assert_eq!(statuses(&again), vec![pb::UsageEventStatus::Duplicate]);
        assert_eq!(again[0].usage_id, first[0].usage_id);
        assert_eq!(again[0].hour_start, first[0].hour_start);
        assert_eq!(again[0].idempotency_key, "e1");

        // With a new event in the same batch: only that one counts.
        let mixed = h
            .recorded(vec![
                event("e1", &cus, "requests", 5, now),
                event("e2", &cus, "requests", 2, now),
            ])
            .await;
        assert_eq!(
            statuses(&mixed),
            vec![
                pb::UsageEventStatus::Duplicate,
                pb::UsageEventStatus::Recorded
            ]
        );
        let before = h.records().await;
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].quantity, 7);

        for other in [
            event("e1", &cus, "requests", 6, now),
            event("e1", &cus, "calls", 5, now),
            event("e1", &cus, "requests", 5, now - time::Duration::seconds(1)),
        ] {
            let status = expect_code(
                h.record(vec![event("e3", &cus, "requests", 1, now), other])
                    .await,
                Code::AlreadyExists,
            );
            assert_eq!(
                status.message(),
                "idempotency key \"e1\" was used before for an event with other content"
            );
            assert_eq!(h.records().await, before);
        }
    }
);

both!(a_batch_raced_by_eight_writers_is_counted_once, |h| {
    let customer = h.customer(SubscriberState::Active);
    let cus = customer.customer_id.to_string();
    let now = second(h.now());
    let batch: Vec<pb::UsageEvent> = (0..50)
        .map(|i| {
            event(
                &format!("race-{i}"),
                &cus,
                if i % 2 == 0 { "requests" } else { "calls" },
                i + 1,
                now,
            )
        })
        .collect();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = h.client();
            let key = h.key.clone();
            let batch = batch.clone();
            tokio::spawn(async move {
                client
                    .clone()
                    .record_usage(crate::harness::authed(
                        &key,
                        pb::RecordUsageRequest { events: batch },
                    ))
                    .await
                    .map(|r| r.into_inner().results)
            })
        })
        .collect();
    let mut by_key: HashMap<String, Vec<pb::UsageEventResult>> = HashMap::new();
    for task in tasks {
        let results = task.await.expect("task").expect("every writer succeeds");
        assert_eq!(results.len(), 50);
        for result in results {
            by_key
                .entry(result.idempotency_key.clone())
                .or_default()
                .push(result);
        }
    }
    assert_eq!(by_key.len(), 50);
    for (key, results) in &by_key {
        let recorded = results
            .iter()
            .filter(|r| r.status == pb::UsageEventStatus::Recorded as i32)
            .count();
        assert_eq!(recorded, 1, "{key}: {results:?}");
        assert!(
            results
                .iter()
                .all(|r| r.usage_id == results[0].usage_id && r.hour_start == results[0].hour_start),
            "{key}: {results:?}"
        );
    }
    let records = h.records().await;
    let quantity = |dimension: &str| {
        records
            .iter()
            .find(|r| r.dimension == dimension)
            .map(|r| r.quantity)
    };
    // SUM of 1, 3, 5, ..., 49 and a COUNT of 25 events.
    assert_eq!(quantity("requests"), Some(625));
    assert_eq!(quantity("calls"), Some(25));
    assert_eq!(records.len(), 2);
});

both!(
    concurrent_batches_share_a_transaction_and_keep_their_own_errors,
    |h| {
        let customer = h.customer(SubscriberState::Active);
        let cus = customer.customer_id.to_string();
        let now = second(h.now());
        h.recorded(vec![event("taken", &cus, "requests", 1, now)])
            .await;
        // Eight batches at once: batch 3 reuses "taken" with other content, the others are new.
        let tasks: Vec<_> = (0..8)
            .map(|b| {
                let client = h.client();
                let key = h.key.clone();
                let mut events: Vec<pb::UsageEvent> = (0..20)
                    .map(|i| event(&format!("b{b}-{i}"), &cus, "requests", 2, now))
                    .collect();
                if b == 3 {
                    events.push(event("taken", &cus, "requests", 9, now));
                }
                tokio::spawn(async move {
                    client
                        .clone()
                        .record_usage(crate::harness::authed(
                            &key,
                            pb::RecordUsageRequest { events },
                        ))
                        .await
                        .map(|r| r.into_inner().results)
                })
            })
            .collect();
        for (b, task) in tasks.into_iter().enumerate() {
            let answer = task.await.expect("task");
            if b == 3 {
                let status = expect_code(answer, Code::AlreadyExists);
                assert_eq!(
                    status.message(),
                    "idempotency key \"taken\" was used before for an event with other content"
                );
            } else {
                let results = answer.expect("a batch without a bad key is recorded");
                assert_eq!(results.len(), 20);
                assert!(
                    results
                        .iter()
                        .all(|r| r.status == pb::UsageEventStatus::Recorded as i32
                            && r.idempotency_key.starts_with(&format!("b{b}-"))),
                    "{results:?}"
                );
            }
        }
        let records = h.records().await;
        assert_eq!(records.len(), 1);
        // 1 + 7 batches x 20 events x 2; nothing of batch 3.
        assert_eq!(records[0].quantity, 281);
    }
);
