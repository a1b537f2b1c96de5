//! The metering, offer and reporting services' view of the integrations' AWS roles (and data
//! feed buckets), answered by the integration service of the same process (every process opens
//! the integration store).

use async_trait::async_trait;
use souk_auth::IntegrationRole;
use souk_core::Id;
use souk_integration::IntegrationApp;
use souk_metering::aws::IntegrationRoles;

/// [`IntegrationRoles`] over the integration service.
#[derive(Debug, Clone)]
pub struct IntegrationRoleDirectory(pub IntegrationApp);

impl IntegrationRoleDirectory {
    /// The integration's role and data feed bucket (empty when none).
    async fn find_with_bucket(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<(IntegrationRole, String)>, String> {
        let found = self
            .0
            .integrations()
            .integration_for_service(Some(organization_id), integration_id)
            .await
            .map_err(|error| format!("reading the integrations failed: {error}"))?;
        Ok(found
            .filter(|integration| !integration.role_arn.is_empty())
            .map(|integration| {
                (
                    IntegrationRole {
                        integration_id: integration.id.to_string(),
                        role_arn: integration.role_arn,
                        external_id: integration.external_id,
                        region: integration.region,
                    },
                    integration.data_feed_bucket,
                )
            }))
    }

    async fn find(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<IntegrationRole>, String> {
        Ok(self
            .find_with_bucket(organization_id, integration_id)
            .await?
            .map(|(role, _)| role))
    }
}

#[async_trait]
impl IntegrationRoles for IntegrationRoleDirectory {
    async fn role(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<IntegrationRole>, String> {
        self.find(organization_id, integration_id).await
    }
}

#[async_trait]
impl souk_offer::aws::IntegrationRoles for IntegrationRoleDirectory {
    async fn role(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<IntegrationRole>, String> {
        self.find(organization_id, integration_id).await
    }
}

#[async_trait]
impl souk_reporting::aws::IntegrationFeeds for IntegrationRoleDirectory {
    async fn feed_source(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<souk_reporting::aws::FeedSource>, String> {
        Ok(self
            .find_with_bucket(organization_id, integration_id)
            .await?
            .map(|(role, bucket)| souk_reporting::aws::FeedSource { role, bucket }))
    }

    async fn integrations_with_feeds(&self) -> Result<Vec<(Id, Id)>, String> {
        let all = self
            .0
            .integrations()
            .all_integrations()
            .await
            .map_err(|error| format!("reading the integrations failed: {error}"))?;
        Ok(all
            .into_iter()
            .filter(|i| !i.data_feed_bucket.is_empty() && !i.role_arn.is_empty())
            .map(|i| (i.organization_id, i.id))
            .collect())
    }
}
