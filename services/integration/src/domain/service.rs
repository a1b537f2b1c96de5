//! The integration service's use cases: each loads what it needs, applies the rules of
//! `model`, writes, and emits its event in one transaction of the [`Store`] port.
//!
//! Mutations take the request's idempotency and an `encode` of the response to remember: a
//! retry gets [`Outcome::Replayed`] with the first call's response, whatever changed since.

use std::sync::Arc;

use souk_core::access::{Caller, Permission, Scope, generate_external_id};
use souk_core::{Id, Idempotency, Outcome, Page, PageRequest, SharedClock};
use time::OffsetDateTime;
use tracing::instrument;

use super::error::Error;
use super::event::IntegrationEvent;
use super::model::{
    ApiKey, Integration, IntegrationPatch, IssuedKey, Licensing, NewApiKey, NewIntegration,
    NewOrganization, Notifications, Organization, Product, ProductType, may_grant,
};
use super::ports::{Begun, Revocations, Store, Transaction, Verifier};
use super::template::{self, RenderedTemplate, TemplateOptions, TemplateSettings};

/// The demo seller integration `souk dev --emulate-aws` keeps in the first organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoIntegration {
    /// Integration name, unique in the organisation.
    pub name: String,
    /// The demo seller role (in the emulator).
    pub role_arn: String,
    /// Region.
    pub region: String,
    /// The demo SaaS product code.
    pub product_code: String,
    /// The demo product's Catalog id.
    pub product_id: Option<String>,
    /// The SQS queue the demo product's notifications reach.
    pub sqs_queue_url: Option<String>,
}

/// The use cases, over their ports.
#[derive(Clone)]
pub struct Integrations {
    store: Arc<dyn Store>,
    verifier: Arc<dyn Verifier>,
    revocations: Arc<dyn Revocations>,
    clock: SharedClock,
    templates: Option<TemplateSettings>,
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations").finish_non_exhaustive()
    }
}

/// Starts a write; a replay ends the use case at once with the stored response.
macro_rules! begin {
    ($store:expr, $org:expr, $idem:expr) => {
        match $store.begin($org, $idem.as_ref()).await? {
            Begun::Fresh(tx) => tx,
            Begun::Replayed(bytes) => return Ok(Outcome::Replayed(bytes)),
        }
    };
}

/// Commits `tx`, remembering `encode(&value)` for an idempotent request.
async fn commit<T>(
    tx: Box<dyn Transaction>,
    value: T,
    encode: impl FnOnce(&T) -> Vec<u8>,
) -> Result<Outcome<T>, Error> {
    let response = if tx.remembers_response() {
        encode(&value)
    } else {
        Vec::new()
    };
    tx.commit(response).await?;
    Ok(Outcome::Done(value))
}

impl Integrations {
    /// The use cases over `store`, `verifier` and `revocations`, timed by `clock`; `templates`
    /// is `None` while no trusted principal is configured.
    pub fn new(
        store: Arc<dyn Store>,
        verifier: Arc<dyn Verifier>,
        revocations: Arc<dyn Revocations>,
        clock: SharedClock,
        templates: Option<TemplateSettings>,
    ) -> Self {
        Self {
            store,
            verifier,
            revocations,
            clock,
            templates,
        }
    }

    /// The current instant of the service's clock (input checks judge expiry against it).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    // ----- organisations -----

    /// Creates organisation `name` with a FULL key (admins only; checked by the caller's
    /// permission). The idempotency record belongs to the caller's organisation.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id))]
    pub async fn create_organization(
        &self,
        caller: &Caller,
        name: String,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&NewOrganization) -> Vec<u8>,
    ) -> Result<Outcome<NewOrganization>, Error> {
        let mut tx = begin!(self.store, &caller.organization_id, idempotency);
        let now = self.clock.now();
        let organization = Organization::new(name, now);
        tx.insert_organization(&organization).await?;
        let first_key = insert_key(
            &mut tx,
            &organization.id,
            NewApiKey {
                name: "initial key".into(),
                scopes: vec![Scope::Full],
                expires_at: None,
            },
            now,
        )
        .await?;
        let created = NewOrganization {
            organization,
            first_key,
        };
        let outcome = commit(tx, created, encode).await?;
        if let Outcome::Done(created) = &outcome {
            tracing::info!(new_organization_id = %created.organization.id, "organization created");
        }
        Ok(outcome)
    }

    /// The caller's organisation (`id` `None`), or organisation `id` if it is the caller's or
    /// the caller is an admin; NOT_FOUND otherwise.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id))]
    pub async fn get_organization(
        &self,
        caller: &Caller,
        id: Option<Id>,
    ) -> Result<Organization, Error> {
        let id = match id {
            None => caller.organization_id.clone(),
            Some(id) if id == caller.organization_id || caller.has(Permission::Admin) => id,
            Some(id) => return Err(Error::NotFound(format!("organization {id}"))),
        };
        self.store
            .get_organization(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("organization {id}")))
    }

    /// Whether any organisation exists (a fresh deployment has none until bootstrapped).
    pub async fn has_organizations(&self) -> Result<bool, Error> {
        self.store.has_organizations().await
    }

    /// On first start: creates organisation `name` with an ADMIN key if no organisation exists;
    /// `None` when one exists already (also when another replica won the race).
    #[instrument(skip(self))]
    pub async fn bootstrap_first_organization(
        &self,
        name: &str,
    ) -> Result<Option<NewOrganization>, Error> {
        super::validate::name(name).map_err(|reason| Error::invalid("name", reason))?;
        if self.store.has_organizations().await? {
            return Ok(None);
        }
        let now = self.clock.now();
        let organization = Organization::new(name.to_owned(), now);
        let mut tx = match self.store.begin(&organization.id, None).await? {
            Begun::Fresh(tx) => tx,
            Begun::Replayed(_) => return Ok(None),
        };
        tx.lock_bootstrap().await?;
        if tx.has_organizations().await? {
            return Ok(None);
        }
        tx.insert_organization(&organization).await?;
        let first_key = insert_key(
            &mut tx,
            &organization.id,
            NewApiKey {
                name: "bootstrap admin key".into(),
                scopes: vec![Scope::Admin],
                expires_at: None,
            },
            now,
        )
        .await?;
        tx.commit(Vec::new()).await?;
        tracing::info!(organization_id = %organization.id, "created the first organization with an admin api key");
        Ok(Some(NewOrganization {
            organization,
            first_key,
        }))
    }

    // ----- integrations -----

    /// Creates an integration with a fresh ExternalId.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, integration_id))]
    pub async fn create_integration(
        &self,
        caller: &Caller,
        input: NewIntegration,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&Integration) -> Vec<u8>,
    ) -> Result<Outcome<Integration>, Error> {
        let mut tx = begin!(self.store, &caller.organization_id, idempotency);
        let integration = input.into_integration(
            caller.organization_id.clone(),
            generate_external_id(),
            self.clock.now(),
        );
        tracing::Span::current().record("integration_id", integration.id.as_str());
        check_partition(&integration)?;
        tx.insert_integration(&integration).await?;
        tx.emit(IntegrationEvent::Created(integration.clone()))?;
        let outcome = commit(tx, integration, encode).await?;
        if matches!(outcome, Outcome::Done(_)) {
            tracing::info!("integration created");
        }
        Ok(outcome)
    }

    /// Integration `id`, of `organization_id` when given (another tenant's is `None`), for
    /// other services of the same deployment.
    pub async fn integration_for_service(
        &self,
        organization_id: Option<&Id>,
        id: &Id,
    ) -> Result<Option<Integration>, Error> {
        match organization_id {
            Some(org) => self.store.get_integration(org, id).await,
            None => self.store.find_integration(id).await,
        }
    }

    /// Every integration of every organisation, for other services' background work.
    pub async fn all_integrations(&self) -> Result<Vec<Integration>, Error> {
        self.store.all_integrations().await
    }

    /// Integration `id` of the caller's organisation.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, integration_id = %id))]
    pub async fn get_integration(&self, caller: &Caller, id: &Id) -> Result<Integration, Error> {
        self.store
            .get_integration(&caller.organization_id, id)
            .await?
            .ok_or_else(|| integration_not_found(id))
    }

    /// One page of the caller's integrations, oldest first.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id))]
    pub async fn list_integrations(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Page<Integration>, Error> {
        self.store
            .list_integrations(&caller.organization_id, page)
            .await
    }

    /// Applies `patch`; a changed role or region sends the integration back to verification
    /// and drops the credentials cached for the old role.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, integration_id = %id))]
    pub async fn update_integration(
        &self,
        caller: &Caller,
        id: &Id,
        patch: IntegrationPatch,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&Integration) -> Vec<u8>,
    ) -> Result<Outcome<Integration>, Error> {
        let mut tx = begin!(self.store, &caller.organization_id, idempotency);
        let mut integration = tx
            .lock_integration(&caller.organization_id, id)
            .await?
            .ok_or_else(|| integration_not_found(id))?;
        let before = integration.clone();
        let paths = patch.paths.clone();
        let access_changed = integration.apply(patch, self.clock.now());
        check_partition(&integration)?;
        tx.update_integration(&integration).await?;
        tx.emit(IntegrationEvent::Updated {
            integration: integration.clone(),
            paths,
        })?;
        let outcome = commit(tx, integration, encode).await?;
        if access_changed && matches!(outcome, Outcome::Done(_)) {
            self.verifier.forget(&before);
        }
        Ok(outcome)
    }

    /// Probes the integration's role in AWS and records the report (and the resulting state).
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, integration_id = %id))]
    pub async fn verify_integration(
        &self,
        caller: &Caller,
        id: &Id,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&Integration) -> Vec<u8>,
    ) -> Result<Outcome<Integration>, Error> {
        // A retry must not probe AWS again.
        if let Some(idem) = &idempotency
            && let Some(bytes) = self.store.replay(&caller.organization_id, idem).await?
        {
            return Ok(Outcome::Replayed(bytes));
        }
        let integration = self.get_integration(caller, id).await?;
        if integration.role_arn.is_empty() {
            return Err(Error::FailedPrecondition(
                "the integration has no role_arn yet: deploy the onboarding template and set role_arn \
                 (the stack's RoleArn output) with UpdateIntegration"
                    .into(),
            ));
        }
        let report = self.verifier.verify(&integration).await;
        let verified_role = integration.role_arn;
        let mut tx = begin!(self.store, &caller.organization_id, idempotency);
        let mut integration = tx
            .lock_integration(&caller.organization_id, id)
            .await?
            .ok_or_else(|| integration_not_found(id))?;
        if integration.role_arn != verified_role {
            return Err(Error::Aborted(
                "the integration's role changed while it was being verified; verify again".into(),
            ));
        }
        let previous = integration.state;
        integration.record_verification(report, self.clock.now());
        tx.update_integration(&integration).await?;
        tx.emit(IntegrationEvent::Verified {
            integration: integration.clone(),
            previous,
        })?;
        let outcome = commit(tx, integration, encode).await?;
        if let Outcome::Done(integration) = &outcome {
            tracing::info!(state = integration.state.as_str(), "integration verified");
        }
        Ok(outcome)
    }

    /// Deletes integration `id`; returns it as it was.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, integration_id = %id))]
    pub async fn delete_integration(
        &self,
        caller: &Caller,
        id: &Id,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&Integration) -> Vec<u8>,
    ) -> Result<Outcome<Integration>, Error> {
        let mut tx = begin!(self.store, &caller.organization_id, idempotency);
        let integration = tx
            .lock_integration(&caller.organization_id, id)
            .await?
            .ok_or_else(|| integration_not_found(id))?;
        tx.delete_integration(&integration).await?;
        tx.emit(IntegrationEvent::Deleted(integration.clone()))?;
        let outcome = commit(tx, integration, encode).await?;
        if let Outcome::Done(integration) = &outcome {
            self.verifier.forget(integration);
            tracing::info!("integration deleted");
        }
        Ok(outcome)
    }

    /// The onboarding CloudFormation template of integration `id`; FAILED_PRECONDITION while
    /// this server has no trusted principal configured.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, integration_id = %id))]
    pub async fn onboarding_template(
        &self,
        caller: &Caller,
        id: &Id,
        options: TemplateOptions,
    ) -> Result<RenderedTemplate, Error> {
        let integration = self.get_integration(caller, id).await?;
        let settings = self.templates.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this Souk server has no souk_principal_arn configured, so it cannot say which AWS principal \
                 the role must trust; set the integration service's souk_principal_arn setting and retry"
                    .into(),
            )
        })?;
        Ok(template::render(&integration, options, settings))
    }

    /// `souk dev --emulate-aws`: the integration named `demo.name` in the first organisation,
    /// created (with its event, like any other) when missing.
    #[instrument(skip(self))]
    pub async fn ensure_demo_integration(
        &self,
        demo: DemoIntegration,
    ) -> Result<Integration, Error> {
        let organization = self.store.first_organization().await?.ok_or_else(|| {
            Error::invalid(
                "organization",
                "no organisation exists yet: bootstrap one first",
            )
        })?;
        if let Some(existing) = self
            .store
            .integration_named(&organization.id, &demo.name)
            .await?
        {
            return Ok(existing);
        }
        let input = NewIntegration {
            name: demo.name,
            role_arn: demo.role_arn,
            region: demo.region,
            products: vec![Product {
                product_code: demo.product_code,
                product_id: demo.product_id,
                product_type: ProductType::Saas,
                licensing: Licensing::ProductCode,
            }],
            notifications: Notifications {
                sqs_queue_urls: demo.sqs_queue_url.into_iter().collect(),
                sns_https: true,
                eventbridge: true,
            },
            data_feed_bucket: String::new(),
        };
        let owner = Caller {
            organization_id: organization.id,
            key_id: Id::from_trusted(String::new()),
            scopes: vec![Scope::Admin],
        };
        match self
            .create_integration(&owner, input, None, |_| Vec::new())
            .await?
        {
            Outcome::Done(integration) => Ok(integration),
            Outcome::Replayed(_) => Err(Error::Internal(
                "a request without idempotency key was replayed".into(),
            )),
        }
    }

    // ----- API keys -----

    /// Issues a key; the caller may grant only scopes its own key holds (or, with FULL,
    /// READ_ONLY and METERING; with ADMIN, any).
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, key_id))]
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        input: NewApiKey,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&IssuedKey) -> Vec<u8>,
    ) -> Result<Outcome<IssuedKey>, Error> {
        if let Some(scope) = input
            .scopes
            .iter()
            .find(|s| !may_grant(&caller.scopes, **s))
        {
            return Err(Error::PermissionDenied(format!(
                "this api key cannot grant scope {scope}"
            )));
        }
        let mut tx = begin!(self.store, &caller.organization_id, idempotency);
        let issued = insert_key(&mut tx, &caller.organization_id, input, self.clock.now()).await?;
        tracing::Span::current().record("key_id", issued.key.id.as_str());
        let outcome = commit(tx, issued, encode).await?;
        if matches!(outcome, Outcome::Done(_)) {
            tracing::info!("api key created");
        }
        Ok(outcome)
    }

    /// One page of the caller's API keys, oldest first.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id))]
    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, Error> {
        self.store
            .list_api_keys(&caller.organization_id, page)
            .await
    }

    /// Revokes key `id` (keeping an earlier revoke time); the caller may revoke only keys whose
    /// scopes it could grant.
    #[instrument(skip_all, fields(organization_id = %caller.organization_id, key_id = %id))]
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        id: &Id,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&ApiKey) -> Vec<u8>,
    ) -> Result<Outcome<ApiKey>, Error> {
        let not_found = || Error::NotFound(format!("api key {id}"));
        let target = self
            .store
            .get_api_key(&caller.organization_id, id)
            .await?
            .ok_or_else(not_found)?;
        if let Some(scope) = target
            .scopes
            .iter()
            .find(|s| !may_grant(&caller.scopes, **s))
        {
            return Err(Error::PermissionDenied(format!(
                "this api key cannot revoke a key with scope {scope}"
            )));
        }
        let mut tx = begin!(self.store, &caller.organization_id, idempotency);
        let mut key = tx
            .lock_api_key(&caller.organization_id, id)
            .await?
            .ok_or_else(not_found)?;
        if key.revoked_at.is_none() {
            key.revoked_at = Some(self.clock.now());
            tx.revoke_api_key(&key).await?;
            tx.emit(IntegrationEvent::ApiKeyRevoked(key.clone()))?;
        }
        let outcome = commit(tx, key, encode).await?;
        if let Outcome::Done(key) = &outcome {
            self.revocations.revoked(&key.id);
            tracing::info!("api key revoked");
        }
        Ok(outcome)
    }
}

/// Issues a key of `organization_id` with a fresh secret and inserts it in `tx` with its event.
async fn insert_key(
    tx: &mut Box<dyn Transaction>,
    organization_id: &Id,
    input: NewApiKey,
    now: OffsetDateTime,
) -> Result<IssuedKey, Error> {
    let (key, secret) = input.issue(organization_id.clone(), now);
    tx.insert_api_key(&key, &secret.hash()).await?;
    tx.emit(IntegrationEvent::ApiKeyCreated(key.clone()))?;
    Ok(IssuedKey { key, secret })
}

/// The role must live in the partition of the integration's region (an `arn:aws-cn` role with
/// `us-east-1` can never be assumed).
fn check_partition(integration: &Integration) -> Result<(), Error> {
    if integration.role_arn.is_empty() {
        return Ok(());
    }
    super::validate::role_arn_in_region(&integration.role_arn, &integration.region)
        .map_err(|reason| Error::invalid("role_arn", reason))
}

fn integration_not_found(id: &Id) -> Error {
    Error::NotFound(format!("integration {id}"))
}
