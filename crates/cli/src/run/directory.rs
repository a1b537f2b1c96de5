//! The entitlement service's view of the integrations, answered by the integration service of
//! the same process (every process opens the integration store: API keys live there).

use async_trait::async_trait;
use souk_core::Id;
use souk_entitlement::domain::Error;
use souk_entitlement::domain::ports::{Directory, IntegrationInfo, IntegrationProduct, Licensing};
use souk_integration::IntegrationApp;
use souk_integration::domain::model::{Integration, Licensing as IntegrationLicensing};

/// [`Directory`] over the integration service.
#[derive(Debug, Clone)]
pub struct IntegrationDirectory(pub IntegrationApp);

fn info(integration: Integration) -> IntegrationInfo {
    IntegrationInfo {
        id: integration.id,
        organization_id: integration.organization_id,
        role_arn: integration.role_arn,
        external_id: integration.external_id,
        region: integration.region,
        products: integration
            .products
            .into_iter()
            .map(|p| IntegrationProduct {
                product_code: p.product_code,
                product_id: p.product_id,
                licensing: match p.licensing {
                    IntegrationLicensing::ProductCode => Licensing::ProductCode,
                    IntegrationLicensing::LicenseArn => Licensing::LicenseArn,
                },
            })
            .collect(),
        sqs_queue_urls: integration.notifications.sqs_queue_urls,
    }
}

fn unavailable(error: souk_integration::domain::Error) -> Error {
    Error::Unavailable(format!("reading the integrations failed: {error}"))
}

#[async_trait]
impl Directory for IntegrationDirectory {
    async fn integration(
        &self,
        organization_id: Option<&Id>,
        id: &Id,
    ) -> Result<Option<IntegrationInfo>, Error> {
        let found = self
            .0
            .integrations()
            .integration_for_service(organization_id, id)
            .await
            .map_err(unavailable)?;
        Ok(found.map(info))
    }

    async fn all_integrations(&self) -> Result<Vec<IntegrationInfo>, Error> {
        let all = self
            .0
            .integrations()
            .all_integrations()
            .await
            .map_err(unavailable)?;
        Ok(all.into_iter().map(info).collect())
    }
}
