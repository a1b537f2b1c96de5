//! The [`Marketplace`] port on the official AWS SDK clients, acting as each integration's role
//! (STS AssumeRole with its ExternalId, through `souk_auth::RoleAssumer`; every call goes to the
//! emulator when an endpoint override is configured).

mod listing;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_marketplaceentitlement::types::GetEntitlementFilterName;
use souk_auth::{AwsClients, AwsError, IntegrationRole, Pacer, RoleAssumer, classify_sdk_error};
use time::OffsetDateTime;

use crate::domain::model::{Entitlement, EntitlementValue};
use crate::domain::ports::{
    EntitlementQuery, IntegrationInfo, ListingProduct, MarketError, Marketplace, ResolvedBuyer,
};

/// GetEntitlements quota per seller account (requests per second).
pub const GET_ENTITLEMENTS_PER_SECOND: u32 = 20;
/// The Catalog's name for the AWS Marketplace catalog.
const CATALOG: &str = "AWSMarketplace";
/// Product entity types whose listings ImportListing reads.
const PRODUCT_TYPES: [&str; 3] = ["SaaSProduct", "AmiProduct", "ContainerProduct"];

/// AWS Marketplace through the integration's role.
#[derive(Debug, Clone)]
pub struct AwsMarketplace {
    assumer: RoleAssumer,
    entitlements_pacer: Arc<Pacer>,
}

impl AwsMarketplace {
    /// Calls AWS through `assumer`, pacing GetEntitlements at `per_second` per integration.
    pub fn new(assumer: RoleAssumer, per_second: u32) -> Self {
        Self {
            assumer,
            entitlements_pacer: Arc::new(Pacer::new(per_second)),
        }
    }

    async fn clients(&self, integration: &IntegrationInfo) -> Result<Arc<AwsClients>, MarketError> {
        if integration.role_arn.is_empty() {
            return Err(MarketError::AccessDenied(format!(
                "integration {} has no role yet (set role_arn)",
                integration.id
            )));
        }
        let role = IntegrationRole {
            integration_id: integration.id.to_string(),
            role_arn: integration.role_arn.clone(),
            external_id: integration.external_id.clone(),
            region: integration.region.clone(),
        };
        self.assumer.clients(&role).await.map_err(market_error)
    }
}

fn market_error(error: AwsError) -> MarketError {
    match error {
        AwsError::AccessDenied { code, message } => {
            MarketError::AccessDenied(format!("{code}: {message}"))
        }
        AwsError::Unreachable { message } => MarketError::Unavailable(message),
        AwsError::Other { code, message } => match code.as_str() {
            "InvalidTokenException" => MarketError::InvalidToken,
            "ExpiredTokenException" => MarketError::ExpiredToken,
            "ThrottlingException" | "InternalServiceErrorException" | "InternalServerException" => {
                MarketError::Unavailable(format!("{code}: {message}"))
            }
            _ => MarketError::Rejected(format!("{code}: {message}")),
        },
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

fn entitlement_value(
    value: &aws_sdk_marketplaceentitlement::types::EntitlementValue,
) -> EntitlementValue {
    if let Some(n) = value.integer_value() {
        EntitlementValue::Integer(i64::from(n))
    } else if let Some(b) = value.boolean_value() {
        EntitlementValue::Boolean(b)
    } else if let Some(d) = value.double_value() {
        // Display of an f64 is its shortest exact round-trip text.
        EntitlementValue::Decimal(d.to_string())
    } else {
        EntitlementValue::Text(value.string_value().unwrap_or_default().to_owned())
    }
}

#[async_trait]
impl Marketplace for AwsMarketplace {
    async fn resolve_customer(
        &self,
        integration: &IntegrationInfo,
        token: &str,
    ) -> Result<ResolvedBuyer, MarketError> {
        let clients = self.clients(integration).await?;
        let out = clients
            .metering
            .resolve_customer()
            .registration_token(token)
            .send()
            .await
            .map_err(|e| market_error(classify_sdk_error(&e)))?;
        let product_code = non_empty(out.product_code())
            .ok_or_else(|| MarketError::Rejected("ResolveCustomer gave no ProductCode".into()))?;
        Ok(ResolvedBuyer {
            product_code,
            customer_identifier: non_empty(out.customer_identifier()),
            aws_account_id: non_empty(out.customer_aws_account_id()),
            license_arn: non_empty(out.license_arn()),
            agreement_id: non_empty(out.metadata().and_then(|m| m.agreement_id())),
        })
    }

    async fn get_entitlements(
        &self,
        integration: &IntegrationInfo,
        query: &EntitlementQuery,
    ) -> Result<Vec<Entitlement>, MarketError> {
        let clients = self.clients(integration).await?;
        let mut found = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            self.entitlements_pacer.wait(integration.id.as_str()).await;
            let mut call = clients
                .entitlement
                .get_entitlements()
                .product_code(&query.product_code)
                .set_next_token(next_token.clone())
                .max_results(25);
            for (name, value) in [
                (
                    GetEntitlementFilterName::CustomerIdentifier,
                    &query.customer_identifier,
                ),
                (
                    GetEntitlementFilterName::CustomerAwsAccountId,
                    &query.aws_account_id,
                ),
                (GetEntitlementFilterName::LicenseArn, &query.license_arn),
            ] {
                if let Some(value) = value {
                    call = call.filter(name, vec![value.clone()]);
                }
            }
            let out = call
                .send()
                .await
                .map_err(|e| market_error(classify_sdk_error(&e)))?;
            for e in out.entitlements() {
                let (Some(dimension), Some(value)) = (e.dimension(), e.value()) else {
                    continue;
                };
                found.push(Entitlement {
                    customer_id: souk_core::Id::from_trusted(String::new()),
                    product_code: e.product_code().unwrap_or(&query.product_code).to_owned(),
                    dimension: dimension.to_owned(),
                    value: entitlement_value(value),
                    expires_at: e
                        .expiration_date()
                        .and_then(|at| OffsetDateTime::from_unix_timestamp(at.secs()).ok()),
                    license_arn: non_empty(e.license_arn()),
                    updated_at: OffsetDateTime::UNIX_EPOCH,
                });
            }
            next_token = out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if next_token.is_none() {
                return Ok(found);
            }
        }
    }

    async fn listing(
        &self,
        integration: &IntegrationInfo,
    ) -> Result<Vec<ListingProduct>, MarketError> {
        let clients = self.clients(integration).await?;
        let mut entity_ids: Vec<(String, Option<String>)> = integration
            .products
            .iter()
            .filter_map(|p| Some((p.product_id.clone()?, Some(p.product_code.clone()))))
            .collect();
        if entity_ids.len() < integration.products.len() {
            // Products without a known Catalog id: find them among the seller's products.
            for entity_type in PRODUCT_TYPES {
                let mut next_token = None;
                loop {
                    let out = clients
                        .catalog
                        .list_entities()
                        .catalog(CATALOG)
                        .entity_type(entity_type)
                        .set_next_token(next_token)
                        .send()
                        .await
                        .map_err(|e| market_error(classify_sdk_error(&e)))?;
                    for summary in out.entity_summary_list() {
                        if let Some(id) = summary.entity_id()
                            && !entity_ids.iter().any(|(known, _)| known == id)
                        {
                            entity_ids.push((id.to_owned(), None));
                        }
                    }
                    next_token = out.next_token().map(str::to_owned);
                    if next_token.is_none() {
                        break;
                    }
                }
            }
        }
        let mut products = Vec::new();
        for (entity_id, product_code) in entity_ids {
            let out = clients
                .catalog
                .describe_entity()
                .catalog(CATALOG)
                .entity_id(&entity_id)
                .send()
                .await
                .map_err(|e| market_error(classify_sdk_error(&e)))?;
            let Some(details) = out.details_document() else {
                continue;
            };
            let details = listing::document_json(details);
            if let Some(product) = listing::product(&entity_id, product_code.as_deref(), &details) {
                products.push(product);
            }
        }
        Ok(products)
    }
}
