//! "Exactly once, proven": the metering shipper is killed with SIGKILL at random moments, over
//! at least 100 cycles, while the emulator (its own process, with a state file) throttles, fails,
//! drops answers after applying the call, and leaves records unprocessed. Usage is recorded over
//! gRPC with remembered idempotency keys (a batch whose answer was lost is sent again, the same
//! batch with the same keys, until acknowledged). At the end the emulator's metering ledger must
//! hold, for every (customer, dimension, hour) of the acknowledgements, exactly one record whose
//! quantity is the sum of the acknowledged quantities, and nothing else; no record failed or was
//! held. Standalone (`souk dev` on SQLite, one process killed and restarted) and distributed
//! (`souk serve metering` twice on PostgreSQL and NATS, killed and restarted independently).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::Client as SqsClient;
use rand::Rng;
use serde_json::{Value, json};
use souk_e2e::{Auth, SoukProcess, auth, http_get, http_request, souk, souk_bin};
use souk_proto::integration as ipb;
use souk_proto::integration::integration_service_client::IntegrationServiceClient;
use souk_proto::metering as mpb;
use souk_proto::metering::metering_service_client::MeteringServiceClient;
use souk_testkit::db::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const SELLER: &str = "111122223333";
/// A legacy product (CustomerIdentifier) with two metered dimensions.
const LEGACY: &str = "souk-crash-legacy";
/// A concurrent-agreement product (CustomerAWSAccountId + LicenseArn).
const LICENSED: &str = "souk-crash-licensed";
/// Probability of each fault on every BatchMeterUsage call (per record for `unprocessed`).
const FAULT_PROBABILITY: f64 = 0.15;
const FAULTS: [&str; 4] = ["throttle", "server_error", "drop", "unprocessed"];
/// Kills in each test.
const KILLS: usize = 100;
/// A shipper lives uniformly 0 to this long after it is started (start-up included).
const MAX_LIFE_MS: u64 = 2500;
/// The emulator clock never runs further than this ahead of the oldest unbilled hour (AWS takes
/// records up to 6 hours late).
const MAX_AHEAD_SECONDS: i64 = 5 * 3600;
/// Events per batch.
const MAX_BATCH: usize = 30;

type Metering = MeteringServiceClient<InterceptedService<Channel, Auth>>;

async fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(url.to_owned())
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(15))
        .connect()
        .await
}

async fn metering_client(url: &str, key: &str) -> Result<Metering, tonic::transport::Error> {
    Ok(MeteringServiceClient::with_interceptor(
        channel(url).await?,
        auth(key),
    ))
}

/// `<method> <emulator><path>` with a JSON body; the JSON answer.
async fn control(emulator: &str, method: &str, path: &str, body: Value) -> Value {
    let (status, text) = http_request(method, emulator, path, &body.to_string())
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The emulator's clock, epoch seconds.
async fn emulator_now(emulator: &str) -> i64 {
    let (_, text) = http_get(emulator, "/_souk/clock").await.unwrap();
    let clock: Value = serde_json::from_str(&text).unwrap();
    clock["epoch_seconds"].as_i64().unwrap()
}

/// One entry of the emulator's metering ledger.
#[derive(Debug, Clone)]
struct Billed {
    quantity: i64,
    metering_record_id: String,
    /// Emulator time of billing, epoch seconds.
    recorded_at: i64,
}

/// What AWS billed, asserting that the ledger holds one entry per key.
async fn ledger(emulator: &str) -> BTreeMap<Key, Billed> {
    let (status, text) = http_get(emulator, "/_souk/metering/ledger").await.unwrap();
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let mut billed = BTreeMap::new();
    for entry in body["records"].as_array().unwrap() {
        let key = Key {
            account: entry["customer_aws_account_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            dimension: entry["dimension"].as_str().unwrap().to_owned(),
            hour: entry["hour"].as_i64().unwrap(),
        };
        let value = Billed {
            quantity: entry["quantity"].as_i64().unwrap(),
            metering_record_id: entry["metering_record_id"].as_str().unwrap().to_owned(),
            recorded_at: entry["recorded_at"].as_i64().unwrap(),
        };
        if let Some(previous) = billed.insert(key.clone(), value) {
            panic!("{key:?} billed twice: {previous:?} and {entry}");
        }
    }
    billed
}

async fn sqs(emulator: &str) -> SqsClient {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(emulator)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "AKIDCRASH",
            "secret",
            None,
            None,
            "test",
        ))
        .build();
    SqsClient::from_conf(config)
}

/// One hourly record: the buyer's AWS account, the dimension, the hour (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    account: String,
    dimension: String,
    hour: i64,
}

/// A subscribed buyer.
#[derive(Debug, Clone)]
struct Buyer {
    account: String,
    product: &'static str,
}

impl Buyer {
    fn dimensions(&self) -> &'static [&'static str] {
        if self.product == LEGACY {
            &["requests", "storage"]
        } else {
            &["requests"]
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processes killed at random.

/// A shipper process: `souk dev` or `souk serve metering`.
struct Shipper {
    child: Child,
    /// `(grpc, http)` once the process printed `ready`.
    ready: tokio::sync::watch::Receiver<Option<(String, String)>>,
}

impl Shipper {
    /// Starts `souk <args>`, its stderr appended to `log`.
    fn spawn(args: &[String], envs: &[(String, String)], log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut command = Command::new(souk_bin().unwrap());
        command
            .args(args)
            .env("SOUK_LOG_LEVEL", "warn")
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, ready) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let (mut grpc, mut http) = (String::new(), String::new());
            while let Ok(Some(line)) = lines.next_line().await {
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("grpc"), Some(url)) => grpc = url.to_owned(),
                    (Some("http"), Some(url)) => http = url.to_owned(),
                    _ if line == "ready" => {
                        let _ = sender.send(Some((grpc.clone(), http.clone())));
                    }
                    _ => {}
                }
            }
        });
        Self { child, ready }
    }

    /// Waits (60 s at most) until the process is ready; its `(grpc, http)`.
    async fn wait_ready(&mut self, log: &Path) -> (String, String) {
        let ready = tokio::time::timeout(
            Duration::from_secs(60),
            self.ready.wait_for(Option::is_some),
        )
        .await;
        match ready {
            Ok(Ok(endpoints)) => endpoints.clone().unwrap(),
            _ => panic!(
                "the shipper did not start: {:?}\n{}",
                self.child.try_wait(),
                tail(log)
            ),
        }
    }

    /// SIGKILL; whether the process was still running (it must never stop by itself).
    async fn kill(mut self) -> Option<std::process::ExitStatus> {
        let exited = self.child.try_wait().unwrap();
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        exited
    }
}

/// The last lines of a log file.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(60);
    format!("--- {} ---\n{}", log.display(), lines[start..].join("\n"))
}

/// Prints the end of the shippers' logs when the test fails.
struct LogsOnPanic(Vec<PathBuf>);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for log in &self.0 {
                eprintln!("{}", tail(log));
            }
        }
    }
}

/// How to start one shipper replica.
#[derive(Clone)]
struct Launch {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log: PathBuf,
}

impl Launch {
    fn spawn(&self) -> Shipper {
        Shipper::spawn(&self.args, &self.envs, &self.log)
    }
}

/// The replicas' gRPC URLs while they are up (cleared before each kill).
type Up = Arc<Mutex<Vec<Option<String>>>>;

#[derive(Debug, Default)]
struct ChaosStats {
    kills: usize,
    killed_before_ready: usize,
    exited_by_itself: Vec<String>,
}

/// Starts replica `slot` and kills it `kills` times, each after a random life.
async fn chaos(slot: usize, kills: usize, launch: Launch, up: Up) -> ChaosStats {
    let mut stats = ChaosStats::default();
    for _ in 0..kills {
        let life = Duration::from_millis(rand::rng().random_range(0..=MAX_LIFE_MS));
        let deadline = Instant::now() + life;
        let mut shipper = launch.spawn();
        let ready = tokio::select! {
            ready = shipper.ready.wait_for(Option::is_some) => ready.ok().and_then(|e| e.clone()),
            () = tokio::time::sleep_until(deadline) => None,
        };
        match ready {
            Some((grpc, _)) => up.lock().unwrap()[slot] = Some(grpc),
            None => stats.killed_before_ready += 1,
        }
        tokio::time::sleep_until(deadline).await;
        up.lock().unwrap()[slot] = None;
        if let Some(status) = shipper.kill().await {
            stats
                .exited_by_itself
                .push(format!("{status}\n{}", tail(&launch.log)));
        }
        stats.kills += 1;
    }
    stats
}

// ---------------------------------------------------------------------------------------------
// The usage sent and acknowledged.

/// Everything the test sent and what Souk acknowledged.
struct Book {
    emulator: String,
    key: String,
    test: &'static str,
    buyers: Vec<Buyer>,
    /// No event is older than this (the subscriptions started before).
    earliest: i64,
    /// Acknowledged quantity per hourly record.
    acked: BTreeMap<Key, i64>,
    events: usize,
    batches: usize,
    /// Batches acknowledged with at least one DUPLICATE (their earlier answer was lost).
    duplicate_batches: usize,
    duplicate_events: usize,
    /// Calls that failed because the replica died.
    failed_calls: usize,
    /// Events whose hour is not their timestamp's (their hour was sealed).
    carried: usize,
    advances: usize,
    /// Batches acknowledged while two replicas were up.
    both_up: usize,
    /// The batch not acknowledged yet, sent again as is.
    pending: Option<Vec<mpb::UsageEvent>>,
    clients: HashMap<String, Metering>,
}

impl Book {
    fn new(emulator: &str, key: &str, test: &'static str, buyers: Vec<Buyer>) -> Self {
        Self {
            emulator: emulator.to_owned(),
            key: key.to_owned(),
            test,
            buyers,
            earliest: 0,
            acked: BTreeMap::new(),
            events: 0,
            batches: 0,
            duplicate_batches: 0,
            duplicate_events: 0,
            failed_calls: 0,
            carried: 0,
            advances: 0,
            both_up: 0,
            pending: None,
            clients: HashMap::new(),
        }
    }

    fn event(
        &self,
        key: String,
        buyer: &Buyer,
        dimension: &str,
        quantity: i64,
        at: i64,
    ) -> mpb::UsageEvent {
        let mut event = mpb::UsageEvent {
            idempotency_key: key,
            customer: buyer.account.clone(),
            dimension: dimension.to_owned(),
            quantity,
            timestamp: Some(Default::default()),
            ..Default::default()
        };
        if let Some(timestamp) = event.timestamp.as_mut() {
            timestamp.seconds = at;
        }
        event
    }

    /// A new random batch, timestamps up to 45 minutes back (never before the subscriptions).
    async fn new_batch(&mut self) -> Vec<mpb::UsageEvent> {
        let now = emulator_now(&self.emulator).await;
        let mut rng = rand::rng();
        let size = rng.random_range(1..=MAX_BATCH);
        let number = self.batches;
        (0..size)
            .map(|i| {
                let buyer = &self.buyers[rng.random_range(0..self.buyers.len())];
                let dimensions = buyer.dimensions();
                let dimension = dimensions[rng.random_range(0..dimensions.len())];
                let at = (now - rng.random_range(0..45 * 60)).max(self.earliest);
                self.event(
                    format!("{}-{number}-{i}-{}", self.test, rand::random::<u32>()),
                    buyer,
                    dimension,
                    rng.random_range(0..1000),
                    at,
                )
            })
            .collect()
    }

    async fn client(&mut self, url: &str) -> Option<Metering> {
        if let Some(client) = self.clients.get(url) {
            return Some(client.clone());
        }
        let client = metering_client(url, &self.key).await.ok()?;
        self.clients.insert(url.to_owned(), client.clone());
        Some(client)
    }

    /// Sends `events` to `url`: the answer, or the error status.
    async fn send(
        &mut self,
        url: &str,
        events: &[mpb::UsageEvent],
    ) -> Result<mpb::RecordUsageResponse, tonic::Status> {
        let Some(mut client) = self.client(url).await else {
            return Err(tonic::Status::unavailable("cannot connect"));
        };
        let answer = client
            .record_usage(mpb::RecordUsageRequest {
                events: events.to_vec(),
            })
            .await;
        if answer.is_err() {
            self.clients.remove(url);
        }
        answer.map(tonic::Response::into_inner)
    }

    /// Books an acknowledgement of `events`.
    fn acknowledge(&mut self, events: &[mpb::UsageEvent], answer: &mpb::RecordUsageResponse) {
        assert_eq!(answer.results.len(), events.len());
        let mut duplicates = 0;
        for (event, result) in events.iter().zip(&answer.results) {
            assert_eq!(event.idempotency_key, result.idempotency_key);
            assert!(result.usage_id.starts_with("use_"), "{result:?}");
            if result.status == mpb::UsageEventStatus::Duplicate as i32 {
                duplicates += 1;
            } else {
                assert_eq!(
                    result.status,
                    mpb::UsageEventStatus::Recorded as i32,
                    "{result:?}"
                );
            }
            let hour = result.hour_start.as_ref().unwrap().seconds;
            let at = event.timestamp.as_ref().unwrap().seconds;
            assert_eq!(hour % 3600, 0, "{result:?}");
            assert!(
                hour >= at - at % 3600,
                "an event counts towards an earlier hour: {event:?} {result:?}"
            );
            if hour != at - at % 3600 {
                self.carried += 1;
            }
            let account = self
                .buyers
                .iter()
                .find(|b| b.account == event.customer)
                .unwrap()
                .account
                .clone();
            *self
                .acked
                .entry(Key {
                    account,
                    dimension: event.dimension.clone(),
                    hour,
                })
                .or_default() += event.quantity;
        }
        self.events += events.len();
        self.batches += 1;
        self.duplicate_events += duplicates;
        if duplicates > 0 {
            self.duplicate_batches += 1;
        }
    }

    /// The oldest acknowledged hour AWS has not billed yet.
    async fn oldest_unbilled(&self) -> Option<i64> {
        let billed = ledger(&self.emulator).await;
        self.acked
            .keys()
            .filter(|key| !billed.contains_key(*key))
            .map(|key| key.hour)
            .min()
    }

    /// Moves the emulator clock forward by up to `seconds`, never past the oldest unbilled hour
    /// plus five hours; the seconds moved.
    async fn advance(&mut self, seconds: i64) -> i64 {
        let now = emulator_now(&self.emulator).await;
        let step = match self.oldest_unbilled().await {
            Some(oldest) => seconds.min(oldest + MAX_AHEAD_SECONDS - now),
            None => seconds,
        };
        if step <= 0 {
            return 0;
        }
        control(
            &self.emulator,
            "POST",
            "/_souk/clock/advance",
            json!({"seconds": step}),
        )
        .await;
        self.advances += 1;
        // Souk reads the emulator's clock every 200 ms: no event may look future to it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        step
    }

    /// Records usage on whichever replica is up until `done`: each batch until acknowledged,
    /// moving the clock now and then.
    async fn drive(&mut self, up: &Up, done: &tokio::sync::watch::Receiver<bool>) {
        while !*done.borrow() {
            let replicas: Vec<(usize, String)> = up
                .lock()
                .unwrap()
                .iter()
                .enumerate()
                .filter_map(|(slot, url)| url.clone().map(|url| (slot, url)))
                .collect();
            if replicas.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let (slot, url) = replicas[rand::rng().random_range(0..replicas.len())].clone();
            let events = match &self.pending {
                Some(events) => events.clone(),
                None => {
                    let events = self.new_batch().await;
                    self.pending = Some(events.clone());
                    events
                }
            };
            match self.send(&url, &events).await {
                Ok(answer) => {
                    self.acknowledge(&events, &answer);
                    self.pending = None;
                    if replicas.len() > 1 {
                        self.both_up += 1;
                    }
                    let mut rng = rand::rng();
                    let advance = rng.random_bool(0.3);
                    let pause = rng.random_range(0..40);
                    let minutes = rng.random_range(1..=20);
                    if advance {
                        self.advance(minutes * 60).await;
                    }
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(status) => {
                    let killed = up.lock().unwrap()[slot].as_deref() != Some(url.as_str());
                    assert!(
                        killed || is_transport(&status),
                        "RecordUsage failed on a live replica: {status:?}"
                    );
                    self.failed_calls += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// Sends the batch left unacknowledged to `url` until it is.
    async fn flush_pending(&mut self, url: &str) {
        let Some(events) = self.pending.take() else {
            return;
        };
        for _ in 0..100 {
            match self.send(url, &events).await {
                Ok(answer) => {
                    self.acknowledge(&events, &answer);
                    return;
                }
                Err(status) => {
                    assert!(is_transport(&status), "{status:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("the last batch was never acknowledged");
    }

    /// One event per buyer, retried until the buyer's subscription is known to metering.
    async fn probe_buyers(&mut self, url: &str) {
        for buyer in self.buyers.clone() {
            let mut last = None;
            let mut accepted = false;
            for _ in 0..300 {
                let now = emulator_now(&self.emulator).await;
                let event = self.event(
                    format!("{}-probe-{}", self.test, buyer.account),
                    &buyer,
                    buyer.dimensions()[0],
                    1,
                    now,
                );
                match self.send(url, std::slice::from_ref(&event)).await {
                    Ok(answer) => {
                        self.acknowledge(std::slice::from_ref(&event), &answer);
                        accepted = true;
                        break;
                    }
                    Err(status) => last = Some(status),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(accepted, "{buyer:?} never became billable: {last:?}");
        }
        // Later events are never older than the subscriptions.
        self.earliest = emulator_now(&self.emulator).await + 1;
    }
}

/// Errors a client sees when the server dies under it.
fn is_transport(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::DeadlineExceeded
    )
}

// ---------------------------------------------------------------------------------------------
// Set-up: the seller, the products, the buyers.

/// Creates the integration (both products, notifications through an SQS queue), the products
/// and the role in the emulator, the meters, and subscribes the buyers (the concurrent-agreement
/// ones through the fulfilment page first, which learns their licence), delivering the
/// notifications to Souk.
async fn set_up_seller(
    emulator: &str,
    integration_grpc: &str,
    metering_grpc: &str,
    fulfilment_http: &str,
    key: &str,
    queue: &str,
) -> Vec<Buyer> {
    let sqs = sqs(emulator).await;
    let capture_url = sqs
        .create_queue()
        .queue_name(format!("{queue}-capture"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let souk_queue_url = sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for product in [LEGACY, LICENSED] {
        control(
            emulator,
            "POST",
            "/_souk/notifications/subscriptions",
            json!({"type": "sns", "protocol": "sqs", "endpoint": capture_url, "product_code": product}),
        )
        .await;
    }

    let mut integrations = IntegrationServiceClient::with_interceptor(
        channel(integration_grpc).await.unwrap(),
        auth(key),
    );
    let product = |code: &str, licensing: souk_proto::common::LicensingModel| ipb::Product {
        product_code: code.into(),
        product_id: None,
        r#type: souk_proto::common::ProductType::Saas as i32,
        licensing: licensing as i32,
    };
    let integration = integrations
        .create_integration(ipb::CreateIntegrationRequest {
            name: format!("crash-{}", rand::random::<u32>()),
            role_arn: format!("arn:aws:iam::{SELLER}:role/SoukCrash"),
            region: "us-east-1".into(),
            products: vec![
                product(LEGACY, souk_proto::common::LicensingModel::ProductCode),
                product(LICENSED, souk_proto::common::LicensingModel::LicenseArn),
            ],
            notifications: Some(ipb::NotificationConfig {
                sqs_queue_urls: vec![format!(
                    "https://sqs.us-east-1.amazonaws.com/{SELLER}/{queue}"
                )],
                sns_https: false,
                eventbridge: false,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap();
    control(
        emulator,
        "POST",
        "/_souk/sts/roles",
        json!({"role_arn": integration.role_arn, "trusted_account": "*", "external_id": integration.external_id}),
    )
    .await;
    let fulfilment = format!("{fulfilment_http}/aws/fulfilment/{}", integration.id);
    control(
        emulator,
        "POST",
        "/_souk/products",
        json!({"product_code": LEGACY, "kind": "saas", "title": "Crash legacy",
               "fulfillment_url": fulfilment,
               "dimensions": [{"name": "requests", "type": "metered"}, {"name": "storage", "type": "metered"}]}),
    )
    .await;
    control(
        emulator,
        "POST",
        "/_souk/products",
        json!({"product_code": LICENSED, "kind": "saas", "title": "Crash licensed",
               "concurrent_agreements": true, "fulfillment_url": fulfilment,
               "dimensions": [{"name": "requests", "type": "metered"}]}),
    )
    .await;

    let mut metering = metering_client(metering_grpc, key).await.unwrap();
    for (product, dimension) in [
        (LEGACY, "requests"),
        (LEGACY, "storage"),
        (LICENSED, "requests"),
    ] {
        metering
            .put_meter(mpb::PutMeterRequest {
                meter: Some(mpb::Meter {
                    product_code: product.into(),
                    dimension: dimension.into(),
                    aggregation: mpb::Aggregation::Sum as i32,
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }

    let mut buyers = Vec::new();
    for (i, product) in [LEGACY, LEGACY, LEGACY, LICENSED, LICENSED]
        .into_iter()
        .enumerate()
    {
        let account = format!("7000000000{i:02}");
        let answer = control(
            emulator,
            "POST",
            "/_souk/subscribe",
            json!({"product_code": product, "customer_aws_account_id": account}),
        )
        .await;
        {
            // The browser arrives first: ResolveCustomer names the buyer's AWS account (and
            // licence), which the legacy notification does not carry.
            let body = answer["fulfillment"]["body"].as_str().unwrap();
            let (status, page) = form_post(&fulfilment, body).await;
            // Without a sign-up URL the page itself welcomes the buyer.
            assert_eq!(status, 200, "the fulfilment page refused {account}: {page}");
        }
        buyers.push(Buyer { account, product });
    }

    // The notifications, forwarded to the queue Souk polls.
    control(emulator, "POST", "/_souk/notifications/flush", json!({})).await;
    let mut forwarded = 0;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&capture_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            sqs.send_message()
                .queue_url(&souk_queue_url)
                .message_body(message.body.unwrap())
                .send()
                .await
                .unwrap();
            sqs.delete_message()
                .queue_url(&capture_url)
                .receipt_handle(message.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
            forwarded += 1;
        }
    }
    assert!(forwarded >= buyers.len(), "{forwarded} notifications");
    buyers
}

/// The browser's form POST to the fulfilment page; the status.
async fn form_post(url: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, response)
}

async fn inject_faults(emulator: &str) {
    for kind in FAULTS {
        control(
            emulator,
            "POST",
            "/_souk/faults",
            json!({"operation": "BatchMeterUsage", "kind": kind, "probability": FAULT_PROBABILITY}),
        )
        .await;
    }
    // Slow calls too, so that more kills land while a call is in flight.
    control(
        emulator,
        "POST",
        "/_souk/faults",
        json!({"operation": "BatchMeterUsage", "kind": "latency", "latency_ms": 150, "probability": 0.3}),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The end: everything billed, once.

/// Every hourly record, from Souk.
async fn usage_records(client: &mut Metering) -> Vec<mpb::HourlyRecord> {
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_usage_records(mpb::ListUsageRecordsRequest {
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            return records;
        }
        page_token = page.next_page_token;
    }
}

/// With the faults removed and a shipper up at `url`, moves the clock until every acknowledged
/// hour is sealed and billed (two minutes at most), then checks the ledger against the
/// acknowledgements and Souk's records; prints the figures.
async fn settle_and_check(book: &mut Book, url: &str, label: &str, stats: &ChaosStats) {
    let billed_under_faults = ledger(&book.emulator).await.len();
    let mut client = metering_client(url, &book.key).await.unwrap();
    let newest = book.acked.keys().map(|k| k.hour).max().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let summary = client
            .get_metering_summary(mpb::GetMeteringSummaryRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(summary.failed, 0, "{summary:?}");
        assert_eq!(summary.held, 0, "{summary:?}");
        let billed = ledger(&book.emulator).await;
        let all_billed = book.acked.keys().all(|k| billed.contains_key(k));
        if all_billed && summary.open == 0 && summary.pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: not everything was billed within two minutes: {summary:?}, unbilled {:?}",
            book.acked
                .keys()
                .filter(|k| !billed.contains_key(*k))
                .collect::<Vec<_>>()
        );
        // Past the newest hour's end and grace; then a minute at a time, which passes any
        // backoff within a few seconds.
        let now = emulator_now(&book.emulator).await;
        let step = (newest + 3600 + 5 - now).max(60);
        book.advance(step).await;
    }

    let billed = ledger(&book.emulator).await;
    let mut wrong = Vec::new();
    for (key, quantity) in &book.acked {
        match billed.get(key) {
            Some(billed) if billed.quantity == *quantity => {}
            other => wrong.push(format!(
                "{key:?}: acknowledged {quantity}, billed {other:?}"
            )),
        }
    }
    for (key, billed) in &billed {
        if !book.acked.contains_key(key) {
            wrong.push(format!("{key:?}: billed {billed:?}, never acknowledged"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{label}: the ledger is wrong:\n{}",
        wrong.join("\n")
    );

    // Souk agrees: every record sent, with AWS's id, quantity and hour.
    let by_id: HashMap<&str, (&Key, &Billed)> = billed
        .iter()
        .map(|(key, entry)| (entry.metering_record_id.as_str(), (key, entry)))
        .collect();
    let records = usage_records(&mut client).await;
    assert_eq!(
        records.len(),
        book.acked.len(),
        "{label}: one record per hour"
    );
    let mut attempts = 0i64;
    let mut retried = 0;
    let mut resent_after_billing = 0;
    let mut ids = BTreeSet::new();
    for record in &records {
        assert_eq!(
            record.status,
            mpb::HourlyRecordStatus::Sent as i32,
            "{record:?}"
        );
        assert!(ids.insert(record.metering_record_id.clone()), "{record:?}");
        let Some((key, entry)) = by_id.get(record.metering_record_id.as_str()) else {
            panic!("{label}: AWS does not know Souk's record {record:?}");
        };
        assert_eq!(entry.quantity, record.quantity, "{record:?}");
        assert_eq!(key.dimension, record.dimension, "{record:?}");
        assert_eq!(
            key.hour,
            record.hour_start.as_ref().unwrap().seconds,
            "{record:?}"
        );
        attempts += i64::from(record.attempts);
        if record.attempts > 1 {
            retried += 1;
        }
        // AWS billed it before Souk learnt so (a dropped answer, or a kill before settling): Souk
        // settled it later, after sending the same record again.
        if record.send_time.as_ref().unwrap().seconds > entry.recorded_at + 1 {
            resent_after_billing += 1;
        }
    }
    println!(
        "{label}: {} kill cycles ({} before ready), {} events acknowledged in {} batches \
         ({} while two replicas were up, {} batches answered again after a lost answer, {} duplicate events, {} calls failed \
         on a dying shipper, {} events carried to a later hour), {} ledger records over {} hours \
         ({} billed before the faults were lifted), all billed once; {} BatchMeterUsage record sends for them ({} records sent more than \
         once after throttling, 5xx, drops, UnprocessedRecords or a kill; {} of them sent again \
         after AWS had billed them), {} clock advances",
        stats.kills,
        stats.killed_before_ready,
        book.events,
        book.batches,
        book.both_up,
        book.duplicate_batches,
        book.duplicate_events,
        book.failed_calls,
        book.carried,
        billed.len(),
        book.acked
            .keys()
            .map(|k| k.hour)
            .collect::<BTreeSet<_>>()
            .len(),
        billed_under_faults,
        attempts,
        retried,
        resent_after_billing,
        book.advances,
    );
}

fn shipper_settings() -> Vec<(String, String)> {
    [
        ("SOUK_METERING__SEAL_GRACE", "1s"),
        ("SOUK_METERING__SHIP_INTERVAL", "200ms"),
        ("SOUK_METERING__LEASE", "10s"),
        ("AWS_ACCESS_KEY_ID", "AKIDSOUKCRASH"),
        ("AWS_SECRET_ACCESS_KEY", "crash-secret"),
        ("SOUK_CLOCK_SOURCE", "emulator"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|&a| a.to_owned()).collect()
}

async fn start_emulator(state_file: &Path) -> SoukProcess {
    SoukProcess::start(
        &[
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--state-file",
            state_file.to_str().unwrap(),
        ],
        &[],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_shipper_killed_at_random_bills_every_hour_once() {
    let dir = tempfile::tempdir().unwrap();
    let emulator_process = start_emulator(&dir.path().join("emulator.json")).await;
    let emulator = emulator_process.endpoint("emulator").to_owned();
    let data_dir = dir.path().join("souk");
    let mut envs = shipper_settings();
    envs.push(("SOUK_AWS_ENDPOINT_URL".into(), emulator.clone()));
    envs.push((
        "SOUK_ENTITLEMENT__SNS_CERTIFICATE_URL_PREFIX".into(),
        format!("{emulator}/_souk/sns/"),
    ));
    let launch = Launch {
        args: owned(&[
            "dev",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ]),
        envs,
        log: dir.path().join("dev.log"),
    };
    let _logs = LogsOnPanic(vec![launch.log.clone()]);

    // Set-up on a shipper that is not killed (its first start creates the API key).
    let mut first = launch.spawn();
    let (grpc, http) = first.wait_ready(&launch.log).await;
    let key = std::fs::read_to_string(data_dir.join("api-key"))
        .unwrap()
        .trim()
        .to_owned();
    let buyers = set_up_seller(&emulator, &grpc, &grpc, &http, &key, "crash-souk").await;
    let mut book = Book::new(&emulator, &key, "sa", buyers);
    book.probe_buyers(&grpc).await;
    assert!(first.kill().await.is_none());

    inject_faults(&emulator).await;
    let up: Up = Arc::new(Mutex::new(vec![None]));
    let (done_tx, done) = tokio::sync::watch::channel(false);
    let chaos = tokio::spawn(chaos(0, KILLS, launch.clone(), Arc::clone(&up)));
    let driver = async {
        book.drive(&up, &done).await;
    };
    let (stats, ()) = tokio::join!(
        async {
            let stats = chaos.await.unwrap();
            done_tx.send(true).unwrap();
            stats
        },
        driver
    );
    assert!(
        stats.exited_by_itself.is_empty(),
        "the shipper stopped by itself: {:?}",
        stats.exited_by_itself
    );

    control(&emulator, "DELETE", "/_souk/faults", json!({})).await;
    let mut last = launch.spawn();
    let (grpc, _) = last.wait_ready(&launch.log).await;
    book.flush_pending(&grpc).await;
    settle_and_check(&mut book, &grpc, "standalone", &stats).await;
    assert!(last.kill().await.is_none());
    drop(emulator_process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shipper_replicas_on_postgres_killed_at_random_bill_every_hour_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::postgres().await.unwrap();
    let url = db.url().to_owned();
    let nats = souk_testkit::nats::url();
    let emulator_process = start_emulator(&dir.path().join("emulator.json")).await;
    let emulator = emulator_process.endpoint("emulator").to_owned();
    let mut envs = shipper_settings();
    envs.extend(
        [
            ("SOUK_DATABASE_URL", url.as_str()),
            ("SOUK_NATS_URL", nats.as_str()),
            ("SOUK_AWS_ENDPOINT_URL", emulator.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    envs.push((
        "SOUK_ENTITLEMENT__SNS_CERTIFICATE_URL_PREFIX".into(),
        format!("{emulator}/_souk/sns/"),
    ));
    let env: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let boot = souk(&["bootstrap", "--org-name", "crash"], &env)
        .await
        .unwrap();
    assert!(boot.success, "{boot:?}");
    let key = boot
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin API key (shown once): "))
        .unwrap()
        .to_owned();
    let serve = |service: &str| {
        owned(&[
            "serve",
            service,
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
    };
    let start = |service: &str| {
        let args = serve(service);
        let env = env.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            SoukProcess::start(&args, &env).await.unwrap()
        }
    };
    let integration = start("integration").await;
    let entitlement = start("entitlement").await;
    let launches: Vec<Launch> = (0..2)
        .map(|i| Launch {
            args: serve("metering"),
            envs: envs.clone(),
            log: dir.path().join(format!("metering-{i}.log")),
        })
        .collect();
    let _logs = LogsOnPanic(launches.iter().map(|l| l.log.clone()).collect());

    let mut first = launches[0].spawn();
    let (metering_grpc, _) = first.wait_ready(&launches[0].log).await;
    let buyers = set_up_seller(
        &emulator,
        integration.endpoint("grpc"),
        &metering_grpc,
        entitlement.endpoint("http"),
        &key,
        "crash-souk-d",
    )
    .await;
    let mut book = Book::new(&emulator, &key, "d", buyers);
    book.probe_buyers(&metering_grpc).await;
    assert!(first.kill().await.is_none());

    inject_faults(&emulator).await;
    let up: Up = Arc::new(Mutex::new(vec![None, None]));
    let (done_tx, done) = tokio::sync::watch::channel(false);
    let replicas: Vec<_> = launches
        .iter()
        .enumerate()
        .map(|(slot, launch)| tokio::spawn(chaos(slot, KILLS / 2, launch.clone(), Arc::clone(&up))))
        .collect();
    let (stats, ()) = tokio::join!(
        async {
            let mut total = ChaosStats::default();
            for replica in replicas {
                let stats = replica.await.unwrap();
                total.kills += stats.kills;
                total.killed_before_ready += stats.killed_before_ready;
                total.exited_by_itself.extend(stats.exited_by_itself);
            }
            done_tx.send(true).unwrap();
            total
        },
        book.drive(&up, &done)
    );
    assert!(
        stats.exited_by_itself.is_empty(),
        "a shipper stopped by itself: {:?}",
        stats.exited_by_itself
    );

    control(&emulator, "DELETE", "/_souk/faults", json!({})).await;
    // Both replicas at once for the end.
    let mut last: Vec<Shipper> = launches.iter().map(Launch::spawn).collect();
    let mut urls = Vec::new();
    for (shipper, launch) in last.iter_mut().zip(&launches) {
        urls.push(shipper.wait_ready(&launch.log).await.0);
    }
    book.flush_pending(&urls[1]).await;
    settle_and_check(&mut book, &urls[0], "distributed", &stats).await;
    for shipper in last {
        assert!(shipper.kill().await.is_none());
    }
    drop((integration, entitlement, emulator_process));
    db.cleanup().await.unwrap();
}
