//! The entitlement service over a fresh SQLite store and the in-process emulator, its HTTP port
//! served on 127.0.0.1:0, and plain HTTP helpers for Souk's endpoints and the emulator's control
//! API. Nothing of Souk's own is replaced: only the integration directory, which belongs to
//! another service, is a small in-memory one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use souk_auth::{IntegrationRole, RoleAssumer, RoleAssumerOptions};
use souk_core::paging::PageScope;
use souk_core::{Id, PageRequest};
use souk_emulator::{EmulatorConfig, RunningEmulator};
use souk_entitlement::domain::Error;
use souk_entitlement::domain::fulfilment::SettingsPatch;
use souk_entitlement::domain::model::{Customer, Subscription};
use souk_entitlement::domain::ports::{
    CustomerFilter, Directory, IntegrationInfo, IntegrationProduct, Licensing, SubscriptionFilter,
};
use souk_entitlement::{AppOptions, EntitlementApp, EntitlementConfig, STORE_NAME};
use souk_store::dead_letter::{self, DeadLetterEntry, ListQuery};
use souk_testkit::TestDb;
use souk_testkit::clock::EmulatorClock;
use time::OffsetDateTime;

/// The buyer in every test.
pub const BUYER: &str = "444455556666";
/// The SaaS product (legacy SNS notifications) of the first integration.
pub const PRODUCT: &str = "soukentitlementtest0001";
/// A concurrent-agreement product (EventBridge events) of the second integration.
pub const CONCURRENT_PRODUCT: &str = "soukentitlementtest0002";
/// A product of the same seller that no integration manages.
pub const FOREIGN_PRODUCT: &str = "soukforeignproduct0003";
/// AWS's account owning the Marketplace topics (the emulator's default too).
pub const TOPIC_ACCOUNT: &str = "287250355862";
const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukEntitlementTest";
/// How long a notification may take through the emulator (the first signed one on a fresh
/// machine waits for the emulator's signing key).
const EVENTUALLY: Duration = Duration::from_secs(60);

/// The SNS subscription topic of `product`.
pub fn subscription_topic(product: &str) -> String {
    format!("arn:aws:sns:us-east-1:{TOPIC_ACCOUNT}:aws-mp-subscription-notification-{product}")
}

/// The integrations, held in memory (the integration service owns them in production).
#[derive(Debug, Default)]
pub struct TestDirectory(Mutex<Vec<IntegrationInfo>>);

impl TestDirectory {
    fn all(&self) -> Vec<IntegrationInfo> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets the Catalog product id the integration `id` knows for `product_code`.
    pub fn set_product_id(&self, id: &Id, product_code: &str, product_id: &str) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for integration in all.iter_mut().filter(|i| &i.id == id) {
            for product in integration
                .products
                .iter_mut()
                .filter(|p| p.product_code == product_code)
            {
                product.product_id = Some(product_id.to_owned());
            }
        }
    }

    /// Sets the SQS queues of integration `id`.
    pub fn set_queues(&self, id: &Id, urls: Vec<String>) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for integration in all.iter_mut().filter(|i| &i.id == id) {
            integration.sqs_queue_urls = urls.clone();
        }
    }
}

#[async_trait]
impl Directory for TestDirectory {
    async fn integration(
        &self,
        organization_id: Option<&Id>,
        id: &Id,
    ) -> Result<Option<IntegrationInfo>, Error> {
        Ok(self
            .all()
            .into_iter()
            .find(|i| &i.id == id && organization_id.is_none_or(|org| &i.organization_id == org)))
    }

    async fn all_integrations(&self) -> Result<Vec<IntegrationInfo>, Error> {
        Ok(self.all())
    }
}

/// A plain HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub struct Harness {
    pub emulator: RunningEmulator,
    pub app: EntitlementApp,
    pub directory: Arc<TestDirectory>,
    /// Souk's HTTP base URL.
    pub url: String,
    /// The integration selling [`PRODUCT`] (legacy SNS).
    pub legacy: IntegrationInfo,
    /// The integration selling [`CONCURRENT_PRODUCT`] (EventBridge).
    pub concurrent: IntegrationInfo,
    assumer: RoleAssumer,
    http: Client<HttpConnector, Full<Bytes>>,
    server: tokio::task::JoinHandle<()>,
    _db: TestDb,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn integration(external_id: &str, product: &str, licensing: Licensing) -> IntegrationInfo {
    IntegrationInfo {
        id: Id::generate("int"),
        organization_id: Id::generate("org"),
        role_arn: ROLE_ARN.to_owned(),
        external_id: external_id.to_owned(),
        region: "us-east-1".to_owned(),
        products: vec![IntegrationProduct {
            product_code: product.to_owned(),
            product_id: None,
            licensing,
        }],
        sqs_queue_urls: Vec::new(),
    }
}

impl Harness {
    /// The emulator with the three products and the seller's role, and the service on a fresh
    /// store, serving its HTTP port (no background work: see [`EntitlementApp::start`]).
    pub async fn start() -> Self {
        Self::start_with(EntitlementConfig::default()).await
    }

    /// [`Harness::start`] with `config` (the certificate prefix and SQS wait are set here).
    pub async fn start_with(mut config: EntitlementConfig) -> Self {
        let emulator = souk_emulator::spawn(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let db = TestDb::sqlite().expect("temporary directory");
        let store = db.store(STORE_NAME).await.expect("store opens");
        let external_id = Id::generate("ext").to_string();
        let legacy = integration(&external_id, PRODUCT, Licensing::ProductCode);
        let concurrent = integration(&external_id, CONCURRENT_PRODUCT, Licensing::LicenseArn);
        let directory = Arc::new(TestDirectory(Mutex::new(vec![
            legacy.clone(),
            concurrent.clone(),
        ])));
        let assumer = RoleAssumer::with_static_credentials(
            "AKIDSOUKENTITLEMENTTEST",
            "base-secret",
            RoleAssumerOptions {
                endpoint_url: Some(emulator.url.clone()),
                ..RoleAssumerOptions::default()
            },
        );
        config.sns_certificate_url_prefix = Some(format!("{}/_souk/sns/", emulator.url));
        config.sqs_wait_time = Duration::from_secs(1);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let options = AppOptions {
            clock: Arc::new(EmulatorClock(emulator.emulator.clone())),
            ..AppOptions::default()
        };
        let app = EntitlementApp::new(
            store,
            directory.clone(),
            assumer.clone(),
            config,
            &url,
            options,
        )
        .await
        .expect("app starts");
        let router = app.parts().http.expect("the service has HTTP routes");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });

        let harness = Self {
            emulator,
            app,
            directory,
            url,
            legacy,
            concurrent,
            assumer,
            http,
            server,
            _db: db,
        };
        harness.seed_emulator(&external_id).await;
        harness
    }

    async fn seed_emulator(&self, external_id: &str) {
        // One attempt per HTTP delivery: a refusal is then seen exactly once.
        let mut settings = self.control_get("/_souk/notifications/settings").await;
        settings["max_attempts"] = json!(1);
        self.control("PUT", "/_souk/notifications/settings", settings)
            .await;
        self.control_post(
            "/_souk/sts/roles",
            json!({"role_arn": ROLE_ARN, "external_id": external_id}),
        )
        .await;
        for (code, concurrent) in [
            (PRODUCT, false),
            (CONCURRENT_PRODUCT, true),
            (FOREIGN_PRODUCT, false),
        ] {
            self.control_post(
                "/_souk/products",
                json!({
                    "product_code": code,
                    "kind": "saas",
                    "concurrent_agreements": concurrent,
                    "dimensions": [{"name": "users", "type": "metered"}],
                }),
            )
            .await;
        }
    }

    async fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("request");
        let response = tokio::time::timeout(Duration::from_secs(30), self.http.request(request))
            .await
            .unwrap_or_else(|_| panic!("{method} {url} timed out"))
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// POSTs `body` to Souk's `path`.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        self.request("POST", &format!("{}{path}", self.url), headers, body.into())
            .await
    }

    /// POSTs `body` to the SNS endpoint of `integration`, as SNS does.
    pub async fn post_sns(
        &self,
        integration: &IntegrationInfo,
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        let path = format!("/aws/sns/{}", integration.id);
        self.post(
            &path,
            &[("content-type", "text/plain; charset=UTF-8")],
            body,
        )
        .await
    }

    /// Calls the emulator's control API; panics unless it answers 2xx.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.emulator.url);
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let answer = self
            .request(method, &url, &[("content-type", "application/json")], body)
            .await;
        assert!(
            (200..300).contains(&answer.status),
            "{method} {path}: {} {}",
            answer.status,
            answer.body
        );
        if answer.body.is_empty() {
            Value::Null
        } else {
            answer.json()
        }
    }

    pub async fn control_get(&self, path: &str) -> Value {
        self.control("GET", path, Value::Null).await
    }

    pub async fn control_post(&self, path: &str, body: Value) -> Value {
        self.control("POST", path, body).await
    }

    /// Subscribes `endpoint` (`http` or `sqs`) to SNS topics of `product`; returns the
    /// emulator's subscription ids.
    pub async fn sns_subscribe(
        &self,
        protocol: &str,
        endpoint: &str,
        product: &str,
        topics: &[&str],
    ) -> Vec<String> {
        let created = self
            .control_post(
                "/_souk/notifications/subscriptions",
                json!({"type": "sns", "protocol": protocol, "endpoint": endpoint,
                       "product_code": product, "topics": topics}),
            )
            .await;
        ids(&created)
    }

    /// The emulator's notification subscriptions with `ids`, as `(id, status)`.
    pub async fn subscription_statuses(&self, ids: &[String]) -> Vec<(String, String)> {
        let all = self.control_get("/_souk/notifications/subscriptions").await;
        all["subscriptions"]
            .as_array()
            .expect("subscriptions")
            .iter()
            .filter(|s| ids.iter().any(|id| s["id"] == json!(id)))
            .map(|s| {
                (
                    s["id"].as_str().unwrap_or_default().to_owned(),
                    s["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The emulator's delivery records of subscription `id`.
    pub async fn deliveries(&self, id: &str) -> Vec<Value> {
        let found = self
            .control_get(&format!(
                "/_souk/notifications/deliveries?subscription_id={id}"
            ))
            .await;
        found["deliveries"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until subscription `id` has `count` deliveries out of the pending state.
    pub async fn settled_deliveries(&self, id: &str, count: usize) -> Vec<Value> {
        eventually(&format!("{count} settled deliveries of {id}"), || async {
            let done: Vec<Value> = self
                .deliveries(id)
                .await
                .into_iter()
                .filter(|d| d["status"] != "pending")
                .collect();
            (done.len() >= count).then_some(done)
        })
        .await
    }

    /// Buys `product` as [`BUYER`] in the emulator.
    pub async fn buyer_subscribes(&self, product: &str) {
        self.control_post(
            "/_souk/subscribe",
            json!({"product_code": product, "customer_aws_account_id": BUYER}),
        )
        .await;
    }

    /// Cancels [`BUYER`]'s subscription to `product` in the emulator.
    pub async fn buyer_unsubscribes(&self, product: &str) {
        self.control_post(
            "/_souk/unsubscribe",
            json!({"product_code": product, "customer_aws_account_id": BUYER}),
        )
        .await;
    }

    /// Moves the emulator's clock (and so Souk's) forward.
    pub async fn advance_hours(&self, hours: u32) {
        self.control_post("/_souk/clock/advance", json!({"hours": hours}))
            .await;
    }

    /// An SQS queue in the seller account; returns its URL.
    pub async fn create_queue(&self, name: &str) -> String {
        self.sqs()
            .await
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url")
    }

    /// Messages in `queue_url`, visible or in flight.
    pub async fn queue_depth(&self, queue_url: &str) -> i64 {
        use aws_sdk_sqs::types::QueueAttributeName;
        let attributes = self
            .sqs()
            .await
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        attributes
            .attributes()
            .map(|all| {
                all.values()
                    .filter_map(|v| v.parse::<i64>().ok())
                    .sum::<i64>()
            })
            .unwrap_or_default()
    }

    /// Puts `body` in `queue_url`.
    pub async fn send_message(&self, queue_url: &str, body: &str) {
        self.sqs()
            .await
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send message");
    }

    /// SQS as the seller's role (the same the service uses).
    async fn sqs(&self) -> aws_sdk_sqs::Client {
        let role = IntegrationRole {
            integration_id: self.legacy.id.to_string(),
            role_arn: self.legacy.role_arn.clone(),
            external_id: self.legacy.external_id.clone(),
            region: self.legacy.region.clone(),
        };
        self.assumer
            .clients(&role)
            .await
            .expect("the emulator's STS trusts the test role")
            .sqs
            .clone()
    }

    /// The subscriptions of `integration`.
    pub async fn subscriptions(&self, integration: &IntegrationInfo) -> Vec<Subscription> {
        let org = &integration.organization_id;
        let filter = SubscriptionFilter {
            integration_id: Some(integration.id.clone()),
            ..SubscriptionFilter::default()
        };
        self.app
            .entitlements()
            .list_subscriptions(org, &filter, &page("subscriptions", org))
            .await
            .expect("list subscriptions")
            .items
    }

    /// The customers of `integration`.
    pub async fn customers(&self, integration: &IntegrationInfo) -> Vec<Customer> {
        let org = &integration.organization_id;
        let filter = CustomerFilter {
            integration_id: Some(integration.id.clone()),
            ..CustomerFilter::default()
        };
        self.app
            .entitlements()
            .list_customers(org, &filter, &page("customers", org))
            .await
            .expect("list customers")
            .items
            .into_iter()
            .map(|(customer, _)| customer)
            .collect()
    }

    /// Waits until `integration` has one subscription matching `check`; returns it.
    pub async fn subscription_where(
        &self,
        integration: &IntegrationInfo,
        what: &str,
        check: impl Fn(&Subscription) -> bool,
    ) -> Subscription {
        eventually(what, || async {
            let all = self.subscriptions(integration).await;
            match all.as_slice() {
                [one] if check(one) => Some(one.clone()),
                _ => None,
            }
        })
        .await
    }

    /// Sets the accepted SNS topics of `integration`, or generates its EventBridge secret
    /// (returned) when `topics` is `None`.
    pub async fn update_settings(
        &self,
        integration: &IntegrationInfo,
        topics: Option<Vec<String>>,
    ) -> Option<String> {
        let patch = SettingsPatch {
            sns_topic_arns: topics,
            ..SettingsPatch::default()
        };
        let updated = self
            .app
            .entitlements()
            .update_fulfilment_settings(
                &integration.organization_id,
                &integration.id,
                patch,
                None,
                |_| Vec::new(),
            )
            .await
            .expect("update settings");
        match updated {
            souk_core::Outcome::Done(updated) => updated.eventbridge_secret,
            souk_core::Outcome::Replayed(_) => None,
        }
    }

    /// The dead letters of `consumer`, oldest first.
    pub async fn dead_letters(&self, consumer: &str) -> Vec<DeadLetterEntry> {
        let store = self.app.parts().store.expect("the service has a store");
        dead_letter::list(
            store.pool(),
            &ListQuery {
                consumer: Some(consumer.to_owned()),
                limit: 100,
                ..ListQuery::default()
            },
        )
        .await
        .expect("list dead letters")
    }

    /// The parked counts, by (route, reason).
    pub fn parked(&self) -> Vec<(&'static str, &'static str, u64)> {
        self.app.parked().counts()
    }
}

fn page(list: &str, org: &Id) -> PageRequest {
    PageRequest {
        size: 100,
        after: None,
        scope: PageScope::new(list, org.as_str(), &[]),
    }
}

/// The `id`s of a `{"subscriptions": [...]}` answer.
pub fn ids(answer: &Value) -> Vec<String> {
    answer["subscriptions"]
        .as_array()
        .expect("subscriptions")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Polls `probe` until it yields a value, for up to a minute.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The SNS `Timestamp` of an envelope body.
pub fn envelope_timestamp(body: &str) -> OffsetDateTime {
    let envelope: Value = serde_json::from_str(body).expect("envelope JSON");
    let text = envelope["Timestamp"].as_str().expect("Timestamp");
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

/// The `action` of the legacy message inside an envelope body.
pub fn envelope_action(body: &str) -> String {
    let envelope: Value = serde_json::from_str(body).expect("envelope JSON");
    let message: Value =
        serde_json::from_str(envelope["Message"].as_str().unwrap_or("{}")).unwrap_or_default();
    message["action"].as_str().unwrap_or_default().to_owned()
}
