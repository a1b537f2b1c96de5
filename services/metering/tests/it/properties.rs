//! Properties of ingestion through the whole service (SQLite, few cases): the hourly records
//! depend neither on the order of the events nor on how they are split into calls, and
//! replaying any prefix of them changes nothing.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use souk_metering::domain::model::SubscriberState;
use souk_proto::metering as pb;
use souk_testkit::TestDb;

use crate::harness::{Harness, allocation, event, second, statuses};

const DIMENSIONS: [&str; 5] = ["requests", "calls", "peak", "level", "users"];

/// (dimension, quantity, seconds ago, user, tagged part and colour).
type Raw = (usize, i64, i64, u8, Option<(i64, bool)>);

#[derive(Debug, Clone)]
struct Case {
    events: Vec<Raw>,
    /// Seed of the permutation of the second customer's events.
    seed: u64,
    /// Where the shuffled events are split into calls.
    splits: Vec<bool>,
    /// How many of them are replayed, and how.
    prefix: usize,
    replay_splits: Vec<bool>,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(
            (
                0..DIMENSIONS.len(),
                0..1000i64,
                0..7200i64,
                0..4u8,
                prop::option::of((0..1000i64, any::<bool>())),
            ),
            1..40,
        ),
        any::<u64>(),
        prop::collection::vec(any::<bool>(), 40),
        0..40usize,
        prop::collection::vec(any::<bool>(), 40),
    )
        .prop_map(|(events, seed, splits, prefix, replay_splits)| Case {
            prefix: prefix.min(events.len()),
            events,
            seed,
            splits,
            replay_splits,
        })
}

fn usage(raw: &Raw, key: String, customer: &str, now: time::OffsetDateTime) -> pb::UsageEvent {
    let (dimension, quantity, ago, user, tagged) = *raw;
    let mut e = event(
        &key,
        customer,
        DIMENSIONS[dimension],
        quantity,
        now - time::Duration::seconds(ago),
    );
    if let (0, Some((part, red))) = (dimension, tagged) {
        let part = part.min(quantity);
        let colour = if red { "red" } else { "blue" };
        e.allocations = vec![allocation(part, &[("team", colour)])];
        // The untagged rest, when there is one.
        if quantity > part {
            e.allocations.push(allocation(quantity - part, &[]));
        }
    }
    if dimension == 4 {
        e.attributes = HashMap::from([("user".to_owned(), format!("u{user}"))]);
    }
    e
}

/// A deterministic shuffle from `seed` (splitmix64).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

/// `events` in calls, cut after each position whose flag is set.
fn batches(events: &[pb::UsageEvent], splits: &[bool]) -> Vec<Vec<pb::UsageEvent>> {
    let mut out = vec![Vec::new()];
    for (i, e) in events.iter().enumerate() {
        out.last_mut().expect("a batch").push(e.clone());
        if splits.get(i).copied().unwrap_or(false) && i + 1 < events.len() {
            out.push(Vec::new());
        }
    }
    out.retain(|batch| !batch.is_empty());
    out
}

/// What of a record does not depend on which customer it is.
fn shape(records: &[pb::HourlyRecord]) -> Vec<(String, i64, i64, Vec<pb::UsageAllocation>)> {
    let mut shape: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.dimension.clone(),
                r.hour_start.as_ref().map_or(0, |t| t.seconds),
                r.quantity,
                r.allocations.clone(),
            )
        })
        .collect();
    shape.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    shape
}

async fn check(h: &Harness, n: usize, case: &Case) -> Result<(), TestCaseError> {
    let now = second(h.now());
    let a_id = h.customer(SubscriberState::Active).customer_id;
    let b_id = h.customer(SubscriberState::Active).customer_id;
    let (a, b) = (a_id.to_string(), b_id.to_string());
    let key = |who: &str, i: usize| format!("{who}{n:03}-{i:03}");
    let in_order: Vec<pb::UsageEvent> = case
        .events
        .iter()
        .enumerate()
        .map(|(i, raw)| usage(raw, key("a", i), &a, now))
        .collect();
    let mut shuffled: Vec<pb::UsageEvent> = case
        .events
        .iter()
        .enumerate()
        .map(|(i, raw)| usage(raw, key("b", i), &b, now))
        .collect();
    shuffle(&mut shuffled, case.seed);

    h.recorded(in_order).await;
    let mut first: HashMap<String, pb::UsageEventResult> = HashMap::new();
    for batch in batches(&shuffled, &case.splits) {
        for result in h.recorded(batch).await {
            prop_assert_eq!(result.status, pb::UsageEventStatus::Recorded as i32);
            first.insert(result.idempotency_key.clone(), result);
        }
    }
    let of_a = h.records_of(&a_id).await;
    let of_b = h.records_of(&b_id).await;
    prop_assert_eq!(shape(&of_a), shape(&of_b));

    let mut replay = shuffled[..case.prefix].to_vec();
    shuffle(&mut replay, case.seed.rotate_left(7));
    for batch in batches(&replay, &case.replay_splits) {
        let results = h.recorded(batch.clone()).await;
        prop_assert_eq!(
            statuses(&results),
            vec![pb::UsageEventStatus::Duplicate; batch.len()]
        );
        for result in results {
            prop_assert_eq!(&first[&result.idempotency_key], &{
                let mut r = result.clone();
                r.status = pb::UsageEventStatus::Recorded as i32;
                r
            });
        }
    }
    prop_assert_eq!(h.records_of(&b_id).await, of_b);
    Ok(())
}

#[test]
fn hourly_records_depend_on_neither_order_nor_batching_and_replays_change_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let h = runtime.block_on(async {
        let db = TestDb::sqlite().expect("temporary directory");
        Harness::start_with(db, souk_metering::MeteringConfig::default()).await
    });
    let mut runner = TestRunner::new(Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    });
    let n = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&cases(), |case| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        runtime.block_on(check(&h, i, &case))
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// A case the strategy rarely draws: an untagged event of 0 and a fully tagged event on a SUM
/// meter, in both orders.
#[test]
fn an_untagged_zero_leaves_the_allocations_alone_in_any_order() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let db = TestDb::sqlite().expect("temporary directory");
        let h = Harness::start_with(db, souk_metering::MeteringConfig::default()).await;
        for (n, seed) in (1..=4u64).enumerate() {
            let case = Case {
                events: vec![(0, 0, 10, 0, None), (0, 5, 20, 0, Some((5, true)))],
                seed,
                splits: vec![true, true],
                prefix: 2,
                replay_splits: vec![false, false],
            };
            if let Err(error) = check(&h, n, &case).await {
                panic!("seed {seed}: {error}");
            }
        }
    });
}
