//! The market's data: products and dimensions, buyers, subscriptions, contract entitlements and
//! registration tokens, with the lookups on them (`World.market`). The rules that change them,
//! and emit notifications, are in [`crate::market`].
//!
//! Times here are whole seconds: the state file and the control API show them as whole epoch
//! seconds, so the rules round the clock down before storing it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::at::At;

/// What kind of listing a product is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    /// SaaS (BatchMeterUsage, ResolveCustomer, GetEntitlements).
    Saas,
    /// AMI (MeterUsage).
    Ami,
    /// Container (MeterUsage, RegisterUsage).
    Container,
    /// Professional services (no metering).
    ProfessionalServices,
}

/// Whether a dimension is metered (BatchMeterUsage / MeterUsage) or entitled (contracts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionKind {
    /// Usage is reported through the metering API.
    Metered,
    /// Bought up front in a contract; read through GetEntitlements.
    Entitled,
}

/// One pricing dimension of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// The dimension key (API name), case-sensitive.
    pub name: String,
    /// Metered or entitled.
    #[serde(rename = "type")]
    pub kind: DimensionKind,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// A listed product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// The product code used by metering and entitlement.
    pub product_code: String,
    /// The catalog product id (`prod-...`).
    pub product_id: String,
    /// The kind of listing.
    pub kind: ProductKind,
    /// Display title.
    pub title: String,
    /// Pricing dimensions.
    pub dimensions: Vec<Dimension>,
    /// Concurrent-agreement product: buyers are identified by `CustomerAWSAccountId` +
    /// `LicenseArn`, `ResolveCustomer` returns no `CustomerIdentifier`, EventBridge events are
    /// emitted next to the SNS messages.
    pub concurrent_agreements: bool,
    /// The seller's fulfilment URL (where the buyer's browser POSTs the registration token).
    pub fulfillment_url: String,
    /// When it was created or last replaced (the epoch when created without a clock, through
    /// [`create_product`](crate::market::create_product) directly). The catalog shows it as `LastModifiedDate`.
    #[serde(default, skip_serializing_if = "is_epoch", with = "crate::at::seconds")]
    pub last_modified: At,
}

fn is_epoch(at: &At) -> bool {
    *at == At::UNIX_EPOCH
}

impl Product {
    /// The dimension named `name` (case-sensitive).
    pub fn dimension(&self, name: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.name == name)
    }
}

/// A buyer account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The buyer's AWS account id.
    pub aws_account_id: String,
    /// The legacy opaque `CustomerIdentifier` (stable per account).
    pub customer_identifier: String,
}

/// Where a subscription is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Subscribed; metering accepted.
    Active,
    /// `unsubscribe-pending` sent; metering accepted until `ends_at`.
    UnsubscribePending {
        /// When `unsubscribe-success` happens.
        #[serde(with = "crate::at::seconds")]
        ends_at: At,
    },
    /// `unsubscribe-success` sent; metering rejected with `CustomerNotSubscribed`.
    Unsubscribed {
        /// When.
        #[serde(with = "crate::at::seconds")]
        at: At,
    },
}

/// A buyer's subscription (agreement) to a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The product code.
    pub product_code: String,
    /// The buyer account.
    pub aws_account_id: String,
    /// The buyer's legacy identifier.
    pub customer_identifier: String,
    /// The licence ARN of this agreement.
    pub license_arn: String,
    /// The agreement id (`agmt-...`).
    pub agreement_id: String,
    /// The offer accepted, if any.
    pub offer_id: Option<String>,
    /// Whether the offer had a free-trial term.
    pub free_trial: bool,
    /// Lifecycle state.
    pub status: SubscriptionStatus,
    /// When `subscribe-success` happened.
    #[serde(with = "crate::at::seconds")]
    pub subscribed_at: At,
}

impl Subscription {
    /// Whether usage may be metered at `now` (active, or within the final hour).
    pub fn accepts_metering(&self, now: At) -> bool {
        match self.status {
            SubscriptionStatus::Active => true,
            SubscriptionStatus::UnsubscribePending { ends_at } => now < ends_at,
            SubscriptionStatus::Unsubscribed { .. } => false,
        }
    }
}

/// A contract entitlement value (exactly one member of AWS's `EntitlementValue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EntitlementValue {
    /// `IntegerValue` (quantity dimensions).
    Integer(i64),
    /// `BooleanValue`.
    Boolean(bool),
    /// `DoubleValue`.
    Double(f64),
    /// `StringValue`.
    String(String),
}

impl EntitlementValue {
    /// The AWS `EntitlementValue` structure as JSON (`{"IntegerValue": 10}` ...).
    pub fn to_wire(&self) -> serde_json::Value {
        match self {
            Self::Integer(v) => serde_json::json!({ "IntegerValue": v }),
            Self::Boolean(v) => serde_json::json!({ "BooleanValue": v }),
            Self::Double(v) => serde_json::json!({ "DoubleValue": v }),
            Self::String(v) => serde_json::json!({ "StringValue": v }),
        }
    }
}

/// One contract entitlement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entitlement {
    /// The product code.
    pub product_code: String,
    /// The dimension.
    pub dimension: String,
    /// The buyer account.
    pub aws_account_id: String,
    /// The buyer's legacy identifier.
    pub customer_identifier: String,
    /// The licence ARN.
    pub license_arn: String,
    /// The value.
    pub value: EntitlementValue,
    /// When the contract ends, if it does.
    #[serde(default, with = "crate::at::seconds::option")]
    pub expiration: Option<At>,
}

/// An issued registration token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationToken {
    /// The product code.
    pub product_code: String,
    /// The buyer account.
    pub aws_account_id: String,
    /// When it was issued.
    #[serde(with = "crate::at::seconds")]
    pub issued_at: At,
}

/// State of the market emulation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MarketState {
    /// Products by product code.
    pub products: BTreeMap<String, Product>,
    /// Customers by AWS account id.
    pub customers: BTreeMap<String, Customer>,
    /// Subscriptions by `product_code/aws_account_id`.
    pub subscriptions: BTreeMap<String, Subscription>,
    /// Entitlements by `product_code/aws_account_id/dimension`.
    pub entitlements: BTreeMap<String, Entitlement>,
    /// Registration tokens.
    pub tokens: BTreeMap<String, RegistrationToken>,
    /// Earliest pending `unsubscribe-success`, so [`tick`](crate::market::tick) is free otherwise.
    #[serde(default, with = "crate::at::seconds::option")]
    pub next_transition_at: Option<At>,
}

impl MarketState {
    /// Recomputes [`MarketState::next_transition_at`] from the pending unsubscriptions after
    /// `now` (after [`tick`](crate::market::tick), and when a persisted state is loaded).
    pub fn recompute_next_transition(&mut self, now: At) {
        self.next_transition_at = self
            .subscriptions
            .values()
            .filter_map(|s| match s.status {
                SubscriptionStatus::UnsubscribePending { ends_at } if ends_at > now => {
                    Some(ends_at)
                }
                _ => None,
            })
            .min();
    }

    /// The product with this code.
    pub fn product(&self, product_code: &str) -> Option<&Product> {
        self.products.get(product_code)
    }

    /// The product with this catalog id.
    pub fn product_by_id(&self, product_id: &str) -> Option<&Product> {
        self.products.values().find(|p| p.product_id == product_id)
    }

    /// The customer with this account id.
    pub fn customer_by_account(&self, aws_account_id: &str) -> Option<&Customer> {
        self.customers.get(aws_account_id)
    }

    /// The customer with this legacy identifier.
    pub fn customer_by_identifier(&self, customer_identifier: &str) -> Option<&Customer> {
        self.customers
            .values()
            .find(|c| c.customer_identifier == customer_identifier)
    }

    /// The subscription of `aws_account_id` to `product_code`.
    pub fn subscription(&self, product_code: &str, aws_account_id: &str) -> Option<&Subscription> {
        self.subscriptions
            .get(&subscription_key(product_code, aws_account_id))
    }

    /// The subscription that owns `license_arn` (compared on the trailing `l-...` id).
    pub fn subscription_by_license(&self, license_arn: &str) -> Option<&Subscription> {
        let wanted = license_id(license_arn);
        self.subscriptions
            .values()
            .find(|s| license_id(&s.license_arn) == wanted)
    }

    /// Subscriptions of a product that accept metering at `now`, ordered by account.
    pub fn active_subscribers(
        &self,
        product_code: &str,
        now: At,
    ) -> impl Iterator<Item = &Subscription> {
        self.subscriptions
            .values()
            .filter(move |s| s.product_code == product_code && s.accepts_metering(now))
    }
}

pub(crate) fn subscription_key(product_code: &str, account: &str) -> String {
    format!("{product_code}/{account}")
}

/// The `l-...` licence id at the end of a licence ARN.
pub fn license_id(license_arn: &str) -> &str {
    license_arn.rsplit([':', '/']).next().unwrap_or(license_arn)
}
