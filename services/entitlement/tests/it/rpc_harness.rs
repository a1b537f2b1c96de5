//! The entitlement service's gRPC API served through the real server stack (authentication,
//! tracing, metrics) on 127.0.0.1:0 over the [`Harness`], with in-memory API keys of two
//! organisations: B owns the legacy integration (selling [`PRODUCT`]), A owns the concurrent one.
//! Helpers make the records a test needs the way a seller's buyers make them: a subscription in
//! the emulator, ResolveCustomer through gRPC, AWS's `subscribe-success` notice, contracts read
//! back with SyncEntitlements.

use std::ops::Deref;
use std::time::Instant;

use prost::Message as _;
use serde_json::{Value, json};
use souk_auth::Scope;
use souk_core::Id;
use souk_entitlement::EntitlementConfig;
use souk_entitlement::domain::notice::{Notice, NoticeKind, NoticeSource};
use souk_entitlement::domain::ports::IntegrationInfo;
use souk_proto::entitlement as pb;
use souk_proto::entitlement::entitlement_service_client::EntitlementServiceClient;
use souk_proto::events::Event;
use souk_testkit::keys::MemoryKeyStore;
use souk_testkit::spawn::SpawnedService;
use tonic::transport::Channel;

use crate::harness::{Harness, PRODUCT};

/// A second buyer account, for records that must not be [`crate::harness::BUYER`]'s.
pub const OTHER_BUYER: &str = "777788889999";

/// The [`Harness`] with its gRPC API and keys of organisations A and B.
pub struct Rpc {
    pub harness: Harness,
    pub keys: MemoryKeyStore,
    client: EntitlementServiceClient<Channel>,
    /// Organisation B's integration (the harness's legacy one, selling [`PRODUCT`]).
    pub b: IntegrationInfo,
    /// Organisation A's integration (the harness's concurrent one).
    pub a: IntegrationInfo,
    /// A FULL key of B.
    pub b_full: String,
    /// An ADMIN key of B.
    pub b_admin: String,
    /// A FULL key of A.
    pub a_full: String,
    /// An ADMIN key of A.
    pub a_admin: String,
    _service: SpawnedService,
}

impl Deref for Rpc {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

pub use souk_testkit::rpc::{authed, expect_code, violations};

/// `(field, reason)` pairs, for comparing with [`violations`].
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(f, r)| ((*f).to_owned(), (*r).to_owned()))
        .collect()
}

impl Rpc {
    /// The harness with default settings, served over gRPC.
    pub async fn start() -> Self {
        Self::start_with(EntitlementConfig::default()).await
    }

    /// The harness with `config`, served over gRPC.
    pub async fn start_with(config: EntitlementConfig) -> Self {
        let harness = Harness::start_with(config).await;
        let service = souk_testkit::spawn::service(harness.app.parts())
            .await
            .expect("gRPC server starts");
        let channel = service.server.channel().await.expect("connect");
        let keys = service.keys.clone();
        let b = harness.legacy.clone();
        let a = harness.concurrent.clone();
        assert_ne!(a.organization_id, b.organization_id);
        let b_full = keys.add_key_for(&b.organization_id, &[Scope::Full]);
        let b_admin = keys.add_key_for(&b.organization_id, &[Scope::Admin]);
        let a_full = keys.add_key_for(&a.organization_id, &[Scope::Full]);
        let a_admin = keys.add_key_for(&a.organization_id, &[Scope::Admin]);
        Self {
            harness,
            keys,
            client: EntitlementServiceClient::new(channel),
            b,
            a,
            b_full,
            b_admin,
            a_full,
            a_admin,
            _service: service,
        }
    }

    /// A client of the service.
    pub fn client(&self) -> EntitlementServiceClient<Channel> {
        self.client.clone()
    }

    /// A new key of `organization_id` with `scopes`.
    pub fn key(&self, organization_id: &Id, scopes: &[Scope]) -> String {
        self.keys.add_key_for(organization_id, scopes)
    }

    /// Lists `product` (a legacy SaaS product) in the emulator with `dimensions` as
    /// `(name, "entitled" | "metered")`, replacing its previous listing; returns the product.
    pub async fn list_product(&self, product: &str, dimensions: &[(&str, &str)]) -> Value {
        let dimensions: Vec<Value> = dimensions
            .iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}))
            .collect();
        self.control_post(
            "/_souk/products",
            json!({
                "product_code": product,
                "kind": "saas",
                "concurrent_agreements": false,
                "dimensions": dimensions,
            }),
        )
        .await
    }

    /// `account` buys `product` in the emulator; returns the emulator's answer (the
    /// registration token and the subscription).
    pub async fn buy(&self, product: &str, account: &str) -> Value {
        self.control_post(
            "/_souk/subscribe",
            json!({"product_code": product, "customer_aws_account_id": account}),
        )
        .await
    }

    /// The emulator's (and so the service's) clock, in epoch seconds.
    pub async fn emulator_now(&self) -> i64 {
        self.control_get("/_souk/clock").await["epoch_seconds"]
            .as_i64()
            .expect("epoch_seconds")
    }

    /// Sets `account`'s contract entitlements of `product` in the emulator.
    pub async fn set_contract(
        &self,
        product: &str,
        account: &str,
        values: Value,
        expiration: Option<i64>,
    ) {
        self.control_post(
            "/_souk/entitlements",
            json!({
                "product_code": product,
                "customer_aws_account_id": account,
                "values": values,
                "expiration": expiration,
            }),
        )
        .await;
    }

    /// `account` buys [`PRODUCT`] of organisation B, arrives through ResolveCustomer (with B's
    /// FULL key), and AWS's `subscribe-success` notice activates it (which also records the
    /// agreement and reads the contract); returns the active customer.
    pub async fn active_customer(&self, account: &str) -> pb::Customer {
        let bought = self.buy(PRODUCT, account).await;
        let token = bought["registration_token"]
            .as_str()
            .expect("registration token");
        let resolved = self
            .client()
            .resolve_customer(authed(
                &self.b_full,
                pb::ResolveCustomerRequest {
                    integration_id: self.b.id.to_string(),
                    registration_token: token.to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .expect("resolve customer")
            .into_inner();
        assert!(resolved.created);
        let subscription = &bought["subscription"];
        let notice = Notice {
            kind: NoticeKind::SubscribeSuccess,
            source: NoticeSource::Sns,
            message_id: Id::generate("msg").to_string(),
            sent_at: self.app.entitlements().now(),
            product_code: Some(PRODUCT.to_owned()),
            customer_identifier: subscription["customer_identifier"]
                .as_str()
                .map(str::to_owned),
            aws_account_id: Some(account.to_owned()),
            license_arn: None,
            agreement_id: subscription["agreement_id"].as_str().map(str::to_owned),
            offer_id: None,
            free_trial: false,
        };
        self.app
            .entitlements()
            .receive_notice(&self.b, &notice)
            .await
            .expect("subscribe-success applies");
        let customer = self
            .client()
            .get_customer(authed(
                &self.b_full,
                pb::GetCustomerRequest {
                    customer_id: resolved.customer.expect("customer").id,
                },
            ))
            .await
            .expect("get customer")
            .into_inner()
            .customer
            .expect("customer");
        assert_eq!(
            customer.subscription_state,
            pb::SubscriptionState::Active as i32
        );
        customer
    }

    /// Reads B's customer's contract from the emulator (SyncEntitlements with B's key).
    pub async fn sync(&self, customer_id: &str) -> pb::SyncEntitlementsResponse {
        self.client()
            .sync_entitlements(authed(
                &self.b_full,
                pb::SyncEntitlementsRequest {
                    integration_id: self.b.id.to_string(),
                    customer_id: customer_id.to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .expect("sync entitlements")
            .into_inner()
    }

    /// Loads every customer's check view into the replica's snapshot, as the follower does at
    /// start (tests that do not run the background work).
    pub async fn load_snapshot(&self) {
        let views = self
            .app
            .entitlements()
            .customer_views(None)
            .await
            .expect("customer views");
        self.app.snapshot().replace_all(views, Instant::now());
    }

    /// Every event of `organization_id` in the service's outbox, oldest first.
    pub async fn events(&self, organization_id: &Id) -> Vec<Event> {
        let store = self.app.parts().store.expect("the service has a store");
        souk_store::outbox::read_after(store.pool(), organization_id.as_str(), 0, 10_000)
            .await
            .expect("read the outbox")
            .into_iter()
            .map(|entry| Event::decode(entry.payload.as_slice()).expect("an encoded event"))
            .collect()
    }

    /// The events of `event_type` of `organization_id`, oldest first.
    pub async fn events_of(&self, organization_id: &Id, event_type: &str) -> Vec<Event> {
        self.events(organization_id)
            .await
            .into_iter()
            .filter(|e| e.r#type == event_type)
            .collect()
    }

    /// CheckEntitlement as `key`.
    pub async fn check(
        &self,
        key: &str,
        customer: &str,
        feature: &str,
        quantity: Option<i64>,
    ) -> pb::CheckEntitlementResponse {
        self.client()
            .check_entitlement(authed(
                key,
                pb::CheckEntitlementRequest {
                    customer: customer.to_owned(),
                    feature: feature.to_owned(),
                    quantity,
                },
            ))
            .await
            .expect("check entitlement")
            .into_inner()
    }

    /// ListFeatures of B's customer.
    pub async fn features(&self, customer_id: &str) -> Vec<pb::CustomerFeature> {
        self.client()
            .list_features(authed(
                &self.b_full,
                pb::ListFeaturesRequest {
                    customer_id: customer_id.to_owned(),
                },
            ))
            .await
            .expect("list features")
            .into_inner()
            .features
    }
}

/// A plan feature.
pub fn feature(name: &str, kind: pb::FeatureKind, limit: i64, dimension: &str) -> pb::PlanFeature {
    pb::PlanFeature {
        feature: name.to_owned(),
        kind: kind as i32,
        limit,
        dimension: dimension.to_owned(),
    }
}
