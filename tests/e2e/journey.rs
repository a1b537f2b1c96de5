//! The buyer's whole journey through the entitlement service, as processes, against the
//! emulator: subscribe, browser POST, hand-off, activation, entitlement check with a plan's
//! limits, contract change, unsubscribe, final hour, cancellation. Every notification is captured
//! from the emulator, duplicated and shuffled before Souk sees it, and the journey runs
//! browser-first and event-first, in standalone mode (`souk dev`, SQLite, in-process bus) and in
//! distributed mode (`souk serve entitlement` twice on PostgreSQL and NATS beside a separate
//! `souk emulator`, both replicas checked).

use std::time::Duration;

use aws_sdk_sqs::Client as SqsClient;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use souk_e2e::{Auth, SoukProcess, auth, http_get, http_request, souk, start_dev};
use souk_proto::entitlement as pb;
use souk_proto::entitlement::entitlement_service_client::EntitlementServiceClient;
use souk_proto::integration as ipb;
use souk_proto::integration::integration_service_client::IntegrationServiceClient;
use souk_testkit::db::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const PRODUCT: &str = "souk-journey-saas";
const CAPTURE_QUEUE: &str = "journey-capture";
const SELLER: &str = "111122223333";

type Entitlement = EntitlementServiceClient<InterceptedService<Channel, Auth>>;

async fn entitlement_client(grpc: &str, key: &str) -> Entitlement {
    let channel = Channel::from_shared(grpc.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    EntitlementServiceClient::with_interceptor(channel, auth(key))
}

async fn integration_client(
    grpc: &str,
    key: &str,
) -> IntegrationServiceClient<InterceptedService<Channel, Auth>> {
    let channel = Channel::from_shared(grpc.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    IntegrationServiceClient::with_interceptor(channel, auth(key))
}

/// `POST <emulator><path>` with a JSON body; the JSON answer.
async fn control(emulator: &str, path: &str, body: Value) -> Value {
    let (status, text) = http_request("POST", emulator, path, &body.to_string())
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn sqs(emulator: &str) -> SqsClient {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(emulator)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "AKIDJOURNEY",
            "secret",
            None,
            None,
            "test",
        ))
        .build();
    SqsClient::from_conf(config)
}

/// The notifications of one product, held back from Souk: the emulator delivers them to a
/// capture queue the test reads; the test forwards them, duplicated and shuffled, to the queue
/// Souk polls.
struct Notifications {
    sqs: SqsClient,
    emulator: String,
    capture_url: String,
    souk_queue_url: String,
}

impl Notifications {
    /// Routes `PRODUCT`'s SNS notifications to a fresh capture queue only.
    async fn capture(emulator: &str, souk_queue: &str) -> Self {
        let sqs = sqs(emulator).await;
        let capture_url = sqs
            .create_queue()
            .queue_name(CAPTURE_QUEUE)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let souk_queue_url = sqs
            .create_queue()
            .queue_name(souk_queue)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        control(
            emulator,
            "/_souk/notifications/subscriptions",
            json!({"type": "sns", "protocol": "sqs", "endpoint": capture_url, "product_code": PRODUCT}),
        )
        .await;
        Self {
            sqs,
            emulator: emulator.to_owned(),
            capture_url,
            souk_queue_url,
        }
    }

    /// Everything the emulator emitted since the last call: the emulator's delivery task may
    /// still be enqueueing when a flush returns, so each receive waits a second for more.
    async fn drain(&self) -> Vec<String> {
        control(&self.emulator, "/_souk/notifications/flush", json!({})).await;
        let mut bodies = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.capture_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for message in messages {
                bodies.push(message.body.unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.capture_url)
                    .receipt_handle(message.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Forwards `bodies` to Souk's queue, each twice, in a random order.
    async fn forward_shuffled(&self, bodies: &[String]) {
        assert!(!bodies.is_empty(), "the emulator emitted nothing");
        let mut all: Vec<&String> = bodies.iter().chain(bodies.iter()).collect();
        all.shuffle(&mut rand::rng());
        for body in all {
            self.sqs
                .send_message()
                .queue_url(&self.souk_queue_url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    }

    async fn deliver(&self) -> usize {
        let bodies = self.drain().await;
        self.forward_shuffled(&bodies).await;
        bodies.len()
    }
}

/// Polls `probe` every 50 ms for up to 20 s until it returns `Some`.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn check(
    client: &mut Entitlement,
    customer: &str,
    feature: &str,
) -> pb::CheckEntitlementResponse {
    client
        .check_entitlement(pb::CheckEntitlementRequest {
            customer: customer.to_owned(),
            feature: feature.to_owned(),
            quantity: None,
        })
        .await
        .unwrap()
        .into_inner()
}

/// The subscription of the buyer AWS knows as `identifier` (its legacy CustomerIdentifier: the
/// one key both the browser and the notifications carry).
async fn subscription_of(client: &mut Entitlement, identifier: &str) -> Option<pb::Subscription> {
    let customers = client
        .list_customers(pb::ListCustomersRequest {
            customer_identifier: identifier.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert!(
        customers.len() <= 1,
        "one customer per account: {customers:?}"
    );
    let customer = customers.first()?;
    client
        .list_subscriptions(pb::ListSubscriptionsRequest {
            customer_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subscriptions
        .into_iter()
        .next()
}

async fn wait_state(
    client: &mut Entitlement,
    identifier: &str,
    state: pb::SubscriptionState,
) -> pb::Subscription {
    let what = format!("{identifier} to be {state:?}");
    eventually(&what, || {
        let mut client = client.clone();
        async move {
            subscription_of(&mut client, identifier)
                .await
                .filter(|s| s.state == state as i32)
        }
    })
    .await
}

/// The browser's form POST, as the emulator describes it, sent to Souk's fulfilment page;
/// the status and `Location` header.
async fn browser_post(form: &Value) -> (u16, Option<String>) {
    let url = form["url"].as_str().unwrap();
    let body = form["body"].as_str().unwrap();
    let (base, path) = split_url(url);
    let authority = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let location = response
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .map(str::to_owned);
    (status, location)
}

fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, "/"),
    }
}

/// The seller's side of one deployment under test.
struct Seller {
    emulator: String,
    handoff_secret: String,
    replicas: Vec<Entitlement>,
    notifications: Notifications,
}

impl Seller {
    /// Creates the integration in Souk with a role the emulator trusts, the product in the
    /// emulator with Souk's fulfilment page as its fulfilment URL, the plan, a sign-up URL, and
    /// the notification capture.
    async fn set_up(
        emulator: &str,
        integration_grpc: &str,
        entitlement_grpc: &[String],
        http: &str,
        key: &str,
        souk_queue: &str,
    ) -> Self {
        let queue_url = format!("https://sqs.us-east-1.amazonaws.com/{SELLER}/{souk_queue}");
        let mut integrations = integration_client(integration_grpc, key).await;
        let integration = integrations
            .create_integration(ipb::CreateIntegrationRequest {
                name: format!("journey-{}", rand::random::<u32>()),
                role_arn: format!("arn:aws:iam::{SELLER}:role/SoukJourney"),
                region: "us-east-1".into(),
                products: vec![ipb::Product {
                    product_code: PRODUCT.into(),
                    product_id: None,
                    r#type: souk_proto::common::ProductType::Saas as i32,
                    licensing: souk_proto::common::LicensingModel::ProductCode as i32,
                }],
                notifications: Some(ipb::NotificationConfig {
                    sqs_queue_urls: vec![queue_url],
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
            "/_souk/sts/roles",
            json!({"role_arn": integration.role_arn, "trusted_account": "*", "external_id": integration.external_id}),
        )
        .await;
        control(
            emulator,
            "/_souk/products",
            json!({"product_code": PRODUCT, "kind": "saas", "title": "Journey",
                   "fulfillment_url": format!("{http}/aws/fulfilment/{}", integration.id),
                   "dimensions": [{"name": "requests", "type": "metered"}, {"name": "seats", "type": "entitled"}]}),
        )
        .await;
        let mut replicas = Vec::new();
        for url in entitlement_grpc {
            replicas.push(entitlement_client(url, key).await);
        }
        let client = &mut replicas[0];
        client
            .create_plan(pb::CreatePlanRequest {
                integration_id: integration.id.clone(),
                product_code: PRODUCT.into(),
                key: "team".into(),
                dimensions: vec!["seats".into()],
                features: vec![
                    pb::PlanFeature {
                        feature: "members".into(),
                        kind: pb::FeatureKind::DimensionQuantity as i32,
                        dimension: "seats".into(),
                        ..Default::default()
                    },
                    pb::PlanFeature {
                        feature: "reports".into(),
                        kind: pb::FeatureKind::Boolean as i32,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            })
            .await
            .unwrap();
        let settings = client
            .update_fulfilment_settings(pb::UpdateFulfilmentSettingsRequest {
                integration_id: integration.id.clone(),
                signup_url: "http://127.0.0.1:9/welcome?from=aws".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(settings.handoff_secret.starts_with("souk_hs_"));
        Self {
            emulator: emulator.to_owned(),
            handoff_secret: settings.handoff_secret,
            replicas,
            notifications: Notifications::capture(emulator, souk_queue).await,
        }
    }

    /// The buyer subscribes in the emulator: the form its browser would POST (to Souk's
    /// fulfilment page, the product's fulfilment URL) and the buyer's CustomerIdentifier.
    async fn subscribe(&self, account: &str) -> (Value, String) {
        let answer = control(
            &self.emulator,
            "/_souk/subscribe",
            json!({"product_code": PRODUCT, "customer_aws_account_id": account}),
        )
        .await;
        let identifier = answer["subscription"]["customer_identifier"]
            .as_str()
            .unwrap()
            .to_owned();
        (answer["fulfillment"].clone(), identifier)
    }

    /// The browser POST answers 303 to the sign-up URL with a hand-off that verifies.
    async fn browser_arrives(&self, form: &Value, account: &str) {
        let (status, location) = browser_post(form).await;
        assert_eq!(status, 303, "{location:?}");
        let location = location.unwrap();
        assert!(
            location.starts_with("http://127.0.0.1:9/welcome?from=aws&"),
            "{location}"
        );
        let query = location.split_once('?').unwrap().1;
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        assert!(
            params
                .iter()
                .any(|(k, v)| k == "souk_aws_account_id" && v == account),
            "{params:?}"
        );
        // Souk runs on the emulator's clock, which earlier journeys moved forward.
        let (_, clock) = http_get(&self.emulator, "/_souk/clock").await.unwrap();
        let now: Value = serde_json::from_str(&clock).unwrap();
        let now = now["epoch_seconds"].as_i64().unwrap();
        souk_entitlement::domain::handoff::verify(
            &self.handoff_secret,
            &params,
            now,
            Duration::from_secs(300),
        )
        .unwrap_or_else(|e| panic!("the hand-off does not verify: {e:?} ({query})"));
    }

    /// Every replica answers `feature` for `account` with `allowed` and `limit`.
    async fn all_replicas_answer(
        &self,
        account: &str,
        feature: &str,
        allowed: bool,
        limit: Option<i64>,
    ) {
        for (i, replica) in self.replicas.iter().enumerate() {
            let what =
                format!("replica {i}: {feature} of {account} allowed={allowed} limit={limit:?}");
            let answer = eventually(&what, || {
                let mut replica: Entitlement = replica.clone();
                async move {
                    let answer = check(&mut replica, account, feature).await;
                    (answer.allowed == allowed && answer.limit == limit).then_some(answer)
                }
            })
            .await;
            assert_eq!(answer.source, pb::CheckSource::Live as i32);
        }
    }
}

/// One buyer's journey; `browser_first` decides whether the browser arrives before AWS's
/// notification is delivered.
async fn journey(seller: &mut Seller, account: &str, browser_first: bool) {
    let (form, identifier) = seller.subscribe(account).await;
    let identifier = identifier.as_str();
    if browser_first {
        seller.browser_arrives(&form, account).await;
        let pending = subscription_of(&mut seller.replicas[0], identifier)
            .await
            .unwrap();
        assert_eq!(pending.state, pb::SubscriptionState::Pending as i32);
        // The replicas' snapshots learn of the new customer asynchronously.
        let replica = seller.replicas[0].clone();
        let denied = eventually("the pending customer in the snapshot", || {
            let mut replica = replica.clone();
            async move {
                let answer = check(&mut replica, account, "reports").await;
                (answer.reason != pb::CheckReason::UnknownCustomer as i32).then_some(answer)
            }
        })
        .await;
        assert!(!denied.allowed);
        assert_eq!(denied.reason, pb::CheckReason::NotSubscribed as i32);
    }
    control(
        &seller.emulator,
        "/_souk/entitlements",
        json!({"product_code": PRODUCT, "customer_aws_account_id": account, "values": {"seats": 10}}),
    )
    .await;
    seller.notifications.deliver().await;
    let active = wait_state(
        &mut seller.replicas[0],
        identifier,
        pb::SubscriptionState::Active,
    )
    .await;
    if !browser_first {
        seller.browser_arrives(&form, account).await;
    }
    // Both orders end in one customer with one active subscription.
    let again = subscription_of(&mut seller.replicas[0], identifier)
        .await
        .unwrap();
    assert_eq!(again.id, active.id);
    assert_eq!(again.state, pb::SubscriptionState::Active as i32);
    seller
        .all_replicas_answer(account, "members", true, Some(10))
        .await;
    seller
        .all_replicas_answer(account, "reports", true, None)
        .await;

    // The contract grows: every replica sees the new limit.
    control(
        &seller.emulator,
        "/_souk/entitlements",
        json!({"product_code": PRODUCT, "customer_aws_account_id": account, "values": {"seats": 25}}),
    )
    .await;
    seller.notifications.deliver().await;
    seller
        .all_replicas_answer(account, "members", true, Some(25))
        .await;

    // Unsubscribe: cancel_pending with the final metering deadline an hour after the notice.
    control(
        &seller.emulator,
        "/_souk/unsubscribe",
        json!({"product_code": PRODUCT, "customer_aws_account_id": account}),
    )
    .await;
    seller.notifications.deliver().await;
    let pending = wait_state(
        &mut seller.replicas[0],
        identifier,
        pb::SubscriptionState::CancelPending,
    )
    .await;
    let notice = pending.cancel_pending_time.unwrap().seconds;
    assert_eq!(
        pending.final_metering_deadline.unwrap().seconds,
        notice + 3600
    );
    seller
        .all_replicas_answer(account, "reports", true, None)
        .await;

    // The final hour passes on the emulator's clock: AWS ends the subscription.
    control(
        &seller.emulator,
        "/_souk/clock/advance",
        json!({"hours": 2}),
    )
    .await;
    seller.notifications.deliver().await;
    wait_state(
        &mut seller.replicas[0],
        identifier,
        pb::SubscriptionState::Cancelled,
    )
    .await;
    seller
        .all_replicas_answer(account, "reports", false, None)
        .await;
    let denied = check(&mut seller.replicas[0], account, "members").await;
    assert_eq!(denied.reason, pb::CheckReason::NotSubscribed as i32);
}

#[tokio::test]
async fn standalone_journey_browser_first_and_event_first() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let data_dir = data_dir.to_str().unwrap();
    let dev = start_dev(data_dir, true, &[]).await;
    let grpc = dev.endpoint("grpc").to_owned();
    let http = dev.endpoint("http").to_owned();
    let emulator = dev.endpoint("emulator").to_owned();
    let key = std::fs::read_to_string(dir.path().join("souk/api-key"))
        .unwrap()
        .trim()
        .to_owned();
    let mut seller = Seller::set_up(
        &emulator,
        &grpc,
        std::slice::from_ref(&grpc),
        &http,
        &key,
        "journey-souk",
    )
    .await;
    journey(&mut seller, "444455556666", true).await;
    journey(&mut seller, "777788889999", false).await;
    drop(dev);
}

#[tokio::test]
async fn distributed_journey_on_two_replicas() {
    let db = TestDb::postgres().await.unwrap();
    let url = db.url().to_owned();
    let nats = souk_testkit::nats::url();
    let emulator = SoukProcess::start(&["emulator", "--listen", "127.0.0.1:0"], &[])
        .await
        .unwrap();
    let emulator_url = emulator.endpoint("emulator").to_owned();
    let certificates = format!("{emulator_url}/_souk/sns/");
    let env = vec![
        ("SOUK_DATABASE_URL", url.as_str()),
        ("SOUK_NATS_URL", nats.as_str()),
        ("SOUK_AWS_ENDPOINT_URL", emulator_url.as_str()),
        ("SOUK_CLOCK_SOURCE", "emulator"),
        // Souk's own AWS credentials come from the standard chain; the emulator accepts any.
        ("AWS_ACCESS_KEY_ID", "AKIDSOUKJOURNEY"),
        ("AWS_SECRET_ACCESS_KEY", "journey-secret"),
        (
            "SOUK_ENTITLEMENT__SNS_CERTIFICATE_URL_PREFIX",
            certificates.as_str(),
        ),
    ];
    let boot = souk(&["bootstrap", "--org-name", "journey"], &env)
        .await
        .unwrap();
    assert!(boot.success, "{boot:?}");
    let key = boot
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin API key (shown once): "))
        .unwrap()
        .to_owned();
    let serve = |service: &'static str| {
        let env = env.clone();
        async move {
            SoukProcess::start(
                &[
                    "serve",
                    service,
                    "--grpc-addr",
                    "127.0.0.1:0",
                    "--http-addr",
                    "127.0.0.1:0",
                ],
                &env,
            )
            .await
            .unwrap()
        }
    };
    let integration = serve("integration").await;
    let first = serve("entitlement").await;
    let second = serve("entitlement").await;
    let replicas = [
        first.endpoint("grpc").to_owned(),
        second.endpoint("grpc").to_owned(),
    ];
    for replica in [&first, &second] {
        let (status, body) = http_get(replica.endpoint("http"), "/readyz").await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // Buyers reach the first replica's page; both replicas poll the queue and answer checks.
    let mut seller = Seller::set_up(
        &emulator_url,
        integration.endpoint("grpc"),
        &replicas,
        first.endpoint("http"),
        &key,
        "journey-souk-d",
    )
    .await;
    journey(&mut seller, "444455556666", true).await;
    journey(&mut seller, "777788889999", false).await;
    drop((first, second, integration, emulator));
    db.cleanup().await.unwrap();
}
