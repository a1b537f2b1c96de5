//! Ingestion and shipping figures of the metering service, each beside a floor measured in the
//! same run:
//!
//! 1. durable RecordUsage events/s (batches of `BENCH_BATCH` events, `BENCH_CLIENTS` clients in
//!    a closed loop, one HTTP/2 connection each);
//! 2. durable StreamUsage events/s (`BENCH_STREAMS` streams of chunks of `BENCH_BATCH`, each
//!    stream pipelining up to two chunks ahead of its acknowledgements);
//! 3. the floor: plain multi-row `INSERT`s of the same rows (the 13 columns of `usage_events`,
//!    fresh keys, one autocommitted statement per batch) into the same table of the same
//!    database, with the same batch size and concurrency, through the same sqlx pool;
//! 4. RecordUsage acknowledgement latency (p50, p99) at half the measured batched throughput,
//!    in calls of `BENCH_LATENCY_BATCH` events (default 100: a client that wants quick answers
//!    sends small batches often), sent open-loop at a fixed rate (a late answer does not delay
//!    the next call);
//! 5. overload: a small `max_in_flight`, `BENCH_OVERLOAD_CLIENTS` clients hammering it; the
//!    RESOURCE_EXHAUSTED answers, how fast they come, and the peak RSS before and during;
//! 6. BatchMeterUsage calls for a backlog: records of two products in one hour, sealed and
//!    shipped by `MeteringApp::ship_now` through the real `AwsMarketplace` (SDK, STS role,
//!    pacing) against the in-process AWS emulator; calls counted per product and hour.
//!
//! Phases 1-4 run on PostgreSQL, then on SQLite; 5 and 6 on PostgreSQL. The floor, RecordUsage
//! and StreamUsage run in turn in one-second slices, so that other work on the machine hits
//! them alike.
//!
//! `cargo run --release -p souk-metering --example bench_ingest`
//! (`BENCH_SECS` = seconds per measured phase, default 5; `BENCH_CLIENTS`, default 4;
//! `BENCH_STREAMS`, default 4; `BENCH_BATCH`, default 1000; `BENCH_LATENCY_BATCH`, default 100;
//! `BENCH_CUSTOMERS`, default 1000; `BENCH_OVERLOAD_IN_FLIGHT`, default 5000;
//! `BENCH_OVERLOAD_CLIENTS`, default 64;
//! `BENCH_SHIP_RECORDS`, default 1000, and `BENCH_SHIP_RECORDS_B`, default 130, records of the
//! two shipped products; `BENCH_SQLITE=0` skips SQLite; PostgreSQL from `SOUK_TEST_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`, a fresh database per phase).
//!
//! Souk runs as `souk serve` runs it: `souk_service`'s `GrpcServer` (request span with a JSON
//! subscriber at info, metrics, API-key authentication with an in-memory key store) in front of
//! `MeteringApi` over `Metering` over the real `SqlStore`. The subscribers are an in-memory
//! snapshot of `BENCH_CUSTOMERS` active customers of one product (in production they are an
//! in-memory snapshot too); every event names a random one of them by its `cus_` id, on one
//! SUM dimension. Targets are printed as PASS or MISS, never asserted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use souk_auth::{Authenticator, IntegrationRole, RoleAssumer, RoleAssumerOptions, Scope};
use souk_core::{
    Id, Idempotency, ManualClock, MillisClock, Page, PageRequest, SharedClock, SystemClock,
};
use souk_emulator::{EmulatorConfig, RunningEmulator};
use souk_events::{EventFactory, Namespace};
use souk_metering::api::MeteringApi;
use souk_metering::aws::{AwsMarketplace, IntegrationRoles};
use souk_metering::domain::hours::floor_hour;
use souk_metering::domain::model::{
    Aggregation, AwsCustomer, HourlyRecord, Meter, RecordKey, Subscriber, SubscriberState,
    UsageEvent,
};
use souk_metering::domain::ports::{
    self, CallError, Counts, Marketplace, MeterCall, RecordAnswer, RecordFilter, SealPlan,
    Settlement, StoredEvent, Subscribers,
};
use souk_metering::domain::{Error, IngestLimits, MeterSpec, Metering};
use souk_metering::store::{SqlStore, migrations};
use souk_metering::{AppOptions, MeteringApp, MeteringConfig, STORE_NAME};
use souk_proto::metering as pb;
use souk_proto::metering::metering_service_client::MeteringServiceClient;
use souk_proto::metering::metering_service_server::MeteringServiceServer;
use souk_service::ServiceParts;
use souk_store::{Backend, Store, StoreConfig};
use souk_testkit::TestDb;
use souk_testkit::keys::MemoryKeyStore;
use sqlx::AnyPool;
use time::OffsetDateTime;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tower::ServiceExt as _;

const PRODUCT: &str = "soukbenchingest00001";
const DIMENSION: &str = "requests";
/// Products of the shipping phase: legacy (ProductCode + CustomerIdentifier) and
/// concurrent-agreement (CustomerAWSAccountId + LicenseArn).
const SHIP_LEGACY: &str = "soukbenchship0000001";
const SHIP_LICENSED: &str = "soukbenchship0000002";
const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukMeteringBench";
/// AWS's limit of records per BatchMeterUsage call.
const PER_CALL: u64 = 25;
/// Grace before an hour is sealed (the default).
const SEAL_GRACE: Duration = Duration::from_secs(300);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_usize(name: &str, default: usize) -> usize {
    usize::try_from(env_number(name, default as u64)).unwrap_or(default)
}

/// splitmix64: a cheap random stream per task.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Key prefixes, unique in the process, so that every generated key is fresh.
static NEXT_PREFIX: AtomicU64 = AtomicU64::new(1);

// ---------------------------------------------------------------------------------------------
// The outside world: subscribers in memory, AWS roles in memory, a counting Marketplace.

/// An in-memory snapshot of subscribers, by every reference an event may use.
#[derive(Default)]
struct MemorySubscribers {
    by_reference: HashMap<(Id, String), Vec<Subscriber>>,
    all: Vec<Subscriber>,
}

impl MemorySubscribers {
    fn new(subscribers: Vec<Subscriber>) -> Self {
        let mut by_reference: HashMap<(Id, String), Vec<Subscriber>> = HashMap::new();
        for s in &subscribers {
            by_reference
                .entry((s.organization_id.clone(), s.customer_id.to_string()))
                .or_default()
                .push(s.clone());
        }
        Self {
            by_reference,
            all: subscribers,
        }
    }
}

impl Subscribers for MemorySubscribers {
    fn find(&self, organization_id: &Id, reference: &str) -> Vec<Subscriber> {
        self.by_reference
            .get(&(organization_id.clone(), reference.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    fn cancelling(&self) -> Vec<Subscriber> {
        Vec::new()
    }

    fn of_product(&self, organization_id: &Id, product_code: &str) -> Vec<Subscriber> {
        self.all
            .iter()
            .filter(|s| &s.organization_id == organization_id && s.product_code == product_code)
            .cloned()
            .collect()
    }
}

fn subscriber(
    organization_id: &Id,
    integration_id: &Id,
    product_code: &str,
    aws_customer: AwsCustomer,
) -> Subscriber {
    Subscriber {
        organization_id: organization_id.clone(),
        customer_id: Id::generate("cus"),
        subscription_id: Id::generate("sub"),
        integration_id: integration_id.clone(),
        product_code: product_code.to_owned(),
        aws_customer: Some(aws_customer),
        state: SubscriberState::Active,
        activated_at: Some(OffsetDateTime::now_utc() - time::Duration::days(30)),
    }
}

#[derive(Default)]
struct Roles(Mutex<HashMap<Id, IntegrationRole>>);

#[async_trait]
impl IntegrationRoles for Roles {
    async fn role(
        &self,
        _organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<IntegrationRole>, String> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(integration_id)
            .cloned())
    }
}

/// One BatchMeterUsage call as the counting decorator saw it.
#[derive(Debug, Clone)]
struct SeenCall {
    product_code: String,
    hour: OffsetDateTime,
    records: usize,
    ok: bool,
}

/// The real marketplace, counting the calls.
struct Counting {
    inner: AwsMarketplace,
    calls: Mutex<Vec<SeenCall>>,
}

#[async_trait]
impl Marketplace for Counting {
    async fn batch_meter_usage(&self, call: &MeterCall) -> Result<Vec<RecordAnswer>, CallError> {
        let answer = self.inner.batch_meter_usage(call).await;
        let hour = call
            .records
            .first()
            .map_or(OffsetDateTime::UNIX_EPOCH, |r| r.timestamp);
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(SeenCall {
                product_code: call.product_code.clone(),
                hour,
                records: call.records.len(),
                ok: answer.is_ok(),
            });
        answer
    }
}

// ---------------------------------------------------------------------------------------------
// Diagnostics: the time of each store step of an ingestion.

/// Total time and count per store step.
#[derive(Default)]
struct StepTimes(Mutex<BTreeMap<&'static str, (u64, Duration)>>);

impl StepTimes {
    fn add(&self, step: &'static str, took: Duration) {
        let mut steps = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = steps.entry(step).or_default();
        entry.0 += 1;
        entry.1 += took;
    }

    fn take(&self) -> BTreeMap<&'static str, (u64, Duration)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The SQL store, timing each step of an ingestion (everything else passes through).
struct TimedStore {
    inner: Arc<dyn ports::Store>,
    times: Arc<StepTimes>,
}

struct TimedIngest {
    inner: Box<dyn ports::Ingest>,
    times: Arc<StepTimes>,
}

async fn timed<T>(
    times: &StepTimes,
    step: &'static str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let started = Instant::now();
    let out = work.await;
    times.add(step, started.elapsed());
    out
}

#[async_trait]
impl ports::Store for TimedStore {
    async fn meters(&self) -> Result<Vec<Meter>, Error> {
        self.inner.meters().await
    }
    async fn put_meter(&self, meter: &Meter) -> Result<(), Error> {
        self.inner.put_meter(meter).await
    }
    async fn begin_ingest(&self, organization_id: &Id) -> Result<Box<dyn ports::Ingest>, Error> {
        let inner = timed(
            &self.times,
            "1 begin_ingest (BEGIN + shared seal lock)",
            self.inner.begin_ingest(organization_id),
        )
        .await?;
        Ok(Box::new(TimedIngest {
            inner,
            times: Arc::clone(&self.times),
        }))
    }
    async fn sealed_before(&self) -> Result<Option<OffsetDateTime>, Error> {
        self.inner.sealed_before().await
    }
    async fn seal(&self, plan: &SealPlan) -> Result<u64, Error> {
        self.inner.seal(plan).await
    }
    async fn lease(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<HourlyRecord>, Error> {
        self.inner.lease(owner, now, until, limit).await
    }
    async fn settle(&self, now: OffsetDateTime, settlements: &[Settlement]) -> Result<u64, Error> {
        self.inner.settle(now, settlements).await
    }
    async fn list_records(
        &self,
        organization_id: &Id,
        filter: &RecordFilter,
        page: &PageRequest,
    ) -> Result<Page<HourlyRecord>, Error> {
        self.inner.list_records(organization_id, filter, page).await
    }
    async fn counts(&self, organization_id: Option<&Id>) -> Result<Vec<Counts>, Error> {
        self.inner.counts(organization_id).await
    }
    async fn retry_held(
        &self,
        organization_id: &Id,
        ids: &[Id],
        now: OffsetDateTime,
        idempotency: Option<&Idempotency>,
    ) -> Result<i64, Error> {
        self.inner
            .retry_held(organization_id, ids, now, idempotency)
            .await
    }
}

#[async_trait]
impl ports::Ingest for TimedIngest {
    async fn sealed_before(
        &mut self,
        customers: &[Id],
    ) -> Result<HashMap<Id, OffsetDateTime>, Error> {
        let times = Arc::clone(&self.times);
        timed(
            &times,
            "3 sealed_before (horizons)",
            self.inner.sealed_before(customers),
        )
        .await
    }
    async fn existing(&mut self, keys: &[&str]) -> Result<Vec<StoredEvent>, Error> {
        let times = Arc::clone(&self.times);
        timed(&times, "2 existing (keys)", self.inner.existing(keys)).await
    }
    async fn insert_events(&mut self, events: &[StoredEvent]) -> Result<Vec<String>, Error> {
        let times = Arc::clone(&self.times);
        timed(&times, "4 insert_events", self.inner.insert_events(events)).await
    }
    async fn add_unique_values(
        &mut self,
        values: &[(RecordKey, String)],
    ) -> Result<Vec<bool>, Error> {
        let times = Arc::clone(&self.times);
        timed(
            &times,
            "5 add_unique_values",
            self.inner.add_unique_values(values),
        )
        .await
    }
    async fn lock_records(&mut self, keys: &[RecordKey]) -> Result<Vec<HourlyRecord>, Error> {
        let times = Arc::clone(&self.times);
        timed(
            &times,
            "6 lock_records (organisation lock, read)",
            self.inner.lock_records(keys),
        )
        .await
    }
    async fn write_records(&mut self, records: &[HourlyRecord]) -> Result<(), Error> {
        let times = Arc::clone(&self.times);
        timed(
            &times,
            "7 write_records (upsert)",
            self.inner.write_records(records),
        )
        .await
    }
    async fn add_to_records(&mut self, deltas: &[HourlyRecord]) -> Result<Vec<RecordKey>, Error> {
        let times = Arc::clone(&self.times);
        timed(
            &times,
            "6 add_to_records (organisation lock, upsert)",
            self.inner.add_to_records(deltas),
        )
        .await
    }
    async fn commit(self: Box<Self>) -> Result<(), Error> {
        let times = Arc::clone(&self.times);
        timed(&times, "8 commit", self.inner.commit()).await
    }
}

// ---------------------------------------------------------------------------------------------
// The service under test.

/// A fresh database of `backend` with the metering schema, its pool sized for the benchmark.
async fn open(backend: Backend, connections: u32) -> anyhow::Result<(TestDb, Store)> {
    let db = TestDb::new(backend).await?;
    let store = Store::connect(
        &StoreConfig::new(db.url().to_owned(), STORE_NAME).with_max_connections(connections),
    )
    .await?;
    store.migrate(migrations()).await?;
    Ok((db, store))
}

/// `Metering` over the SQL store, with one SUM meter.
async fn build_metering(
    store: &Store,
    organization_id: &Id,
    subscribers: Arc<MemorySubscribers>,
    max_in_flight: usize,
    times: Option<Arc<StepTimes>>,
) -> anyhow::Result<Metering> {
    let clock: SharedClock = Arc::new(MillisClock(Arc::new(SystemClock)));
    let events = EventFactory::new(clock.clone(), Namespace::default());
    let mut sql: Arc<dyn ports::Store> =
        Arc::new(SqlStore::new(store.clone(), events, clock.clone()));
    if let Some(times) = times {
        sql = Arc::new(TimedStore { inner: sql, times });
    }
    let metering = Metering::new(
        sql,
        subscribers,
        clock,
        IngestLimits {
            max_in_flight,
            ..IngestLimits::default()
        },
    );
    metering
        .put_meter(organization_id, meter_spec(PRODUCT))
        .await?;
    Ok(metering)
}

fn meter_spec(product_code: &str) -> MeterSpec {
    MeterSpec {
        product_code: product_code.to_owned(),
        dimension: DIMENSION.to_owned(),
        feature: None,
        aggregation: Aggregation::Sum,
        attribute: None,
        zero_fill: false,
    }
}

/// The metering gRPC service through `souk_service`'s `GrpcServer` (request span, metrics,
/// authentication, health, reflection), on a listener bound as `souk serve` binds it.
async fn souk_server(
    metering: &Metering,
    authenticator: &Authenticator,
) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let parts = ServiceParts::new(MeteringServiceServer::new(MeteringApi::new(
        metering.clone(),
    )));
    let served = souk_service::parts::combine(vec![parts]);
    let (server, health) = souk_service::server::GrpcServer::new(served.routes, served.names)?;
    health.serving().await;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let (listener, _) = souk_service::server::bind(loopback).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let metrics = Arc::new(souk_service::metrics::Metrics::new());
    let serving = server.serve(listener, authenticator.layer(), metrics, None, async move {
        let _ = rx.await;
    });
    tokio::spawn(async move {
        if let Err(error) = serving.await {
            eprintln!("the Souk gRPC server failed: {error}");
        }
    });
    Ok((url, tx))
}

async fn channels(url: &str, connections: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    for _ in 0..connections.max(1) {
        channels.push(
            tonic::transport::Endpoint::from_shared(url.to_owned())?
                .connect()
                .await
                .with_context(|| format!("cannot connect to {url}"))?,
        );
    }
    Ok(channels)
}

fn with_key<T>(message: T, key: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", key.clone());
    request
}

// ---------------------------------------------------------------------------------------------
// The rows: the same for Souk and for the floor.

/// Fresh events for random customers.
struct Generator {
    prefix: String,
    seq: u64,
    rng: Rng,
    customers: Arc<Vec<Id>>,
}

impl Generator {
    fn new(customers: &Arc<Vec<Id>>) -> Self {
        let n = NEXT_PREFIX.fetch_add(1, Ordering::Relaxed);
        Self {
            prefix: format!("bench-{n:06}"),
            seq: 0,
            rng: Rng(n),
            customers: Arc::clone(customers),
        }
    }

    fn key(&mut self) -> String {
        self.seq += 1;
        format!("{}-{:08}", self.prefix, self.seq)
    }

    fn customer(&mut self) -> &Id {
        let i = self.rng.below(self.customers.len());
        &self.customers[i]
    }

    /// `n` events of the current instant (less two seconds, well within the hour's grace).
    fn events(&mut self, n: usize) -> Vec<pb::UsageEvent> {
        let at = prost_types::Timestamp::from(SystemTime::now() - Duration::from_secs(2));
        (0..n)
            .map(|_| pb::UsageEvent {
                idempotency_key: self.key(),
                customer: self.customer().to_string(),
                dimension: DIMENSION.to_owned(),
                quantity: 1 + (self.rng.next() % 100) as i64,
                timestamp: Some(at),
                allocations: Vec::new(),
                attributes: HashMap::new(),
            })
            .collect()
    }

    /// `n` events as the domain takes them.
    fn domain_events(&mut self, n: usize) -> Vec<UsageEvent> {
        let at = OffsetDateTime::now_utc() - time::Duration::seconds(2);
        (0..n)
            .map(|_| UsageEvent {
                idempotency_key: self.key(),
                customer: self.customer().to_string(),
                dimension: DIMENSION.to_owned(),
                quantity: 1 + (self.rng.next() % 100) as i64,
                timestamp: at,
                allocations: Vec::new(),
                attributes: BTreeMap::new(),
            })
            .collect()
    }

    /// `n` rows of `usage_events` as Souk would store them (its content hash is 64 hex
    /// characters, its usage id a fresh `use_` id).
    fn rows(&mut self, organization_id: &str, n: usize) -> Vec<FloorRow> {
        let now = souk_core::clock::to_unix_millis(OffsetDateTime::now_utc());
        let occurred_at = now - 2000;
        let hour = occurred_at - occurred_at.rem_euclid(3_600_000);
        (0..n)
            .map(|_| FloorRow {
                organization_id: organization_id.to_owned(),
                idempotency_key: self.key(),
                usage_id: Id::generate("use").to_string(),
                content_hash: format!(
                    "{:016x}{:016x}{:016x}{:016x}",
                    self.rng.next(),
                    self.rng.next(),
                    self.rng.next(),
                    self.rng.next()
                ),
                customer_id: self.customer().to_string(),
                quantity: 1 + (self.rng.next() % 100) as i64,
                occurred_at,
                hour,
                recorded_at: now,
            })
            .collect()
    }
}

struct FloorRow {
    organization_id: String,
    idempotency_key: String,
    usage_id: String,
    content_hash: String,
    customer_id: String,
    quantity: i64,
    occurred_at: i64,
    hour: i64,
    recorded_at: i64,
}

/// How a floor statement is sent (the variants are diagnostics: the shapes of the store's own
/// `insert_events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FloorMode {
    /// A plain multi-row INSERT, autocommitted: the floor.
    Plain,
    /// `ON CONFLICT (organization_id, idempotency_key) DO NOTHING RETURNING idempotency_key`,
    /// autocommitted.
    Returning,
    /// The same in a transaction that first sets `plan_cache_mode = force_custom_plan`, as
    /// `begin_ingest` does.
    CustomPlan,
}

/// `INSERT INTO usage_events (13 columns) VALUES (...), ...` of `rows` rows.
fn floor_sql(rows: usize) -> String {
    const PER_ROW: usize = 13;
    let mut sql = String::from(
        "INSERT INTO usage_events (organization_id, idempotency_key, usage_id, content_hash, \
         customer_id, dimension, quantity, occurred_at, hour_start, natural_hour, allocations, \
         unique_value, recorded_at) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..PER_ROW {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * PER_ROW + c + 1));
        }
        sql.push(')');
    }
    sql
}

async fn insert_floor(
    pool: &AnyPool,
    sql: &str,
    rows: Vec<FloorRow>,
    mode: FloorMode,
) -> Result<u64, String> {
    let sql = match mode {
        FloorMode::Plain => sql.to_owned(),
        FloorMode::Returning | FloorMode::CustomPlan => format!(
            "{sql} ON CONFLICT (organization_id, idempotency_key) DO NOTHING RETURNING idempotency_key"
        ),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in rows {
        query = query
            .bind(r.organization_id)
            .bind(r.idempotency_key)
            .bind(r.usage_id)
            .bind(r.content_hash)
            .bind(r.customer_id)
            .bind(DIMENSION)
            .bind(r.quantity)
            .bind(r.occurred_at)
            .bind(r.hour)
            .bind(r.hour)
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(r.recorded_at);
    }
    match mode {
        FloorMode::Plain => query
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(|e| e.to_string()),
        FloorMode::Returning => query
            .fetch_all(pool)
            .await
            .map(|rows| rows.len() as u64)
            .map_err(|e| e.to_string()),
        FloorMode::CustomPlan => {
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            sqlx::query("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            let n = query
                .fetch_all(&mut *tx)
                .await
                .map(|rows| rows.len() as u64)
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(n)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client loops.

/// What one request came to.
enum Outcome {
    /// Durably written: this many events.
    Written(u64),
    /// RESOURCE_EXHAUSTED.
    Refused,
    /// Anything else.
    Failed(String),
}

#[derive(Default)]
struct Run {
    seconds: f64,
    events: u64,
    failed: u64,
    first_failure: Option<String>,
    /// Latencies of the requests that wrote, sorted.
    latencies: Vec<Duration>,
    /// Latencies of the RESOURCE_EXHAUSTED answers, sorted.
    refusals: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }

    fn absorb(&mut self, other: Run) {
        self.seconds += other.seconds;
        self.events += other.events;
        self.failed += other.failed;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latencies.extend(other.latencies);
        self.refusals.extend(other.refusals);
    }

    fn record(&mut self, outcome: Outcome, took: Duration) {
        match outcome {
            Outcome::Written(n) => {
                self.events += n;
                self.latencies.push(took);
            }
            Outcome::Refused => self.refusals.push(took),
            Outcome::Failed(why) => {
                self.failed += 1;
                if self.first_failure.is_none() {
                    self.first_failure = Some(why);
                }
            }
        }
    }

    fn sort(&mut self) {
        self.latencies.sort_unstable();
        self.refusals.sort_unstable();
    }

    fn report_failures(&self, label: &str) {
        if self.failed > 0 {
            eprintln!(
                "  {label}: {} requests failed; first: {}",
                self.failed,
                self.first_failure.as_deref().unwrap_or("?")
            );
        }
    }
}

fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let at = ((last as f64) * q).round() as usize;
    sorted[at.min(last)].as_secs_f64() * 1e3
}

/// One client of the closed-loop phases.
enum Client {
    /// RecordUsage through the Souk stack.
    Record {
        client: MeteringServiceClient<Channel>,
        key: MetadataValue<Ascii>,
        generator: Generator,
        batch: usize,
        /// A refused batch is sent again as it was (keys stay fresh until written).
        pending: Option<Vec<pb::UsageEvent>>,
    },
    /// The floor: a multi-row INSERT of the same rows.
    Floor {
        pool: AnyPool,
        sql: Arc<String>,
        organization_id: String,
        generator: Generator,
        batch: usize,
        mode: FloorMode,
    },
}

impl Client {
    async fn call(&mut self) -> (Outcome, Duration) {
        match self {
            Self::Record {
                client,
                key,
                generator,
                batch,
                pending,
            } => {
                let events = pending.take().unwrap_or_else(|| generator.events(*batch));
                let request = with_key(
                    pb::RecordUsageRequest {
                        events: events.clone(),
                    },
                    key,
                );
                let sent = Instant::now();
                let answer = client.record_usage(request).await;
                let took = sent.elapsed();
                let outcome = match answer {
                    Ok(answer) => Outcome::Written(answer.into_inner().results.len() as u64),
                    Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                        *pending = Some(events);
                        Outcome::Refused
                    }
                    Err(status) => Outcome::Failed(format!("{status:?}")),
                };
                (outcome, took)
            }
            Self::Floor {
                pool,
                sql,
                organization_id,
                generator,
                batch,
                mode,
            } => {
                let rows = generator.rows(organization_id, *batch);
                let sent = Instant::now();
                let outcome = match insert_floor(pool, sql, rows, *mode).await {
                    Ok(n) => Outcome::Written(n),
                    Err(why) => Outcome::Failed(why),
                };
                (outcome, sent.elapsed())
            }
        }
    }
}

/// `concurrency` clients, each sending one request after another for `duration`.
async fn drive(concurrency: usize, duration: Duration, make: &dyn Fn(usize) -> Client) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let mut client = make(t);
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            while Instant::now() < deadline {
                let (outcome, took) = client.call().await;
                run.record(outcome, took);
            }
            run
        }));
    }
    gather(tasks, started).await
}

/// `streams` StreamUsage streams for `duration`, each sending chunks of `batch` events (at most
/// two ahead of the acknowledgements); events acknowledged per second, and each chunk's latency
/// from the moment the client handed it to the stream until its acknowledgement.
async fn drive_streams(
    channels: &[Channel],
    key: &MetadataValue<Ascii>,
    customers: &Arc<Vec<Id>>,
    streams: usize,
    batch: usize,
    duration: Duration,
) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for s in 0..streams {
        let mut client = MeteringServiceClient::new(channels[s % channels.len()].clone());
        let key = key.clone();
        let mut generator = Generator::new(customers);
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let (chunks, rx) = tokio::sync::mpsc::channel::<pb::StreamUsageRequest>(2);
            let sent_at: Arc<Mutex<std::collections::VecDeque<Instant>>> = Arc::default();
            let producer = {
                let sent_at = Arc::clone(&sent_at);
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let chunk = pb::StreamUsageRequest {
                            events: generator.events(batch),
                        };
                        let permit = match chunks.reserve().await {
                            Ok(permit) => permit,
                            Err(_) => return,
                        };
                        sent_at
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push_back(Instant::now());
                        permit.send(chunk);
                    }
                })
            };
            let answer = client
                .stream_usage(with_key(ReceiverStream::new(rx), &key))
                .await;
            let mut acks = match answer {
                Ok(acks) => acks.into_inner(),
                Err(status) => {
                    run.record(Outcome::Failed(format!("{status:?}")), Duration::ZERO);
                    producer.abort();
                    return run;
                }
            };
            loop {
                match acks.message().await {
                    Ok(Some(ack)) => {
                        let sent = sent_at
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .pop_front()
                            .unwrap_or(started);
                        run.record(Outcome::Written(ack.results.len() as u64), sent.elapsed());
                    }
                    Ok(None) => break,
                    Err(status) => {
                        run.record(Outcome::Failed(format!("{status:?}")), Duration::ZERO);
                        break;
                    }
                }
            }
            producer.abort();
            run
        }));
    }
    gather(tasks, started).await
}

/// RecordUsage calls of `batch` events sent open-loop at `calls_per_second` for `duration`;
/// each call's latency from its send to its answer.
async fn drive_paced(
    channels: &[Channel],
    key: &MetadataValue<Ascii>,
    customers: &Arc<Vec<Id>>,
    batch: usize,
    calls_per_second: f64,
    duration: Duration,
) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / calls_per_second));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut generator = Generator::new(customers);
    let mut tasks = Vec::new();
    let mut n = 0_usize;
    loop {
        ticker.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        let mut client = MeteringServiceClient::new(channels[n % channels.len()].clone());
        n += 1;
        let request = with_key(
            pb::RecordUsageRequest {
                events: generator.events(batch),
            },
            key,
        );
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = client.record_usage(request).await;
            let took = sent.elapsed();
            match answer {
                Ok(answer) => (
                    Outcome::Written(answer.into_inner().results.len() as u64),
                    took,
                ),
                Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                    (Outcome::Refused, took)
                }
                Err(status) => (Outcome::Failed(format!("{status:?}")), took),
            }
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        if let Ok((outcome, took)) = task.await {
            run.record(outcome, took);
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.sort();
    run
}

// ---------------------------------------------------------------------------------------------
// Phases 1-4 on one backend.

struct Settings {
    seconds: u64,
    clients: usize,
    streams: usize,
    batch: usize,
    /// Events per call of the half-load latency phase.
    latency_batch: usize,
    customers: usize,
}

struct IngestFigures {
    backend: Backend,
    floor: Run,
    batched: Run,
    streamed: Run,
    paced: Option<(f64, Run)>,
    /// `Metering::record` in process, and the time of its store steps.
    direct: Run,
    steps: BTreeMap<&'static str, (u64, Duration)>,
    /// The floor's rows sent as the store's insert_events sends them (PostgreSQL).
    variants: Vec<(FloorMode, Run)>,
    rows_after: i64,
}

async fn ingest_phases(backend: Backend, s: &Settings) -> anyhow::Result<IngestFigures> {
    let connections = u32::try_from(2 * s.clients.max(s.streams) + 4).unwrap_or(16);
    let (db, store) = open(backend, connections).await?;
    let keys = MemoryKeyStore::default();
    let secret = keys.add_key(&[Scope::Metering]);
    let key: MetadataValue<Ascii> = format!("Bearer {secret}").parse()?;
    let organization_id = keys.organization_id().clone();
    let integration_id = Id::generate("int");
    let subscribers: Vec<Subscriber> = (0..s.customers)
        .map(|i| {
            subscriber(
                &organization_id,
                &integration_id,
                PRODUCT,
                AwsCustomer::Identifier(format!("bench-customer-{i:06}")),
            )
        })
        .collect();
    let customers: Arc<Vec<Id>> =
        Arc::new(subscribers.iter().map(|s| s.customer_id.clone()).collect());
    let subscribers = Arc::new(MemorySubscribers::new(subscribers));
    let metering = build_metering(
        &store,
        &organization_id,
        Arc::clone(&subscribers),
        IngestLimits::default().max_in_flight,
        None,
    )
    .await?;
    let authenticator = Authenticator::new(Arc::new(keys.clone()));
    let (url, stop) = souk_server(&metering, &authenticator).await?;
    let souk_channels = channels(&url, s.clients.max(s.streams)).await?;

    let floor_org = Id::generate("org").to_string();
    let floor_sql = Arc::new(floor_sql(s.batch));
    let floor_in = |mode: FloorMode| {
        let pool = store.pool().clone();
        let sql = Arc::clone(&floor_sql);
        let organization_id = floor_org.clone();
        let customers = Arc::clone(&customers);
        let batch = s.batch;
        move |_t: usize| Client::Floor {
            pool: pool.clone(),
            sql: Arc::clone(&sql),
            organization_id: organization_id.clone(),
            generator: Generator::new(&customers),
            batch,
            mode,
        }
    };
    let make_floor = floor_in(FloorMode::Plain);
    let make_record = |t: usize| Client::Record {
        client: MeteringServiceClient::new(souk_channels[t % souk_channels.len()].clone()),
        key: key.clone(),
        generator: Generator::new(&customers),
        batch: s.batch,
        pending: None,
    };

    let slice = Duration::from_secs(1);
    // Warm-up: connections, prepared statements, the first records of the hour.
    let _ = drive(s.clients, slice, &make_floor).await;
    let _ = drive(s.clients, slice, &make_record).await;
    let _ = drive_streams(&souk_channels, &key, &customers, s.streams, s.batch, slice).await;
    let (mut floor, mut batched, mut streamed) = (Run::default(), Run::default(), Run::default());
    for _ in 0..s.seconds.max(1) {
        floor.absorb(drive(s.clients, slice, &make_floor).await);
        batched.absorb(drive(s.clients, slice, &make_record).await);
        streamed.absorb(
            drive_streams(&souk_channels, &key, &customers, s.streams, s.batch, slice).await,
        );
    }
    for (run, label) in [
        (&mut floor, "floor"),
        (&mut batched, "RecordUsage"),
        (&mut streamed, "StreamUsage"),
    ] {
        run.sort();
        run.report_failures(label);
    }

    // Half the batched throughput, open loop.
    let paced = if batched.per_second() > 0.0 {
        let rate = batched.per_second() / 2.0;
        let calls = rate / s.latency_batch as f64;
        let run = drive_paced(
            &souk_channels,
            &key,
            &customers,
            s.latency_batch,
            calls,
            Duration::from_secs(s.seconds.max(1)),
        )
        .await;
        run.report_failures("paced RecordUsage");
        Some((rate, run))
    } else {
        None
    };

    // Diagnostics: the use case in process (no gRPC), each store step timed.
    let times = Arc::new(StepTimes::default());
    let direct = build_metering(
        &store,
        &organization_id,
        subscribers,
        IngestLimits::default().max_in_flight,
        Some(Arc::clone(&times)),
    )
    .await?;
    let _ = drive_direct(
        &direct,
        &organization_id,
        &customers,
        s.clients,
        s.batch,
        slice,
    )
    .await;
    times.take();
    let mut direct_run = drive_direct(
        &direct,
        &organization_id,
        &customers,
        s.clients,
        s.batch,
        Duration::from_secs(s.seconds.max(1)),
    )
    .await;
    direct_run.sort();
    direct_run.report_failures("Metering::record in process");
    let steps = times.take();

    // Diagnostics: the floor's rows in the shapes of the store's insert_events.
    let mut variants = Vec::new();
    if backend == Backend::Postgres {
        for mode in [FloorMode::Returning, FloorMode::CustomPlan] {
            let make = floor_in(mode);
            let _ = drive(s.clients, slice, &make).await;
            let mut run = drive(s.clients, Duration::from_secs(s.seconds.max(1)), &make).await;
            run.sort();
            run.report_failures("floor variant");
            variants.push((mode, run));
        }
    }

    let rows_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
        .fetch_one(store.pool())
        .await
        .unwrap_or(-1);
    drop(souk_channels);
    let _ = stop.send(());
    store.close().await;
    db.cleanup().await?;
    Ok(IngestFigures {
        backend,
        floor,
        batched,
        streamed,
        paced,
        direct: direct_run,
        steps,
        variants,
        rows_after,
    })
}

/// `concurrency` tasks calling `Metering::record` in process (no gRPC) for `duration`.
async fn drive_direct(
    metering: &Metering,
    organization_id: &Id,
    customers: &Arc<Vec<Id>>,
    concurrency: usize,
    batch: usize,
    duration: Duration,
) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let metering = metering.clone();
        let organization_id = organization_id.clone();
        let mut generator = Generator::new(customers);
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            while Instant::now() < deadline {
                let events = generator.domain_events(batch);
                let sent = Instant::now();
                let outcome = match metering.record(&organization_id, &events).await {
                    Ok(acks) => Outcome::Written(acks.len() as u64),
                    Err(error) => Outcome::Failed(error.to_string()),
                };
                run.record(outcome, sent.elapsed());
            }
            run
        }));
    }
    gather(tasks, started).await
}

fn throughput_line(label: &str, run: &Run, batch: usize) -> String {
    format!(
        "{label:<44} {:>8.0} events/s  ({:>6.1} calls/s of {batch}; per call p50 {:>7.2} ms, p99 {:>7.2} ms)",
        run.per_second(),
        run.latencies.len() as f64 / run.seconds.max(1e-9),
        quantile_ms(&run.latencies, 0.50),
        quantile_ms(&run.latencies, 0.99),
    )
}

// ---------------------------------------------------------------------------------------------
// Phase 5: overload.

struct Memory {
    peak_mb: f64,
    resident_mb: f64,
}

fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Memory {
        peak_mb: kb("VmHWM:")? / 1024.0,
        resident_mb: kb("VmRSS:")? / 1024.0,
    })
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux `clear_refs` 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct OverloadFigures {
    in_flight: usize,
    clients: usize,
    run: Run,
    before: Option<Memory>,
    reset: bool,
    during: Option<Memory>,
}

async fn overload_phase(s: &Settings) -> anyhow::Result<OverloadFigures> {
    let in_flight = env_usize("BENCH_OVERLOAD_IN_FLIGHT", 5_000).max(s.batch);
    let clients = env_usize("BENCH_OVERLOAD_CLIENTS", 64).max(1);
    let (db, store) = open(Backend::Postgres, 16).await?;
    let keys = MemoryKeyStore::default();
    let secret = keys.add_key(&[Scope::Metering]);
    let key: MetadataValue<Ascii> = format!("Bearer {secret}").parse()?;
    let organization_id = keys.organization_id().clone();
    let integration_id = Id::generate("int");
    let subscribers: Vec<Subscriber> = (0..s.customers)
        .map(|i| {
            subscriber(
                &organization_id,
                &integration_id,
                PRODUCT,
                AwsCustomer::Identifier(format!("bench-customer-{i:06}")),
            )
        })
        .collect();
    let customers: Arc<Vec<Id>> =
        Arc::new(subscribers.iter().map(|s| s.customer_id.clone()).collect());
    let metering = build_metering(
        &store,
        &organization_id,
        Arc::new(MemorySubscribers::new(subscribers)),
        in_flight,
        None,
    )
    .await?;
    let authenticator = Authenticator::new(Arc::new(keys.clone()));
    let (url, stop) = souk_server(&metering, &authenticator).await?;
    let souk_channels = channels(&url, 8).await?;
    let make_record = |t: usize| Client::Record {
        client: MeteringServiceClient::new(souk_channels[t % souk_channels.len()].clone()),
        key: key.clone(),
        generator: Generator::new(&customers),
        batch: s.batch,
        pending: None,
    };
    let before = memory();
    let reset = reset_peak();
    let mut run = drive(clients, Duration::from_secs(s.seconds.max(1)), &make_record).await;
    let during = memory();
    run.sort();
    run.report_failures("overload");
    drop(souk_channels);
    let _ = stop.send(());
    store.close().await;
    db.cleanup().await?;
    Ok(OverloadFigures {
        in_flight,
        clients,
        run,
        before,
        reset,
        during,
    })
}

// ---------------------------------------------------------------------------------------------
// Phase 6: BatchMeterUsage calls for a backlog.

/// Calls the emulator's control API; fails unless it answers 2xx.
async fn control(
    emulator: &RunningEmulator,
    method: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body)?;
    let response = emulator.emulator.router().oneshot(request).await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if !status.is_success() {
        bail!("{method} {path}: {status} {text}");
    }
    Ok(if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    })
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

struct ShipGroup {
    product_code: String,
    hour: OffsetDateTime,
    records: u64,
    calls: u64,
    failed_calls: u64,
    billed: usize,
}

struct ShipFigures {
    groups: Vec<ShipGroup>,
    seconds: f64,
    sent: u64,
    leased_passes: usize,
}

async fn ship_phase() -> anyhow::Result<ShipFigures> {
    let legacy_records = env_usize("BENCH_SHIP_RECORDS", 1000);
    let licensed_records = env_usize("BENCH_SHIP_RECORDS_B", 130);
    let emulator = souk_emulator::spawn(EmulatorConfig::default()).await?;
    let external_id = Id::generate("ext").to_string();
    let organization_id = Id::generate("org");
    let integration_id = Id::generate("int");
    let role = IntegrationRole {
        integration_id: integration_id.to_string(),
        role_arn: ROLE_ARN.into(),
        external_id: external_id.clone(),
        region: "us-east-1".into(),
    };
    let roles = Arc::new(Roles::default());
    roles
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(integration_id.clone(), role);
    control(
        &emulator,
        "POST",
        "/_souk/sts/roles",
        json!({"role_arn": ROLE_ARN, "external_id": external_id}),
    )
    .await?;
    for (code, concurrent) in [(SHIP_LEGACY, false), (SHIP_LICENSED, true)] {
        control(
            &emulator,
            "POST",
            "/_souk/products",
            json!({"product_code": code, "kind": "saas", "concurrent_agreements": concurrent,
                   "dimensions": [{"name": DIMENSION, "type": "metered"}]}),
        )
        .await?;
    }
    let mut subscribers = Vec::new();
    let mut account = 444_455_550_000_u64;
    for (code, count) in [
        (SHIP_LEGACY, legacy_records),
        (SHIP_LICENSED, licensed_records),
    ] {
        for _ in 0..count {
            account += 1;
            let aws_account_id = format!("{account:012}");
            let answer = control(
                &emulator,
                "POST",
                "/_souk/subscribe",
                json!({"product_code": code, "customer_aws_account_id": aws_account_id}),
            )
            .await?;
            let subscription = &answer["subscription"];
            let aws_customer = if code == SHIP_LICENSED {
                AwsCustomer::Licence {
                    aws_account_id,
                    license_arn: text(&subscription["license_arn"]),
                }
            } else {
                AwsCustomer::Identifier(text(&subscription["customer_identifier"]))
            };
            subscribers.push(subscriber(
                &organization_id,
                &integration_id,
                code,
                aws_customer,
            ));
        }
    }

    let (db, store) = open(Backend::Postgres, 8).await?;
    let assumer = RoleAssumer::with_static_credentials(
        "AKIDSOUKMETERINGBENCH",
        "base-secret",
        RoleAssumerOptions {
            endpoint_url: Some(emulator.url.clone()),
            ..RoleAssumerOptions::default()
        },
    );
    let config = MeteringConfig {
        seal_grace: SEAL_GRACE,
        ship: false,
        ..MeteringConfig::default()
    };
    let marketplace = Arc::new(Counting {
        inner: AwsMarketplace::new(
            assumer.clone(),
            roles.clone(),
            config.batch_meter_usage_per_second,
        ),
        calls: Mutex::new(Vec::new()),
    });
    let clock = Arc::new(ManualClock::new(emulator.emulator.clock().now()));
    let app = MeteringApp::new(
        store.clone(),
        Arc::new(MemorySubscribers::new(subscribers.clone())),
        roles,
        assumer,
        config,
        AppOptions {
            clock: clock.clone(),
            namespace: Namespace::default(),
            marketplace: Some(marketplace.clone()),
        },
    )
    .await?;
    for code in [SHIP_LEGACY, SHIP_LICENSED] {
        app.metering()
            .put_meter(&organization_id, meter_spec(code))
            .await?;
    }
    // One event per customer in the current hour: one record per customer.
    let now = app.metering().now();
    let mut rng = Rng(42);
    let events: Vec<UsageEvent> = subscribers
        .iter()
        .enumerate()
        .map(|(i, s)| UsageEvent {
            idempotency_key: format!("ship-{i:06}"),
            customer: s.customer_id.to_string(),
            dimension: DIMENSION.to_owned(),
            quantity: 1 + (rng.next() % 100) as i64,
            timestamp: now,
            allocations: Vec::new(),
            attributes: BTreeMap::new(),
        })
        .collect();
    for chunk in events.chunks(1000) {
        app.metering().record(&organization_id, chunk).await?;
    }
    // Past the hour and its grace: the next pass seals it and ships it.
    let hour = floor_hour(now);
    clock.set(
        hour + time::Duration::HOUR
            + time::Duration::try_from(SEAL_GRACE)?
            + time::Duration::SECOND,
    );
    let started = Instant::now();
    let mut sent = 0;
    let mut passes = 0;
    for _ in 0..20 {
        let report = app.ship_now("bench").await?;
        passes += 1;
        sent += report.sent;
        if report.leased == 0 {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let calls = marketplace
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut groups = Vec::new();
    for (code, records) in [
        (SHIP_LEGACY, legacy_records),
        (SHIP_LICENSED, licensed_records),
    ] {
        let ledger = control(
            &emulator,
            "GET",
            &format!("/_souk/metering/ledger?product_code={code}"),
            Value::Null,
        )
        .await?;
        let billed = ledger["records"].as_array().map_or(0, Vec::len);
        let mine: Vec<&SeenCall> = calls
            .iter()
            .filter(|c| c.product_code == code && c.hour == hour)
            .collect();
        groups.push(ShipGroup {
            product_code: code.to_owned(),
            hour,
            records: records as u64,
            calls: mine.len() as u64,
            failed_calls: mine.iter().filter(|c| !c.ok).count() as u64,
            billed,
        });
        let sizes: Vec<usize> = mine.iter().map(|c| c.records).collect();
        println!("  {code}: call sizes {sizes:?}");
    }
    let other = calls.iter().filter(|c| c.hour != hour).count();
    if other > 0 {
        println!("  {other} calls for another hour");
    }
    store.close().await;
    db.cleanup().await?;
    Ok(ShipFigures {
        groups,
        seconds,
        sent,
        leased_passes: passes,
    })
}

// ---------------------------------------------------------------------------------------------

/// As `souk serve` logs (JSON at `info`), so the gRPC request span costs what it costs there;
/// lines below WARN are discarded. With `RUST_LOG` set, its filter applies and every line it
/// enables is written to stderr.
fn init_logging() {
    use tracing_subscriber::fmt::writer::MakeWriterExt as _;
    let builder = tracing_subscriber::fmt().json().flatten_event(true);
    let _ = match tracing_subscriber::EnvFilter::try_from_default_env() {
        Ok(filter) => builder
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init(),
        Err(_) => builder
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,sqlx::postgres::notice=warn",
            ))
            .with_writer(std::io::stderr.with_max_level(tracing::Level::WARN))
            .try_init(),
    };
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let settings = Settings {
        seconds: env_number("BENCH_SECS", 5).max(1),
        clients: env_usize("BENCH_CLIENTS", 4).max(1),
        streams: env_usize("BENCH_STREAMS", 4).max(1),
        batch: env_usize("BENCH_BATCH", 1000).clamp(1, 1000),
        latency_batch: env_usize("BENCH_LATENCY_BATCH", 100).clamp(1, 1000),
        customers: env_usize("BENCH_CUSTOMERS", 1000).max(1),
    };
    let s = &settings;
    let load_at_start = load_average();
    println!(
        "metering ingestion: {} customers of one product, one SUM dimension, batches of {}, \
         {} clients / {} streams, {}s per phase after 1s warm-up (1s slices in turn), {} cores, \
         load average {load_at_start}",
        s.customers,
        s.batch,
        s.clients,
        s.streams,
        s.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "Souk stack: souk_service GrpcServer (request span, JSON logs at info, metrics, API-key \
         auth, in-memory key store) -> MeteringApi -> Metering -> SqlStore; tonic client and \
         server in this process over loopback, the database server on the same machine"
    );

    let mut figures = Vec::new();
    let sqlite = env_number("BENCH_SQLITE", 1) != 0;
    let backends: &[Backend] = if sqlite {
        &[Backend::Postgres, Backend::Sqlite]
    } else {
        &[Backend::Postgres]
    };
    for &backend in backends {
        println!("{}:", backend_name(backend));
        let f = ingest_phases(backend, s).await?;
        println!(
            "  {}",
            throughput_line(
                "floor: multi-row INSERT of the same rows",
                &f.floor,
                s.batch
            )
        );
        println!(
            "  {}  ({:.2} of floor)",
            throughput_line("RecordUsage (durable ack)", &f.batched, s.batch),
            f.batched.per_second() / f.floor.per_second().max(1e-9)
        );
        println!(
            "  {}  ({:.2} of floor)",
            throughput_line("StreamUsage (durable ack per chunk)", &f.streamed, s.batch),
            f.streamed.per_second() / f.floor.per_second().max(1e-9)
        );
        if let Some((rate, run)) = &f.paced {
            println!(
                "  RecordUsage paced at {rate:.0} events/s ({:.1} calls/s of {}): achieved {:.0} events/s, \
                 ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} calls",
                rate / s.latency_batch as f64,
                s.latency_batch,
                run.per_second(),
                quantile_ms(&run.latencies, 0.50),
                quantile_ms(&run.latencies, 0.99),
                quantile_ms(&run.latencies, 1.0),
                run.latencies.len()
            );
        }
        println!(
            "  diagnostic: {}",
            throughput_line("Metering::record in process (no gRPC)", &f.direct, s.batch)
        );
        let calls = f.direct.latencies.len().max(1) as f64;
        let mean_call: f64 = f
            .direct
            .latencies
            .iter()
            .map(Duration::as_secs_f64)
            .sum::<f64>()
            / calls
            * 1e3;
        let mut in_store = 0.0;
        for (step, (count, total)) in &f.steps {
            let per_call = total.as_secs_f64() * 1e3 / calls;
            in_store += per_call;
            println!(
                "    {step:<46} {:>7.2} ms per call ({count} runs)",
                per_call
            );
        }
        println!(
            "    mean call {mean_call:.2} ms, of which store steps {in_store:.2} ms, the rest (checks, hashing, folding, pool) {:.2} ms",
            mean_call - in_store
        );
        for (mode, run) in &f.variants {
            let label = match mode {
                FloorMode::Plain => "floor",
                FloorMode::Returning => "floor + ON CONFLICT DO NOTHING RETURNING",
                FloorMode::CustomPlan => "... in a tx with force_custom_plan",
            };
            println!("  diagnostic: {}", throughput_line(label, run, s.batch));
        }
        println!("  usage_events rows at the end: {}", f.rows_after);
        figures.push(f);
    }

    println!("overload (PostgreSQL):");
    let overload = overload_phase(s).await?;
    println!(
        "  {} clients, max_in_flight {}: {} calls written ({:.0} events/s), {} RESOURCE_EXHAUSTED",
        overload.clients,
        overload.in_flight,
        overload.run.latencies.len(),
        overload.run.per_second(),
        overload.run.refusals.len()
    );

    println!("shipping a backlog (PostgreSQL, AWS emulator in process, 8 calls/s):");
    let ship = ship_phase().await?;
    let load_at_end = load_average();

    println!();
    println!("== figures ==");
    println!("load average at start {load_at_start}, at end {load_at_end} (2 shared cores)");
    for f in &figures {
        let name = backend_name(f.backend);
        println!(
            "{name}: floor (multi-row INSERT, {} in flight) {:.0} events/s; RecordUsage {:.0} events/s \
             (ratio {:.2}, per call p50 {:.1} ms, p99 {:.1} ms); StreamUsage {:.0} events/s (ratio {:.2}, \
             per chunk p99 {:.1} ms)",
            s.clients,
            f.floor.per_second(),
            f.batched.per_second(),
            f.batched.per_second() / f.floor.per_second().max(1e-9),
            quantile_ms(&f.batched.latencies, 0.50),
            quantile_ms(&f.batched.latencies, 0.99),
            f.streamed.per_second(),
            f.streamed.per_second() / f.floor.per_second().max(1e-9),
            quantile_ms(&f.streamed.latencies, 0.99),
        );
        if let Some((rate, run)) = &f.paced {
            println!(
                "{name}: RecordUsage at half load ({rate:.0} events/s offered in calls of {}, {:.0} achieved): ack p50 {:.1} ms, p99 {:.1} ms",
                s.latency_batch,
                run.per_second(),
                quantile_ms(&run.latencies, 0.50),
                quantile_ms(&run.latencies, 0.99),
            );
        }
    }
    let o = &overload;
    println!(
        "overload: {} clients x {} events against max_in_flight {} for {}s: {} written ({:.0} events/s, p99 {:.1} ms), \
         {} RESOURCE_EXHAUSTED (p50 {:.2} ms, p99 {:.2} ms), {} other failures",
        o.clients,
        s.batch,
        o.in_flight,
        s.seconds,
        o.run.latencies.len(),
        o.run.per_second(),
        quantile_ms(&o.run.latencies, 0.99),
        o.run.refusals.len(),
        quantile_ms(&o.run.refusals, 0.50),
        quantile_ms(&o.run.refusals, 0.99),
        o.run.failed,
    );
    match (&o.before, &o.during) {
        (Some(before), Some(during)) => println!(
            "memory: before overload RSS {:.0} MB (peak so far {:.0} MB); {} overload peak {:.0} MB, RSS after {:.0} MB",
            before.resident_mb,
            before.peak_mb,
            if o.reset {
                "peak reset, then"
            } else {
                "peak not resettable;"
            },
            during.peak_mb,
            during.resident_mb,
        ),
        _ => println!("memory: unknown (no /proc/self/status)"),
    }
    for g in &ship.groups {
        let expected = g.records.div_ceil(PER_CALL);
        println!(
            "BatchMeterUsage {} hour {}: {} records, {} calls ({} failed), ceil(records/25) = {expected}, emulator billed {} records  {}",
            g.product_code,
            g.hour,
            g.records,
            g.calls,
            g.failed_calls,
            g.billed,
            verdict(g.calls == expected && g.failed_calls == 0),
        );
    }
    println!(
        "shipping: {} records sent in {:.1} s over {} ship_now passes",
        ship.sent, ship.seconds, ship.leased_passes
    );

    println!("targets:");
    if let Some(pg) = figures.iter().find(|f| f.backend == Backend::Postgres) {
        let ratio = pg.batched.per_second() / pg.floor.per_second().max(1e-9);
        println!(
            "  RecordUsage >= 40000 events/s on PostgreSQL: {:.0}  {}",
            pg.batched.per_second(),
            verdict(pg.batched.per_second() >= 40_000.0)
        );
        println!(
            "  RecordUsage >= 0.5 of the floor on PostgreSQL: {ratio:.2}  {}",
            verdict(ratio >= 0.5)
        );
        let stream_ratio = pg.streamed.per_second() / pg.floor.per_second().max(1e-9);
        println!(
            "  StreamUsage >= 0.5 of the floor on PostgreSQL: {stream_ratio:.2}  {}",
            verdict(stream_ratio >= 0.5)
        );
        if let Some((_, run)) = &pg.paced {
            let p99 = quantile_ms(&run.latencies, 0.99);
            println!(
                "  RecordUsage ack p99 <= 20 ms at half load on PostgreSQL: {p99:.1} ms  {}",
                verdict(p99 <= 20.0)
            );
        }
    }
    for g in &ship.groups {
        let expected = g.records.div_ceil(PER_CALL);
        println!(
            "  BatchMeterUsage calls = ceil(records/25) for {}: {} vs {expected}  {}",
            g.product_code,
            g.calls,
            verdict(g.calls == expected)
        );
    }
    Ok(())
}

/// The runs of `tasks` as one, over the time since `started`.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Run>>, started: Instant) -> Run {
    let mut run = Run::default();
    for task in tasks {
        if let Ok(part) = task.await {
            run.absorb(part);
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    run
}
