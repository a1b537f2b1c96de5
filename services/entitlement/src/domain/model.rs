//! The entitlement service's records: customers, their subscriptions, agreements, contract
//! entitlements, the features derived from them, and per-integration fulfilment settings.

use souk_core::Id;
use time::OffsetDateTime;

/// Id prefix of customers.
pub const CUSTOMER_PREFIX: &str = "cus";
/// Id prefix of subscriptions.
pub const SUBSCRIPTION_PREFIX: &str = "sub";
/// Id prefix of plans.
pub const PLAN_PREFIX: &str = "plan";

/// Lifecycle state of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// The buyer arrived; AWS has not confirmed yet.
    Pending,
    /// AWS confirmed: grant access, meter.
    Active,
    /// AWS reported a failure.
    Failed,
    /// The buyer is cancelling; usage is accepted until the final metering deadline.
    CancelPending,
    /// Ended.
    Cancelled,
}

impl SubscriptionState {
    /// Whether the subscription grants access (and accepts usage).
    pub fn grants_access(self) -> bool {
        matches!(self, Self::Active | Self::CancelPending)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Failed => "failed",
            Self::CancelPending => "cancel_pending",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Active,
            Self::Failed,
            Self::CancelPending,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// What a buyer typed on Souk's hosted sign-up page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signup {
    /// Company name.
    pub company: String,
    /// Contact person.
    pub contact_name: String,
    /// Contact e-mail.
    pub email: String,
    /// When it was submitted.
    pub submitted_at: OffsetDateTime,
}

/// One AWS account buying one product through one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `cus_...`.
    pub id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// The integration (seller account).
    pub integration_id: Id,
    /// Marketplace product code.
    pub product_code: String,
    /// Legacy CustomerIdentifier.
    pub customer_identifier: Option<String>,
    /// The buyer's AWS account id.
    pub aws_account_id: Option<String>,
    /// Licence ARN (concurrent-agreement products).
    pub license_arn: Option<String>,
    /// The seller's own account id (LinkCustomer).
    pub external_id: Option<String>,
    /// Hosted sign-up details.
    pub signup: Option<Signup>,
    /// First seen.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// How AWS identifies a buyer; a customer matches on any key it shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuyerKeys {
    /// Marketplace product code, when known.
    pub product_code: Option<String>,
    /// Legacy CustomerIdentifier.
    pub customer_identifier: Option<String>,
    /// AWS account id.
    pub aws_account_id: Option<String>,
    /// Licence ARN.
    pub license_arn: Option<String>,
}

/// A customer's subscription to its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `sub_...`.
    pub id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// The integration.
    pub integration_id: Id,
    /// The customer.
    pub customer_id: Id,
    /// Marketplace product code.
    pub product_code: String,
    /// Licence ARN.
    pub license_arn: Option<String>,
    /// Agreement id.
    pub agreement_id: Option<String>,
    /// Offer id.
    pub offer_id: Option<String>,
    /// Lifecycle state.
    pub state: SubscriptionState,
    /// Free-trial offer.
    pub free_trial: bool,
    /// When AWS confirmed it.
    pub activated_at: Option<OffsetDateTime>,
    /// When AWS announced the cancellation.
    pub cancel_pending_at: Option<OffsetDateTime>,
    /// Last instant usage is accepted after a cancellation.
    pub final_metering_deadline: Option<OffsetDateTime>,
    /// When it ended.
    pub cancelled_at: Option<OffsetDateTime>,
    /// AWS's send time of the notice that last changed `state`: older notices arriving late
    /// cannot undo a newer one.
    pub state_notice_at: Option<OffsetDateTime>,
    /// First seen.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// The value of an AWS entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntitlementValue {
    /// A quantity.
    Integer(i64),
    /// On or off.
    Boolean(bool),
    /// A string, such as a tier.
    Text(String),
    /// An AWS DoubleValue, kept as the decimal text AWS sent.
    Decimal(String),
}

impl EntitlementValue {
    /// Whether the value grants anything: a positive quantity, `true`, any text or a decimal
    /// above zero.
    pub fn is_positive(&self) -> bool {
        match self {
            Self::Integer(n) => *n > 0,
            Self::Boolean(b) => *b,
            Self::Text(t) => !t.is_empty(),
            // Only compared with zero, so a float is exact enough.
            Self::Decimal(d) => d.parse::<f64>().is_ok_and(|v| v > 0.0),
        }
    }
}

/// A customer's contract entitlement on one dimension, as AWS GetEntitlements gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    /// The customer.
    pub customer_id: Id,
    /// Marketplace product code.
    pub product_code: String,
    /// Dimension key.
    pub dimension: String,
    /// Value.
    pub value: EntitlementValue,
    /// When it expires, if AWS said.
    pub expires_at: Option<OffsetDateTime>,
    /// Licence ARN, if any.
    pub license_arn: Option<String>,
    /// When Souk read it.
    pub updated_at: OffsetDateTime,
}

impl Entitlement {
    /// Whether the entitlement has expired at `now`.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Same dimension, value and expiry (what a change report compares).
    pub fn same_grant(&self, other: &Entitlement) -> bool {
        self.dimension == other.dimension
            && self.value == other.value
            && self.expires_at == other.expires_at
            && self.license_arn == other.license_arn
    }
}

/// A feature a customer has, derived from its subscription, entitlements and plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// The seller's feature name.
    pub name: String,
    /// May use it now.
    pub allowed: bool,
    /// Limit, if any.
    pub limit: Option<i64>,
    /// No limit.
    pub unlimited: bool,
    /// When the grant ends.
    pub expires_at: Option<OffsetDateTime>,
    /// Plans granting it (empty without plans).
    pub plans: Vec<String>,
}

/// An AWS agreement Souk learned of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// `agmt-...`.
    pub id: String,
    /// Owning organisation.
    pub organization_id: Id,
    /// The integration.
    pub integration_id: Id,
    /// The customer, once matched.
    pub customer_id: Option<Id>,
    /// Product code, if known.
    pub product_code: Option<String>,
    /// Offer id, if known.
    pub offer_id: Option<String>,
    /// The buyer's account.
    pub acceptor_account_id: Option<String>,
    /// Status: `ACTIVE`, `CANCELLED`, `EXPIRED`, ... (AWS's names).
    pub status: String,
    /// When it started, if known.
    pub start_at: Option<OffsetDateTime>,
    /// When it ends, if known.
    pub end_at: Option<OffsetDateTime>,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// How buyers of one integration are fulfilled and its notifications accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilmentSettings {
    /// The integration.
    pub integration_id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// Where buyers go after the fulfilment POST; `None`: the hosted sign-up page.
    pub signup_url: Option<String>,
    /// Accepted SNS topics; empty: the Marketplace topics of the integration's products.
    pub sns_topic_arns: Vec<String>,
    /// Days before expiry on which `entitlement.expiring` is sent.
    pub expiry_notice_days: Vec<i32>,
    /// Hand-off HMAC key.
    pub handoff_secret: Option<String>,
    /// EventBridge shared secret.
    pub eventbridge_secret: Option<String>,
    /// Last changed; `None` for defaults never stored.
    pub updated_at: Option<OffsetDateTime>,
}

/// The expiry notice thresholds used until the seller sets its own.
pub const DEFAULT_EXPIRY_NOTICE_DAYS: [i32; 3] = [30, 7, 1];

impl FulfilmentSettings {
    /// The defaults of `integration_id`.
    pub fn defaults(organization_id: Id, integration_id: Id) -> Self {
        Self {
            integration_id,
            organization_id,
            signup_url: None,
            sns_topic_arns: Vec::new(),
            expiry_notice_days: DEFAULT_EXPIRY_NOTICE_DAYS.to_vec(),
            handoff_secret: None,
            eventbridge_secret: None,
            updated_at: None,
        }
    }
}
