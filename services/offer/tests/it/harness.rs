//! The offer service on a fresh store (a SQLite file or a PostgreSQL database, through
//! `souk-testkit`) served through the real gRPC stack with in-memory API keys, calling the
//! in-process emulator through the real `AwsCatalog`, whose clock is the service's clock.
//! Only the integrations' roles (the integration service's in production) are given by
//! [`Roles`].

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use serde_json::{Value, json};
use souk_auth::{IntegrationRole, RoleAssumer, RoleAssumerOptions, Scope};
use souk_core::Id;
use souk_emulator::{EmulatorConfig, RunningEmulator};
use souk_offer::aws::{AwsCatalog, IntegrationRoles};
use souk_offer::domain::change_set::Change;
use souk_offer::domain::ports::{Acting, CallError, Catalog, ChangeSetRequest, ChangeSetStatus};
use souk_offer::{AppOptions, OfferApp, OfferConfig, STORE_NAME};
use souk_proto::offer as pb;
use souk_proto::offer::offer_service_client::OfferServiceClient;
use souk_testkit::TestDb;
use souk_testkit::clock::EmulatorClock;
use souk_testkit::spawn::SpawnedService;
use time::OffsetDateTime;
use tonic::Status;
use tonic::transport::Channel;
use tower::ServiceExt as _;

pub use souk_testkit::rpc::{authed, expect_code, violations};

pub const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukOfferTest";
/// The SaaS product: `seats` (entitled) and `api_calls` (metered).
pub const SAAS: &str = "prod-souksaas0001";
/// The AMI product: `m5.large`.
pub const AMI: &str = "prod-soukami00001";
/// The container product: `pods`.
pub const CONTAINER: &str = "prod-soukcontain1";
/// The professional services product: `workshop`, `audit`.
pub const SERVICES: &str = "prod-soukservice1";
pub const BUYER: &str = "444455556666";

/// One test on SQLite and on PostgreSQL with a started [`Harness`].
macro_rules! both {
    ($name:ident, |$h:ident| $body:block) => {
        souk_testkit::both_backends!($name, |db: TestDb| async move {
            #[allow(unused_variables)]
            let $h = $crate::harness::Harness::start(db).await;
            $body
        });
    };
}
pub(crate) use both;

/// The integrations' roles.
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

pub struct Harness {
    pub emulator: RunningEmulator,
    pub app: OfferApp,
    /// The Catalog adapter itself, for calls that bypass Souk's validation.
    pub catalog: AwsCatalog,
    /// The role assumer and the integration's role (for the SDK clients themselves).
    pub assumer: RoleAssumer,
    pub role: IntegrationRole,
    /// The integrations' roles, as the service sees them.
    pub roles: Arc<Roles>,
    pub org: Id,
    pub integration_id: Id,
    /// A FULL key of [`Harness::org`].
    pub key: String,
    /// A READ key of [`Harness::org`].
    pub reader: String,
    /// A FULL key of another organisation.
    pub other_key: String,
    client: OfferServiceClient<Channel>,
    _service: SpawnedService,
    pub db: TestDb,
}

impl Harness {
    /// The service on `db`, the emulator with the four products and the seller's role. No
    /// background loop: tests run the tracker with [`Harness::track`].
    pub async fn start(db: TestDb) -> Self {
        let emulator = souk_emulator::spawn(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let external_id = Id::generate("ext").to_string();
        let integration_id = Id::generate("int");
        let roles = Arc::new(Roles::default());
        roles.0.lock().unwrap_or_else(|e| e.into_inner()).insert(
            integration_id.clone(),
            IntegrationRole {
                integration_id: integration_id.to_string(),
                role_arn: ROLE_ARN.into(),
                external_id: external_id.clone(),
                region: "us-east-1".into(),
            },
        );
        let assumer = RoleAssumer::with_static_credentials(
            "AKIDSOUKOFFERTEST",
            "base-secret",
            RoleAssumerOptions {
                endpoint_url: Some(emulator.url.clone()),
                ..RoleAssumerOptions::default()
            },
        );
        let store = db.store(STORE_NAME).await.expect("store opens");
        let app = OfferApp::new(
            store,
            roles.clone(),
            assumer.clone(),
            OfferConfig::default(),
            AppOptions {
                clock: Arc::new(EmulatorClock(emulator.emulator.clone())),
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
        let role = roles
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&integration_id)
            .cloned()
            .expect("role");
        let h = Self {
            catalog: AwsCatalog::new(assumer.clone(), roles.clone()),
            assumer,
            role,
            roles,
            key: keys.add_key(&[Scope::Full]),
            reader: keys.add_key(&[Scope::ReadOnly]),
            other_key: keys.add_key_for(&other_org, &[Scope::Full]),
            emulator,
            app,
            org,
            integration_id,
            client: OfferServiceClient::new(channel),
            _service: service,
            db,
        };
        h.control(
            "POST",
            "/_souk/sts/roles",
            json!({"role_arn": ROLE_ARN, "external_id": external_id}),
        )
        .await;
        let products = [
            (
                SAAS,
                "souksaas",
                "saas",
                json!([{"name": "seats", "type": "entitled"}, {"name": "api_calls", "type": "metered"}]),
            ),
            (
                AMI,
                "soukami",
                "ami",
                json!([{"name": "m5.large", "type": "metered"}]),
            ),
            (
                CONTAINER,
                "soukcontainer",
                "container",
                json!([{"name": "pods", "type": "metered"}]),
            ),
            (
                SERVICES,
                "soukservices",
                "professional_services",
                json!([{"name": "workshop", "type": "entitled"}, {"name": "audit", "type": "entitled"}]),
            ),
        ];
        for (id, code, kind, dimensions) in products {
            h.control(
                "POST",
                "/_souk/products",
                json!({"product_id": id, "product_code": code, "kind": kind, "dimensions": dimensions}),
            )
            .await;
        }
        h
    }

    /// The same service over the same store, as a restarted process builds it.
    pub async fn restarted(&self) -> OfferApp {
        let store = self.db.store(STORE_NAME).await.expect("store opens");
        OfferApp::new(
            store,
            self.roles.clone(),
            self.assumer.clone(),
            OfferConfig::default(),
            AppOptions {
                clock: Arc::new(EmulatorClock(self.emulator.emulator.clone())),
                ..AppOptions::default()
            },
        )
        .await
        .expect("app starts again")
    }

    /// How many change sets the seller started in the emulator.
    pub async fn change_sets(&self) -> usize {
        let clients = self.assumer.clients(&self.role).await.expect("clients");
        clients
            .catalog
            .list_change_sets()
            .catalog("AWSMarketplace")
            .max_results(20)
            .send()
            .await
            .expect("ListChangeSets")
            .change_set_summary_list()
            .len()
    }

    /// A second integration of [`Harness::org`], for the seller account `account` (a channel
    /// partner's, say), known to the service and to the emulator's STS.
    pub async fn integration_for(&self, account: &str) -> Id {
        let integration_id = Id::generate("int");
        let external_id = Id::generate("ext").to_string();
        let role_arn = format!("arn:aws:iam::{account}:role/SoukOfferTest");
        self.roles
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                integration_id.clone(),
                IntegrationRole {
                    integration_id: integration_id.to_string(),
                    role_arn: role_arn.clone(),
                    external_id: external_id.clone(),
                    region: "us-east-1".into(),
                },
            );
        self.control(
            "POST",
            "/_souk/sts/roles",
            json!({"role_arn": role_arn, "external_id": external_id}),
        )
        .await;
        integration_id
    }

    /// The emulator's verdict on `changes` started for `acting`: the id of the entity made
    /// (if any), or the codes of why it refused, comma-separated.
    pub async fn verdict(
        &self,
        acting: &Acting,
        name: &str,
        changes: Vec<Change>,
    ) -> Result<Option<String>, String> {
        let request = ChangeSetRequest {
            name: name.chars().filter(char::is_ascii_alphanumeric).collect(),
            client_request_token: Id::generate("tok").to_string(),
            changes,
        };
        let id = match self.catalog.start_change_set(acting, &request).await {
            Ok(id) => id,
            Err(CallError::Refused { code, message }) => return Err(format!("{code}: {message}")),
            Err(CallError::Retry(message)) => panic!("{name}: {message}"),
        };
        for _ in 0..10 {
            self.advance(10).await;
            match self.catalog.describe_change_set(acting, &id).await {
                Ok(ChangeSetStatus::Running) => {}
                Ok(ChangeSetStatus::Succeeded { entity_id }) => return Ok(entity_id),
                Ok(ChangeSetStatus::Failed { errors, .. }) => {
                    return Err(errors
                        .iter()
                        .map(|e| e.code.clone())
                        .collect::<Vec<_>>()
                        .join(","));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        panic!("{name}: the change set did not finish")
    }

    /// Who the Catalog calls act for.
    pub fn acting(&self) -> Acting {
        Acting {
            organization_id: self.org.clone(),
            integration_id: self.integration_id.clone(),
        }
    }

    /// A client of the service.
    pub fn client(&self) -> OfferServiceClient<Channel> {
        self.client.clone()
    }

    /// Calls the emulator's control API; panics unless it answers 2xx.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, value) = self.control_status(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// Calls the emulator's control API; its status and JSON answer.
    pub async fn control_status(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
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
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    /// The emulator's (and the service's) clock.
    pub fn now(&self) -> OffsetDateTime {
        self.emulator.emulator.clock().now()
    }

    /// Moves the clock `seconds` forward.
    pub async fn advance(&self, seconds: i64) {
        self.control("POST", "/_souk/clock/advance", json!({"seconds": seconds}))
            .await;
    }

    /// Moves the clock to 01:00 UTC of the next day when less than two hours of the day are
    /// left, so that a test that takes "today" at its start and moves the clock as it runs
    /// stays on that day.
    pub async fn away_from_midnight(&self) {
        let now = self.now();
        let elapsed =
            i64::from(now.hour()) * 3_600 + i64::from(now.minute()) * 60 + i64::from(now.second());
        let left = 86_400 - elapsed;
        if left < 7_200 {
            self.advance(left + 3_600).await;
        }
    }

    /// One tracker pass after moving the clock `seconds` (past every due check).
    pub async fn track(&self, seconds: i64) {
        if seconds > 0 {
            self.advance(seconds).await;
        }
        self.app.track_now().await.expect("tracker pass");
    }

    /// Runs the tracker until offer `id` leaves DRAFT and SUBMITTED (at most 20 passes, each
    /// 10 s of emulator time later).
    pub async fn settle(&self, id: &str) -> pb::Offer {
        for _ in 0..20 {
            self.track(10).await;
            let offer = self.get(&self.key, id).await.expect("get");
            let state = pb::OfferState::try_from(offer.state).unwrap_or_default();
            if !matches!(state, pb::OfferState::Draft | pb::OfferState::Submitted) {
                return offer;
            }
        }
        panic!("offer {id} did not settle");
    }

    pub async fn create(
        &self,
        key: &str,
        request: pb::CreatePrivateOfferRequest,
    ) -> Result<pb::Offer, Status> {
        Ok(self
            .client()
            .create_private_offer(authed(key, request))
            .await?
            .into_inner()
            .offer
            .expect("offer"))
    }

    pub async fn get(&self, key: &str, id: &str) -> Result<pb::Offer, Status> {
        Ok(self
            .client()
            .get_offer(authed(
                key,
                pb::GetOfferRequest {
                    offer_id: id.to_owned(),
                },
            ))
            .await?
            .into_inner()
            .offer
            .expect("offer"))
    }

    /// The emulator's agreement `id`.
    pub async fn agreement(&self, id: &str) -> Value {
        self.control("GET", &format!("/_souk/agreements/{id}"), Value::Null)
            .await
    }
}
