//! The [`Marketplace`] port on the official AWS SDK (`aws-sdk-marketplacemetering`), acting as
//! each integration's role (STS AssumeRole with its ExternalId, through
//! `souk_auth::RoleAssumer`; every call goes to the emulator when an endpoint override is
//! configured). Calls are paced per integration under AWS's BatchMeterUsage quota and bounded
//! by an operation timeout, so a hung call becomes [`CallError::Unavailable`].

mod convert;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_marketplacemetering::config::retry::RetryConfig;
use aws_sdk_marketplacemetering::config::timeout::TimeoutConfig;
use souk_auth::{AwsError, IntegrationRole, Pacer, RoleAssumer};
use souk_core::Id;

use crate::domain::model::AwsCustomer;
use crate::domain::ports::{CallError, Marketplace, MeterCall, RecordAnswer};

/// BatchMeterUsage calls per second per integration, by default (AWS allows 10).
pub const BATCH_METER_USAGE_PER_SECOND: u32 = 8;
/// Time limit of one BatchMeterUsage call (one attempt: the shipper retries), by default.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The integrations' AWS roles, as the integration service knows them.
#[async_trait]
pub trait IntegrationRoles: Send + Sync + 'static {
    /// The role of integration `integration_id` of `organization_id`; `None` when the
    /// integration does not exist or has no role yet. An error is a failure to find out
    /// (retried later).
    async fn role(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<IntegrationRole>, String>;
}

/// AWS Marketplace Metering through the integrations' roles.
#[derive(Clone)]
pub struct AwsMarketplace {
    assumer: RoleAssumer,
    roles: Arc<dyn IntegrationRoles>,
    pacer: Arc<Pacer>,
    timeout: Duration,
}

impl fmt::Debug for AwsMarketplace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsMarketplace")
            .field("assumer", &self.assumer)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AwsMarketplace {
    /// Calls AWS through `assumer` as the roles `roles` names, pacing BatchMeterUsage at
    /// `per_second` per integration, each call bounded by [`CALL_TIMEOUT`].
    pub fn new(assumer: RoleAssumer, roles: Arc<dyn IntegrationRoles>, per_second: u32) -> Self {
        Self {
            assumer,
            roles,
            pacer: Arc::new(Pacer::new(per_second)),
            timeout: CALL_TIMEOUT,
        }
    }

    /// The same with another time limit per call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn role(&self, call: &MeterCall) -> Result<IntegrationRole, CallError> {
        match self
            .roles
            .role(&call.organization_id, &call.integration_id)
            .await
        {
            Ok(Some(role)) if !role.role_arn.is_empty() => Ok(role),
            Ok(_) => Err(CallError::Denied(format!(
                "integration {} has no role yet (set role_arn)",
                call.integration_id
            ))),
            Err(error) => Err(CallError::Unavailable(format!(
                "the role of integration {} is unknown: {error}",
                call.integration_id
            ))),
        }
    }

    /// The call's timeouts: the assumer's connect limit, and this call's limit for its one
    /// attempt.
    fn timeouts(&self) -> TimeoutConfig {
        let options = self.assumer.options();
        TimeoutConfig::builder()
            .connect_timeout(options.connect_timeout)
            .operation_attempt_timeout(self.timeout)
            .operation_timeout(self.timeout)
            .build()
    }
}

/// A refusal to assume the role: no record causes it.
fn assume_error(error: AwsError) -> CallError {
    match error {
        AwsError::Unreachable { message } => CallError::Unavailable(message),
        denied => CallError::Denied(format!("assuming the integration's role: {denied}")),
    }
}

#[async_trait]
impl Marketplace for AwsMarketplace {
    async fn batch_meter_usage(&self, call: &MeterCall) -> Result<Vec<RecordAnswer>, CallError> {
        if call.records.is_empty() {
            return Ok(Vec::new());
        }
        let records = convert::usage_records(&call.records)?;
        let role = self.role(call).await?;
        let clients = self.assumer.clients(&role).await.map_err(assume_error)?;
        // Legacy customers are named with the product; licences name it themselves.
        let legacy = call
            .records
            .iter()
            .any(|r| matches!(r.customer, AwsCustomer::Identifier(_)));
        self.pacer.wait(call.integration_id.as_str()).await;
        let output = clients
            .metering
            .batch_meter_usage()
            .set_product_code(legacy.then(|| call.product_code.clone()))
            .set_usage_records(Some(records))
            .customize()
            // One attempt per call: the shipper retries with its own backoff, and every attempt
            // goes through the pacer (the SDK's own retries would not).
            .config_override(
                aws_sdk_marketplacemetering::Config::builder()
                    .timeout_config(self.timeouts())
                    .retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        match output {
            Ok(output) => Ok(convert::answers(&call.records, &output)),
            Err(error) => {
                let classified = convert::call_error(&error);
                if convert::credentials_rejected(&error) {
                    self.assumer.forget(&role);
                }
                tracing::debug!(integration_id = %call.integration_id, records = call.records.len(),
                    error = %classified, "BatchMeterUsage failed");
                Err(classified)
            }
        }
    }
}
