//! Shipping against the in-process emulator: the real `AwsMarketplace` (SDK, STS role, pacing,
//! error mapping), the domain `Shipper` and the SQL store (a fresh SQLite file or PostgreSQL
//! database per test), checked against what the emulator bills.
//!
//! Records are made the way the service makes them: usage recorded through the domain's
//! ingestion, then the current hour sealed through the store (so a test need not wait for the
//! hour to end).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_marketplacemetering::types::UsageRecord;
use serde_json::{Value, json};
use souk_auth::{IntegrationRole, RoleAssumer, RoleAssumerOptions};
use souk_core::{Id, MillisClock, PageRequest, PageScope, SharedClock};
use souk_events::{EventFactory, Namespace};
use souk_metering::STORE_NAME;
use souk_metering::aws::AwsMarketplace;
use souk_metering::domain::hours::floor_hour;
use souk_metering::domain::model::{
    Aggregation, HourlyRecord, RecordStatus, Subscriber, SubscriberState, UsageEvent,
};
use souk_metering::domain::ports::{
    CallError, Marketplace, MeterCall, RecordAnswer, RecordFilter, SealPlan, Store,
};
use souk_metering::domain::shipping::{Jitter, ShipOptions, ShipReport, Shipper};
use souk_metering::domain::{IngestLimits, MeterSpec, Metering};
use souk_metering::store::{SqlStore, migrations};
use souk_testkit::TestDb;
use time::OffsetDateTime;

use crate::harness::{
    Aws, Buyer, EmulatorClock, LEGACY, LICENSED, ROLE_ARN, Roles, TestSubscribers,
};

/// Metered dimensions of both products.
const DIMENSIONS: usize = 30;
/// A dimension Souk has a meter for and the emulator's products do not list.
const UNLISTED: &str = "no-such-dimension";

/// One shipping test on SQLite and on PostgreSQL, with a started [`Harness`].
macro_rules! shipping {
    ($name:ident, |$h:ident| $body:block) => {
        shipping!($name, Duration::from_secs(10), |$h| $body);
    };
    ($name:ident, $timeout:expr, |$h:ident| $body:block) => {
        souk_testkit::both_backends!($name, |db: TestDb| async move {
            let $h = Harness::start_with(db, $timeout).await;
            $body
        });
    };
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// The real marketplace, counting the records of each call.
struct Counting {
    inner: AwsMarketplace,
    calls: Mutex<Vec<(usize, Result<(), CallError>)>>,
}

impl Counting {
    fn calls(&self) -> Vec<(usize, Result<(), CallError>)> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl Marketplace for Counting {
    async fn batch_meter_usage(&self, call: &MeterCall) -> Result<Vec<RecordAnswer>, CallError> {
        let answer = self.inner.batch_meter_usage(call).await;
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push((
            call.records.len(),
            answer.as_ref().map(|_| ()).map_err(Clone::clone),
        ));
        answer
    }
}

/// No randomness: every backoff is its base.
#[derive(Debug)]
struct NoJitter;

impl Jitter for NoJitter {
    fn sample(&self) -> f64 {
        0.0
    }
}

struct Harness {
    aws: Aws,
    store: Arc<SqlStore>,
    metering: Metering,
    subscribers: Arc<TestSubscribers>,
    marketplace: Arc<Counting>,
    shipper: Shipper,
    roles: Arc<Roles>,
    organization_id: Id,
    integration_id: Id,
    role: IntegrationRole,
    assumer: RoleAssumer,
    _db: TestDb,
}

impl Harness {
    /// The emulator with both products and the seller's role, the store on `db` with a SUM
    /// meter per dimension; the marketplace makes one attempt per call (so injected faults
    /// reach the shipper) within `timeout`.
    async fn start_with(db: TestDb, timeout: Duration) -> Self {
        let external_id = Id::generate("ext").to_string();
        let extra: Vec<String> = (0..DIMENSIONS).map(dimension).collect();
        let aws = Aws::start(&external_id, &extra).await;
        let organization_id = Id::generate("org");
        let integration_id = Id::generate("int");
        let role = IntegrationRole {
            integration_id: integration_id.to_string(),
            role_arn: ROLE_ARN.into(),
            external_id,
            region: "us-east-1".into(),
        };
        let roles = Arc::new(Roles::default());
        roles
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(integration_id.clone(), role.clone());
        let assumer = RoleAssumer::with_static_credentials(
            "AKIDSOUKMETERINGTEST",
            "base-secret",
            RoleAssumerOptions {
                endpoint_url: Some(aws.emulator.url.clone()),
                max_attempts: 1,
                ..RoleAssumerOptions::default()
            },
        );
        let marketplace = Arc::new(Counting {
            inner: AwsMarketplace::new(assumer.clone(), roles.clone(), 8).with_timeout(timeout),
            calls: Mutex::new(Vec::new()),
        });
        let raw = db
            .migrated_store(STORE_NAME, migrations())
            .await
            .expect("store");
        let clock: SharedClock = Arc::new(MillisClock(Arc::new(EmulatorClock(
            aws.emulator.emulator.clone(),
        ))));
        let store = Arc::new(SqlStore::new(
            raw,
            EventFactory::new(clock.clone(), Namespace::default()),
            clock.clone(),
        ));
        let subscribers = Arc::new(TestSubscribers::default());
        let metering = Metering::new(
            store.clone(),
            subscribers.clone(),
            clock,
            IngestLimits::default(),
        );
        for product in [LEGACY, LICENSED] {
            for name in extra.iter().map(String::as_str).chain([UNLISTED]) {
                metering
                    .put_meter(
                        &organization_id,
                        MeterSpec {
                            product_code: product.into(),
                            dimension: name.into(),
                            feature: None,
                            aggregation: Aggregation::Sum,
                            attribute: None,
                            zero_fill: false,
                        },
                    )
                    .await
                    .expect("meter");
            }
        }
        let shipper = Shipper::new(store.clone(), marketplace.clone(), ShipOptions::default())
            .with_jitter(Arc::new(NoJitter));
        Self {
            aws,
            store,
            metering,
            subscribers,
            marketplace,
            shipper,
            roles,
            organization_id,
            integration_id,
            role,
            assumer,
            _db: db,
        }
    }

    async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        self.aws.control(method, path, body).await
    }

    async fn fault(&self, kind: &str, count: u32) {
        self.control(
            "POST",
            "/_souk/faults",
            json!({"operation": "BatchMeterUsage", "kind": kind, "count": count}),
        )
        .await;
    }

    /// A new buyer of `product`, a customer of Souk.
    async fn subscribe(&self, product: &str) -> Buyer {
        let buyer = self.aws.subscribe(product, &self.aws.account()).await;
        self.enrol(&buyer);
        buyer
    }

    /// Makes `buyer` an active customer of Souk.
    fn enrol(&self, buyer: &Buyer) {
        self.subscribers.add(
            Subscriber {
                organization_id: self.organization_id.clone(),
                customer_id: buyer.customer_id.clone(),
                subscription_id: buyer.subscription_id.clone(),
                integration_id: self.integration_id.clone(),
                product_code: buyer.product.clone(),
                aws_customer: Some(buyer.aws_customer()),
                state: SubscriberState::Active,
                activated_at: Some(self.now()),
            },
            None,
        );
    }

    async fn ledger(&self, product: &str) -> Vec<Value> {
        self.aws.ledger(product).await
    }

    fn now(&self) -> OffsetDateTime {
        self.aws.now()
    }

    /// Usage of `quantity` by `buyer` on `dimension` now.
    fn usage(&self, buyer: &Buyer, dimension: &str, quantity: i64) -> UsageEvent {
        UsageEvent {
            idempotency_key: Id::generate("key").to_string(),
            customer: buyer.customer_id.to_string(),
            dimension: dimension.into(),
            quantity,
            timestamp: self.now(),
            allocations: Vec::new(),
            attributes: BTreeMap::new(),
        }
    }

    /// Records `usage` and seals the current hour (as the final-hour path does), so its
    /// records are due now.
    async fn add(&self, usage: Vec<UsageEvent>) {
        self.metering
            .record(&self.organization_id, &usage)
            .await
            .expect("usage recorded");
        let now = self.now();
        self.store
            .seal(&SealPlan {
                now,
                sealed_before: floor_hour(now) + time::Duration::HOUR,
                customers: Vec::new(),
                zero_records: Vec::new(),
                carry_before: souk_metering::domain::hours::carry_before(now),
            })
            .await
            .expect("sealed");
    }

    /// Every record, newest hour first.
    async fn records(&self) -> Vec<HourlyRecord> {
        self.list(RecordFilter::default()).await
    }

    async fn list(&self, filter: RecordFilter) -> Vec<HourlyRecord> {
        let page = PageRequest {
            size: 1000,
            after: None,
            scope: PageScope::new("it", self.organization_id.as_str(), &[]),
        };
        self.store
            .list_records(&self.organization_id, &filter, &page)
            .await
            .expect("records")
            .items
    }

    async fn pending(&self) -> usize {
        self.list(RecordFilter {
            statuses: vec![RecordStatus::Pending],
            ..RecordFilter::default()
        })
        .await
        .len()
    }

    /// The record of `buyer` on `dimension`.
    async fn record_of(&self, buyer: &Buyer, dimension: &str) -> HourlyRecord {
        let found: Vec<HourlyRecord> = self
            .records()
            .await
            .into_iter()
            .filter(|r| r.key.customer_id == buyer.customer_id && r.key.dimension == dimension)
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].clone()
    }

    async fn status_of(&self, id: &Id) -> HourlyRecord {
        self.records()
            .await
            .into_iter()
            .find(|r| &r.id == id)
            .expect("a record of this store")
    }

    /// Shipping passes until nothing is pending, each one ten minutes after the previous on
    /// the shipper's clock (so every backoff is over; the emulator's clock stays put).
    async fn ship_all(&self) -> ShipReport {
        let mut total = ShipReport::default();
        let mut now = self.now();
        for _ in 0..30 {
            let report = self.shipper.ship_once("it", now).await.expect("pass");
            total.add(&report);
            assert_eq!(
                report.settled, report.leased,
                "every leased record is settled"
            );
            if self.pending().await == 0 {
                return total;
            }
            now += time::Duration::minutes(10);
        }
        panic!("records still pending after 30 passes: {total:?}");
    }

    /// Checks that every record of `product` in the store is sent, billed exactly once with
    /// its quantity, under the MeteringRecordId the store holds.
    async fn assert_billed_once(&self, product: &str) {
        let ledger = self.ledger(product).await;
        let records: Vec<HourlyRecord> = self
            .records()
            .await
            .into_iter()
            .filter(|r| r.product_code == product)
            .collect();
        assert_eq!(ledger.len(), records.len(), "one ledger entry per record");
        for record in &records {
            assert_eq!(record.status, RecordStatus::Sent, "{record:?}");
            let entry = ledger
                .iter()
                .find(|e| e["metering_record_id"].as_str() == record.metering_record_id.as_deref())
                .unwrap_or_else(|| panic!("no ledger entry for {record:?}"));
            assert_eq!(entry["dimension"], json!(record.key.dimension));
            assert_eq!(entry["quantity"], json!(record.tally.quantity));
            assert_eq!(entry["hour"], json!(record.key.hour_start.unix_timestamp()));
        }
    }
}

fn dimension(d: usize) -> String {
    format!("dim{d:02}")
}

/// Usage making `n` records of `product` over two buyers and the first dimensions.
async fn usage_of(harness: &Harness, product: &str, n: usize) -> Vec<UsageEvent> {
    let buyers = [
        harness.subscribe(product).await,
        harness.subscribe(product).await,
    ];
    (0..n)
        .map(|i| {
            harness.usage(
                &buyers[i / DIMENSIONS],
                &dimension(i % DIMENSIONS),
                i64::try_from(i).unwrap_or(0) + 1,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The tests.

shipping!(
    sixty_records_of_one_product_go_in_three_calls_and_are_billed_once,
    |harness| {
        let usage = usage_of(&harness, LEGACY, 60).await;
        harness.add(usage).await;

        let report = harness.ship_all().await;

        let sizes: Vec<usize> = harness.marketplace.calls().iter().map(|c| c.0).collect();
        assert_eq!(sizes, vec![25, 25, 10]);
        assert_eq!((report.calls, report.sent, report.retried), (3, 60, 0));
        harness.assert_billed_once(LEGACY).await;
    }
);

shipping!(
    legacy_and_licence_records_ship_in_their_own_shapes,
    |harness| {
        let mut usage = usage_of(&harness, LEGACY, 3).await;
        usage.extend(usage_of(&harness, LICENSED, 4).await);
        harness.add(usage).await;

        let report = harness.ship_all().await;

        let mut sizes: Vec<usize> = harness.marketplace.calls().iter().map(|c| c.0).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![3, 4], "one call per kind of customer");
        assert_eq!(report.sent, 7);
        harness.assert_billed_once(LEGACY).await;
        harness.assert_billed_once(LICENSED).await;
        for entry in harness.ledger(LICENSED).await {
            assert!(
                entry["license_arn"].as_str().is_some_and(|a| !a.is_empty()),
                "licence usage is billed to the licence: {entry}"
            );
        }
        for entry in harness.ledger(LEGACY).await {
            assert!(entry["license_arn"].is_null(), "{entry}");
        }
    }
);

/// Ships 30 records (two calls) under `count` hits of fault `kind`; every record ends sent
/// and billed exactly once.
async fn survives(harness: &Harness, kind: &str, count: u32) -> ShipReport {
    let usage = usage_of(harness, LEGACY, 30).await;
    harness.add(usage).await;
    harness.fault(kind, count).await;

    let report = harness.ship_all().await;

    assert_eq!(report.sent, 30, "{kind}: {report:?}");
    assert_eq!(report.failed + report.held, 0, "{kind}: {report:?}");
    harness.assert_billed_once(LEGACY).await;
    report
}

shipping!(throttled_calls_are_sent_again_later, |harness| {
    let report = survives(&harness, "throttle", 2).await;
    assert!(report.throttled >= 1, "{report:?}");
    assert!(report.retried >= 25, "{report:?}");
    assert!(
        harness
            .marketplace
            .calls()
            .iter()
            .any(|c| matches!(c.1, Err(CallError::Throttled(_))))
    );
});

shipping!(server_errors_are_sent_again_later, |harness| {
    let report = survives(&harness, "server_error", 2).await;
    assert!(report.retried >= 2, "{report:?}");
    assert!(
        harness
            .marketplace
            .calls()
            .iter()
            .any(|c| matches!(c.1, Err(CallError::Unavailable(_))))
    );
});

shipping!(
    a_dropped_connection_after_aws_applied_the_call_bills_nothing_twice,
    |harness| {
        let report = survives(&harness, "drop", 1).await;
        assert!(report.retried >= 5, "{report:?}");
        assert!(
            harness
                .marketplace
                .calls()
                .iter()
                .any(|c| matches!(c.1, Err(CallError::Unavailable(_))))
        );
    }
);

shipping!(unprocessed_records_are_sent_again_later, |harness| {
    let report = survives(&harness, "unprocessed", 4).await;
    assert_eq!(report.retried, 4, "{report:?}");
});

shipping!(
    a_hung_call_times_out_and_is_sent_again,
    Duration::from_millis(500),
    |harness| {
        let usage = usage_of(&harness, LEGACY, 5).await;
        harness.add(usage).await;
        harness
            .control(
                "POST",
                "/_souk/faults",
                json!({"operation": "BatchMeterUsage", "kind": "latency", "latency_ms": 2000, "count": 1}),
            )
            .await;

        let report = harness.ship_all().await;

        assert_eq!(report.sent, 5);
        assert!(
            matches!(
                harness.marketplace.calls()[0].1,
                Err(CallError::Unavailable(_))
            ),
            "{:?}",
            harness.marketplace.calls()
        );
        harness.assert_billed_once(LEGACY).await;
    }
);

shipping!(
    another_quantity_already_metered_for_the_hour_fails_as_duplicate,
    |harness| {
        let buyer = harness.subscribe(LEGACY).await;
        // Someone else metered 99 for the same customer, dimension and hour.
        let clients = harness
            .assumer
            .clients(&harness.role)
            .await
            .expect("role assumed");
        clients
            .metering
            .batch_meter_usage()
            .product_code(LEGACY)
            .usage_records(
                UsageRecord::builder()
                    .timestamp(aws_smithy_types::DateTime::from_secs(
                        floor_hour(harness.now()).unix_timestamp(),
                    ))
                    .customer_identifier(&buyer.customer_identifier)
                    .dimension(dimension(0))
                    .quantity(99)
                    .build()
                    .expect("record"),
            )
            .send()
            .await
            .expect("pre-metered");
        harness
            .add(vec![
                harness.usage(&buyer, &dimension(0), 5),
                harness.usage(&buyer, &dimension(1), 6),
            ])
            .await;
        let duplicate_id = harness.record_of(&buyer, &dimension(0)).await.id;
        let fine_id = harness.record_of(&buyer, &dimension(1)).await.id;

        let report = harness.ship_all().await;

        assert_eq!((report.sent, report.failed, report.calls), (1, 1, 1));
        let duplicate = harness.status_of(&duplicate_id).await;
        assert_eq!(duplicate.status, RecordStatus::Failed);
        assert_eq!(duplicate.aws_status.as_deref(), Some("DuplicateRecord"));
        assert_eq!(harness.status_of(&fine_id).await.status, RecordStatus::Sent);
        let ledger = harness.ledger(LEGACY).await;
        let billed: Vec<i64> = ledger
            .iter()
            .filter(|e| e["dimension"] == json!(dimension(0)))
            .filter_map(|e| e["quantity"].as_i64())
            .collect();
        assert_eq!(billed, vec![99], "the first quantity stays billed");
    }
);

shipping!(
    a_customer_aws_does_not_know_as_subscribed_is_held,
    |harness| {
        let subscribed = harness.subscribe(LEGACY).await;
        // A buyer of the other product only: not subscribed to LEGACY.
        let mut stranger = harness.subscribe(LICENSED).await;
        stranger.customer_id = Id::generate("cus");
        stranger.product = LEGACY.into();
        harness.enrol(&stranger);
        harness
            .add(vec![
                harness.usage(&stranger, &dimension(0), 3),
                harness.usage(&subscribed, &dimension(0), 4),
            ])
            .await;
        let held_id = harness.record_of(&stranger, &dimension(0)).await.id;

        let report = harness.ship_all().await;

        assert_eq!((report.sent, report.held, report.calls), (1, 1, 1));
        let record = harness.status_of(&held_id).await;
        assert_eq!(record.status, RecordStatus::Held);
        assert_eq!(record.aws_status.as_deref(), Some("CustomerNotSubscribed"));
        assert_eq!(harness.ledger(LEGACY).await.len(), 1);
    }
);

shipping!(an_unknown_dimension_is_isolated_by_bisecting, |harness| {
    let mut usage = usage_of(&harness, LEGACY, 10).await;
    usage[6].dimension = UNLISTED.into();
    let customer = usage[6].customer.clone();
    harness.add(usage).await;
    let bad_id = harness
        .records()
        .await
        .into_iter()
        .find(|r| r.key.customer_id.as_str() == customer && r.key.dimension == UNLISTED)
        .expect("the record of the unlisted dimension")
        .id;

    let report = harness.ship_all().await;

    assert_eq!((report.sent, report.failed), (9, 1), "{report:?}");
    assert!(report.calls > 1 && report.calls <= 8, "{report:?}");
    let bad = harness.status_of(&bad_id).await;
    assert_eq!(bad.status, RecordStatus::Failed);
    assert!(
        bad.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("InvalidUsageDimensionException")),
        "{bad:?}"
    );
    assert_eq!(harness.ledger(LEGACY).await.len(), 9);
});

shipping!(a_refused_role_is_retried_until_allowed, |harness| {
    let usage = usage_of(&harness, LEGACY, 3).await;
    harness.add(usage).await;
    let ids: Vec<Id> = harness.records().await.into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3);
    harness
        .control(
            "POST",
            "/_souk/sts/roles/deny",
            json!({"role_arn": ROLE_ARN, "actions": ["aws-marketplace:BatchMeterUsage"]}),
        )
        .await;

    let report = harness
        .shipper
        .ship_once("it", harness.now())
        .await
        .expect("pass");
    assert_eq!((report.calls, report.retried), (1, 3), "{report:?}");
    assert!(matches!(
        harness.marketplace.calls()[0].1,
        Err(CallError::Denied(_))
    ));
    for id in &ids {
        let record = harness.status_of(id).await;
        assert_eq!(record.status, RecordStatus::Pending);
        assert!(
            record
                .last_error
                .is_some_and(|e| e.contains("not authorized"))
        );
    }

    // An integration without a role cannot call either.
    harness
        .roles
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    let later = harness.now() + time::Duration::minutes(10);
    let report = harness.shipper.ship_once("it", later).await.expect("pass");
    assert_eq!(report.retried, 3);
    assert!(
        harness
            .status_of(&ids[0])
            .await
            .last_error
            .is_some_and(|e| e.contains("no role"))
    );

    harness
        .roles
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(harness.integration_id.clone(), harness.role.clone());
    harness
        .control(
            "POST",
            "/_souk/sts/roles/allow",
            json!({"role_arn": ROLE_ARN, "actions": ["aws-marketplace:BatchMeterUsage"]}),
        )
        .await;
    let report = harness.ship_all().await;
    assert_eq!(report.sent, 3);
    harness.assert_billed_once(LEGACY).await;
});
