//! The [`Catalog`] port on the official AWS SDKs (`aws-sdk-marketplacecatalog`,
//! `aws-sdk-marketplaceagreement`), acting as each offer's integration role (STS AssumeRole
//! with its ExternalId, through `souk_auth::RoleAssumer`; every call goes to the emulator when
//! an endpoint override is configured). Each call is one attempt bounded by a timeout: the
//! tracker retries with its own backoff.

mod convert;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_marketplacecatalog::config::retry::RetryConfig;
use aws_sdk_marketplacecatalog::config::timeout::TimeoutConfig;
use aws_sdk_marketplacecatalog::types::{
    EntityTypeFilters, OfferFilters, OfferResaleAuthorizationIdFilter,
};
use souk_auth::{AwsClients, AwsError, IntegrationRole, RoleAssumer};
use souk_core::Id;

use crate::domain::ports::{Acting, CallError, Catalog, ChangeSetRequest, ChangeSetStatus};

/// The catalog every call names.
pub const CATALOG: &str = "AWSMarketplace";
/// Time limit of one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The integrations' AWS roles, as the integration service knows them.
#[async_trait]
pub trait IntegrationRoles: Send + Sync + 'static {
    /// The role of integration `integration_id` of `organization_id`; `None` when the
    /// integration does not exist or has no role yet. An error is a failure to find out.
    async fn role(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<IntegrationRole>, String>;
}

/// The Catalog and Agreement APIs through the integrations' roles.
#[derive(Clone)]
pub struct AwsCatalog {
    assumer: RoleAssumer,
    roles: Arc<dyn IntegrationRoles>,
    timeout: Duration,
}

impl fmt::Debug for AwsCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCatalog")
            .field("assumer", &self.assumer)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AwsCatalog {
    /// Calls AWS through `assumer` as the roles `roles` names.
    pub fn new(assumer: RoleAssumer, roles: Arc<dyn IntegrationRoles>) -> Self {
        Self {
            assumer,
            roles,
            timeout: CALL_TIMEOUT,
        }
    }

    async fn clients(&self, acting: &Acting) -> Result<Arc<AwsClients>, CallError> {
        let role = match self
            .roles
            .role(&acting.organization_id, &acting.integration_id)
            .await
        {
            Ok(Some(role)) if !role.role_arn.is_empty() => role,
            Ok(_) => {
                return Err(CallError::Refused {
                    code: "NoRole".into(),
                    message: format!(
                        "integration {} has no AWS role (set its role_arn)",
                        acting.integration_id
                    ),
                });
            }
            Err(error) => {
                return Err(CallError::Retry(format!(
                    "the role of integration {} is unknown: {error}",
                    acting.integration_id
                )));
            }
        };
        self.assumer
            .clients(&role)
            .await
            .map_err(|error| match error {
                AwsError::Unreachable { message } => CallError::Retry(message),
                denied => CallError::Refused {
                    code: "AssumeRoleFailed".into(),
                    message: format!("assuming the integration's role: {denied}"),
                },
            })
    }

    fn config(&self) -> aws_sdk_marketplacecatalog::config::Builder {
        let options = self.assumer.options();
        aws_sdk_marketplacecatalog::Config::builder()
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(options.connect_timeout)
                    .operation_attempt_timeout(self.timeout)
                    .operation_timeout(self.timeout)
                    .build(),
            )
            .retry_config(RetryConfig::disabled())
    }

    /// The ids of every entity of `entity_type` the integration's seller account owns.
    async fn list_entity_ids(
        &self,
        acting: &Acting,
        entity_type: &str,
        filters: Option<EntityTypeFilters>,
    ) -> Result<Vec<String>, CallError> {
        let clients = self.clients(acting).await?;
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        // Bounded: 200 pages of 50 entities.
        for _ in 0..200 {
            let output = clients
                .catalog
                .list_entities()
                .catalog(CATALOG)
                .entity_type(entity_type)
                .set_entity_type_filters(filters.clone())
                .max_results(50)
                .set_next_token(token.take())
                .customize()
                .config_override(self.config())
                .send()
                .await
                .map_err(|e| convert::call_error(&e))?;
            ids.extend(
                output
                    .entity_summary_list()
                    .iter()
                    .filter_map(|e| e.entity_id().map(str::to_owned)),
            );
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(ids)
    }
}

#[async_trait]
impl Catalog for AwsCatalog {
    async fn start_change_set(
        &self,
        acting: &Acting,
        request: &ChangeSetRequest,
    ) -> Result<String, CallError> {
        let changes = request
            .changes
            .iter()
            .map(convert::change)
            .collect::<Result<Vec<_>, _>>()?;
        let clients = self.clients(acting).await?;
        let output = clients
            .catalog
            .start_change_set()
            .catalog(CATALOG)
            .change_set_name(request.name.clone())
            .client_request_token(request.client_request_token.clone())
            .set_change_set(Some(changes))
            .customize()
            .config_override(self.config())
            .send()
            .await
            .map_err(|e| convert::call_error(&e))?;
        output
            .change_set_id()
            .map(str::to_owned)
            .ok_or_else(|| CallError::Retry("StartChangeSet answered no ChangeSetId".into()))
    }

    async fn describe_change_set(
        &self,
        acting: &Acting,
        change_set_id: &str,
    ) -> Result<ChangeSetStatus, CallError> {
        let clients = self.clients(acting).await?;
        let output = clients
            .catalog
            .describe_change_set()
            .catalog(CATALOG)
            .change_set_id(change_set_id)
            .customize()
            .config_override(self.config())
            .send()
            .await
            .map_err(|e| convert::call_error(&e))?;
        Ok(convert::status(&output))
    }

    async fn list_offer_ids(&self, acting: &Acting) -> Result<Vec<String>, CallError> {
        self.list_entity_ids(acting, "Offer", None).await
    }

    async fn list_resale_authorization_ids(
        &self,
        acting: &Acting,
    ) -> Result<Vec<String>, CallError> {
        self.list_entity_ids(acting, "ResaleAuthorization", None)
            .await
    }

    async fn count_offers_from(
        &self,
        acting: &Acting,
        resale_authorization_id: &str,
    ) -> Result<u32, CallError> {
        let filter = OfferFilters::builder()
            .resale_authorization_id(
                OfferResaleAuthorizationIdFilter::builder()
                    .value_list(resale_authorization_id)
                    .build(),
            )
            .build();
        let ids = self
            .list_entity_ids(
                acting,
                "Offer",
                Some(EntityTypeFilters::OfferFilters(filter)),
            )
            .await?;
        Ok(u32::try_from(ids.len()).unwrap_or(u32::MAX))
    }

    async fn describe_offer(
        &self,
        acting: &Acting,
        aws_offer_id: &str,
    ) -> Result<serde_json::Value, CallError> {
        let clients = self.clients(acting).await?;
        let output = clients
            .catalog
            .describe_entity()
            .catalog(CATALOG)
            .entity_id(aws_offer_id)
            .customize()
            .config_override(self.config())
            .send()
            .await
            .map_err(|e| convert::call_error(&e))?;
        let details = output.details().unwrap_or("{}");
        serde_json::from_str(details).map_err(|e| CallError::Refused {
            code: "UnreadableDetails".into(),
            message: format!("the DetailsDocument of {aws_offer_id} is not JSON: {e}"),
        })
    }

    async fn product_type(&self, acting: &Acting, product_id: &str) -> Result<String, CallError> {
        let clients = self.clients(acting).await?;
        let output = clients
            .catalog
            .describe_entity()
            .catalog(CATALOG)
            .entity_id(product_id)
            .customize()
            .config_override(self.config())
            .send()
            .await
            .map_err(|e| convert::call_error(&e))?;
        Ok(output.entity_type().unwrap_or_default().to_owned())
    }

    async fn agreement_of_offer(
        &self,
        acting: &Acting,
        aws_offer_id: &str,
    ) -> Result<Option<String>, CallError> {
        use aws_sdk_marketplaceagreement::types::Filter;
        let clients = self.clients(acting).await?;
        let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
        let output = clients
            .agreement
            .search_agreements()
            .catalog(CATALOG)
            .filters(filter("PartyType", "Proposer"))
            .filters(filter("AgreementType", "PurchaseAgreement"))
            .filters(filter("OfferId", aws_offer_id))
            .customize()
            .config_override(
                aws_sdk_marketplaceagreement::Config::builder()
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_attempt_timeout(self.timeout)
                            .operation_timeout(self.timeout)
                            .build(),
                    )
                    .retry_config(
                        aws_sdk_marketplaceagreement::config::retry::RetryConfig::disabled(),
                    ),
            )
            .send()
            .await
            .map_err(|e| convert::call_error(&e))?;
        // The first agreement made from the offer is its acceptance.
        Ok(output
            .agreement_view_summaries()
            .iter()
            .filter_map(|a| a.agreement_id())
            .min()
            .map(str::to_owned))
    }
}
