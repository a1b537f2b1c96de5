//! The tonic `IntegrationService`: authorise, convert, delegate, convert back.

use std::sync::Arc;

use prost::Message;
use souk_auth::{Caller, KeyRevocations, Permission, RoleAssumer, Scope};
use souk_core::{Id, SharedClock};
use souk_proto::integration as pb;
use souk_proto::integration::integration_service_server::IntegrationService;
use souk_store::idempotency;
use tonic::{Request, Response, Status};

use super::convert;
use crate::config::IntegrationConfig;
use crate::domain::template::{self, TemplateOptions};
use crate::domain::verify::Verifier;
use crate::domain::{ApiKey, Error, Integration, NewApiKey, Organization, may_grant};
use crate::store::{Idem, IntegrationStore, Outcome};

/// The gRPC adapter of the integration service.
#[derive(Clone)]
pub struct IntegrationGrpc {
    store: IntegrationStore,
    verifier: Arc<dyn Verifier>,
    assumer: Option<RoleAssumer>,
    revocations: KeyRevocations,
    config: IntegrationConfig,
    clock: SharedClock,
}

impl std::fmt::Debug for IntegrationGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationGrpc")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl IntegrationGrpc {
    /// The adapter over its collaborators.
    pub fn new(
        store: IntegrationStore,
        verifier: Arc<dyn Verifier>,
        assumer: Option<RoleAssumer>,
        revocations: KeyRevocations,
        config: IntegrationConfig,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            verifier,
            assumer,
            revocations,
            config,
            clock,
        }
    }

    /// Integration `id` of the caller's organisation; NOT_FOUND when it has none by that id.
    async fn integration(&self, caller: &Caller, id: &Id) -> Result<Integration, Status> {
        self.store
            .get_integration(&caller.organization_id, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("integration {id}")).into())
    }
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    souk_auth::caller(request).cloned()
}

/// The preamble of every RPC but GetOrganization: the caller, refused unless it holds
/// `permission`, and the request message.
fn authorize<T>(request: Request<T>, permission: Permission) -> Result<(Caller, T), Status> {
    let caller = caller(&request)?;
    caller
        .require(permission)
        .map_err(|e| Status::from(Error::PermissionDenied(e.message)))?;
    Ok((caller, request.into_inner()))
}

/// The idempotency of a request to `rpc`: `None` without a key; the hash covers the request
/// without it. `key` names the request's idempotency key field.
fn idem<M: Message + Clone>(
    rpc: &'static str,
    request: &M,
    key: impl FnOnce(&mut M) -> &mut String,
) -> Option<Idem> {
    let mut hashed = request.clone();
    let key = std::mem::take(key(&mut hashed));
    if key.is_empty() {
        return None;
    }
    Some(Idem {
        scope: rpc,
        key,
        request_hash: idempotency::request_hash(&hashed.encode_to_vec()),
    })
}

fn replayed<M: Message + Default>(bytes: &[u8]) -> Result<Response<M>, Status> {
    M::decode(bytes).map(Response::new).map_err(|e| {
        Status::from(Error::Internal(format!(
            "stored idempotent response is unreadable: {e}"
        )))
    })
}

#[tonic::async_trait]
impl IntegrationService for IntegrationGrpc {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::CreateOrganizationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Admin)?;
        let name = convert::create_organization(&req)?;
        let idem = idem(
            "souk.integration.v1.IntegrationService/CreateOrganization",
            &req,
            |r| &mut r.idempotency_key,
        );
        let now = self.clock.now();
        let organization = Organization::new(name, now);
        let (key, secret) = NewApiKey {
            name: "initial key".into(),
            scopes: vec![Scope::Full],
            expires_at: None,
        }
        .issue(organization.id.clone(), now);
        let mut response = pb::CreateOrganizationResponse {
            organization: Some(convert::organization(&organization)),
            api_key: Some(convert::api_key(&key)),
            api_key_secret: String::new(),
        };
        let stored = response.encode_to_vec();
        match self
            .store
            .create_organization(
                &caller.organization_id,
                &organization,
                &key,
                &secret.hash(),
                idem.as_ref(),
                || stored,
            )
            .await?
        {
            Outcome::Replayed(bytes) => replayed(&bytes),
            Outcome::Done(()) => {
                tracing::info!(organization_id = %organization.id, by = %caller.organization_id, "organization created");
                response.api_key_secret = secret.expose().to_owned();
                Ok(Response::new(response))
            }
        }
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let caller = caller(&request)?;
        let id = convert::organization_id(&request.get_ref().organization_id)?;
        let id = match id {
            None => caller.organization_id.clone(),
            Some(id) if id == caller.organization_id || caller.has(Permission::Admin) => id,
            Some(id) => return Err(Error::NotFound(format!("organization {id}")).into()),
        };
        let organization = self
            .store
            .get_organization(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("organization {id}")))?;
        Ok(Response::new(pb::GetOrganizationResponse {
            organization: Some(convert::organization(&organization)),
        }))
    }

    async fn create_integration(
        &self,
        request: Request<pb::CreateIntegrationRequest>,
    ) -> Result<Response<pb::CreateIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let input = convert::create_integration(&req)?;
        let idem = idem(
            "souk.integration.v1.IntegrationService/CreateIntegration",
            &req,
            |r| &mut r.idempotency_key,
        );
        let integration = input.into_integration(
            caller.organization_id.clone(),
            souk_auth::generate_external_id(),
            self.clock.now(),
        );
        let response = pb::CreateIntegrationResponse {
            integration: Some(convert::integration(&integration)),
        };
        match self
            .store
            .create_integration(&integration, idem.as_ref(), || response.encode_to_vec())
            .await?
        {
            Outcome::Replayed(bytes) => replayed(&bytes),
            Outcome::Done(()) => {
                tracing::info!(organization_id = %integration.organization_id, integration_id = %integration.id, "integration created");
                Ok(Response::new(response))
            }
        }
    }

    async fn get_integration(
        &self,
        request: Request<pb::GetIntegrationRequest>,
    ) -> Result<Response<pb::GetIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::integration_id(&req.integration_id)?;
        let integration = self.integration(&caller, &id).await?;
        Ok(Response::new(pb::GetIntegrationResponse {
            integration: Some(convert::integration(&integration)),
        }))
    }

    async fn list_integrations(
        &self,
        request: Request<pb::ListIntegrationsRequest>,
    ) -> Result<Response<pb::ListIntegrationsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let page = convert::page(req.page_size, &req.page_token)?;
        let page = self
            .store
            .list_integrations(&caller.organization_id, &page)
            .await?;
        Ok(Response::new(pb::ListIntegrationsResponse {
            integrations: page.items.iter().map(convert::integration).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_integration(
        &self,
        request: Request<pb::UpdateIntegrationRequest>,
    ) -> Result<Response<pb::UpdateIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (id, patch) = convert::update_integration(&req)?;
        let idem = idem(
            "souk.integration.v1.IntegrationService/UpdateIntegration",
            &req,
            |r| &mut r.idempotency_key,
        );
        let encode = |i: &Integration| {
            pb::UpdateIntegrationResponse {
                integration: Some(convert::integration(i)),
            }
            .encode_to_vec()
        };
        let before = self
            .store
            .get_integration(&caller.organization_id, &id)
            .await?;
        match self
            .store
            .update_integration(&caller.organization_id, &id, patch, idem.as_ref(), encode)
            .await?
        {
            Outcome::Replayed(bytes) => replayed(&bytes),
            Outcome::Done((integration, access_changed)) => {
                if access_changed
                    && let (Some(assumer), Some(role)) =
                        (&self.assumer, before.as_ref().and_then(|b| b.role()))
                {
                    assumer.forget(&role);
                }
                Ok(Response::new(pb::UpdateIntegrationResponse {
                    integration: Some(convert::integration(&integration)),
                }))
            }
        }
    }

    async fn verify_integration(
        &self,
        request: Request<pb::VerifyIntegrationRequest>,
    ) -> Result<Response<pb::VerifyIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let id = convert::id_and_key(
            "integration_id",
            "int",
            &req.integration_id,
            &req.idempotency_key,
        )?;
        let idem = idem(
            "souk.integration.v1.IntegrationService/VerifyIntegration",
            &req,
            |r| &mut r.idempotency_key,
        );
        if let Some(idem) = &idem
            && let Some(bytes) = self.store.replay(&caller.organization_id, idem).await?
        {
            return replayed(&bytes);
        }
        let integration = self.integration(&caller, &id).await?;
        if integration.role_arn.is_empty() {
            return Err(Error::FailedPrecondition(
                "the integration has no role_arn yet: deploy the onboarding template and set role_arn \
                 (the stack's RoleArn output) with UpdateIntegration"
                    .into(),
            )
            .into());
        }
        let report = self.verifier.verify(&integration).await;
        let encode = |i: &Integration| {
            pb::VerifyIntegrationResponse {
                report: i.last_verification.as_ref().map(convert::report),
                integration: Some(convert::integration(i)),
            }
            .encode_to_vec()
        };
        match self
            .store
            .record_verification(
                &caller.organization_id,
                &id,
                &integration.role_arn,
                report,
                idem.as_ref(),
                encode,
            )
            .await?
        {
            Outcome::Replayed(bytes) => replayed(&bytes),
            Outcome::Done(integration) => {
                tracing::info!(
                    organization_id = %integration.organization_id,
                    integration_id = %integration.id,
                    state = integration.state.as_str(),
                    "integration verified"
                );
                Ok(Response::new(pb::VerifyIntegrationResponse {
                    report: integration.last_verification.as_ref().map(convert::report),
                    integration: Some(convert::integration(&integration)),
                }))
            }
        }
    }

    async fn delete_integration(
        &self,
        request: Request<pb::DeleteIntegrationRequest>,
    ) -> Result<Response<pb::DeleteIntegrationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let id = convert::id_and_key(
            "integration_id",
            "int",
            &req.integration_id,
            &req.idempotency_key,
        )?;
        let idem = idem(
            "souk.integration.v1.IntegrationService/DeleteIntegration",
            &req,
            |r| &mut r.idempotency_key,
        );
        let response = pb::DeleteIntegrationResponse {};
        match self
            .store
            .delete_integration(&caller.organization_id, &id, idem.as_ref(), || {
                response.encode_to_vec()
            })
            .await?
        {
            Outcome::Replayed(bytes) => replayed(&bytes),
            Outcome::Done(integration) => {
                if let (Some(assumer), Some(role)) = (&self.assumer, integration.role()) {
                    assumer.forget(&role);
                }
                tracing::info!(organization_id = %integration.organization_id, integration_id = %integration.id, "integration deleted");
                Ok(Response::new(response))
            }
        }
    }

    async fn get_onboarding_template(
        &self,
        request: Request<pb::GetOnboardingTemplateRequest>,
    ) -> Result<Response<pb::GetOnboardingTemplateResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::onboarding_template(&req)?;
        let integration = self.integration(&caller, &id).await?;
        let settings = self.config.template_settings().ok_or_else(|| {
            Error::FailedPrecondition(
                "this Souk server has no souk_principal_arn configured, so it cannot say which AWS principal \
                 the role must trust; set the integration service's souk_principal_arn setting and retry"
                    .into(),
            )
        })?;
        let options = TemplateOptions {
            include_notifications: req.include_notifications,
            include_data_feed: req.include_data_feed,
        };
        let rendered = template::render(&integration, options, &settings);
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
        let now = self.clock.now();
        let input = convert::create_api_key(&req, now)?;
        if let Some(scope) = input
            .scopes
            .iter()
            .find(|s| !may_grant(&caller.scopes, **s))
        {
            return Err(Error::PermissionDenied(format!(
                "this api key cannot grant scope {scope}"
            ))
            .into());
        }
        let idem = idem(
            "souk.integration.v1.IntegrationService/CreateApiKey",
            &req,
            |r| &mut r.idempotency_key,
        );
        let (key, secret) = input.issue(caller.organization_id.clone(), now);
        let mut response = pb::CreateApiKeyResponse {
            api_key: Some(convert::api_key(&key)),
            secret: String::new(),
        };
        let stored = response.encode_to_vec();
        match self
            .store
            .create_api_key(&key, &secret.hash(), idem.as_ref(), || stored)
            .await?
        {
            Outcome::Replayed(bytes) => replayed(&bytes),
            Outcome::Done(()) => {
                tracing::info!(organization_id = %key.organization_id, key_id = %key.id, "api key created");
                response.secret = secret.expose().to_owned();
                Ok(Response::new(response))
            }
        }
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let page = convert::page(req.page_size, &req.page_token)?;
        let page = self
            .store
            .list_api_keys(&caller.organization_id, &page)
            .await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: page.items.iter().map(convert::api_key).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let id = convert::id_and_key("api_key_id", "key", &req.api_key_id, &req.idempotency_key)?;
        let idem = idem(
            "souk.integration.v1.IntegrationService/RevokeApiKey",
            &req,
            |r| &mut r.idempotency_key,
        );
        let Some(target) = self.store.get_api_key(&caller.organization_id, &id).await? else {
            return Err(Error::NotFound(format!("api key {id}")).into());
        };
        if let Some(scope) = target
            .scopes
            .iter()
            .find(|s| !may_grant(&caller.scopes, **s))
        {
            return Err(Error::PermissionDenied(format!(
                "this api key cannot revoke a key with scope {scope}"
            ))
            .into());
        }
        let encode = |k: &ApiKey| {
            pb::RevokeApiKeyResponse {
                api_key: Some(convert::api_key(k)),
            }
            .encode_to_vec()
        };
        match self
            .store
            .revoke_api_key(&caller.organization_id, &id, idem.as_ref(), encode)
            .await?
        {
            Outcome::Replayed(bytes) => replayed(&bytes),
            Outcome::Done(key) => {
                self.revocations.revoked(&key.id);
                tracing::info!(organization_id = %key.organization_id, key_id = %key.id, "api key revoked");
                Ok(Response::new(pb::RevokeApiKeyResponse {
                    api_key: Some(convert::api_key(&key)),
                }))
            }
        }
    }
}
