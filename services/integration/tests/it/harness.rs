//! A running integration service (real store, emulator-backed AWS) on 127.0.0.1:0, and a client.

use std::net::SocketAddr;
use std::time::Duration;

use souk_auth::{RoleAssumer, RoleAssumerOptions};
use souk_emulator::RunningEmulator;
use souk_integration::{IntegrationApp, IntegrationConfig, SERVICE_NAME};
use souk_proto::integration as pb;
use souk_proto::integration::integration_service_client::IntegrationServiceClient;
use souk_store::Store;
use souk_testkit::TestDb;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// The account of the emulator's base-credentials principal (Souk itself).
pub const SOUK_ACCOUNT: &str = "123456789012";
/// The seller account roles live in.
pub const SELLER_ACCOUNT: &str = "111122223333";

pub struct Harness {
    pub client: IntegrationServiceClient<Channel>,
    pub addr: SocketAddr,
    pub admin: String,
    pub store: Store,
    pub emulator: RunningEmulator,
    _server: souk_testkit::spawn::SpawnedServer,
    _db: TestDb,
}

/// Puts the API key `secret` on a request.
pub fn authed<T>(secret: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {secret}").parse().expect("ascii header"),
    );
    request
}

impl Harness {
    pub async fn start(db: TestDb) -> Self {
        let emulator = souk_testkit::spawn::emulator()
            .await
            .expect("emulator starts");
        let store = db.store(SERVICE_NAME).await.expect("store connects");
        let options = RoleAssumerOptions {
            endpoint_url: Some(emulator.url.clone()),
            max_attempts: 1,
            operation_timeout: Duration::from_secs(5),
            ..RoleAssumerOptions::default()
        };
        let assumer =
            RoleAssumer::with_static_credentials("AKIDSOUKINTEGRATIONTEST", "base-secret", options);
        let config = IntegrationConfig {
            souk_principal_arn: format!("arn:aws:iam::{SOUK_ACCOUNT}:root"),
            sns_webhook_url: Some("https://souk.example.com/webhooks/sns".into()),
            ..IntegrationConfig::default()
        };
        let app = IntegrationApp::new(store.clone(), assumer, config, None)
            .await
            .expect("app starts");
        let (_org, admin) = app
            .bootstrap_default_organization("default")
            .await
            .expect("bootstrap")
            .expect("first organization");
        assert!(
            app.bootstrap_default_organization("again")
                .await
                .expect("bootstrap")
                .is_none()
        );

        let server = souk_testkit::spawn::grpc(
            tonic::service::Routes::new(app.server()),
            app.authenticator().layer(),
        )
        .await
        .expect("server starts");
        let channel = server.channel().await.expect("connect");
        let addr = server.addr;
        Harness {
            client: IntegrationServiceClient::new(channel),
            addr,
            admin,
            store,
            emulator,
            _server: server,
            _db: db,
        }
    }

    pub fn client(&self) -> IntegrationServiceClient<Channel> {
        self.client.clone()
    }

    /// Creates an API key with `scopes` using `secret`; returns (key id, secret).
    pub async fn key(&self, secret: &str, scopes: &[pb::Scope]) -> (String, String) {
        let response = self
            .client()
            .create_api_key(authed(
                secret,
                pb::CreateApiKeyRequest {
                    name: format!("{scopes:?} key"),
                    scopes: scopes.iter().map(|s| *s as i32).collect(),
                    ..Default::default()
                },
            ))
            .await
            .expect("create key")
            .into_inner();
        (response.api_key.expect("key").id, response.secret)
    }

    /// Creates organisation `name` with the admin key; returns (org id, FULL secret).
    pub async fn organization(&self, name: &str) -> (String, String) {
        let response = self
            .client()
            .create_organization(authed(
                &self.admin,
                pb::CreateOrganizationRequest {
                    name: name.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("create organization")
            .into_inner();
        (
            response.organization.expect("org").id,
            response.api_key_secret,
        )
    }

    /// Creates an integration with one SaaS product using `secret`.
    pub async fn integration(&self, secret: &str, name: &str, role_arn: &str) -> pb::Integration {
        self.client()
            .create_integration(authed(secret, integration_request(name, role_arn)))
            .await
            .expect("create integration")
            .into_inner()
            .integration
            .expect("integration")
    }

    /// Outbox entries of the service, oldest first: (event type, organization id).
    pub async fn outbox(&self) -> Vec<(String, String)> {
        let entries = souk_store::outbox::read_all_after(self.store.pool(), 0, 10_000)
            .await
            .expect("outbox");
        entries
            .into_iter()
            .map(|e| (e.event_type, e.organization_id))
            .collect()
    }
}

pub fn integration_request(name: &str, role_arn: &str) -> pb::CreateIntegrationRequest {
    pb::CreateIntegrationRequest {
        name: name.into(),
        role_arn: role_arn.into(),
        region: "us-east-1".into(),
        products: vec![pb::Product {
            product_code: "prodcode123".into(),
            product_id: Some("prod-abc123".into()),
            r#type: souk_proto::common::ProductType::Saas as i32,
            licensing: souk_proto::common::LicensingModel::LicenseArn as i32,
        }],
        notifications: None,
        data_feed_bucket: String::new(),
        idempotency_key: String::new(),
    }
}

/// Asserts `result` failed with `code`; returns the status.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// The field violations of an INVALID_ARGUMENT status, as (field, description) pairs.
#[track_caller]
pub fn violations<T: std::fmt::Debug>(result: Result<T, Status>) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    let status = expect_code(result, Code::InvalidArgument);
    let bad_request = status
        .get_details_bad_request()
        .expect("google.rpc.BadRequest details");
    bad_request
        .field_violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

/// The fields of [`violations`], sorted.
#[track_caller]
pub fn fields<T: std::fmt::Debug>(result: Result<T, Status>) -> Vec<String> {
    let mut fields: Vec<String> = violations(result).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    fields
}
