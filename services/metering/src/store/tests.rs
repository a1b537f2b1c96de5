//! The SQL store on both backends: every test runs on a fresh SQLite file (`<test>::sqlite`) and
//! on a fresh PostgreSQL database (`<test>::postgres`, on the server of `SOUK_TEST_DATABASE_URL`
//! or the default `postgres://postgres@127.0.0.1:5432/test`). Without that variable and without
//! a server at the default URL, the PostgreSQL runs are skipped with a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use souk_core::clock::ManualClock;
use souk_core::{Id, Idempotency, PageRequest, PageScope, SharedClock};
use souk_events::{EventFactory, Namespace};
use souk_store::Backend;
use souk_testkit::db::run_migrated;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{SqlStore, migrations};
use crate::domain::Error;
use crate::domain::model::{
    Aggregation, Allocation, AwsCustomer, HourlyRecord, Meter, RecordKey, RecordStatus, Tag, Tally,
};
use crate::domain::ports::{RecordFilter, SealPlan, Settlement, Store, StoredEvent};

/// 10:00 on a day; hours before it are "the past".
const T0: OffsetDateTime = datetime!(2026-06-01 10:00 UTC);

struct Fx {
    store: SqlStore,
    raw: souk_store::Store,
}

fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Fx) -> Fut,
    Fut: Future<Output = ()>,
{
    run_migrated(backend, crate::STORE_NAME, migrations(), |raw| async move {
        let clock: SharedClock = Arc::new(ManualClock::new(T0));
        let store = SqlStore::new(
            raw.clone(),
            EventFactory::new(clock.clone(), Namespace::default()),
            clock,
        );
        test(Fx { store, raw }).await;
    });
}

/// One test on both backends.
macro_rules! both {
    ($name:ident, |$fx:ident| $body:block) => {
        souk_testkit::both_backends!($name, run, |$fx: Fx| $body);
    };
}

// --- builders ------------------------------------------------------------------------------

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

fn event(org: &Id, customer: &Id, key: &str, quantity: i64, at: OffsetDateTime) -> StoredEvent {
    StoredEvent {
        usage_id: Id::generate("use"),
        organization_id: org.clone(),
        idempotency_key: key.into(),
        content_hash: format!("hash-{key}-{quantity}"),
        customer_id: customer.clone(),
        dimension: "requests".into(),
        quantity,
        occurred_at: at,
        hour_start: souk_core::clock::from_unix_millis(crate::store::rows::hour_of(
            crate::store::rows::ms(at),
        )),
        allocations: Vec::new(),
        unique_value: None,
        recorded_at: T0,
    }
}

/// `event` sent again: the same content under a new usage id, as every call generates.
fn retried(event: &StoredEvent) -> StoredEvent {
    StoredEvent {
        usage_id: Id::generate("use"),
        ..event.clone()
    }
}

fn key(org: &Id, customer: &Id, dimension: &str, hour: OffsetDateTime) -> RecordKey {
    RecordKey {
        organization_id: org.clone(),
        customer_id: customer.clone(),
        dimension: dimension.into(),
        hour_start: hour,
    }
}

fn open_record(key: RecordKey, integration: &Id, quantity: i64) -> HourlyRecord {
    HourlyRecord::open(
        key,
        integration.clone(),
        "prod-1".into(),
        Some(AwsCustomer::Identifier("cust-ident".into())),
        Tally {
            quantity,
            ..Tally::empty(Aggregation::Sum)
        },
    )
}

/// A new organisation, integration and customer.
fn ids() -> (Id, Id, Id) {
    (
        Id::generate("org"),
        Id::generate("int"),
        Id::generate("cus"),
    )
}

/// Writes `records` in one ingestion.
async fn write(store: &SqlStore, org: &Id, records: &[HourlyRecord]) {
    let mut tx = store.begin_ingest(org).await.unwrap();
    let keys: Vec<RecordKey> = records.iter().map(|r| r.key.clone()).collect();
    tx.lock_records(&keys).await.unwrap();
    tx.write_records(records).await.unwrap();
    tx.commit().await.unwrap();
}

/// Adds `quantity` to the record of `key` the way the domain does: lock, tally, write.
async fn add(store: &SqlStore, key: &RecordKey, integration: &Id, quantity: i64) {
    let mut tx = store.begin_ingest(&key.organization_id).await.unwrap();
    let found = tx.lock_records(std::slice::from_ref(key)).await.unwrap();
    let record = match found.into_iter().next() {
        Some(mut record) => {
            record.tally.quantity += quantity;
            record
        }
        None => open_record(key.clone(), integration, quantity),
    };
    // Give a concurrent ingestion the chance to interleave.
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    tx.write_records(&[record]).await.unwrap();
    tx.commit().await.unwrap();
}

async fn all_records(store: &SqlStore, org: &Id) -> Vec<HourlyRecord> {
    let page = PageRequest {
        size: 1000,
        after: None,
        scope: PageScope::new("test", org.as_str(), &[]),
    };
    store
        .list_records(org, &RecordFilter::default(), &page)
        .await
        .unwrap()
        .items
}

async fn one(store: &SqlStore, org: &Id, id: &Id) -> HourlyRecord {
    all_records(store, org)
        .await
        .into_iter()
        .find(|r| &r.id == id)
        .expect("the record exists")
}

async fn outbox(fx: &Fx, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(fx.raw.pool())
        .await
        .unwrap()
}

fn plan(now: OffsetDateTime, sealed_before: OffsetDateTime) -> SealPlan {
    SealPlan {
        now,
        sealed_before,
        customers: Vec::new(),
        zero_records: Vec::new(),
        // Nothing carried unless a test asks for it.
        carry_before: OffsetDateTime::UNIX_EPOCH,
    }
}

// --- meters --------------------------------------------------------------------------------

both!(meters_are_created_replaced_and_features_are_unique, |fx| {
    let org = Id::generate("org");
    let mut meter = Meter {
        organization_id: org.clone(),
        product_code: "prod-1".into(),
        dimension: "requests".into(),
        feature: Some("api_calls".into()),
        aggregation: Aggregation::Sum,
        attribute: None,
        zero_fill: false,
        updated_at: T0,
    };
    fx.store.put_meter(&meter).await.unwrap();
    meter.aggregation = Aggregation::UniqueCount;
    meter.attribute = Some("user".into());
    meter.zero_fill = true;
    meter.updated_at = T0 + hours(1);
    fx.store.put_meter(&meter).await.unwrap();
    let other = Meter {
        dimension: "users".into(),
        feature: None,
        ..meter.clone()
    };
    fx.store.put_meter(&other).await.unwrap();
    assert_eq!(fx.store.meters().await.unwrap(), vec![meter.clone(), other]);

    let clash = Meter {
        dimension: "storage".into(),
        ..meter.clone()
    };
    match fx.store.put_meter(&clash).await {
        Err(Error::Conflict(message)) => assert!(message.contains("api_calls"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
});

// --- ingestion -----------------------------------------------------------------------------

both!(events_round_trip_and_duplicates_are_reported, |fx| {
    let (org, customer) = (Id::generate("org"), Id::generate("cus"));
    let mut first = event(&org, &customer, "k1", 5, T0 + Duration::minutes(7));
    first.allocations = vec![
        Allocation {
            quantity: 3,
            tags: vec![tag("env", "prod"), tag("team", "a")],
        },
        Allocation {
            quantity: 2,
            tags: Vec::new(),
        },
    ];
    first.unique_value = Some("user-1".into());
    let second = event(&org, &customer, "k2", 1, T0);

    let mut tx = fx.store.begin_ingest(&org).await.unwrap();
    assert!(tx.existing(&["k1", "k2"]).await.unwrap().is_empty());
    let raced = tx
        .insert_events(&[first.clone(), second.clone()])
        .await
        .unwrap();
    assert!(raced.is_empty());
    tx.commit().await.unwrap();

    let mut tx = fx.store.begin_ingest(&org).await.unwrap();
    let mut found = tx.existing(&["k1", "k2", "k3"]).await.unwrap();
    found.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    assert_eq!(found, vec![first.clone(), second.clone()]);
    // Stored already: reported, not inserted again (the new one is).
    let third = event(&org, &customer, "k3", 9, T0);
    let raced = tx
        .insert_events(&[retried(&first), third.clone()])
        .await
        .unwrap();
    assert_eq!(raced, vec!["k1".to_owned()]);
    drop(tx); // rolled back: k3 is not stored

    let mut tx = fx.store.begin_ingest(&org).await.unwrap();
    assert_eq!(tx.existing(&["k3"]).await.unwrap(), Vec::new());
    // Another organisation's keys are its own.
    drop(tx);
    let other = Id::generate("org");
    let mut tx = fx.store.begin_ingest(&other).await.unwrap();
    assert!(tx.existing(&["k1"]).await.unwrap().is_empty());
    drop(tx);

    // The hour the event counts towards may differ from its own (carried); the natural hour
    // is kept for the audit.
    let natural: i64 = sqlx::query_scalar(
        "SELECT natural_hour FROM usage_events WHERE organization_id = $1 AND idempotency_key = $2",
    )
    .bind(org.as_str())
    .bind("k1")
    .fetch_one(fx.raw.pool())
    .await
    .unwrap();
    assert_eq!(natural, crate::store::rows::ms(T0));
});

both!(a_large_batch_is_one_statement_or_a_few, |fx| {
    let (org, customer) = (Id::generate("org"), Id::generate("cus"));
    // More rows than one SQLite statement takes (32766 / 13 parameters).
    let events: Vec<StoredEvent> = (0..3000)
        .map(|i| event(&org, &customer, &format!("key-{i}"), i, T0))
        .collect();
    let mut tx = fx.store.begin_ingest(&org).await.unwrap();
    assert!(tx.insert_events(&events).await.unwrap().is_empty());
    let keys: Vec<&str> = events.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(tx.existing(&keys).await.unwrap().len(), 3000);
    let again: Vec<StoredEvent> = events[..10].iter().map(retried).collect();
    assert_eq!(tx.insert_events(&again).await.unwrap().len(), 10);
    tx.commit().await.unwrap();
});

both!(
    two_ingestions_racing_on_the_same_keys_store_each_once,
    |fx| {
        let (org, customer) = (Id::generate("org"), Id::generate("cus"));
        let events: Vec<StoredEvent> = (0..20)
            .map(|i| event(&org, &customer, &format!("k{i}"), i, T0))
            .collect();
        let mut first = fx.store.begin_ingest(&org).await.unwrap();
        assert!(first.insert_events(&events[..10]).await.unwrap().is_empty());
        let second = {
            let (store, org) = (fx.store.clone(), org.clone());
            let events: Vec<StoredEvent> = events.iter().map(retried).collect();
            tokio::spawn(async move {
                // Waits for the first (PostgreSQL: its uncommitted keys; SQLite: the write lock).
                let mut tx = store.begin_ingest(&org).await.unwrap();
                let raced = tx.insert_events(&events).await.unwrap();
                let keys: Vec<&str> = raced.iter().map(String::as_str).collect();
                let seen = tx.existing(&keys).await.unwrap();
                tx.commit().await.unwrap();
                (raced, seen)
            })
        };
        tokio::time::sleep(StdDuration::from_millis(200)).await;
        assert!(!second.is_finished(), "the second ingestion must wait");
        first.commit().await.unwrap();
        let (raced, seen) = second.await.unwrap();
        let expected: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        assert_eq!(raced, expected);
        // The keys the first stored are read back by the second, as the first stored them.
        assert_eq!(seen.len(), 10);
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
            .fetch_one(fx.raw.pool())
            .await
            .unwrap();
        assert_eq!(stored, 20);
    }
);

both!(unique_values_are_new_once_per_hour, |fx| {
    let (org, customer) = (Id::generate("org"), Id::generate("cus"));
    let hour = key(&org, &customer, "users", T0);
    let next = key(&org, &customer, "users", T0 + hours(1));
    let mut tx = fx.store.begin_ingest(&org).await.unwrap();
    let new = tx
        .add_unique_values(&[
            (hour.clone(), "a".into()),
            (hour.clone(), "b".into()),
            (hour.clone(), "a".into()),
            (next.clone(), "a".into()),
        ])
        .await
        .unwrap();
    assert_eq!(new, vec![true, true, false, true]);
    tx.commit().await.unwrap();
    let mut tx = fx.store.begin_ingest(&org).await.unwrap();
    let new = tx
        .add_unique_values(&[(hour.clone(), "a".into()), (hour.clone(), "c".into())])
        .await
        .unwrap();
    assert_eq!(new, vec![false, true]);
    tx.commit().await.unwrap();
});

both!(records_round_trip_through_lock_and_write, |fx| {
    let (org, customer, integration) = (
        Id::generate("org"),
        Id::generate("cus"),
        Id::generate("int"),
    );
    let mut record = open_record(key(&org, &customer, "requests", T0), &integration, 7);
    record.tally.allocations = BTreeMap::from([
        (Vec::new(), 2),
        (vec![tag("env", "prod"), tag("team", "a")], 5),
    ]);
    let mut latest = open_record(key(&org, &customer, "seats", T0), &integration, 3);
    latest.tally.aggregation = Aggregation::Latest;
    latest.tally.latest = Some((crate::store::rows::ms(T0) + 5, "k-9".into()));
    latest.aws_customer = Some(AwsCustomer::Licence {
        aws_account_id: "111122223333".into(),
        license_arn: "arn:aws:license-manager::1:license:l-1".into(),
    });
    write(&fx.store, &org, &[record.clone(), latest.clone()]).await;

    let mut tx = fx.store.begin_ingest(&org).await.unwrap();
    let mut found = tx
        .lock_records(&[
            record.key.clone(),
            latest.key.clone(),
            key(&org, &customer, "requests", T0 + hours(1)),
        ])
        .await
        .unwrap();
    found.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(found, vec![record.clone(), latest.clone()]);
    // An update keeps the stored id.
    let mut updated = record.clone();
    updated.tally.quantity = 9;
    tx.write_records(&[updated.clone()]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(one(&fx.store, &org, &record.id).await, updated);
});

both!(two_ingestions_of_a_new_hour_add_up, |fx| {
    let (org, customer, integration) = (
        Id::generate("org"),
        Id::generate("cus"),
        Id::generate("int"),
    );
    let k = key(&org, &customer, "requests", T0);
    let a = {
        let (store, k, integration) = (fx.store.clone(), k.clone(), integration.clone());
        tokio::spawn(async move { add(&store, &k, &integration, 5).await })
    };
    let b = {
        let (store, k, integration) = (fx.store.clone(), k.clone(), integration.clone());
        tokio::spawn(async move { add(&store, &k, &integration, 3).await })
    };
    a.await.unwrap();
    b.await.unwrap();
    let records = all_records(&fx.store, &org).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].tally.quantity, 8);
});

// --- sealing -------------------------------------------------------------------------------

both!(
    sealing_follows_the_horizons_and_never_moves_them_back,
    |fx| {
        let (org, integration) = (Id::generate("org"), Id::generate("int"));
        let (alice, bob) = (Id::generate("cus"), Id::generate("cus"));
        let h = |n: i64| T0 + hours(n);
        let records: Vec<HourlyRecord> = [(&alice, -2), (&alice, -1), (&alice, 0), (&bob, 0)]
            .into_iter()
            .map(|(c, n)| open_record(key(&org, c, "requests", h(n)), &integration, 1))
            .collect();
        write(&fx.store, &org, &records).await;
        assert_eq!(fx.store.sealed_before().await.unwrap(), None);

        let now = h(0) + Duration::minutes(10);
        assert_eq!(fx.store.seal(&plan(now, h(0))).await.unwrap(), 2);
        assert_eq!(fx.store.sealed_before().await.unwrap(), Some(h(0)));
        let sealed = one(&fx.store, &org, &records[0].id).await;
        assert_eq!(sealed.status, RecordStatus::Pending);
        assert_eq!(sealed.sealed_at, Some(now));
        assert_eq!(sealed.tally, records[0].tally);
        assert_eq!(
            one(&fx.store, &org, &records[2].id).await.status,
            RecordStatus::Open
        );
        // Sealing again changes nothing; an older horizon does not move it back.
        assert_eq!(fx.store.seal(&plan(now, h(0))).await.unwrap(), 0);
        assert_eq!(fx.store.seal(&plan(now, h(-3))).await.unwrap(), 0);
        assert_eq!(fx.store.sealed_before().await.unwrap(), Some(h(0)));

        // A cancelling customer: its current hour is sealed at once, the others' not.
        let mut cancelling = plan(now, h(-5));
        cancelling.customers = vec![(org.clone(), alice.clone(), h(1))];
        assert_eq!(fx.store.seal(&cancelling).await.unwrap(), 1);
        let final_hour = one(&fx.store, &org, &records[2].id).await;
        assert_eq!(final_hour.status, RecordStatus::Pending);
        assert_eq!(
            one(&fx.store, &org, &records[3].id).await.status,
            RecordStatus::Open
        );
        // Horizons as an ingestion sees them: the later of the global and the customer's own.
        let mut tx = fx.store.begin_ingest(&org).await.unwrap();
        let horizons = tx
            .sealed_before(&[alice.clone(), bob.clone()])
            .await
            .unwrap();
        assert_eq!(horizons.get(&alice), Some(&h(1)));
        assert_eq!(horizons.get(&bob), Some(&h(0)));
        drop(tx);
        // Another organisation's customer with the same id has only the global horizon.
        let mut tx = fx.store.begin_ingest(&Id::generate("org")).await.unwrap();
        let horizons = tx
            .sealed_before(std::slice::from_ref(&alice))
            .await
            .unwrap();
        assert_eq!(horizons.get(&alice), Some(&h(0)));
        drop(tx);

        // A sealed record takes no more usage: the batch fails instead of losing it.
        let mut tx = fx.store.begin_ingest(&org).await.unwrap();
        let mut late = records[0].clone();
        late.tally.quantity = 100;
        match tx.write_records(&[late]).await {
            Err(Error::Aborted(_)) => {}
            other => panic!("expected Aborted, got {other:?}"),
        }
    }
);

both!(a_sealed_hour_ahead_of_now_is_due_when_it_starts, |fx| {
    let (org, integration, customer) = ids();
    let next_hour = open_record(
        key(&org, &customer, "requests", T0 + hours(1)),
        &integration,
        4,
    );
    write(&fx.store, &org, std::slice::from_ref(&next_hour)).await;
    let now = T0 + Duration::minutes(30);
    let mut cancelling = plan(now, T0 - hours(1));
    cancelling.customers = vec![(org.clone(), customer.clone(), T0 + hours(2))];
    assert_eq!(fx.store.seal(&cancelling).await.unwrap(), 1);
    assert!(
        fx.store
            .lease("a", now, now + Duration::minutes(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let then = T0 + hours(1);
    let leased = fx
        .store
        .lease("a", then, then + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].id, next_hour.id);
});

both!(zero_records_never_overwrite_real_ones, |fx| {
    let (org, integration, customer) = ids();
    let h = |n: i64| T0 + hours(n);
    let real = open_record(key(&org, &customer, "requests", h(-2)), &integration, 7);
    write(&fx.store, &org, std::slice::from_ref(&real)).await;
    let zero_of_real = open_record(real.key.clone(), &integration, 0);
    let zero = open_record(key(&org, &customer, "requests", h(-1)), &integration, 0);
    let now = h(0) + Duration::minutes(6);
    let mut pass = plan(now, h(0));
    pass.zero_records = vec![zero_of_real, zero.clone()];
    // The zero record of the idle hour and the real record of the other.
    assert_eq!(fx.store.seal(&pass).await.unwrap(), 2);
    let records = all_records(&fx.store, &org).await;
    assert_eq!(records.len(), 2);
    let stored_real = one(&fx.store, &org, &real.id).await;
    assert_eq!(stored_real.tally.quantity, 7);
    assert_eq!(stored_real.status, RecordStatus::Pending);
    let stored_zero = one(&fx.store, &org, &zero.id).await;
    assert_eq!(stored_zero.tally.quantity, 0);
    assert_eq!(stored_zero.status, RecordStatus::Pending);
    assert_eq!(stored_zero.sealed_at, Some(now));
    // Both are due now, oldest hour first.
    let leased = fx
        .store
        .lease("a", now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    let ids: Vec<Id> = leased.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, vec![real.id.clone(), zero.id.clone()]);
    // The same zero record in the next pass is a no-op.
    assert_eq!(fx.store.seal(&pass).await.unwrap(), 0);
});

// --- shipping ------------------------------------------------------------------------------

/// `n` pending records, one per hour going back from `T0 - 1h`.
async fn pending(fx: &Fx, org: &Id, n: i64) -> Vec<HourlyRecord> {
    let (integration, customer) = (Id::generate("int"), Id::generate("cus"));
    let records: Vec<HourlyRecord> = (1..=n)
        .map(|i| {
            open_record(
                key(org, &customer, "requests", T0 - hours(i)),
                &integration,
                i,
            )
        })
        .collect();
    write(&fx.store, org, &records).await;
    fx.store.seal(&plan(T0, T0)).await.unwrap();
    records
}

both!(two_owners_never_lease_the_same_record, |fx| {
    let org = Id::generate("org");
    let records = pending(&fx, &org, 50).await;
    let now = T0 + Duration::minutes(1);
    let until = now + Duration::minutes(1);
    let (a, b) = {
        let (sa, sb) = (fx.store.clone(), fx.store.clone());
        let a = tokio::spawn(async move { sa.lease("a", now, until, 30).await.unwrap() });
        let b = tokio::spawn(async move { sb.lease("b", now, until, 30).await.unwrap() });
        (a.await.unwrap(), b.await.unwrap())
    };
    let ids_a: HashSet<Id> = a.iter().map(|r| r.id.clone()).collect();
    let ids_b: HashSet<Id> = b.iter().map(|r| r.id.clone()).collect();
    assert!(ids_a.is_disjoint(&ids_b));
    assert_eq!(ids_a.len() + ids_b.len(), 50);
    // Oldest hour first within a lease.
    for leased in [&a, &b] {
        assert!(
            leased
                .windows(2)
                .all(|w| w[0].key.hour_start < w[1].key.hour_start)
        );
    }
    // Everything is leased: nothing more until the leases expire.
    assert!(
        fx.store
            .lease("c", now, until, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let later = until + Duration::seconds(1);
    let again = fx
        .store
        .lease("c", later, later + Duration::minutes(1), 100)
        .await
        .unwrap();
    assert_eq!(again.len(), records.len());
    assert_eq!(again[0].key.hour_start, T0 - hours(50));
});

both!(settling_twice_changes_and_emits_once, |fx| {
    let org = Id::generate("org");
    let records = pending(&fx, &org, 4).await;
    let now = T0 + Duration::minutes(1);
    let leased = fx
        .store
        .lease("a", now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 4);
    let (sent, held, failed, retried) = (
        records[3].id.clone(),
        records[2].id.clone(),
        records[1].id.clone(),
        records[0].id.clone(),
    );
    let retry_at = now + Duration::seconds(30);
    let settlements = vec![
        Settlement::Sent {
            id: sent.clone(),
            metering_record_id: "mr-1".into(),
        },
        Settlement::Held {
            id: held.clone(),
            reason: "CustomerNotSubscribed".into(),
        },
        Settlement::Failed {
            id: failed.clone(),
            aws_status: Some("DuplicateRecord".into()),
            reason: "DuplicateRecord".into(),
        },
        Settlement::Retry {
            id: retried.clone(),
            next_attempt_at: retry_at,
            error: "throttled".into(),
        },
    ];
    assert_eq!(fx.store.settle(now, &settlements).await.unwrap(), 4);
    assert_eq!(outbox(&fx, "metering.record_sent").await, 1);
    assert_eq!(outbox(&fx, "metering.record_failed").await, 2);

    let r = one(&fx.store, &org, &sent).await;
    assert_eq!(r.status, RecordStatus::Sent);
    assert_eq!(r.metering_record_id.as_deref(), Some("mr-1"));
    assert_eq!(r.aws_status.as_deref(), Some("Success"));
    assert_eq!((r.attempts, r.sent_at), (1, Some(now)));
    let r = one(&fx.store, &org, &held).await;
    assert_eq!(r.status, RecordStatus::Held);
    assert_eq!(r.aws_status.as_deref(), Some("CustomerNotSubscribed"));
    let r = one(&fx.store, &org, &failed).await;
    assert_eq!(r.status, RecordStatus::Failed);
    assert_eq!(r.aws_status.as_deref(), Some("DuplicateRecord"));
    let r = one(&fx.store, &org, &retried).await;
    assert_eq!(r.status, RecordStatus::Pending);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.last_error.as_deref(), Some("throttled"));

    // A second answer for the same records (a lease expired, another replica sent them again)
    // changes nothing and emits nothing.
    let again: Vec<Settlement> = settlements[..3].to_vec();
    assert_eq!(fx.store.settle(now, &again).await.unwrap(), 0);
    assert_eq!(outbox(&fx, "metering.record_sent").await, 1);
    assert_eq!(outbox(&fx, "metering.record_failed").await, 2);

    // The retried record's lease is released, and it is due at its next attempt.
    assert!(
        fx.store
            .lease("b", now, now + Duration::minutes(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = fx
        .store
        .lease("b", retry_at, retry_at + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, retried);
});

both!(held_records_are_retried_once_per_key, |fx| {
    let org = Id::generate("org");
    let records = pending(&fx, &org, 3).await;
    let now = T0 + Duration::minutes(1);
    fx.store
        .lease("a", now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    let held: Vec<Settlement> = records
        .iter()
        .map(|r| Settlement::Held {
            id: r.id.clone(),
            reason: "CustomerNotSubscribed".into(),
        })
        .collect();
    assert_eq!(fx.store.settle(now, &held).await.unwrap(), 3);

    let later = now + hours(1);
    // Another organisation retries nothing of this one's.
    assert_eq!(
        fx.store
            .retry_held(&Id::generate("org"), &[], later, None)
            .await
            .unwrap(),
        0
    );
    let idem = Idempotency::new("test/RetryRecords", "retry-1".into(), b"request");
    let only = std::slice::from_ref(&records[0].id);
    assert_eq!(
        fx.store
            .retry_held(&org, only, later, Some(&idem))
            .await
            .unwrap(),
        1
    );
    // The retried request answers as the first time.
    assert_eq!(
        fx.store
            .retry_held(&org, only, later, Some(&idem))
            .await
            .unwrap(),
        1
    );
    let r = one(&fx.store, &org, &records[0].id).await;
    assert_eq!(r.status, RecordStatus::Pending);
    assert_eq!(r.last_error.as_deref(), Some("CustomerNotSubscribed"));
    // Every held record of the organisation.
    assert_eq!(
        fx.store.retry_held(&org, &[], later, None).await.unwrap(),
        2
    );
    let due = fx
        .store
        .lease("a", later, later + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 3);
});

// --- carrying ------------------------------------------------------------------------------

/// A pass at `now` sealing hours before `sealed_before` and carrying as the sealer does.
fn carry_plan(now: OffsetDateTime, sealed_before: OffsetDateTime) -> SealPlan {
    SealPlan {
        carry_before: crate::domain::hours::carry_before(now),
        ..plan(now, sealed_before)
    }
}

/// Seals the hours before `T0` (a pass at `T0 - 2h`), then carries as a pass at `T0 + 1min`.
async fn seal_then_carry(store: &SqlStore) {
    store.seal(&plan(T0 - hours(2), T0)).await.unwrap();
    store
        .seal(&carry_plan(T0 + Duration::minutes(1), T0))
        .await
        .unwrap();
}

async fn values_of(fx: &Fx, key: &RecordKey) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT value FROM unique_values WHERE organization_id = $1 AND customer_id = $2 \
         AND dimension = $3 AND hour_start = $4 ORDER BY value",
    )
    .bind(key.organization_id.as_str())
    .bind(key.customer_id.as_str())
    .bind(key.dimension.as_str())
    .bind(crate::store::rows::ms(key.hour_start))
    .fetch_all(fx.raw.pool())
    .await
    .unwrap()
}

both!(
    never_sent_records_leaving_the_window_are_carried_into_the_open_hour,
    |fx| {
        let (org, integration) = (Id::generate("org"), Id::generate("int"));
        let (alice, bob, carol) = (
            Id::generate("cus"),
            Id::generate("cus"),
            Id::generate("cus"),
        );
        let h = |n: i64| T0 + hours(n);
        let at = |c: &Id, n: i64, quantity: i64| {
            open_record(key(&org, c, "requests", h(n)), &integration, quantity)
        };
        let mut tagged = at(&alice, -7, 4);
        tagged.tally.allocations = BTreeMap::from([(Vec::new(), 1), (vec![tag("team", "red")], 3)]);
        let untagged = at(&alice, -6, 2);
        let in_window = at(&alice, -4, 8);
        let attempted = at(&alice, -9, 16);
        let in_flight = at(&alice, -8, 32);
        let bobs_old = at(&bob, -7, 7);
        let bobs_open = at(&bob, 0, 5);
        let carols_old = at(&carol, -7, 1);
        // Sealed long ago (nothing carried then), and never sent since: a shipping outage. Two
        // were leased by a shipper: one answered (an attempt), one still in flight.
        write(&fx.store, &org, &[attempted.clone(), in_flight.clone()]).await;
        fx.store.seal(&plan(h(-2), h(-7))).await.unwrap();
        let now = h(0) + Duration::minutes(30);
        let leased = fx
            .store
            .lease("a", now, now + Duration::minutes(1), 2)
            .await
            .unwrap();
        let leased: Vec<Id> = leased.into_iter().map(|r| r.id).collect();
        assert_eq!(leased, vec![attempted.id.clone(), in_flight.id.clone()]);
        let records = [
            tagged.clone(),
            untagged.clone(),
            in_window.clone(),
            bobs_old.clone(),
            bobs_open.clone(),
            carols_old.clone(),
        ];
        write(&fx.store, &org, &records).await;
        fx.store.seal(&plan(h(-2), h(0))).await.unwrap();
        let retry = Settlement::Retry {
            id: attempted.id.clone(),
            next_attempt_at: now + hours(1),
            error: "unavailable".into(),
        };
        assert_eq!(fx.store.settle(now, &[retry]).await.unwrap(), 1);

        // 10:30: hours starting before 05:30 leave AWS's window; carol is cancelling (her open
        // hour is the next one).
        let mut pass = carry_plan(now, h(0));
        pass.customers = vec![(org.clone(), carol.clone(), h(1))];
        assert_eq!(pass.carry_before, h(-5) + Duration::minutes(30));
        assert_eq!(fx.store.seal(&pass).await.unwrap(), 0);

        let listed = all_records(&fx.store, &org).await;
        let find = |c: &Id, hour: OffsetDateTime| {
            listed
                .iter()
                .find(|r| &r.key.customer_id == c && r.key.hour_start == hour)
                .cloned()
                .expect("a record of that hour")
        };
        // Alice's two never-sent hours went into her open hour, created for them.
        let alices_open = find(&alice, h(0));
        assert_eq!(alices_open.status, RecordStatus::Open);
        assert_eq!(alices_open.tally.quantity, 6);
        assert_eq!(
            alices_open.tally.allocations,
            BTreeMap::from([(Vec::new(), 3), (vec![tag("team", "red")], 3)])
        );
        assert_eq!(alices_open.integration_id, integration);
        assert_eq!(alices_open.aws_customer, tagged.aws_customer);
        for old in [&tagged, &untagged] {
            let r = one(&fx.store, &org, &old.id).await;
            assert_eq!(r.status, RecordStatus::Carried);
            assert_eq!(r.carried_to.as_ref(), Some(&alices_open.id));
            // The carried record keeps what it held, for the audit.
            assert_eq!(r.tally, old.tally);
        }
        // Within the window, attempted, or leased: left pending.
        for (old, attempts) in [(&in_window, 0), (&attempted, 1), (&in_flight, 0)] {
            let r = one(&fx.store, &org, &old.id).await;
            assert_eq!((r.status, r.attempts), (RecordStatus::Pending, attempts));
            assert_eq!(r.carried_to, None);
        }
        // Bob's open hour takes his old one, keeping its id.
        let r = one(&fx.store, &org, &bobs_open.id).await;
        assert_eq!((r.status, r.tally.quantity), (RecordStatus::Open, 12));
        let r = one(&fx.store, &org, &bobs_old.id).await;
        assert_eq!(r.carried_to.as_ref(), Some(&bobs_open.id));
        // Carol's open hour is after her horizon.
        let carols_open = find(&carol, h(1));
        assert_eq!(
            (carols_open.status, carols_open.tally.quantity),
            (RecordStatus::Open, 1)
        );
        assert_eq!(
            one(&fx.store, &org, &carols_old.id).await.carried_to,
            Some(carols_open.id.clone())
        );
        // The list filters on the status, and carrying is no AWS answer: no event.
        let page = PageRequest {
            size: 10,
            after: None,
            scope: PageScope::new("test", org.as_str(), &[]),
        };
        let filter = RecordFilter {
            statuses: vec![RecordStatus::Carried],
            ..RecordFilter::default()
        };
        let carried = fx.store.list_records(&org, &filter, &page).await.unwrap();
        let mut ids: Vec<Id> = carried.items.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        let mut expected = vec![
            tagged.id.clone(),
            untagged.id.clone(),
            bobs_old.id.clone(),
            carols_old.id.clone(),
        ];
        expected.sort();
        assert_eq!(ids, expected);
        assert_eq!(outbox(&fx, "metering.record_sent").await, 0);
        assert_eq!(outbox(&fx, "metering.record_failed").await, 0);
        let counts = fx.store.counts(Some(&org)).await.unwrap();
        assert_eq!(counts[0].by_status.get(&RecordStatus::Carried), Some(&4));

        // Carrying again changes nothing, even once the in-flight lease expired (its call may
        // have reached AWS).
        let later = now + Duration::minutes(2);
        let mut again = carry_plan(later, h(0));
        again.customers = pass.customers.clone();
        fx.store.seal(&again).await.unwrap();
        assert_eq!(all_records(&fx.store, &org).await, listed);
        // The carried records are never leased; the open hours are not yet.
        let due = fx
            .store
            .lease("b", later, later + Duration::minutes(1), 100)
            .await
            .unwrap();
        let due: Vec<Id> = due.into_iter().map(|r| r.id).collect();
        assert_eq!(due, vec![in_flight.id.clone(), in_window.id.clone()]);
    }
);

both!(
    unique_count_and_latest_hours_carry_by_their_aggregation,
    |fx| {
        let (org, integration, customer) = ids();
        let h = |n: i64| T0 + hours(n);
        let users = |n: i64, quantity: i64| {
            let mut r = open_record(key(&org, &customer, "users", h(n)), &integration, quantity);
            r.tally.aggregation = Aggregation::UniqueCount;
            r
        };
        let (old_users, open_users) = (users(-7, 3), users(0, 2));
        let seats = |n: i64, quantity: i64, latest: (i64, &str)| {
            let mut r = open_record(key(&org, &customer, "seats", h(n)), &integration, quantity);
            r.tally.aggregation = Aggregation::Latest;
            r.tally.latest = Some((crate::store::rows::ms(h(n)) + latest.0, latest.1.into()));
            r
        };
        // The old hour's latest event is earlier than the open hour's.
        let (old_seats, open_seats) = (seats(-7, 9, (5, "k1")), seats(0, 4, (1, "k2")));
        let mut tx = fx.store.begin_ingest(&org).await.unwrap();
        let values: Vec<(RecordKey, String)> = [("a", &old_users), ("b", &old_users)]
            .into_iter()
            .chain([("c", &old_users), ("c", &open_users), ("d", &open_users)])
            .map(|(v, r)| (r.key.clone(), v.to_owned()))
            .collect();
        tx.add_unique_values(&values).await.unwrap();
        tx.lock_records(&[old_users.key.clone(), open_users.key.clone()])
            .await
            .unwrap();
        tx.write_records(&[
            old_users.clone(),
            open_users.clone(),
            old_seats.clone(),
            open_seats.clone(),
        ])
        .await
        .unwrap();
        tx.commit().await.unwrap();
        seal_then_carry(&fx.store).await;
        // a, b, c and d: c counted once.
        let r = one(&fx.store, &org, &open_users.id).await;
        assert_eq!(r.tally.quantity, 4);
        assert_eq!(values_of(&fx, &open_users.key).await, ["a", "b", "c", "d"]);
        assert_eq!(values_of(&fx, &old_users.key).await, ["a", "b", "c"]);
        assert_eq!(
            one(&fx.store, &org, &old_users.id).await.carried_to,
            Some(open_users.id.clone())
        );
        assert_eq!(
            one(&fx.store, &org, &open_seats.id).await.tally,
            open_seats.tally
        );
        assert_eq!(
            one(&fx.store, &org, &old_seats.id).await.status,
            RecordStatus::Carried
        );
    }
);

both!(
    a_carry_that_would_exceed_the_largest_quantity_is_not_made,
    |fx| {
        let (org, integration, customer) = ids();
        let h = |n: i64| T0 + hours(n);
        let at = |n: i64, quantity: i64| {
            open_record(
                key(&org, &customer, "requests", h(n)),
                &integration,
                quantity,
            )
        };
        let (fits, too_big, open) = (
            at(-7, 5),
            at(-6, crate::domain::model::MAX_QUANTITY),
            at(0, 10),
        );
        write(
            &fx.store,
            &org,
            &[fits.clone(), too_big.clone(), open.clone()],
        )
        .await;
        seal_then_carry(&fx.store).await;
        assert_eq!(one(&fx.store, &org, &open.id).await.tally.quantity, 15);
        assert_eq!(
            one(&fx.store, &org, &fits.id).await.status,
            RecordStatus::Carried
        );
        // Left pending: AWS refuses it and it fails visibly.
        let r = one(&fx.store, &org, &too_big.id).await;
        assert_eq!((r.status, r.carried_to), (RecordStatus::Pending, None));
    }
);

// --- reading -------------------------------------------------------------------------------

both!(records_are_listed_newest_hour_first_in_pages, |fx| {
    let (org, integration) = (Id::generate("org"), Id::generate("int"));
    let (alice, bob) = (Id::generate("cus"), Id::generate("cus"));
    let mut records = Vec::new();
    for n in 0..4 {
        for c in [&alice, &bob] {
            records.push(open_record(
                key(&org, c, "requests", T0 - hours(n)),
                &integration,
                n,
            ));
        }
    }
    records.push(open_record(key(&org, &alice, "seats", T0), &integration, 1));
    write(&fx.store, &org, &records).await;
    // Another organisation's records are not listed.
    let other = Id::generate("org");
    write(
        &fx.store,
        &other,
        &[open_record(
            key(&other, &alice, "requests", T0),
            &integration,
            1,
        )],
    )
    .await;
    fx.store.seal(&plan(T0, T0 - hours(1))).await.unwrap();

    let scope = PageScope::new("test", org.as_str(), &[]);
    let mut page = PageRequest {
        size: 4,
        after: None,
        scope: scope.clone(),
    };
    let mut listed = Vec::new();
    loop {
        let found = fx
            .store
            .list_records(&org, &RecordFilter::default(), &page)
            .await
            .unwrap();
        assert!(found.items.len() <= 4);
        listed.extend(found.items);
        if found.next_page_token.is_empty() {
            break;
        }
        page = PageRequest::parse(4, &found.next_page_token, scope.clone()).unwrap();
    }
    let mut expected = records.clone();
    expected.sort_by(|a, b| {
        b.key
            .hour_start
            .cmp(&a.key.hour_start)
            .then(a.id.cmp(&b.id))
    });
    let ids = |rs: &[HourlyRecord]| rs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&listed), ids(&expected));

    let filter = RecordFilter {
        customer_ids: vec![alice.clone()],
        dimensions: vec!["requests".into()],
        statuses: vec![RecordStatus::Pending],
    };
    let first = PageRequest {
        size: 10,
        after: None,
        scope,
    };
    let found = fx.store.list_records(&org, &filter, &first).await.unwrap();
    let hours_found: Vec<OffsetDateTime> = found.items.iter().map(|r| r.key.hour_start).collect();
    assert_eq!(hours_found, vec![T0 - hours(2), T0 - hours(3)]);
});

both!(counts_are_per_integration_product_and_status, |fx| {
    let org = Id::generate("org");
    let records = pending(&fx, &org, 3).await;
    let integration = records[0].integration_id.clone();
    let customer = records[0].key.customer_id.clone();
    write(
        &fx.store,
        &org,
        &[open_record(
            key(&org, &customer, "requests", T0),
            &integration,
            1,
        )],
    )
    .await;
    let now = T0 + Duration::minutes(1);
    fx.store
        .lease("a", now, now + Duration::minutes(1), 1)
        .await
        .unwrap();
    fx.store
        .settle(
            now,
            &[Settlement::Sent {
                id: records[2].id.clone(),
                metering_record_id: "mr".into(),
            }],
        )
        .await
        .unwrap();
    let other = Id::generate("org");
    pending(&fx, &other, 1).await;

    let counts = fx.store.counts(Some(&org)).await.unwrap();
    assert_eq!(counts.len(), 1);
    let c = &counts[0];
    assert_eq!(
        (c.integration_id.clone(), c.product_code.as_str()),
        (integration, "prod-1")
    );
    assert_eq!(c.by_status.get(&RecordStatus::Open), Some(&1));
    assert_eq!(c.by_status.get(&RecordStatus::Pending), Some(&2));
    assert_eq!(c.by_status.get(&RecordStatus::Sent), Some(&1));
    assert_eq!(c.by_status.get(&RecordStatus::Held), None);
    assert_eq!(c.oldest_unsent_hour, Some(T0 - hours(2)));
    assert_eq!(fx.store.counts(None).await.unwrap().len(), 2);
});

// --- throughput ----------------------------------------------------------------------------

/// Ingestion throughput against raw multi-row inserts of the same rows (run with
/// `cargo test -p souk-metering --release -- --ignored ingestion_throughput --nocapture`).
#[test]
#[ignore = "a measurement, not a check"]
fn ingestion_throughput() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        run(backend, |fx: Fx| async move {
            const BATCHES: usize = 50;
            const SIZE: usize = 1000;
            let (org, customer) = (Id::generate("org"), Id::generate("cus"));
            let batches: Vec<Vec<StoredEvent>> = (0..BATCHES)
                .map(|b| {
                    (0..SIZE)
                        .map(|i| {
                            let mut e = event(&org, &customer, &format!("k-{b}-{i}"), 1, T0);
                            e.content_hash = format!("{:064x}", b * SIZE + i);
                            e
                        })
                        .collect()
                })
                .collect();

            let started = std::time::Instant::now();
            for batch in &batches {
                let mut tx = fx.store.begin_ingest(&org).await.unwrap();
                let keys: Vec<&str> = batch.iter().map(|e| e.idempotency_key.as_str()).collect();
                assert!(tx.existing(&keys).await.unwrap().is_empty());
                assert!(tx.insert_events(batch).await.unwrap().is_empty());
                tx.commit().await.unwrap();
            }
            let ours = (BATCHES * SIZE) as f64 / started.elapsed().as_secs_f64();

            sqlx::query("DELETE FROM usage_events")
                .execute(fx.raw.pool())
                .await
                .unwrap();
            let started = std::time::Instant::now();
            for batch in &batches {
                let mut tx = fx.raw.begin_write().await.unwrap();
                let mut p = super::Placeholders::default();
                let values: Vec<String> = batch.iter().map(|_| p.tuple(13, "")).collect();
                let sql = format!(
                    "INSERT INTO usage_events (organization_id, idempotency_key, usage_id, \
                     content_hash, customer_id, dimension, quantity, occurred_at, hour_start, \
                     natural_hour, allocations, unique_value, recorded_at) VALUES {}",
                    values.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for e in batch {
                    let at = crate::store::rows::ms(e.occurred_at);
                    query = query
                        .bind(e.organization_id.as_str().to_owned())
                        .bind(e.idempotency_key.clone())
                        .bind(e.usage_id.as_str().to_owned())
                        .bind(e.content_hash.clone())
                        .bind(e.customer_id.as_str().to_owned())
                        .bind(e.dimension.clone())
                        .bind(e.quantity)
                        .bind(at)
                        .bind(at)
                        .bind(at)
                        .bind(None::<String>)
                        .bind(None::<String>)
                        .bind(at);
                }
                query.execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }
            let raw = (BATCHES * SIZE) as f64 / started.elapsed().as_secs_f64();
            println!(
                "{backend}: store {ours:.0} events/s, raw multi-row insert {raw:.0} events/s \
                 (ratio {:.2})",
                ours / raw
            );
        });
    }
}
