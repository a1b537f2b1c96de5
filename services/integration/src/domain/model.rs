//! Organisations, integrations, API keys and verification reports as the domain sees them.

use souk_core::Id;
use souk_core::access::{ApiKeySecret, Scope};
use time::OffsetDateTime;

/// Region used when a request leaves the region empty.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A tenant of Souk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// `org_…`.
    pub id: Id,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

impl Organization {
    /// A new organisation `name`, created at `now`.
    pub fn new(name: String, now: OffsetDateTime) -> Self {
        Self {
            id: Id::generate("org"),
            name,
            created_at: now,
        }
    }
}

/// The kind of Marketplace product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductType {
    /// SaaS.
    Saas,
    /// AMI.
    Ami,
    /// Container.
    Container,
    /// Professional services.
    ProfessionalServices,
    /// Data exchange.
    Data,
}

impl ProductType {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::Saas => "saas",
            ProductType::Ami => "ami",
            ProductType::Container => "container",
            ProductType::ProfessionalServices => "professional_services",
            ProductType::Data => "data",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Saas,
            Self::Ami,
            Self::Container,
            Self::ProfessionalServices,
            Self::Data,
        ]
        .into_iter()
        .find(|t| t.as_str() == raw)
    }
}

/// How buyers of a product are identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Licensing {
    /// CustomerIdentifier (legacy).
    ProductCode,
    /// CustomerAWSAccountId + LicenseArn (concurrent agreements).
    LicenseArn,
}

impl Licensing {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Licensing::ProductCode => "product_code",
            Licensing::LicenseArn => "license_arn",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::ProductCode, Self::LicenseArn]
            .into_iter()
            .find(|l| l.as_str() == raw)
    }
}

/// A Marketplace product of an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Marketplace product code.
    pub product_code: String,
    /// Catalog product id (`prod-…`), if known.
    pub product_id: Option<String>,
    /// What kind of product.
    pub product_type: ProductType,
    /// How buyers are identified.
    pub licensing: Licensing,
}

/// How Marketplace notifications reach Souk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    /// SQS queues Souk polls.
    pub sqs_queue_urls: Vec<String>,
    /// SNS topics POST to Souk's webhook.
    pub sns_https: bool,
    /// An EventBridge rule forwards Marketplace events.
    pub eventbridge: bool,
}

/// Verification state of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationState {
    /// Not verified since created or changed.
    PendingVerification,
    /// The last verification passed.
    Verified,
    /// The last verification failed.
    VerificationFailed,
}

impl IntegrationState {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationState::PendingVerification => "pending_verification",
            IntegrationState::Verified => "verified",
            IntegrationState::VerificationFailed => "verification_failed",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::PendingVerification,
            Self::Verified,
            Self::VerificationFailed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// Outcome of one permission probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Allowed.
    Ok,
    /// Denied by IAM.
    Denied,
    /// AWS could not be reached.
    Unreachable,
}

impl CheckStatus {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Denied => "denied",
            CheckStatus::Unreachable => "unreachable",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Ok, Self::Denied, Self::Unreachable]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// The result of probing one IAM action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionCheck {
    /// IAM action, `aws-marketplace:GetEntitlements`.
    pub action: String,
    /// API name, `Marketplace Entitlement`.
    pub api: String,
    /// Outcome.
    pub status: CheckStatus,
    /// AWS's answer when not OK.
    pub detail: String,
    /// What to do when not OK.
    pub remedy: String,
}

/// What one verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationReport {
    /// When it ran.
    pub verified_at: OffsetDateTime,
    /// Whether AssumeRole succeeded.
    pub role_assumed: bool,
    /// STS's answer when it did not.
    pub role_error: String,
    /// One per action.
    pub checks: Vec<PermissionCheck>,
}

impl VerificationReport {
    /// The state an integration gets from this report: verified only if the role was assumed
    /// and every check passed.
    pub fn resulting_state(&self) -> IntegrationState {
        if self.role_assumed && self.checks.iter().all(|c| c.status == CheckStatus::Ok) {
            IntegrationState::Verified
        } else {
            IntegrationState::VerificationFailed
        }
    }
}

/// One AWS seller account connected through a cross-account role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// `int_…`.
    pub id: Id,
    /// Owner.
    pub organization_id: Id,
    /// Display name, unique in the organisation.
    pub name: String,
    /// Role Souk assumes; empty until set.
    pub role_arn: String,
    /// Account of `role_arn`; empty while it is empty.
    pub aws_account_id: String,
    /// ExternalId Souk presents; generated, never changes.
    pub external_id: String,
    /// Region of the Marketplace calls.
    pub region: String,
    /// Products.
    pub products: Vec<Product>,
    /// Notification routes.
    pub notifications: Notifications,
    /// Seller Data Feed bucket; empty if unused.
    pub data_feed_bucket: String,
    /// Verification state.
    pub state: IntegrationState,
    /// Latest verification.
    pub last_verification: Option<VerificationReport>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A validated CreateIntegration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntegration {
    /// Display name.
    pub name: String,
    /// Role ARN or empty.
    pub role_arn: String,
    /// Region (defaulted).
    pub region: String,
    /// Products.
    pub products: Vec<Product>,
    /// Notification routes.
    pub notifications: Notifications,
    /// Data feed bucket or empty.
    pub data_feed_bucket: String,
}

impl NewIntegration {
    /// The integration this creates, in `PendingVerification`.
    pub fn into_integration(
        self,
        organization_id: Id,
        external_id: String,
        now: OffsetDateTime,
    ) -> Integration {
        Integration {
            id: Id::generate("int"),
            organization_id,
            aws_account_id: account_of(&self.role_arn),
            name: self.name,
            role_arn: self.role_arn,
            external_id,
            region: self.region,
            products: self.products,
            notifications: self.notifications,
            data_feed_bucket: self.data_feed_bucket,
            state: IntegrationState::PendingVerification,
            last_verification: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A validated UpdateIntegration: the fields named in the mask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationPatch {
    /// New name.
    pub name: Option<String>,
    /// New role ARN (empty clears it).
    pub role_arn: Option<String>,
    /// New region.
    pub region: Option<String>,
    /// New products.
    pub products: Option<Vec<Product>>,
    /// New notification routes.
    pub notifications: Option<Notifications>,
    /// New bucket (empty clears it).
    pub data_feed_bucket: Option<String>,
    /// The mask paths, in request order, for the event.
    pub paths: Vec<String>,
}

impl Integration {
    /// Applies `patch`; a changed role or region sends the integration back to
    /// `PendingVerification`. Returns whether the role or region changed (credentials must be
    /// forgotten).
    pub fn apply(&mut self, patch: IntegrationPatch, now: OffsetDateTime) -> bool {
        let mut access_changed = false;
        if let Some(name) = patch.name {
            self.name = name;
        }
        if let Some(role_arn) = patch.role_arn
            && role_arn != self.role_arn
        {
            self.aws_account_id = account_of(&role_arn);
            self.role_arn = role_arn;
            access_changed = true;
        }
        if let Some(region) = patch.region
            && region != self.region
        {
            self.region = region;
            access_changed = true;
        }
        if let Some(products) = patch.products {
            self.products = products;
        }
        if let Some(notifications) = patch.notifications {
            self.notifications = notifications;
        }
        if let Some(bucket) = patch.data_feed_bucket {
            self.data_feed_bucket = bucket;
        }
        if access_changed {
            self.state = IntegrationState::PendingVerification;
        }
        self.updated_at = now;
        access_changed
    }

    /// Records a verification: report and resulting state.
    pub fn record_verification(&mut self, report: VerificationReport, now: OffsetDateTime) {
        self.state = report.resulting_state();
        self.last_verification = Some(report);
        self.updated_at = now;
    }
}

fn account_of(role_arn: &str) -> String {
    souk_core::validate::role_arn(role_arn)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// Metadata of an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `key_…`.
    pub id: Id,
    /// Owner.
    pub organization_id: Id,
    /// Display name.
    pub name: String,
    /// First characters of the secret.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last authenticated call (debounced).
    pub last_used_at: Option<OffsetDateTime>,
    /// Revocation time.
    pub revoked_at: Option<OffsetDateTime>,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
}

/// A validated CreateApiKey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Display name.
    pub name: String,
    /// Scopes (deduplicated, at least one).
    pub scopes: Vec<Scope>,
    /// Expiry, in the future.
    pub expires_at: Option<OffsetDateTime>,
}

impl NewApiKey {
    /// The key of `organization_id`, created at `now` with a fresh secret (returned alongside:
    /// only its hash is ever stored).
    pub fn issue(self, organization_id: Id, now: OffsetDateTime) -> (ApiKey, ApiKeySecret) {
        let secret = ApiKeySecret::generate();
        let key = ApiKey {
            id: Id::generate("key"),
            organization_id,
            name: self.name,
            prefix: secret.display_prefix(),
            scopes: self.scopes,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            expires_at: self.expires_at,
        };
        (key, secret)
    }
}

/// A key just issued, with its secret (shown to the caller once, never stored).
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The key's metadata.
    pub key: ApiKey,
    /// The secret.
    pub secret: ApiKeySecret,
}

/// A new organisation with its first key.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// The organisation.
    pub organization: Organization,
    /// Its first key.
    pub first_key: IssuedKey,
}

/// Whether a key holding `held` may create a key with `requested`: ADMIN only from ADMIN; FULL
/// grants FULL, READ_ONLY and METERING; a scope always grants itself.
pub fn may_grant(held: &[Scope], requested: Scope) -> bool {
    held.iter().any(|h| {
        *h == requested
            || *h == Scope::Admin
            || (*h == Scope::Full && matches!(requested, Scope::ReadOnly | Scope::Metering))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration() -> Integration {
        NewIntegration {
            name: "a".into(),
            role_arn: "arn:aws:iam::123456789012:role/R".into(),
            region: "us-east-1".into(),
            products: vec![],
            notifications: Notifications::default(),
            data_feed_bucket: String::new(),
        }
        .into_integration(
            Id::generate("org"),
            "x".repeat(40),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn role_or_region_change_requires_reverification() {
        let mut i = integration();
        assert_eq!(i.aws_account_id, "123456789012");
        i.state = IntegrationState::Verified;
        let changed = i.apply(
            IntegrationPatch {
                name: Some("b".into()),
                ..Default::default()
            },
            i.created_at,
        );
        assert!(!changed);
        assert_eq!(i.state, IntegrationState::Verified);
        let patch = IntegrationPatch {
            role_arn: Some("arn:aws:iam::210987654321:role/R".into()),
            ..Default::default()
        };
        assert!(i.apply(patch, i.created_at));
        assert_eq!(i.state, IntegrationState::PendingVerification);
        assert_eq!(i.aws_account_id, "210987654321");
    }

    #[test]
    fn grant_rules() {
        assert!(may_grant(&[Scope::Admin], Scope::Admin));
        assert!(!may_grant(&[Scope::Full], Scope::Admin));
        assert!(may_grant(&[Scope::Full], Scope::ReadOnly));
        assert!(!may_grant(&[Scope::ReadOnly], Scope::Metering));
    }
}
