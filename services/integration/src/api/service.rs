//! The tonic `IntegrationService`: authorise, convert, call one use case, convert back.

use prost::Message;
use souk_core::access::Permission;
use souk_proto::integration as pb;
use souk_proto::integration::integration_service_server::IntegrationService;
use souk_service::{authenticated, authorize, idempotency, reply};
use tonic::{Request, Response, Status};

use super::convert;
use crate::domain::template::TemplateOptions;
use crate::domain::{ApiKey, Integration, Integrations, IssuedKey, NewOrganization};
use crate::proto;

/// The gRPC adapter of the integration service.
#[derive(Debug, Clone)]
pub struct IntegrationApi {
    integrations: Integrations,
}

impl IntegrationApi {
    /// The adapter over the use cases.
    pub fn new(integrations: Integrations) -> Self {
        Self { integrations }
    }
}

/// The RPC's name for its idempotency records.
macro_rules! rpc {
    ($method:literal) => {
        concat!("souk.integration.v1.IntegrationService/", $method)
    };
}

fn integration_reply<M>(build: fn(Option<pb::Integration>) -> M) -> impl Fn(&Integration) -> M {
    move |integration| build(Some(proto::integration(integration)))
}

/// The response of a new organisation or key: the secret only in the live reply, never in the
/// remembered one.
fn organization_reply(
    created: &NewOrganization,
    with_secret: bool,
) -> pb::CreateOrganizationResponse {
    pb::CreateOrganizationResponse {
        organization: Some(proto::organization(&created.organization)),
        api_key: Some(proto::api_key(&created.first_key.key)),
        api_key_secret: secret(&created.first_key, with_secret),
    }
}

fn api_key_reply(issued: &IssuedKey, with_secret: bool) -> pb::CreateApiKeyResponse {
    pb::CreateApiKeyResponse {
        api_key: Some(proto::api_key(&issued.key)),
        secret: secret(issued, with_secret),
    }
}

fn secret(issued: &IssuedKey, shown: bool) -> String {
    if shown {
        issued.secret.expose().to_owned()
    } else {
        String::new()
    }
}

fn verification_reply(integration: &Integration) -> pb::VerifyIntegrationResponse {
    pb::VerifyIntegrationResponse {
        report: integration.last_verification.as_ref().map(proto::report),
        integration: Some(proto::integration(integration)),
    }
}

fn revoke_reply(key: &ApiKey) -> pb::RevokeApiKeyResponse {
    pb::RevokeApiKeyResponse {
        api_key: Some(proto::api_key(key)),
    }
}

#[tonic::async_trait]
impl IntegrationService for IntegrationApi {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::CreateOrganizationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Admin)?;
        let name = convert::create_organization(&req)?;
        let idem = idempotency(rpc!("CreateOrganization"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .integrations
            .create_organization(&caller, name, idem, |created| {
                organization_reply(created, false).encode_to_vec()
            })
            .await?;
        reply(outcome, |created| organization_reply(&created, true))
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        // Any key may read its own organisation; which others it may read is the domain's rule.
        let (caller, req) = authenticated(request)?;
        let id = convert::organization_id(&req.organization_id)?;
        let organization = self.integrations.get_organization(&caller, id).await?;
        Ok(Response::new(pb::GetOrganizationResponse {
            organization: Some(proto::organization(&organization)),
        }))
    }

    async fn create_integration(
        &self,
        request: Request<pb::CreateIntegrationRequest>,
    ) -> Result<Response<pb::CreateIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let input = convert::create_integration(&req)?;
        let idem = idempotency(rpc!("CreateIntegration"), &req, |r| &mut r.idempotency_key);
        let build = integration_reply(|integration| pb::CreateIntegrationResponse { integration });
        let outcome = self
            .integrations
            .create_integration(&caller, input, idem, |i| build(i).encode_to_vec())
            .await?;
        reply(outcome, |i| build(&i))
    }

    async fn get_integration(
        &self,
        request: Request<pb::GetIntegrationRequest>,
    ) -> Result<Response<pb::GetIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::integration_id(&req.integration_id)?;
        let integration = self.integrations.get_integration(&caller, &id).await?;
        Ok(Response::new(pb::GetIntegrationResponse {
            integration: Some(proto::integration(&integration)),
        }))
    }

    async fn list_integrations(
        &self,
        request: Request<pb::ListIntegrationsRequest>,
    ) -> Result<Response<pb::ListIntegrationsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let page = convert::page(
            rpc!("ListIntegrations"),
            &caller,
            req.page_size,
            &req.page_token,
        )?;
        let page = self.integrations.list_integrations(&caller, &page).await?;
        Ok(Response::new(pb::ListIntegrationsResponse {
            integrations: page.items.iter().map(proto::integration).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_integration(
        &self,
        request: Request<pb::UpdateIntegrationRequest>,
    ) -> Result<Response<pb::UpdateIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (id, patch) = convert::update_integration(&req)?;
        let idem = idempotency(rpc!("UpdateIntegration"), &req, |r| &mut r.idempotency_key);
        let build = integration_reply(|integration| pb::UpdateIntegrationResponse { integration });
        let outcome = self
            .integrations
            .update_integration(&caller, &id, patch, idem, |i| build(i).encode_to_vec())
            .await?;
        reply(outcome, |i| build(&i))
    }

    async fn verify_integration(
        &self,
        request: Request<pb::VerifyIntegrationRequest>,
    ) -> Result<Response<pb::VerifyIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let id = convert::integration_target(&req.integration_id, &req.idempotency_key)?;
        let idem = idempotency(rpc!("VerifyIntegration"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .integrations
            .verify_integration(&caller, &id, idem, |i| {
                verification_reply(i).encode_to_vec()
            })
            .await?;
        reply(outcome, |i| verification_reply(&i))
    }

    async fn delete_integration(
        &self,
        request: Request<pb::DeleteIntegrationRequest>,
    ) -> Result<Response<pb::DeleteIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let id = convert::integration_target(&req.integration_id, &req.idempotency_key)?;
        let idem = idempotency(rpc!("DeleteIntegration"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .integrations
            .delete_integration(&caller, &id, idem, |_| {
                pb::DeleteIntegrationResponse {}.encode_to_vec()
            })
            .await?;
        reply(outcome, |_| pb::DeleteIntegrationResponse {})
    }

    async fn get_onboarding_template(
        &self,
        request: Request<pb::GetOnboardingTemplateRequest>,
    ) -> Result<Response<pb::GetOnboardingTemplateResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::onboarding_template(&req)?;
        let options = TemplateOptions {
            include_notifications: req.include_notifications,
            include_data_feed: req.include_data_feed,
        };
        let rendered = self
            .integrations
            .onboarding_template(&caller, &id, options)
            .await?;
        Ok(Response::new(pb::GetOnboardingTemplateResponse {
            template_body: rendered.body,
            stack_name_hint: rendered.stack_name_hint,
            launch_hint: rendered.launch_hint,
        }))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let input = convert::create_api_key(&req, self.integrations.now())?;
        let idem = idempotency(rpc!("CreateApiKey"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .integrations
            .create_api_key(&caller, input, idem, |issued| {
                api_key_reply(issued, false).encode_to_vec()
            })
            .await?;
        reply(outcome, |issued| api_key_reply(&issued, true))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let page = convert::page(rpc!("ListApiKeys"), &caller, req.page_size, &req.page_token)?;
        let page = self.integrations.list_api_keys(&caller, &page).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: page.items.iter().map(proto::api_key).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let id = convert::id_and_key("api_key_id", "key", &req.api_key_id, &req.idempotency_key)?;
        let idem = idempotency(rpc!("RevokeApiKey"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .integrations
            .revoke_api_key(&caller, &id, idem, |key| revoke_reply(key).encode_to_vec())
            .await?;
        reply(outcome, |key| revoke_reply(&key))
    }
}
