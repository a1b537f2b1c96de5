//! A running integration service (real store, emulator-backed AWS) on 127.0.0.1:0, and a client.

use std::net::SocketAddr;
use std::time::Duration;

use souk_auth::{RoleAssumer, RoleAssumerOptions};
use souk_emulator::RunningEmulator;
use souk_integration::{IntegrationApp, IntegrationConfig, STORE_NAME};
use souk_proto::integration as pb;
use souk_proto::integration::integration_service_client::IntegrationServiceClient;
use souk_store::Store;
use souk_testkit::TestDb;
use tonic::transport::Channel;
use tonic::{Code, Status};

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

pub use souk_testkit::rpc::{authed, expect_code, violations};

impl Harness {
    pub async fn start(db: TestDb) -> Self {
        let emulator = souk_testkit::spawn::emulator()
            .await
            .expect("emulator starts");
        let store = db.store(STORE_NAME).await.expect("store connects");
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
        let app = IntegrationApp::new(store.clone(), assumer, config)
            .await
            .expect("app starts");
        let admin = app
            .integrations()
            .bootstrap_first_organization("default")
            .await
            .expect("bootstrap")
            .expect("first organization")
            .first_key
            .secret
            .expose()
            .to_owned();
        assert!(
            app.integrations()
                .bootstrap_first_organization("again")
                .await
                .expect("bootstrap")
                .is_none()
        );

        let server = souk_testkit::spawn::grpc(vec![app.parts()], app.authenticator().layer())
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
                key_request(&format!("{scopes:?} key"), scopes),
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
            .create_organization(authed(&self.admin, organization_request(name)))
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
        self.create(secret, integration_request(name, role_arn))
            .await
    }

    /// Creates the integration of `request` using `secret`.
    pub async fn create(
        &self,
        secret: &str,
        request: pb::CreateIntegrationRequest,
    ) -> pb::Integration {
        self.client()
            .create_integration(authed(secret, request))
            .await
            .expect("create integration")
            .into_inner()
            .integration
            .expect("integration")
    }

    /// Integration `id`, read with `secret`.
    pub async fn get(&self, secret: &str, id: &str) -> pb::Integration {
        self.client()
            .get_integration(authed(secret, get_request(id)))
            .await
            .expect("get integration")
            .into_inner()
            .integration
            .expect("integration")
    }

    /// The first page of integrations `secret` sees.
    pub async fn list_integrations(&self, secret: &str) -> pb::ListIntegrationsResponse {
        self.client()
            .list_integrations(authed(secret, pb::ListIntegrationsRequest::default()))
            .await
            .expect("list integrations")
            .into_inner()
    }

    /// The first page of API keys `secret` sees.
    pub async fn list_api_keys(&self, secret: &str) -> pb::ListApiKeysResponse {
        self.client()
            .list_api_keys(authed(secret, pb::ListApiKeysRequest::default()))
            .await
            .expect("list api keys")
            .into_inner()
    }

    /// Calls the RPCs that change integration `integration_id` or revoke key `key_id` (without
    /// idempotency keys) with `secret`, and asserts each fails with `code`.
    pub async fn expect_changes_refused(
        &self,
        secret: &str,
        integration_id: &str,
        key_id: &str,
        code: Code,
    ) {
        let mut client = self.client();
        expect_code(
            client
                .update_integration(authed(secret, rename_request(integration_id, "renamed")))
                .await,
            code,
        );
        expect_code(
            client
                .verify_integration(authed(secret, verify_request(integration_id)))
                .await,
            code,
        );
        expect_code(
            client
                .delete_integration(authed(secret, delete_request(integration_id)))
                .await,
            code,
        );
        expect_code(
            client
                .revoke_api_key(authed(secret, revoke_request(key_id)))
                .await,
            code,
        );
    }

    /// How many outbox entries are of `event_type`.
    pub async fn events_of(&self, event_type: &str) -> usize {
        self.outbox()
            .await
            .iter()
            .filter(|(t, _)| t == event_type)
            .count()
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

/// CreateApiKey of `name` with `scopes`, never expiring, without an idempotency key.
pub fn key_request(name: &str, scopes: &[pb::Scope]) -> pb::CreateApiKeyRequest {
    pb::CreateApiKeyRequest {
        name: name.into(),
        scopes: scopes.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    }
}

/// CreateOrganization of `name`.
pub fn organization_request(name: &str) -> pb::CreateOrganizationRequest {
    pb::CreateOrganizationRequest {
        name: name.into(),
        ..Default::default()
    }
}

/// GetIntegration of `id`.
pub fn get_request(id: &str) -> pb::GetIntegrationRequest {
    pb::GetIntegrationRequest {
        integration_id: id.into(),
    }
}

/// GetOnboardingTemplate of `id`, without the optional parts.
pub fn template_request(id: &str) -> pb::GetOnboardingTemplateRequest {
    pb::GetOnboardingTemplateRequest {
        integration_id: id.into(),
        ..Default::default()
    }
}

/// A field mask of `paths`.
pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// UpdateIntegration of `id` that renames it to `name`, without an idempotency key.
pub fn rename_request(id: &str, name: &str) -> pb::UpdateIntegrationRequest {
    pb::UpdateIntegrationRequest {
        integration_id: id.into(),
        name: name.into(),
        update_mask: mask(&["name"]),
        ..Default::default()
    }
}

/// VerifyIntegration of `id`, without an idempotency key.
pub fn verify_request(id: &str) -> pb::VerifyIntegrationRequest {
    pb::VerifyIntegrationRequest {
        integration_id: id.into(),
        ..Default::default()
    }
}

/// DeleteIntegration of `id`, without an idempotency key.
pub fn delete_request(id: &str) -> pb::DeleteIntegrationRequest {
    pb::DeleteIntegrationRequest {
        integration_id: id.into(),
        ..Default::default()
    }
}

/// RevokeApiKey of `id`, without an idempotency key.
pub fn revoke_request(id: &str) -> pb::RevokeApiKeyRequest {
    pb::RevokeApiKeyRequest {
        api_key_id: id.into(),
        ..Default::default()
    }
}

/// The fields of [`violations`], sorted.
#[track_caller]
pub fn fields<T: std::fmt::Debug>(result: Result<T, Status>) -> Vec<String> {
    let mut fields: Vec<String> = violations(result).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    fields
}
