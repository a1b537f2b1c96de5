//! The AWS adapter of [`Verifier`]: assumes the integration's role through the
//! [`RoleAssumer`] and makes one harmless call per API.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_marketplaceagreement::types::Filter as AgreementFilter;
// Every SDK's error types are the shared smithy ones; SQS's re-exports name them.
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::QueueAttributeName;
use souk_auth::{AwsClients, AwsError, IntegrationRole, RoleAssumer, classify_sdk_error};
use souk_core::SharedClock;

use crate::domain::ports::Verifier;
use crate::domain::verify::{self, ProbeOutcome};
use crate::domain::{CheckStatus, Integration, PermissionCheck, VerificationReport};

/// Token sent to ResolveCustomer: AWS answers InvalidTokenException when the call is allowed.
const PROBE_TOKEN: &str = "souk-verification-probe";
/// Product code probed when the integration lists none.
const PROBE_PRODUCT: &str = "souk-verification-probe";

/// Verifies integrations against AWS (or the emulator the assumer points at).
#[derive(Debug, Clone)]
pub struct AwsVerifier {
    assumer: RoleAssumer,
    clock: SharedClock,
    timeout: Duration,
}

impl AwsVerifier {
    /// A verifier assuming roles with `assumer`, each call limited to `timeout`.
    pub fn new(assumer: RoleAssumer, clock: SharedClock, timeout: Duration) -> Self {
        Self {
            assumer,
            clock,
            timeout,
        }
    }

    /// The outcome of one AWS call made to probe a permission: its error classified, or
    /// unreachable without an answer within the timeout.
    #[tracing::instrument(name = "aws.probe", skip_all, fields(api = api))]
    async fn probe<T, E>(
        &self,
        api: &'static str,
        call: impl Future<Output = Result<T, SdkError<E>>>,
    ) -> ProbeOutcome
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let answered = tokio::time::timeout(self.timeout, call).await;
        match answered.map(|result| result.map_err(|e| classify_sdk_error(&e))) {
            Err(_) => {
                ProbeOutcome::Unreachable(format!("no answer within {} s", self.timeout.as_secs()))
            }
            Ok(Ok(_)) => ProbeOutcome::Allowed,
            Ok(Err(AwsError::AccessDenied { code, message })) => {
                ProbeOutcome::Denied(format!("{code}: {message}"))
            }
            Ok(Err(AwsError::Unreachable { message })) => ProbeOutcome::Unreachable(message),
            // Refused for another reason (bad token, unknown product, validation): the permission
            // itself was granted.
            Ok(Err(AwsError::Other { .. })) => ProbeOutcome::Allowed,
        }
    }

    async fn checks(
        &self,
        integration: &Integration,
        clients: &AwsClients,
    ) -> Vec<PermissionCheck> {
        let product_code = integration
            .products
            .first()
            .map(|p| p.product_code.clone())
            .unwrap_or_else(|| PROBE_PRODUCT.into());

        let metering = self.probe("metering.ResolveCustomer", async {
            clients
                .metering
                .resolve_customer()
                .registration_token(PROBE_TOKEN)
                .send()
                .await
        });
        let entitlement = self.probe("entitlement.GetEntitlements", async {
            clients
                .entitlement
                .get_entitlements()
                .product_code(&product_code)
                .max_results(1)
                .send()
                .await
        });
        let catalog = self.probe("catalog.ListEntities", async {
            clients
                .catalog
                .list_entities()
                .catalog("AWSMarketplace")
                .entity_type("SaaSProduct")
                .max_results(1)
                .send()
                .await
        });
        let agreement = self.probe("agreement.SearchAgreements", async {
            let party = AgreementFilter::builder()
                .name("PartyType")
                .values("Proposer")
                .build();
            let kind = AgreementFilter::builder()
                .name("AgreementType")
                .values("PurchaseAgreement")
                .build();
            clients
                .agreement
                .search_agreements()
                .catalog("AWSMarketplace")
                .filters(party)
                .filters(kind)
                .max_results(1)
                .send()
                .await
        });
        let (metering, entitlement, catalog, agreement) =
            tokio::join!(metering, entitlement, catalog, agreement);
        let mut checks = vec![
            verify::check(
                "aws-marketplace:ResolveCustomer",
                "Marketplace Metering",
                metering,
            ),
            verify::check(
                "aws-marketplace:GetEntitlements",
                "Marketplace Entitlement",
                entitlement,
            ),
            verify::check(
                "aws-marketplace:ListEntities",
                "Marketplace Catalog",
                catalog,
            ),
            verify::check(
                "aws-marketplace:SearchAgreements",
                "Marketplace Agreement",
                agreement,
            ),
        ];

        let queues = integration.notifications.sqs_queue_urls.iter().map(|url| async move {
            let sqs = clients.sqs_for_queue(url);
            let call = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .send();
            let outcome = tokio::time::timeout(self.timeout, call).await;
            let api = format!("Amazon SQS ({url})");
            match outcome {
                Ok(Err(e)) if e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist()) => PermissionCheck {
                    action: "sqs:GetQueueAttributes".into(),
                    api,
                    status: CheckStatus::Denied,
                    detail: "QueueDoesNotExist: the queue does not exist or is not visible to the role".into(),
                    remedy: "fix notifications.sqs_queue_urls (UpdateIntegration) or create the queue with the \
                             onboarding template (include_notifications), then run VerifyIntegration again"
                        .into(),
                },
                Ok(result) => {
                    let outcome = self.probe("sqs.GetQueueAttributes", async { result }).await;
                    verify::check("sqs:GetQueueAttributes", &api, outcome)
                }
                Err(_) => verify::check(
                    "sqs:GetQueueAttributes",
                    &api,
                    ProbeOutcome::Unreachable(format!("no answer within {} s", self.timeout.as_secs())),
                ),
            }
        });
        checks.extend(futures::future::join_all(queues).await);
        checks
    }
}

/// The role Souk assumes for `integration`, if one is set.
fn role_of(integration: &Integration) -> Option<IntegrationRole> {
    (!integration.role_arn.is_empty()).then(|| IntegrationRole {
        integration_id: integration.id.to_string(),
        role_arn: integration.role_arn.clone(),
        external_id: integration.external_id.clone(),
        region: integration.region.clone(),
    })
}

#[async_trait]
impl Verifier for AwsVerifier {
    fn forget(&self, integration: &Integration) {
        if let Some(role) = role_of(integration) {
            self.assumer.forget(&role);
        }
    }

    #[tracing::instrument(skip_all, fields(organization_id = %integration.organization_id, integration_id = %integration.id))]
    async fn verify(&self, integration: &Integration) -> VerificationReport {
        let Some(role) = role_of(integration) else {
            return verify::role_not_assumed(
                self.clock.now(),
                "the integration has no role_arn".into(),
            );
        };
        // Verification must see the role as it is now, not credentials cached before a change.
        self.assumer.forget(&role);
        let clients = match tokio::time::timeout(self.timeout, self.assumer.clients(&role)).await {
            Ok(Ok(clients)) => clients,
            Ok(Err(error)) => {
                let message = match error {
                    AwsError::AccessDenied { code, message } => {
                        format!(
                            "{code}: {message}; {}",
                            verify::assume_role_remedy(integration)
                        )
                    }
                    AwsError::Unreachable { message } => {
                        format!("could not reach AWS STS: {message}")
                    }
                    AwsError::Other { code, message } => format!("{code}: {message}"),
                };
                return verify::role_not_assumed(self.clock.now(), message);
            }
            Err(_) => {
                return verify::role_not_assumed(
                    self.clock.now(),
                    format!("AWS STS did not answer within {} s", self.timeout.as_secs()),
                );
            }
        };
        let checks = self.checks(integration, &clients).await;
        VerificationReport {
            verified_at: self.clock.now(),
            role_assumed: true,
            role_error: String::new(),
            checks,
        }
    }
}
