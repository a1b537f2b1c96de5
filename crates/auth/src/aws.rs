//! Assuming a seller integration's IAM role (STS AssumeRole with ExternalId) and building AWS
//! SDK clients that act as that role.
//!
//! One [`RoleAssumer`] serves the whole process. It keeps one set of temporary credentials per
//! (role ARN, external id) and refreshes them on demand shortly before they expire
//! (`min(refresh_margin, 10 % of the session)` before `Expiration`); while a refresh fails and
//! the old credentials are still valid, the old ones are used. Clients it builds ask it for
//! credentials on every call (no second cache in the SDK), so they never use stale credentials.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use souk_core::{SharedClock, SystemClock};
use time::OffsetDateTime;

/// The region of the AWS Marketplace control-plane APIs (Entitlement, Catalog, Agreement) and of
/// its SNS topics and EventBridge events.
pub const MARKETPLACE_HOME_REGION: &str = "us-east-1";

/// Prefix of every STS role session name Souk uses, so sellers can find Souk in CloudTrail.
pub const SESSION_NAME_PREFIX: &str = "souk-";

/// What went wrong talking to AWS, in the terms a seller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// AWS refused the call (IAM policy, trust policy or ExternalId); `message` is AWS's own.
    #[error("access denied ({code}): {message}")]
    AccessDenied {
        /// AWS's error code (`AccessDenied`, `AccessDeniedException`, …).
        code: String,
        /// AWS's message.
        message: String,
    },
    /// AWS could not be reached or kept failing: timeouts, connection errors, throttling and
    /// 5xx after retries.
    #[error("aws unreachable: {message}")]
    Unreachable {
        /// What happened.
        message: String,
    },
    /// Any other error response (validation, not found, bad token, …).
    #[error("aws error ({code}): {message}")]
    Other {
        /// AWS's error code, or `Unknown`.
        code: String,
        /// AWS's message or a description of the failure.
        message: String,
    },
}

impl AwsError {
    /// The AWS error code, if the failure came from an AWS response.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::AccessDenied { code, .. } | AwsError::Other { code, .. } => Some(code),
            AwsError::Unreachable { .. } => None,
        }
    }
}

/// An error response of AWS, as an SDK error carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// AWS's error code, or `Unknown`.
    pub code: String,
    /// AWS's message, or `http status <status>`.
    pub message: String,
}

/// The error response of `err` when AWS answered with one (`SdkError::ServiceError`); `None`
/// for timeouts, transport failures and calls never made.
pub fn error_response<E>(err: &SdkError<E, HttpResponse>) -> Option<ErrorResponse>
where
    E: ProvideErrorMetadata,
{
    let SdkError::ServiceError(service) = err else {
        return None;
    };
    let status = service.raw().status().as_u16();
    Some(ErrorResponse {
        status,
        code: service.err().code().unwrap_or("Unknown").to_owned(),
        message: service
            .err()
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("http status {status}")),
    })
}

/// Classifies an SDK error of any AWS client.
pub fn classify_sdk_error<E>(err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(response) = error_response(err) {
        return classify_code(response.status, response.code, response.message);
    }
    match err {
        SdkError::TimeoutError(_) => AwsError::Unreachable {
            message: "request timed out".into(),
        },
        SdkError::DispatchFailure(_) => AwsError::Unreachable {
            message: format!("connection failed: {}", DisplayErrorContext(err)),
        },
        SdkError::ResponseError(_) => AwsError::Unreachable {
            message: format!("unreadable response: {}", DisplayErrorContext(err)),
        },
        _ => AwsError::Other {
            code: "Unknown".into(),
            message: DisplayErrorContext(err).to_string(),
        },
    }
}

fn classify_code(status: u16, code: String, message: String) -> AwsError {
    let denied = code.starts_with("AccessDenied")
        || matches!(
            code.as_str(),
            "UnauthorizedOperation" | "NotAuthorized" | "AuthorizationError"
        );
    if denied {
        return AwsError::AccessDenied { code, message };
    }
    if status >= 500 || code.starts_with("Throttl") || code == "RequestLimitExceeded" {
        return AwsError::Unreachable {
            message: format!("{code}: {message}"),
        };
    }
    if status == 403 && !code.contains("Token") {
        return AwsError::AccessDenied { code, message };
    }
    AwsError::Other { code, message }
}

/// The role of one seller integration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IntegrationRole {
    /// The integration's id; part of the STS session name.
    pub integration_id: String,
    /// The IAM role in the seller account.
    pub role_arn: String,
    /// The ExternalId the role's trust policy requires.
    pub external_id: String,
    /// The seller's home region (metering, SQS).
    pub region: String,
}

impl IntegrationRole {
    /// The STS role session name: `souk-<integration id>`, limited to STS's characters and 64
    /// characters.
    pub fn session_name(&self) -> String {
        let valid = |c: &char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c);
        let name: String = format!("{SESSION_NAME_PREFIX}{}", self.integration_id)
            .chars()
            .filter(valid)
            .take(64)
            .collect();
        if name.len() < 2 { "souk".into() } else { name }
    }
}

/// Tuning of the [`RoleAssumer`].
#[derive(Debug, Clone)]
pub struct RoleAssumerOptions {
    /// Send every AWS call (STS and the per-integration clients) to this URL (the emulator).
    pub endpoint_url: Option<String>,
    /// The region of the STS client (default `us-east-1`).
    pub sts_region: String,
    /// Requested session length (`DurationSeconds`, 900 s to the role's maximum); `None`
    /// (default) leaves it to STS (one hour).
    pub session_duration: Option<Duration>,
    /// Refresh this long before expiry, but never earlier than 10 % of the session; default 5 min.
    pub refresh_margin: Duration,
    /// Time limit of one AWS call including retries; default 10 s.
    pub operation_timeout: Duration,
    /// Time limit of one attempt; default 4 s.
    pub attempt_timeout: Duration,
    /// TCP/TLS connect time limit; default 3 s.
    pub connect_timeout: Duration,
    /// Attempts per call (standard retry mode, with backoff and jitter); default 3.
    pub max_attempts: u32,
    /// The clock expiry is judged by (tests move it to force a refresh).
    pub clock: SharedClock,
}

impl Default for RoleAssumerOptions {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            sts_region: MARKETPLACE_HOME_REGION.into(),
            session_duration: None,
            refresh_margin: Duration::from_secs(300),
            operation_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(4),
            connect_timeout: Duration::from_secs(3),
            max_attempts: 3,
            clock: Arc::new(SystemClock),
        }
    }
}

impl RoleAssumerOptions {
    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    fn retries(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts.max(1))
    }
}

#[derive(Clone)]
struct Assumed {
    credentials: Credentials,
    expires_at: OffsetDateTime,
    refresh_at: OffsetDateTime,
}

type SlotKey = (String, String);
type Slot = Arc<tokio::sync::Mutex<Option<Assumed>>>;

struct Inner {
    base: SdkConfig,
    sts: aws_sdk_sts::Client,
    options: RoleAssumerOptions,
    clock: SharedClock,
    slots: Mutex<HashMap<SlotKey, Slot>>,
    clients: Mutex<HashMap<IntegrationRole, Arc<AwsClients>>>,
}

/// Assumes integration roles and caches their credentials and clients. Cheap to clone.
#[derive(Clone)]
pub struct RoleAssumer {
    inner: Arc<Inner>,
}

impl fmt::Debug for RoleAssumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleAssumer")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl RoleAssumer {
    /// Base credentials and settings from the standard AWS chain (environment, profile, web
    /// identity, ECS, IMDS).
    pub async fn from_environment(options: RoleAssumerOptions) -> Self {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(options.sts_region.clone()))
            .load()
            .await;
        Self::new(base, options)
    }

    /// Fixed base credentials: for tests and the emulator.
    pub fn with_static_credentials(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        options: RoleAssumerOptions,
    ) -> Self {
        let credentials =
            Credentials::new(access_key_id, secret_access_key, None, None, "souk-static");
        let base = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(options.sts_region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Self::new(base, options)
    }

    /// Uses `base` for the credentials that call STS.
    pub fn new(base: SdkConfig, options: RoleAssumerOptions) -> Self {
        let mut sts = aws_sdk_sts::config::Builder::from(&base)
            .region(Region::new(options.sts_region.clone()))
            .timeout_config(options.timeouts())
            .retry_config(options.retries());
        if let Some(url) = &options.endpoint_url {
            sts = sts.endpoint_url(url);
        }
        let sts = aws_sdk_sts::Client::from_conf(sts.build());
        Self {
            inner: Arc::new(Inner {
                base,
                sts,
                clock: Arc::clone(&options.clock),
                options,
                slots: Mutex::new(HashMap::new()),
                clients: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The account of the base credentials (STS GetCallerIdentity): what seller roles must
    /// trust when no explicit principal is configured.
    #[tracing::instrument(name = "sts.get_caller_identity", skip_all)]
    pub async fn base_account_id(&self) -> Result<String, AwsError> {
        let output = self
            .inner
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify_sdk_error(&e))?;
        output
            .account()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::Other {
                code: "Unknown".into(),
                message: "GetCallerIdentity returned no account".into(),
            })
    }

    /// The options in force.
    pub fn options(&self) -> &RoleAssumerOptions {
        &self.inner.options
    }

    /// Valid temporary credentials for `role`, from the cache or a fresh AssumeRole.
    pub async fn credentials(&self, role: &IntegrationRole) -> Result<Credentials, AwsError> {
        self.inner.credentials(role).await
    }

    /// Drops the cached credentials and clients of `role` (after the role or its external id
    /// changed, or a downstream call reported an expired token).
    pub fn forget(&self, role: &IntegrationRole) {
        lock(&self.inner.slots).remove(&(role.role_arn.clone(), role.external_id.clone()));
        lock(&self.inner.clients)
            .retain(|k, _| k.role_arn != role.role_arn || k.external_id != role.external_id);
    }

    /// An SDK config acting as `role` in `region`, with the endpoint override, timeouts and
    /// retries. Assumes the role first, so a refusal surfaces here.
    pub async fn sdk_config(
        &self,
        role: &IntegrationRole,
        region: &str,
    ) -> Result<SdkConfig, AwsError> {
        self.inner.credentials(role).await?;
        Ok(self.build_config(role, region))
    }

    fn build_config(&self, role: &IntegrationRole, region: &str) -> SdkConfig {
        let provider = AssumedRoleProvider {
            inner: Arc::clone(&self.inner),
            role: role.clone(),
        };
        let mut builder = self
            .inner
            .base
            .to_builder()
            .region(Region::new(region.to_owned()))
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .identity_cache(IdentityCache::no_cache())
            .timeout_config(self.inner.options.timeouts())
            .retry_config(self.inner.options.retries());
        if let Some(url) = &self.inner.options.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        builder.build()
    }

    /// The AWS clients of `role` (cached per role, external id and region). Assumes the role
    /// first, so a refusal surfaces here.
    pub async fn clients(&self, role: &IntegrationRole) -> Result<Arc<AwsClients>, AwsError> {
        self.inner.credentials(role).await?;
        if let Some(clients) = lock(&self.inner.clients).get(role) {
            return Ok(Arc::clone(clients));
        }
        let regional = self.build_config(role, &role.region);
        let home = self.build_config(role, MARKETPLACE_HOME_REGION);
        let clients = Arc::new(AwsClients {
            metering: aws_sdk_marketplacemetering::Client::new(&regional),
            entitlement: aws_sdk_marketplaceentitlement::Client::new(&home),
            catalog: aws_sdk_marketplacecatalog::Client::new(&home),
            agreement: aws_sdk_marketplaceagreement::Client::new(&home),
            sqs: aws_sdk_sqs::Client::new(&regional),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&regional)
                    .force_path_style(true)
                    .build(),
            ),
            assumer: self.clone(),
            role: role.clone(),
        });
        lock(&self.inner.clients).insert(role.clone(), Arc::clone(&clients));
        Ok(clients)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inner {
    async fn credentials(&self, role: &IntegrationRole) -> Result<Credentials, AwsError> {
        let slot = {
            let mut slots = lock(&self.slots);
            Arc::clone(
                slots
                    .entry((role.role_arn.clone(), role.external_id.clone()))
                    .or_default(),
            )
        };
        let mut current = slot.lock().await;
        let now = self.clock.now();
        if let Some(assumed) = current.as_ref().filter(|a| now < a.refresh_at) {
            return Ok(assumed.credentials.clone());
        }
        match self.assume(role, now).await {
            Ok(fresh) => {
                let credentials = fresh.credentials.clone();
                *current = Some(fresh);
                Ok(credentials)
            }
            Err(error) => match current.as_ref().filter(|a| now < a.expires_at) {
                Some(still_valid) => {
                    tracing::warn!(integration_id = %role.integration_id, %error,
                        "refreshing role credentials failed; using the current ones until they expire");
                    Ok(still_valid.credentials.clone())
                }
                None => Err(error),
            },
        }
    }

    #[tracing::instrument(name = "sts.assume_role", skip_all, fields(integration_id = %role.integration_id, role_arn = %role.role_arn))]
    async fn assume(
        &self,
        role: &IntegrationRole,
        now: OffsetDateTime,
    ) -> Result<Assumed, AwsError> {
        let duration = self
            .options
            .session_duration
            .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX));
        let output = self
            .sts
            .assume_role()
            .role_arn(&role.role_arn)
            .external_id(&role.external_id)
            .role_session_name(role.session_name())
            .set_duration_seconds(duration)
            .send()
            .await
            .map_err(|e| classify_sdk_error(&e))?;
        let Some(sts_credentials) = output.credentials() else {
            return Err(AwsError::Other {
                code: "Unknown".into(),
                message: "AssumeRole returned no credentials".into(),
            });
        };
        let expires_at = OffsetDateTime::from_unix_timestamp(sts_credentials.expiration().secs())
            .map_err(|e| AwsError::Other {
            code: "Unknown".into(),
            message: format!("bad expiration: {e}"),
        })?;
        let lifetime = (expires_at - now).max(time::Duration::ZERO);
        let margin = time::Duration::try_from(self.options.refresh_margin)
            .unwrap_or(time::Duration::minutes(5));
        let refresh_at = expires_at - margin.min(lifetime / 10);
        let credentials = Credentials::new(
            sts_credentials.access_key_id(),
            sts_credentials.secret_access_key(),
            Some(sts_credentials.session_token().to_owned()),
            std::time::SystemTime::try_from(*sts_credentials.expiration()).ok(),
            "souk-assume-role",
        );
        tracing::debug!(integration_id = %role.integration_id, %expires_at, "assumed integration role");
        Ok(Assumed {
            credentials,
            expires_at,
            refresh_at,
        })
    }
}

/// Credentials provider of one integration, backed by the [`RoleAssumer`]'s cache.
struct AssumedRoleProvider {
    inner: Arc<Inner>,
    role: IntegrationRole,
}

impl fmt::Debug for AssumedRoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumedRoleProvider")
            .field("role_arn", &self.role.role_arn)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for AssumedRoleProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.inner
                .credentials(&self.role)
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

/// The AWS clients of one integration, acting as its role.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// Marketplace Metering, in the integration's region.
    pub metering: aws_sdk_marketplacemetering::Client,
    /// Marketplace Entitlement, in `us-east-1`.
    pub entitlement: aws_sdk_marketplaceentitlement::Client,
    /// Marketplace Catalog, in `us-east-1`.
    pub catalog: aws_sdk_marketplacecatalog::Client,
    /// Marketplace Agreement, in `us-east-1`.
    pub agreement: aws_sdk_marketplaceagreement::Client,
    /// SQS, in the integration's region (see [`AwsClients::sqs_for_queue`]).
    pub sqs: aws_sdk_sqs::Client,
    /// S3, in the integration's region, path-style (`<endpoint>/<bucket>/<key>`, as the emulator
    /// serves it); reads the integration's Seller Data Feed bucket.
    pub s3: aws_sdk_s3::Client,
    assumer: RoleAssumer,
    role: IntegrationRole,
}

impl AwsClients {
    /// An SQS client for `queue_url`: the region is taken from an AWS queue URL
    /// (`https://sqs.<region>.amazonaws.com/<account>/<name>`) and defaults to the integration's.
    pub fn sqs_for_queue(&self, queue_url: &str) -> aws_sdk_sqs::Client {
        match queue_region(queue_url) {
            Some(region) if region != self.role.region => {
                aws_sdk_sqs::Client::new(&self.assumer.build_config(&self.role, region))
            }
            _ => self.sqs.clone(),
        }
    }
}

pub use souk_core::validate::queue_region;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_identify_souk_and_the_integration() {
        let role = IntegrationRole {
            integration_id: "int_0192abcd".into(),
            role_arn: "arn:aws:iam::123456789012:role/Souk".into(),
            external_id: "x".into(),
            region: "us-east-1".into(),
        };
        assert_eq!(role.session_name(), "souk-int_0192abcd");
        let long = IntegrationRole {
            integration_id: "a/b".repeat(40),
            ..role
        };
        assert_eq!(long.session_name().len(), 64);
        assert!(!long.session_name().contains('/'));
    }

    #[test]
    fn classifies_error_codes() {
        assert!(matches!(
            classify_code(403, "AccessDenied".into(), "no".into()),
            AwsError::AccessDenied { .. }
        ));
        assert!(matches!(
            classify_code(400, "AccessDeniedException".into(), "no".into()),
            AwsError::AccessDenied { .. }
        ));
        assert!(matches!(
            classify_code(503, "ServiceUnavailable".into(), "".into()),
            AwsError::Unreachable { .. }
        ));
        assert!(matches!(
            classify_code(400, "ThrottlingException".into(), "".into()),
            AwsError::Unreachable { .. }
        ));
        assert!(matches!(
            classify_code(400, "InvalidTokenException".into(), "".into()),
            AwsError::Other { .. }
        ));
    }

    #[test]
    fn queue_regions() {
        assert_eq!(
            queue_region("https://sqs.eu-west-1.amazonaws.com/123456789012/q"),
            Some("eu-west-1")
        );
        assert_eq!(
            queue_region("https://eu-west-1.queue.amazonaws.com/123456789012/q"),
            Some("eu-west-1")
        );
        assert_eq!(queue_region("http://127.0.0.1:4566/123456789012/q"), None);
    }
}
