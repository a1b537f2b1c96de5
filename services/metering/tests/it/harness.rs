//! The metering service on a fresh store (a SQLite file or a PostgreSQL database, through
//! `souk-testkit`) served through the real gRPC stack with in-memory API keys, shipping through
//! the real `AwsMarketplace` to the in-process emulator, whose clock is the service's clock.
//!
//! Only what other services own is replaced: the subscribers (the entitlement service's
//! snapshot in production) by [`TestSubscribers`], which the test sets, and the integrations'
//! roles by [`Roles`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use serde_json::{Value, json};
use souk_auth::{IntegrationRole, RoleAssumer, RoleAssumerOptions, Scope};
use souk_core::Id;
use souk_emulator::{EmulatorConfig, RunningEmulator};
use souk_metering::aws::IntegrationRoles;
use souk_metering::domain::hours::floor_hour;
use souk_metering::domain::model::{AwsCustomer, Subscriber, SubscriberState};
use souk_metering::domain::ports::Subscribers;
use souk_metering::domain::shipping::ShipReport;
use souk_metering::{AppOptions, MeteringApp, MeteringConfig, STORE_NAME};
use souk_proto::metering as pb;
use souk_proto::metering::metering_service_client::MeteringServiceClient;
use souk_testkit::TestDb;
pub use souk_testkit::clock::EmulatorClock;
use souk_testkit::spawn::SpawnedService;
use time::OffsetDateTime;
use tonic::Status;
use tonic::transport::Channel;
use tower::ServiceExt as _;

pub use souk_testkit::rpc::{authed, expect_code, violations};

/// A legacy product (ProductCode + CustomerIdentifier).
pub const LEGACY: &str = "soukmeteringtest0001";
/// A concurrent-agreement product (CustomerAWSAccountId + LicenseArn, no ProductCode).
pub const LICENSED: &str = "soukmeteringtest0002";
pub const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukMeteringTest";
/// The metered dimensions both products list in the emulator (and have meters in Souk).
pub const DIMENSIONS: [&str; 6] = ["requests", "calls", "peak", "level", "users", "seats"];

/// One test on SQLite and on PostgreSQL: `both!(name, |h| { ... })` gets a started
/// [`Harness`]; `both!(name, config, |h| { ... })` one started with `config`.
macro_rules! both {
    ($name:ident, |$h:ident| $body:block) => {
        both!($name, souk_metering::MeteringConfig::default(), |$h| $body);
    };
    ($name:ident, $config:expr, |$h:ident| $body:block) => {
        souk_testkit::both_backends!($name, |db: TestDb| async move {
            #[allow(unused_variables)]
            let $h = $crate::harness::Harness::start_with(db, $config).await;
            $body
        });
    };
}
pub(crate) use both;

/// The customers as the test sets them (the entitlement snapshot in production).
#[derive(Debug, Default)]
pub struct TestSubscribers(Mutex<Vec<(Subscriber, Option<String>)>>);

impl TestSubscribers {
    fn all(&self) -> std::sync::MutexGuard<'_, Vec<(Subscriber, Option<String>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `subscriber`, also known by the buyer's AWS account id `account`.
    pub fn add(&self, subscriber: Subscriber, account: Option<String>) {
        self.all().push((subscriber, account));
    }

    /// Moves the subscription of `customer_id` to `state`.
    pub fn set_state(&self, customer_id: &Id, state: SubscriberState) {
        for (s, _) in self.all().iter_mut() {
            if &s.customer_id == customer_id {
                s.state = state;
            }
        }
    }
}

impl Subscribers for TestSubscribers {
    fn find(&self, organization_id: &Id, reference: &str) -> Vec<Subscriber> {
        self.all()
            .iter()
            .filter(|(s, account)| {
                &s.organization_id == organization_id
                    && (s.customer_id.as_str() == reference
                        || account.as_deref() == Some(reference))
            })
            .map(|(s, _)| s.clone())
            .collect()
    }

    fn cancelling(&self) -> Vec<Subscriber> {
        self.all()
            .iter()
            .filter(|(s, _)| matches!(s.state, SubscriberState::CancelPending { .. }))
            .map(|(s, _)| s.clone())
            .collect()
    }

    fn of_product(&self, organization_id: &Id, product_code: &str) -> Vec<Subscriber> {
        self.all()
            .iter()
            .filter(|(s, _)| {
                &s.organization_id == organization_id
                    && s.product_code == product_code
                    && matches!(
                        s.state,
                        SubscriberState::Active | SubscriberState::CancelPending { .. }
                    )
            })
            .map(|(s, _)| s.clone())
            .collect()
    }
}

/// The integrations' roles (the integration service knows them in production).
#[derive(Debug, Default)]
pub struct Roles(pub Mutex<HashMap<Id, IntegrationRole>>);

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

/// A buyer subscribed in the emulator and known to Souk as a customer.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub customer_id: Id,
    pub subscription_id: Id,
    pub aws_account_id: String,
    pub customer_identifier: String,
    pub license_arn: String,
    pub product: String,
}

impl Buyer {
    /// How AWS names this buyer for its product.
    pub fn aws_customer(&self) -> AwsCustomer {
        if self.product == LICENSED {
            AwsCustomer::Licence {
                aws_account_id: self.aws_account_id.clone(),
                license_arn: self.license_arn.clone(),
            }
        } else {
            AwsCustomer::Identifier(self.customer_identifier.clone())
        }
    }
}

/// The emulator: its control API and clock.
pub struct Aws {
    pub emulator: RunningEmulator,
    next_account: AtomicU64,
}

impl Aws {
    /// The emulator with both products (the [`DIMENSIONS`] and `extra` metered) and the
    /// seller's role trusted with `external_id`, its clock moved to ten minutes past the next
    /// hour (so a test has fifty minutes of one hour before the wall clock moves it on).
    pub async fn start(external_id: &str, extra: &[String]) -> Self {
        let emulator = souk_emulator::spawn(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let aws = Self {
            emulator,
            next_account: AtomicU64::new(444_455_550_000),
        };
        let now = aws.now();
        let target = floor_hour(now) + time::Duration::minutes(70);
        aws.advance((target - now).whole_seconds() + 1).await;
        aws.control(
            "POST",
            "/_souk/sts/roles",
            json!({"role_arn": ROLE_ARN, "external_id": external_id}),
        )
        .await;
        let dimensions: Vec<Value> = DIMENSIONS
            .iter()
            .map(|d| (*d).to_owned())
            .chain(extra.iter().cloned())
            .map(|name| json!({"name": name, "type": "metered"}))
            .collect();
        for (code, concurrent) in [(LEGACY, false), (LICENSED, true)] {
            aws.control(
                "POST",
                "/_souk/products",
                json!({"product_code": code, "kind": "saas",
                       "concurrent_agreements": concurrent, "dimensions": dimensions}),
            )
            .await;
        }
        aws
    }

    /// Calls the emulator's control API; panics unless it answers 2xx.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body)
            .expect("request");
        let response = self
            .emulator
            .emulator
            .router()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        }
    }

    /// The emulator's (and the service's) clock.
    pub fn now(&self) -> OffsetDateTime {
        self.emulator.emulator.clock().now()
    }

    /// Moves the clock `seconds` forward (as `souk sandbox advance-clock` does).
    pub async fn advance(&self, seconds: i64) {
        self.control("POST", "/_souk/clock/advance", json!({"seconds": seconds}))
            .await;
    }

    /// A fresh 12-digit account id.
    pub fn account(&self) -> String {
        format!(
            "{:012}",
            self.next_account.fetch_add(1, Ordering::SeqCst) + 1
        )
    }

    /// `account` buys `product` in the emulator; returns the buyer (a new customer id).
    pub async fn subscribe(&self, product: &str, account: &str) -> Buyer {
        let answer = self
            .control(
                "POST",
                "/_souk/subscribe",
                json!({"product_code": product, "customer_aws_account_id": account}),
            )
            .await;
        let subscription = &answer["subscription"];
        Buyer {
            customer_id: Id::generate("cus"),
            subscription_id: Id::generate("sub"),
            aws_account_id: account.to_owned(),
            customer_identifier: text(&subscription["customer_identifier"]),
            license_arn: text(&subscription["license_arn"]),
            product: product.to_owned(),
        }
    }

    /// The emulator's billed records of `product`.
    pub async fn ledger(&self, product: &str) -> Vec<Value> {
        let found = self
            .control(
                "GET",
                &format!("/_souk/metering/ledger?product_code={product}"),
                Value::Null,
            )
            .await;
        found["records"].as_array().cloned().unwrap_or_default()
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

pub struct Harness {
    pub aws: Aws,
    pub app: MeteringApp,
    pub subscribers: Arc<TestSubscribers>,
    /// The organisation of [`Harness::key`] and [`Harness::admin`].
    pub org: Id,
    /// The integration every buyer buys through.
    pub integration_id: Id,
    /// A METERING key of [`Harness::org`].
    pub key: String,
    /// A FULL key of [`Harness::org`] (PutMeter, RetryRecords).
    pub admin: String,
    /// A FULL key of [`Harness::other_org`].
    pub other_key: String,
    client: MeteringServiceClient<Channel>,
    _service: SpawnedService,
    _db: TestDb,
}

impl std::ops::Deref for Harness {
    type Target = Aws;

    fn deref(&self) -> &Aws {
        &self.aws
    }
}

impl Harness {
    /// The service with `config` on `db`, behind the gRPC stack, shipping to the emulator;
    /// meters: `requests` SUM (feature `api-requests`), `calls` COUNT, `peak` MAX, `level`
    /// LATEST and `users` UNIQUE_COUNT of attribute `user`, on both products. No background
    /// loop: tests seal and ship with [`Harness::ship`].
    pub async fn start_with(db: TestDb, config: MeteringConfig) -> Self {
        let external_id = Id::generate("ext").to_string();
        let aws = Aws::start(&external_id, &[]).await;
        let integration_id = Id::generate("int");
        let roles = Arc::new(Roles::default());
        roles.0.lock().unwrap_or_else(|e| e.into_inner()).insert(
            integration_id.clone(),
            IntegrationRole {
                integration_id: integration_id.to_string(),
                role_arn: ROLE_ARN.into(),
                external_id,
                region: "us-east-1".into(),
            },
        );
        let assumer = RoleAssumer::with_static_credentials(
            "AKIDSOUKMETERINGTEST",
            "base-secret",
            RoleAssumerOptions {
                endpoint_url: Some(aws.emulator.url.clone()),
                ..RoleAssumerOptions::default()
            },
        );
        let subscribers = Arc::new(TestSubscribers::default());
        let store = db.store(STORE_NAME).await.expect("store opens");
        let app = MeteringApp::new(
            store,
            subscribers.clone(),
            roles,
            assumer,
            config,
            AppOptions {
                clock: Arc::new(EmulatorClock(aws.emulator.emulator.clone())),
                ..AppOptions::default()
            },
        )
        .await
        .expect("app starts");
        let service = souk_testkit::spawn::service(app.parts())
            .await
            .expect("gRPC server starts");
        let channel = service.server.channel().await.expect("connect");
        let keys = service.keys.clone();
        let org = keys.organization_id().clone();
        let other_org = Id::generate("org");
        let harness = Self {
            aws,
            app,
            subscribers,
            key: keys.add_key(&[Scope::Metering]),
            admin: keys.add_key(&[Scope::Full]),
            other_key: keys.add_key_for(&other_org, &[Scope::Full]),
            org,
            integration_id,
            client: MeteringServiceClient::new(channel),
            _service: service,
            _db: db,
        };
        for product in [LEGACY, LICENSED] {
            harness
                .put_meter(
                    product,
                    "requests",
                    pb::Aggregation::Sum,
                    "api-requests",
                    "",
                )
                .await;
            harness
                .put_meter(product, "calls", pb::Aggregation::Count, "", "")
                .await;
            harness
                .put_meter(product, "peak", pb::Aggregation::Max, "", "")
                .await;
            harness
                .put_meter(product, "level", pb::Aggregation::Latest, "", "")
                .await;
            harness
                .put_meter(product, "users", pb::Aggregation::UniqueCount, "", "user")
                .await;
        }
        harness
    }

    /// A client of the service.
    pub fn client(&self) -> MeteringServiceClient<Channel> {
        self.client.clone()
    }

    /// PutMeter with the FULL key.
    pub async fn put_meter(
        &self,
        product: &str,
        dimension: &str,
        aggregation: pb::Aggregation,
        feature: &str,
        attribute: &str,
    ) -> pb::Meter {
        self.put(pb::Meter {
            product_code: product.into(),
            dimension: dimension.into(),
            feature: feature.into(),
            aggregation: aggregation as i32,
            attribute: attribute.into(),
            zero_fill: false,
            update_time: None,
        })
        .await
    }

    /// PutMeter of `meter` with the FULL key.
    pub async fn put(&self, meter: pb::Meter) -> pb::Meter {
        self.client()
            .put_meter(authed(
                &self.admin,
                pb::PutMeterRequest { meter: Some(meter) },
            ))
            .await
            .expect("put meter")
            .into_inner()
            .meter
            .expect("meter")
    }

    /// A new buyer of `product`: subscribed in the emulator now, an active customer of Souk.
    pub async fn buyer(&self, product: &str) -> Buyer {
        let account = self.account();
        let buyer = self.subscribe(product, &account).await;
        self.enrol(&buyer, SubscriberState::Active);
        buyer
    }

    /// Makes `buyer` a customer of Souk in `state`, active since now.
    pub fn enrol(&self, buyer: &Buyer, state: SubscriberState) {
        self.subscribers.add(
            Subscriber {
                organization_id: self.org.clone(),
                customer_id: buyer.customer_id.clone(),
                subscription_id: buyer.subscription_id.clone(),
                integration_id: self.integration_id.clone(),
                product_code: buyer.product.clone(),
                aws_customer: Some(buyer.aws_customer()),
                state,
                activated_at: Some(self.now()),
            },
            Some(buyer.aws_account_id.clone()),
        );
    }

    /// A customer of [`LEGACY`] that only Souk knows (no shipping), active for a day.
    pub fn customer(&self, state: SubscriberState) -> Subscriber {
        let subscriber = Subscriber {
            organization_id: self.org.clone(),
            customer_id: Id::generate("cus"),
            subscription_id: Id::generate("sub"),
            integration_id: self.integration_id.clone(),
            product_code: LEGACY.into(),
            aws_customer: Some(AwsCustomer::Identifier(Id::generate("aws").to_string())),
            state,
            activated_at: Some(self.now() - time::Duration::days(1)),
        };
        self.subscribers.add(subscriber.clone(), None);
        subscriber
    }

    /// RecordUsage with `key`.
    pub async fn record_as(
        &self,
        key: &str,
        events: Vec<pb::UsageEvent>,
    ) -> Result<Vec<pb::UsageEventResult>, Status> {
        self.client()
            .record_usage(authed(key, pb::RecordUsageRequest { events }))
            .await
            .map(|r| r.into_inner().results)
    }

    /// RecordUsage with the METERING key.
    pub async fn record(
        &self,
        events: Vec<pb::UsageEvent>,
    ) -> Result<Vec<pb::UsageEventResult>, Status> {
        self.record_as(&self.key, events).await
    }

    /// RecordUsage that must succeed.
    pub async fn recorded(&self, events: Vec<pb::UsageEvent>) -> Vec<pb::UsageEventResult> {
        self.record(events).await.expect("usage recorded")
    }

    /// RetryRecords of `record_ids` with `key`, under `idempotency_key` (empty: none).
    pub async fn retry_as(
        &self,
        key: &str,
        record_ids: Vec<String>,
        idempotency_key: &str,
    ) -> Result<pb::RetryRecordsResponse, Status> {
        self.client()
            .retry_records(authed(
                key,
                pb::RetryRecordsRequest {
                    record_ids,
                    idempotency_key: idempotency_key.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// ListUsageRecords of `request` with `key`, every page.
    pub async fn list_as(
        &self,
        key: &str,
        request: pb::ListUsageRecordsRequest,
    ) -> Result<Vec<pb::HourlyRecord>, Status> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .client()
                .list_usage_records(authed(
                    key,
                    pb::ListUsageRecordsRequest {
                        page_size: 1000,
                        page_token: token.clone(),
                        ..request.clone()
                    },
                ))
                .await?
                .into_inner();
            all.extend(page.records);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    /// Every record of the organisation, newest hour first.
    pub async fn records(&self) -> Vec<pb::HourlyRecord> {
        self.list_as(&self.key, pb::ListUsageRecordsRequest::default())
            .await
            .expect("list usage records")
    }

    /// The records of `customer_id`, newest hour first.
    pub async fn records_of(&self, customer_id: &Id) -> Vec<pb::HourlyRecord> {
        self.list_as(
            &self.key,
            pb::ListUsageRecordsRequest {
                customer: customer_id.to_string(),
                ..Default::default()
            },
        )
        .await
        .expect("list usage records")
    }

    /// The one record of `customer_id` on `dimension` in the hour starting `hour`.
    pub async fn record_at(
        &self,
        customer_id: &Id,
        dimension: &str,
        hour: OffsetDateTime,
    ) -> pb::HourlyRecord {
        let found: Vec<pb::HourlyRecord> = self
            .records_of(customer_id)
            .await
            .into_iter()
            .filter(|r| r.dimension == dimension && instant(r.hour_start.as_ref()) == hour)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one record of {dimension} at {hour}: {found:?}"
        );
        found[0].clone()
    }

    /// One sealing and shipping pass now (what the loop does every second).
    pub async fn ship(&self) -> ShipReport {
        self.app.ship_now("it").await.expect("metering pass")
    }

    /// The start of the current hour.
    pub fn hour(&self) -> OffsetDateTime {
        floor_hour(self.now())
    }

    /// Checks that every record of `product` is SENT and billed once, under its
    /// `metering_record_id`, with its dimension, quantity and hour; and nothing else is billed.
    pub async fn assert_ledger_matches(&self, product: &str) {
        let ledger = self.ledger(product).await;
        let records: Vec<pb::HourlyRecord> = self
            .records()
            .await
            .into_iter()
            .filter(|r| r.product_code == product)
            .collect();
        assert_eq!(ledger.len(), records.len(), "{ledger:?}\n{records:?}");
        for record in &records {
            assert_eq!(
                record.status,
                pb::HourlyRecordStatus::Sent as i32,
                "{record:?}"
            );
            assert!(!record.metering_record_id.is_empty(), "{record:?}");
            let entry = ledger
                .iter()
                .find(|e| e["metering_record_id"].as_str() == Some(&record.metering_record_id))
                .unwrap_or_else(|| panic!("no ledger entry for {record:?}"));
            assert_eq!(entry["dimension"], json!(record.dimension));
            assert_eq!(entry["quantity"], json!(record.quantity));
            assert_eq!(
                entry["hour"],
                json!(instant(record.hour_start.as_ref()).unix_timestamp())
            );
        }
    }
}

/// An instant of a reply.
pub fn instant(at: Option<&prost_types::Timestamp>) -> OffsetDateTime {
    souk_service::convert::instant(at.expect("a timestamp")).expect("a valid timestamp")
}

/// `at` as a protobuf timestamp, to the second.
pub fn ts(at: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: 0,
    }
}

/// `at` truncated to the second (what [`ts`] sends).
pub fn second(at: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(at.unix_timestamp()).expect("a valid instant")
}

/// A usage event.
pub fn event(
    key: &str,
    customer: &str,
    dimension: &str,
    quantity: i64,
    at: OffsetDateTime,
) -> pb::UsageEvent {
    pb::UsageEvent {
        idempotency_key: key.into(),
        customer: customer.into(),
        dimension: dimension.into(),
        quantity,
        timestamp: Some(ts(at)),
        allocations: Vec::new(),
        attributes: HashMap::new(),
    }
}

/// A usage allocation.
pub fn allocation(quantity: i64, tags: &[(&str, &str)]) -> pb::UsageAllocation {
    pb::UsageAllocation {
        quantity,
        tags: tags
            .iter()
            .map(|(k, v)| pb::Tag {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect(),
    }
}

/// The statuses of `results`.
pub fn statuses(results: &[pb::UsageEventResult]) -> Vec<pb::UsageEventStatus> {
    results
        .iter()
        .map(|r| pb::UsageEventStatus::try_from(r.status).expect("a status"))
        .collect()
}

/// `(field, description)` pairs.
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(f, r)| ((*f).to_owned(), (*r).to_owned()))
        .collect()
}
