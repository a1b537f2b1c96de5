//! The check path: CheckEntitlement requests/s and latency through the real gRPC server stack
//! (tracing span, metrics, authentication with an API key, as `souk serve` runs it) against an
//! entitlement service on SQLite holding 10,000 active customers, next to a floor measured in the
//! same run with the same client loop: a bare tonic server answering `grpc.health.v1.Health/Check`.
//! Then BatchCheckEntitlements of 100 features, and how long a committed change takes to show in
//! the check snapshot of every replica: two replicas over one PostgreSQL store, replica B woken
//! by NATS (replica A's outbox relayed to JetStream, as `souk serve` wires it), and, for
//! contrast, by its periodic catch-up alone.
//!
//! `cargo run --release -p souk-entitlement --example bench_check`
//! (`BENCH_SECS` = seconds per phase, default 5; `BENCH_CUSTOMERS`, default 10000;
//! `BENCH_CHANGES` = changes timed per mode, default 20; `BENCH_CONNECTIONS` = HTTP/2
//! connections the requests share, default 1; PostgreSQL and NATS from `SOUK_TEST_DATABASE_URL`
//! and `SOUK_TEST_NATS_URL`, defaults `postgres://postgres@127.0.0.1:5432/test` and
//! `nats://127.0.0.1:4222`).
//!
//! AWS is replaced by a fake Marketplace answering fixed entitlements (20 integer dimensions per
//! customer, `f000`..`f019`), and the integration service by a directory of one integration; the
//! output says so. The floor, Souk and the diagnostics run in turn in one-second slices, so that
//! other work on the machine hits them alike. Diagnostics, not targets: the in-process cost of
//! one snapshot check, and the cost of a catch-up read before and after `VACUUM (ANALYZE)` of the
//! fresh schema (the test server may run without autovacuum). Targets are printed as PASS or
//! MISS, never asserted.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use souk_auth::{Authenticator, RoleAssumer, RoleAssumerOptions, Scope};
use souk_core::Id;
use souk_entitlement::domain::model::{Entitlement, EntitlementValue};
use souk_entitlement::domain::notice::{Notice, NoticeKind, NoticeSource};
use souk_entitlement::domain::notices::NoticeOutcome;
use souk_entitlement::domain::ports::{
    Directory, EntitlementQuery, IntegrationInfo, IntegrationProduct, Licensing, ListingProduct,
    MarketError, Marketplace, ResolvedBuyer,
};
use souk_entitlement::{AppOptions, Background, EntitlementApp, EntitlementConfig};
use souk_events::{
    JetStreamPublisher, Namespace, OutboxRelay, RelayConfig, RelayHandle, StreamSettings,
};
use souk_proto::entitlement as pb;
use souk_proto::entitlement::entitlement_service_client::EntitlementServiceClient;
use souk_store::{Store, StoreConfig};
use souk_testkit::keys::MemoryKeyStore;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const PRODUCT: &str = "bench-product";
/// Integer dimensions every customer is entitled to (`f000`..`f019`), each a feature.
const FEATURES: usize = 20;
/// Features named by one BatchCheckEntitlements (the first `FEATURES` granted, the rest not).
const BATCH_FEATURES: usize = 100;
/// The feature whose limit the change-visibility phase changes.
const CHANGED: &str = "f000";
/// How long a change may take to show before the benchmark gives up on it.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(10);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_text(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn feature(i: usize) -> String {
    format!("f{i:03}")
}

/// The contract quantity of dimension `i` (until a change sets `f000`).
fn base_limit(i: usize) -> i64 {
    100 + i64::try_from(i).unwrap_or(0)
}

fn identifier(i: usize) -> String {
    format!("bench-customer-{i:06}")
}

fn account(i: usize) -> String {
    format!("{:012}", 200_000_000_000_u64 + i as u64)
}

/// splitmix64: a cheap per-task random stream, the same in every client loop.
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

// ---------------------------------------------------------------------------------------------
// The outside world: one integration, and AWS answering fixed entitlements.

struct OneIntegration(IntegrationInfo);

#[async_trait]
impl Directory for OneIntegration {
    async fn integration(
        &self,
        organization_id: Option<&Id>,
        id: &Id,
    ) -> Result<Option<IntegrationInfo>, souk_entitlement::domain::Error> {
        let ours =
            &self.0.id == id && organization_id.is_none_or(|org| org == &self.0.organization_id);
        Ok(ours.then(|| self.0.clone()))
    }

    async fn all_integrations(
        &self,
    ) -> Result<Vec<IntegrationInfo>, souk_entitlement::domain::Error> {
        Ok(vec![self.0.clone()])
    }
}

/// GetEntitlements answers `FEATURES` integer dimensions for every buyer; `f000` takes the
/// value set for the buyer by [`FixedMarketplace::set_changed`], if any.
#[derive(Default)]
struct FixedMarketplace {
    changed: Mutex<HashMap<String, i64>>,
}

impl FixedMarketplace {
    fn set_changed(&self, customer_identifier: String, limit: i64) {
        self.changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(customer_identifier, limit);
    }
}

#[async_trait]
impl Marketplace for FixedMarketplace {
    async fn resolve_customer(
        &self,
        _integration: &IntegrationInfo,
        _token: &str,
    ) -> Result<ResolvedBuyer, MarketError> {
        Err(MarketError::Rejected("not used by the benchmark".into()))
    }

    async fn get_entitlements(
        &self,
        _integration: &IntegrationInfo,
        query: &EntitlementQuery,
    ) -> Result<Vec<Entitlement>, MarketError> {
        let buyer = query
            .customer_identifier
            .as_ref()
            .or(query.aws_account_id.as_ref())
            .cloned()
            .unwrap_or_default();
        let changed = self
            .changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&buyer)
            .copied();
        let now = time::OffsetDateTime::now_utc();
        Ok((0..FEATURES)
            .map(|i| Entitlement {
                customer_id: Id::from_trusted(String::new()),
                product_code: query.product_code.clone(),
                dimension: feature(i),
                value: EntitlementValue::Integer(match (i, changed) {
                    (0, Some(limit)) => limit,
                    _ => base_limit(i),
                }),
                expires_at: None,
                license_arn: None,
                updated_at: now,
            })
            .collect())
    }

    async fn listing(
        &self,
        _integration: &IntegrationInfo,
    ) -> Result<Vec<ListingProduct>, MarketError> {
        Ok(Vec::new())
    }
}

fn integration(organization_id: &Id) -> IntegrationInfo {
    IntegrationInfo {
        id: Id::generate("int"),
        organization_id: organization_id.clone(),
        role_arn: String::new(),
        external_id: String::new(),
        region: "us-east-1".to_owned(),
        products: vec![IntegrationProduct {
            product_code: PRODUCT.to_owned(),
            product_id: None,
            licensing: Licensing::ProductCode,
        }],
        sqs_queue_urls: Vec::new(),
    }
}

async fn entitlement_app(
    store: Store,
    integration: &IntegrationInfo,
    marketplace: Arc<FixedMarketplace>,
    namespace: Namespace,
) -> anyhow::Result<EntitlementApp> {
    let assumer = RoleAssumer::with_static_credentials(
        "AKIDBENCH",
        "bench-secret",
        RoleAssumerOptions::default(),
    );
    EntitlementApp::new(
        store,
        Arc::new(OneIntegration(integration.clone())),
        assumer,
        EntitlementConfig::default(),
        "http://127.0.0.1:0",
        AppOptions {
            namespace,
            marketplace: Some(marketplace),
            ..AppOptions::default()
        },
    )
    .await
    .map_err(|e| anyhow!("cannot start the entitlement service: {e}"))
}

fn notice(kind: NoticeKind, message_id: String, i: usize) -> Notice {
    Notice {
        kind,
        source: NoticeSource::Sns,
        message_id,
        sent_at: time::OffsetDateTime::now_utc(),
        product_code: Some(PRODUCT.to_owned()),
        customer_identifier: Some(identifier(i)),
        aws_account_id: Some(account(i)),
        license_arn: None,
        agreement_id: None,
        offer_id: None,
        free_trial: false,
    }
}

/// Subscribes `customers` buyers through the use cases (an SNS `subscribe-success` each, which
/// activates the subscription and reads the entitlements), `parallel` at a time; returns their
/// `cus_` ids by index.
async fn populate(
    app: &EntitlementApp,
    integration: &IntegrationInfo,
    customers: usize,
    parallel: usize,
) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (app, integration, next) = (app.clone(), integration.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= customers {
                    return anyhow::Ok(made);
                }
                let subscribe = notice(
                    NoticeKind::SubscribeSuccess,
                    format!("bench-subscribe-{i}"),
                    i,
                );
                let outcome = app
                    .entitlements()
                    .receive_notice(&integration, &subscribe)
                    .await
                    .map_err(|e| anyhow!("cannot subscribe customer {i}: {e}"))?;
                let NoticeOutcome::Applied { customer_id, .. } = outcome else {
                    bail!("the subscribe notice of customer {i} was taken for a duplicate");
                };
                made.push((i, customer_id.to_string()));
            }
        }));
    }
    let mut ids = vec![String::new(); customers];
    for task in tasks {
        for (i, id) in task.await.context("a populating task panicked")?? {
            ids[i] = id;
        }
    }
    Ok(ids)
}

/// Waits until every snapshot holds `customers` customers.
async fn snapshots_loaded(apps: &[&EntitlementApp], customers: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while apps.iter().any(|app| app.snapshot().len() < customers) {
        if Instant::now() > deadline {
            bail!("the check snapshots did not load {customers} customers within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The client loop, the same for the floor and for Souk.

/// One kind of request; each client task owns one.
trait Call: Send + 'static {
    /// Sends one request chosen by the random `n`; false when it failed or was answered
    /// unexpectedly.
    fn call(&mut self, n: u64) -> impl Future<Output = bool> + Send;
}

#[derive(Default)]
struct Run {
    seconds: f64,
    failed: u64,
    /// Every request's latency, sorted.
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds.max(1e-9)
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        let Some(last) = self.latencies.len().checked_sub(1) else {
            return 0.0;
        };
        let at = ((last as f64) * q).round() as usize;
        self.latencies[at.min(last)].as_secs_f64() * 1e3
    }
}

/// `concurrency` tasks, each sending one request after another for `duration`; task `t` sends
/// through `make(t)`.
async fn drive<C: Call>(concurrency: usize, duration: Duration, make: &impl Fn(usize) -> C) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let mut caller = make(t);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(t as u64 + 1);
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut failed = 0_u64;
            while Instant::now() < deadline {
                let n = rng.next();
                let sent = Instant::now();
                if !caller.call(n).await {
                    failed += 1;
                }
                latencies.push(sent.elapsed());
            }
            (latencies, failed)
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        if let Ok((latencies, failed)) = task.await {
            run.latencies.extend(latencies);
            run.failed += failed;
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.latencies.sort_unstable();
    run
}

/// Runs `makes` in turn in one-second slices, `seconds` slices each after a one-second warm-up
/// of each, so that a change of load on the machine (other builds on shared cores) hits them
/// alike; returns one merged run per entry of `makes`.
async fn interleaved(
    concurrency: usize,
    seconds: u64,
    makes: &[&dyn Fn(usize) -> AnyCall],
) -> Vec<Run> {
    let slice = Duration::from_secs(1);
    for make in makes {
        let _warm = drive(concurrency, slice, &|t| make(t)).await;
    }
    let mut runs: Vec<Run> = makes.iter().map(|_| Run::default()).collect();
    for _ in 0..seconds.max(1) {
        for (make, run) in makes.iter().zip(runs.iter_mut()) {
            let part = drive(concurrency, slice, &|t| make(t)).await;
            run.seconds += part.seconds;
            run.failed += part.failed;
            run.latencies.extend(part.latencies);
        }
    }
    for run in &mut runs {
        run.latencies.sort_unstable();
        if run.failed > 0 {
            eprintln!(
                "  {} requests failed or were answered unexpectedly",
                run.failed
            );
        }
    }
    runs
}

fn with_key<T>(message: T, key: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", key.clone());
    request
}

/// The floor: `grpc.health.v1.Health/Check`, with the same authorization header (ignored).
struct HealthCall {
    client: HealthClient<Channel>,
    key: MetadataValue<Ascii>,
}

impl Call for HealthCall {
    fn call(&mut self, _n: u64) -> impl Future<Output = bool> + Send {
        let request = with_key(
            HealthCheckRequest {
                service: String::new(),
            },
            &self.key,
        );
        async move { self.client.check(request).await.is_ok() }
    }
}

/// CheckEntitlement of a random customer's random granted feature, quantity 1.
struct CheckCall {
    client: EntitlementServiceClient<Channel>,
    key: MetadataValue<Ascii>,
    customers: Arc<Vec<String>>,
}

impl Call for CheckCall {
    fn call(&mut self, n: u64) -> impl Future<Output = bool> + Send {
        let customer = &self.customers[(n % self.customers.len() as u64) as usize];
        let request = with_key(
            pb::CheckEntitlementRequest {
                customer: customer.clone(),
                feature: feature(((n >> 32) % FEATURES as u64) as usize),
                quantity: Some(1),
            },
            &self.key,
        );
        async move {
            match self.client.check_entitlement(request).await {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    answer.allowed && answer.source == pb::CheckSource::Live as i32
                }
                Err(_) => false,
            }
        }
    }
}

/// BatchCheckEntitlements of `BATCH_FEATURES` features of a random customer.
struct BatchCall {
    client: EntitlementServiceClient<Channel>,
    key: MetadataValue<Ascii>,
    customers: Arc<Vec<String>>,
    features: Arc<Vec<String>>,
}

impl Call for BatchCall {
    fn call(&mut self, n: u64) -> impl Future<Output = bool> + Send {
        let customer = &self.customers[(n % self.customers.len() as u64) as usize];
        let request = with_key(
            pb::BatchCheckEntitlementsRequest {
                customer: customer.clone(),
                features: self.features.as_ref().clone(),
            },
            &self.key,
        );
        async move {
            match self.client.batch_check_entitlements(request).await {
                Ok(answer) => {
                    let results = answer.into_inner().results;
                    results.len() == BATCH_FEATURES
                        && results
                            .iter()
                            .all(|r| r.source == pb::CheckSource::Live as i32)
                }
                Err(_) => false,
            }
        }
    }
}

/// Any of the requests, so that different kinds can be interleaved.
enum AnyCall {
    Health(HealthCall),
    Check(CheckCall),
    Batch(BatchCall),
}

impl Call for AnyCall {
    async fn call(&mut self, n: u64) -> bool {
        match self {
            Self::Health(call) => call.call(n).await,
            Self::Check(call) => call.call(n).await,
            Self::Batch(call) => call.call(n).await,
        }
    }
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

/// A bare tonic server on loopback serving only `grpc.health.v1.Health`, accepting connections
/// as tonic's own `serve` does (`TcpIncoming`, `TCP_NODELAY` on).
async fn floor_server() -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _keep = reporter;
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                async move {
                    let _ = rx.await;
                },
            )
            .await;
    });
    Ok((url, tx))
}

/// The entitlement service through `souk_service`'s `GrpcServer` (request span, metrics,
/// authentication, health, reflection), on a listener bound as `souk serve` binds it
/// (`souk_service::server::bind`).
async fn souk_server(
    app: &EntitlementApp,
    authenticator: &Authenticator,
) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let served = souk_service::parts::combine(vec![app.parts()]);
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

// ---------------------------------------------------------------------------------------------
// Change visibility across replicas.

/// Time from a change's commit returning until each replica's snapshot answered it, per change.
struct Visibility {
    /// `[change][replica]`.
    seen: Vec<Vec<Duration>>,
    /// How long each change took to commit (the notice applied, the entitlements read again,
    /// the features written), sorted.
    commits: Vec<Duration>,
}

impl Visibility {
    /// Per change: until every replica answered it.
    fn every_replica(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self
            .seen
            .iter()
            .map(|r| r.iter().copied().max().unwrap_or_default())
            .collect();
        all.sort_unstable();
        all
    }

    fn replica(&self, r: usize) -> Vec<Duration> {
        let mut one: Vec<Duration> = self.seen.iter().filter_map(|c| c.get(r)).copied().collect();
        one.sort_unstable();
        one
    }
}

fn min_p50_max(sorted: &[Duration]) -> (f64, f64, f64) {
    let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
    (
        ms(sorted.first()),
        ms(sorted.get(sorted.len() / 2)),
        ms(sorted.last()),
    )
}

fn spread(sorted: &[Duration]) -> String {
    let (min, p50, max) = min_p50_max(sorted);
    format!("min {min:>6.1} ms  p50 {p50:>6.1} ms  max {max:>6.1} ms")
}

/// Commits `changes` contract changes through `writer` (an `entitlement-updated` notice each,
/// whose entitlement read finds a new `f000` quantity) and times how long each takes to show in
/// every replica's snapshot, polled every millisecond. Changes are spaced by a random pause of
/// 0.1 to 1.1 s so that they land at random points of the periodic catch-up.
#[allow(clippy::too_many_arguments)]
async fn time_changes(
    writer: &EntitlementApp,
    replicas: &[&EntitlementApp],
    integration: &IntegrationInfo,
    marketplace: &FixedMarketplace,
    customers: &[String],
    changes: usize,
    round: u64,
    rng: &mut Rng,
) -> anyhow::Result<Visibility> {
    let organization_id = &integration.organization_id;
    let mut seen = Vec::new();
    let mut commits = Vec::new();
    for k in 0..changes {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(1000) as u64)).await;
        let i = rng.below(customers.len());
        let limit = 1_000_000 + i64::try_from(round * 1000 + k as u64).unwrap_or(0);
        marketplace.set_changed(identifier(i), limit);
        let update = notice(
            NoticeKind::EntitlementUpdated,
            format!("bench-update-{round}-{k}"),
            i,
        );
        let sent = Instant::now();
        writer
            .entitlements()
            .receive_notice(integration, &update)
            .await
            .map_err(|e| anyhow!("cannot apply the change: {e}"))?;
        let committed = Instant::now();
        commits.push(committed - sent);
        let mut at: Vec<Option<Duration>> = vec![None; replicas.len()];
        while at.iter().any(Option::is_none) {
            for (r, app) in replicas.iter().enumerate() {
                if at[r].is_none()
                    && app
                        .snapshot()
                        .check(organization_id, &customers[i], CHANGED, None)
                        .outcome
                        .limit
                        == Some(limit)
                {
                    at[r] = Some(committed.elapsed());
                }
            }
            if committed.elapsed() > VISIBILITY_TIMEOUT {
                bail!("change {k} did not show on every replica within {VISIBILITY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        seen.push(at.into_iter().flatten().collect());
    }
    commits.sort_unstable();
    Ok(Visibility { seen, commits })
}

/// One replica of the visibility phase: its store (own pool), app, background and relay.
struct Replica {
    store: Store,
    app: EntitlementApp,
    background: Background,
    relay: Option<RelayHandle>,
}

struct VisibilityReport {
    setting: String,
    replicas: usize,
    triggered: Option<Visibility>,
    periodic: Visibility,
}

/// Two replicas on PostgreSQL with NATS when both answer; otherwise one replica on SQLite.
async fn visibility(customers: usize, changes: usize) -> anyhow::Result<VisibilityReport> {
    let database_url = env_text(
        souk_testkit::db::POSTGRES_URL_ENV,
        souk_testkit::db::DEFAULT_POSTGRES_URL,
    );
    let suffix = format!("{:016x}", rand::random::<u64>());
    let schema = format!("bench_{suffix}");
    let config = StoreConfig::new(database_url.clone(), schema.clone()).with_max_connections(10);
    let first = match tokio::time::timeout(Duration::from_secs(10), Store::connect(&config)).await {
        Ok(Ok(store)) => store,
        Ok(Err(error)) => {
            println!("  PostgreSQL unreachable ({error}): one replica on SQLite instead");
            return one_sqlite_replica(customers, changes).await;
        }
        Err(_) => {
            println!("  PostgreSQL did not answer within 10 s: one replica on SQLite instead");
            return one_sqlite_replica(customers, changes).await;
        }
    };
    let second = Store::connect(&config).await?;
    let nats_url = souk_testkit::nats::url();
    let namespace = Namespace::new(&format!("bench{suffix}"))?;
    let nats = match connect_nats(&nats_url).await {
        Ok(client) => Some(client),
        Err(error) => {
            println!("  NATS unreachable at {nats_url} ({error}): periodic catch-up only");
            None
        }
    };
    let publisher = match &nats {
        Some(client) => Some(
            JetStreamPublisher::start(
                client.clone(),
                StreamSettings {
                    namespace: namespace.clone(),
                    max_age: Duration::from_secs(3600),
                    ..StreamSettings::default()
                },
            )
            .await?,
        ),
        None => None,
    };
    let keys = MemoryKeyStore::default();
    let integration = integration(keys.organization_id());
    let marketplace = Arc::new(FixedMarketplace::default());
    let mut apps = Vec::new();
    for store in [first, second] {
        let app = entitlement_app(
            store.clone(),
            &integration,
            Arc::clone(&marketplace),
            namespace.clone(),
        )
        .await?;
        apps.push((store, app));
    }
    // Set-up first, then the replicas' background work: the measurement is of a settled
    // deployment, not of one digesting 10,000 sign-ups.
    let started = Instant::now();
    let ids = populate(&apps[0].1, &integration, customers, 8).await?;
    println!(
        "  {customers} customers subscribed through replica A in {:.1} s (schema {schema})",
        started.elapsed().as_secs_f64()
    );
    let mut replicas = Vec::new();
    for (store, app) in apps {
        // As `souk serve`: every replica relays the outbox of the store it shares.
        let relay = publisher.as_ref().map(|publisher| {
            OutboxRelay::new(store.clone(), publisher.clone(), RelayConfig::default()).start()
        });
        replicas.push(Replica {
            background: app.start(),
            store,
            app,
            relay,
        });
    }
    // As `souk serve`'s `follow_other_replicas`: each replica's own NATS connection, a plain
    // subscription to the service's subjects, every message a catch-up trigger. The switch turns
    // it off for the periodic-only measurement.
    let follow = Arc::new(AtomicBool::new(true));
    let mut forwarders = Vec::new();
    if nats.is_some() {
        for replica in &replicas {
            let client = connect_nats(&nats_url).await?;
            for area in ["subscription", "entitlement"] {
                let filter = format!("{}.*.{area}.>", namespace.subject_prefix());
                let mut subscriber = client.subscribe(filter).await?;
                let trigger = replica.background.snapshot_trigger();
                let follow = Arc::clone(&follow);
                forwarders.push(tokio::spawn(async move {
                    use futures::StreamExt as _;
                    while subscriber.next().await.is_some() {
                        if follow.load(Ordering::Relaxed) {
                            trigger.notify_one();
                        }
                    }
                }));
            }
        }
    }
    let (a, b) = (&replicas[0].app, &replicas[1].app);
    snapshots_loaded(&[a, b], customers).await?;
    if publisher.is_some() {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let backlog = souk_events::relay::outbox_backlog(
                &replicas[0].store,
                time::OffsetDateTime::now_utc(),
            )
            .await?;
            if backlog.rows == 0 {
                break;
            }
            if Instant::now() > deadline {
                bail!("the outbox still holds {} events after 300 s", backlog.rows);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Past the catch-up overlap (5 s), so catch-ups read only what the changes touch.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = catch_up_reads(a).await?;
    let autovacuum: String =
        sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'autovacuum'")
            .fetch_one(replicas[0].store.pool())
            .await
            .unwrap_or_else(|_| "unknown".to_owned());
    analyze(&replicas[0].store, &schema).await?;
    let after = catch_up_reads(a).await?;
    println!(
        "  a catch-up read with nothing to apply (10 reads): {} with the tables never analyzed \
         (autovacuum: {autovacuum}); {} after VACUUM (ANALYZE), which autovacuum does on its own",
        spread(&before),
        spread(&after)
    );

    let mut rng = Rng(7);
    let both = [a, b];
    let triggered = if nats.is_some() {
        Some(
            time_changes(
                a,
                &both,
                &integration,
                &marketplace,
                &ids,
                changes,
                1,
                &mut rng,
            )
            .await?,
        )
    } else {
        None
    };
    follow.store(false, Ordering::Relaxed);
    let periodic = time_changes(
        a,
        &both,
        &integration,
        &marketplace,
        &ids,
        changes,
        2,
        &mut rng,
    )
    .await?;

    for forwarder in forwarders {
        forwarder.abort();
    }
    let mut stores = Vec::new();
    for replica in replicas {
        replica.background.shutdown().await;
        if let Some(relay) = replica.relay {
            relay.shutdown().await;
        }
        stores.push(replica.store);
    }
    let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(stores[0].pool())
    .await;
    if let Err(error) = dropped {
        eprintln!("  cannot drop schema {schema}: {error}");
    }
    for store in stores {
        store.close().await;
    }
    if let Some(publisher) = &publisher {
        let prefix = namespace.subject_prefix().to_ascii_uppercase();
        if let Err(error) = souk_testkit::nats::delete_streams(publisher.context(), &prefix).await {
            eprintln!("  cannot delete streams {prefix}_*: {error}");
        }
    }
    Ok(VisibilityReport {
        setting: format!(
            "2 replicas on one PostgreSQL store (schema {schema}, dropped), {customers} customers"
        ),
        replicas: 2,
        triggered,
        periodic,
    })
}

/// Durations of ten catch-up reads (`customer_views(since)`, as the follower issues them) that
/// find nothing changed: the fixed cost of making a change visible.
async fn catch_up_reads(app: &EntitlementApp) -> anyhow::Result<Vec<Duration>> {
    let mut took = Vec::new();
    for _ in 0..10 {
        let since = app.entitlements().now() - time::Duration::seconds(5);
        let started = Instant::now();
        app.entitlements()
            .customer_views(Some(since))
            .await
            .map_err(|e| anyhow!("catch-up read: {e}"))?;
        took.push(started.elapsed());
    }
    took.sort_unstable();
    Ok(took)
}

/// `VACUUM (ANALYZE)` of every table of `schema`, as autovacuum would after a bulk load (the
/// test server may run without it; without statistics the planner reads the snapshot's
/// catch-up queries with sequential scans).
async fn analyze(store: &Store, schema: &str) -> anyhow::Result<()> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1")
            .bind(schema)
            .fetch_all(store.pool())
            .await?;
    for table in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "VACUUM (ANALYZE) \"{schema}\".\"{table}\""
        )))
        .persistent(false)
        .execute(store.pool())
        .await
        .with_context(|| format!("cannot analyze {schema}.{table}"))?;
    }
    Ok(())
}

async fn connect_nats(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

/// The fallback: one replica on SQLite (its own commits wake its follower).
async fn one_sqlite_replica(customers: usize, changes: usize) -> anyhow::Result<VisibilityReport> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().display());
    let store = Store::connect(&StoreConfig::new(url, souk_entitlement::STORE_NAME)).await?;
    let keys = MemoryKeyStore::default();
    let integration = integration(keys.organization_id());
    let marketplace = Arc::new(FixedMarketplace::default());
    let app = entitlement_app(
        store.clone(),
        &integration,
        Arc::clone(&marketplace),
        Namespace::default(),
    )
    .await?;
    let ids = populate(&app, &integration, customers, 1).await?;
    let background = app.start();
    snapshots_loaded(&[&app], customers).await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut rng = Rng(7);
    let periodic = time_changes(
        &app,
        &[&app],
        &integration,
        &marketplace,
        &ids,
        changes,
        2,
        &mut rng,
    )
    .await?;
    background.shutdown().await;
    store.close().await;
    Ok(VisibilityReport {
        setting: format!("1 replica on SQLite (PostgreSQL unreachable), {customers} customers"),
        replicas: 1,
        triggered: None,
        periodic,
    })
}

// ---------------------------------------------------------------------------------------------

/// As `souk serve` logs (JSON at `info`, PostgreSQL notices at `warn`), so the gRPC request
/// span costs what it costs there; lines below WARN are discarded. With `RUST_LOG` set, its
/// filter applies and every line it enables is written to stderr.
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

/// Peak resident set size (`VmHWM`), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

struct Pair {
    concurrency: usize,
    floor: Run,
    check: Run,
}

impl Pair {
    fn ratio(&self) -> f64 {
        self.check.per_second() / self.floor.per_second().max(1e-9)
    }
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every figure.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Nanoseconds per in-process `Snapshot::check` of a random customer's random granted feature,
/// on one thread (the part of a CheckEntitlement request that is Souk's own).
fn check_cost(snapshot: &souk_entitlement::snapshot::Snapshot, org: &Id, ids: &[String]) -> f64 {
    const ROUNDS: u32 = 1_000_000;
    let features: Vec<String> = (0..FEATURES).map(feature).collect();
    let mut rng = Rng(3);
    let mut allowed = 0_u32;
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let customer = &ids[rng.below(ids.len())];
        let feature = &features[rng.below(FEATURES)];
        allowed += u32::from(
            snapshot
                .check(org, customer, feature, Some(1))
                .outcome
                .allowed,
        );
    }
    let elapsed = started.elapsed();
    std::hint::black_box(allowed);
    elapsed.as_nanos() as f64 / f64::from(ROUNDS)
}

fn run_line(label: &str, concurrency: usize, run: &Run) -> String {
    format!(
        "{label:<38} {concurrency:>2} in flight: {:>8.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  p99.9 {:>6.2} ms",
        run.per_second(),
        run.quantile_ms(0.50),
        run.quantile_ms(0.99),
        run.quantile_ms(0.999),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let seconds = env_number("BENCH_SECS", 5);
    let customers = usize::try_from(env_number("BENCH_CUSTOMERS", 10_000))?.max(1);
    let changes = usize::try_from(env_number("BENCH_CHANGES", 20))?;
    let connections = usize::try_from(env_number("BENCH_CONNECTIONS", 1))?.max(1);
    let load_at_start = load_average();

    // The service on SQLite, behind the real server stack with an in-memory API key.
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().display());
    let store = Store::connect(&StoreConfig::new(url, souk_entitlement::STORE_NAME)).await?;
    let keys = MemoryKeyStore::default();
    let secret = keys.add_key(&[Scope::ReadOnly]);
    let key: MetadataValue<Ascii> = format!("Bearer {secret}").parse()?;
    let integration = integration(keys.organization_id());
    let marketplace = Arc::new(FixedMarketplace::default());
    let app = entitlement_app(
        store.clone(),
        &integration,
        Arc::clone(&marketplace),
        Namespace::default(),
    )
    .await?;
    let started = Instant::now();
    let ids = Arc::new(populate(&app, &integration, customers, 1).await?);
    let populated_in = started.elapsed().as_secs_f64();
    let background = app.start();
    snapshots_loaded(&[&app], customers).await?;
    let loaded = Instant::now();
    let peak_after_load = peak_rss_mb();
    let authenticator = Authenticator::new(Arc::new(keys.clone()));
    let (souk_url, stop_souk) = souk_server(&app, &authenticator).await?;
    let (floor_url, stop_floor) = floor_server().await?;
    let floor_channels = channels(&floor_url, connections).await?;
    let souk_channels = channels(&souk_url, connections).await?;

    println!(
        "CheckEntitlement, {customers} customers x {FEATURES} features on SQLite, {seconds}s per phase after 1s warm-up, \
         {connections} HTTP/2 connection(s), tonic client and server in this process over loopback, \
         {} cores, load average {load_at_start}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "fake AWS: a Marketplace answering fixed entitlements; one-integration test directory; \
         customers subscribed through the use cases (SNS subscribe-success) in {populated_in:.1} s"
    );
    println!(
        "Souk stack: souk_service GrpcServer as souk serve runs it (request span with a JSON \
         subscriber at info, metrics, API-key auth with the in-memory key store), answering from \
         the EntitlementApp snapshot"
    );
    // Past the catch-up overlap (5 s), so the follower's periodic reads find nothing to apply.
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(loaded.elapsed())).await;

    let floor_make = |t: usize| {
        AnyCall::Health(HealthCall {
            client: HealthClient::new(floor_channels[t % floor_channels.len()].clone()),
            key: key.clone(),
        })
    };
    let check_on = |channels: &[Channel]| {
        let channels = channels.to_vec();
        let (key, ids) = (key.clone(), Arc::clone(&ids));
        move |t: usize| {
            AnyCall::Check(CheckCall {
                client: EntitlementServiceClient::new(channels[t % channels.len()].clone()),
                key: key.clone(),
                customers: Arc::clone(&ids),
            })
        }
    };
    let batch_features: Arc<Vec<String>> = Arc::new((0..BATCH_FEATURES).map(feature).collect());
    let batch_on = |channels: &[Channel]| {
        let channels = channels.to_vec();
        let (key, ids, features) = (key.clone(), Arc::clone(&ids), Arc::clone(&batch_features));
        move |t: usize| {
            AnyCall::Batch(BatchCall {
                client: EntitlementServiceClient::new(channels[t % channels.len()].clone()),
                key: key.clone(),
                customers: Arc::clone(&ids),
                features: Arc::clone(&features),
            })
        }
    };
    let check_souk = check_on(&souk_channels);
    let batch_souk = batch_on(&souk_channels);

    // The floor and Souk in turn, one-second slices each.
    let mut pairs = Vec::new();
    for concurrency in [8_usize, 64] {
        let mut runs = interleaved(concurrency, seconds, &[&floor_make, &check_souk])
            .await
            .into_iter();
        let (Some(floor), Some(check)) = (runs.next(), runs.next()) else {
            bail!("interleaved runs missing");
        };
        println!(
            "{}",
            run_line("floor (bare tonic, Health/Check)", concurrency, &floor)
        );
        let pair = Pair {
            concurrency,
            floor,
            check,
        };
        println!(
            "{}  ({:.2} of floor)",
            run_line("CheckEntitlement (Souk stack)", concurrency, &pair.check),
            pair.ratio(),
        );
        pairs.push(pair);
    }
    let Some(batch) = interleaved(8, seconds, &[&batch_souk]).await.pop() else {
        bail!("interleaved runs missing");
    };
    println!(
        "{}  {:>9.0} features/s",
        run_line(
            &format!("BatchCheckEntitlements ({BATCH_FEATURES} features)"),
            8,
            &batch
        ),
        batch.per_second() * BATCH_FEATURES as f64,
    );

    println!("diagnostics (not targets):");
    let check_ns = {
        let (snapshot, org, ids) = (
            app.snapshot().clone(),
            keys.organization_id().clone(),
            Arc::clone(&ids),
        );
        tokio::task::spawn_blocking(move || check_cost(&snapshot, &org, &ids)).await?
    };
    println!("  Snapshot::check in process, one thread: {check_ns:.0} ns per check");
    drop((souk_channels, floor_channels));
    for stop in [stop_souk, stop_floor] {
        let _ = stop.send(());
    }
    background.shutdown().await;
    store.close().await;
    drop(dir);

    let report = if changes > 0 {
        println!(
            "change visibility: {changes} entitlement-updated notices per mode applied through replica A"
        );
        Some(visibility(customers, changes).await?)
    } else {
        println!("change visibility: skipped (BENCH_CHANGES=0)");
        None
    };
    let names = ["A (writer)", "B"];
    if let Some(report) = &report {
        println!("  {}", report.setting);
        if let Some(triggered) = &report.triggered {
            println!("  replica B woken by NATS (A's outbox relayed to JetStream, as souk serve):");
            for (r, name) in names.iter().take(report.replicas).enumerate() {
                println!("    replica {name:<10} {}", spread(&triggered.replica(r)));
            }
            println!(
                "    every replica      {}",
                spread(&triggered.every_replica())
            );
            println!("    (commit itself     {})", spread(&triggered.commits));
        }
        println!(
            "  periodic catch-up only (snapshot_poll_interval 1 s; the writer is woken by its own commits):"
        );
        for (r, name) in names.iter().take(report.replicas).enumerate() {
            println!(
                "    replica {name:<10} {}",
                spread(&report.periodic.replica(r))
            );
        }
        println!(
            "    every replica      {}",
            spread(&report.periodic.every_replica())
        );
        println!(
            "    (commit itself     {})",
            spread(&report.periodic.commits)
        );
    }
    let peak = peak_rss_mb();
    let load_at_end = load_average();

    // The block a closing note can quote.
    println!();
    println!("== figures ==");
    println!("load average at start {load_at_start}, at end {load_at_end} (2 shared cores)");
    for pair in &pairs {
        println!(
            "CheckEntitlement, {:>2} in flight: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.2} ms; bare tonic {:.0} req/s (p99 {:.3} ms); ratio {:.2}",
            pair.concurrency,
            pair.check.per_second(),
            pair.check.quantile_ms(0.50),
            pair.check.quantile_ms(0.99),
            pair.check.quantile_ms(0.999),
            pair.floor.per_second(),
            pair.floor.quantile_ms(0.99),
            pair.ratio(),
        );
    }
    println!(
        "BatchCheckEntitlements of {BATCH_FEATURES}, 8 in flight: {:.0} req/s ({:.0} features/s), p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.2} ms",
        batch.per_second(),
        batch.per_second() * BATCH_FEATURES as f64,
        batch.quantile_ms(0.50),
        batch.quantile_ms(0.99),
        batch.quantile_ms(0.999),
    );
    println!("diagnostic, Snapshot::check in process: {check_ns:.0} ns per check");
    let every = report.as_ref().map(|report| {
        report
            .triggered
            .as_ref()
            .unwrap_or(&report.periodic)
            .every_replica()
    });
    if let Some(report) = &report {
        match &report.triggered {
            Some(triggered) => println!(
                "change visible on every replica ({} replicas on PostgreSQL, NATS-triggered): {}",
                report.replicas,
                spread(&triggered.every_replica())
            ),
            None => println!(
                "change visible on every replica ({}): {}",
                report.setting,
                spread(&report.periodic.every_replica())
            ),
        }
        println!(
            "change visible on every replica, periodic catch-up only: {}",
            spread(&report.periodic.every_replica())
        );
    }
    match (peak, peak_after_load) {
        (Some(mb), Some(first)) => println!(
            "peak RSS: {mb:.0} MB (after the first replica's full snapshot load: {first:.0} MB)"
        ),
        _ => println!("peak RSS: unknown (no /proc/self/status)"),
    }
    println!("targets:");
    for pair in &pairs {
        println!(
            "  CheckEntitlement throughput >= 0.6 of bare tonic at {:>2} in flight: {:.2}  {}",
            pair.concurrency,
            pair.ratio(),
            verdict(pair.ratio() >= 0.6)
        );
    }
    if let Some(eight) = pairs.iter().find(|p| p.concurrency == 8) {
        let p99 = eight.check.quantile_ms(0.99);
        println!(
            "  CheckEntitlement p99 <= 1 ms at 8 in flight: {p99:.3} ms  {}",
            verdict(p99 <= 1.0)
        );
    }
    match every {
        Some(every) => {
            let (_, p50, max) = min_p50_max(&every);
            println!(
                "  change visible on every replica <= 200 ms: max {max:.1} ms (p50 {p50:.1} ms) over {} changes  {}",
                every.len(),
                verdict(max <= 200.0)
            );
        }
        None => println!("  change visible on every replica <= 200 ms: not measured"),
    }
    Ok(())
}
