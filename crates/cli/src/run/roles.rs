//! The metering and offer services' view of the integrations' AWS roles, answered by the
//! integration service of the same process (every process opens the integration store).

use async_trait::async_trait;
use souk_auth::IntegrationRole;
use souk_core::Id;
use souk_integration::IntegrationApp;
use souk_metering::aws::IntegrationRoles;

/// [`IntegrationRoles`] over the integration service.
#[derive(Debug, Clone)]
pub struct IntegrationRoleDirectory(pub IntegrationApp);

impl IntegrationRoleDirectory {
    async fn find(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<IntegrationRole>, String> {
        let found = self
            .0
            .integrations()
            .integration_for_service(Some(organization_id), integration_id)
            .await
            .map_err(|error| format!("reading the integrations failed: {error}"))?;
        Ok(found
            .filter(|integration| !integration.role_arn.is_empty())
            .map(|integration| IntegrationRole {
                integration_id: integration.id.to_string(),
                role_arn: integration.role_arn,
                external_id: integration.external_id,
                region: integration.region,
            }))
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
