//! What the entitlement service tells the rest of the world, in domain terms; `events/` turns
//! each into a `souk.events.v1.Event` in the outbox of the same transaction.

use super::model::{Agreement, Entitlement, Feature, Subscription};
use super::notice::NoticeSource;

/// Where Souk learned of a subscription change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The buyer's browser (ResolveCustomer).
    Fulfilment,
    /// A notification.
    Notice(NoticeSource),
}

/// One event of the entitlement service.
#[derive(Debug, Clone, PartialEq)]
pub enum EntitlementEvent {
    /// `subscription.created`.
    SubscriptionCreated(Subscription, Origin),
    /// `subscription.activated`.
    SubscriptionActivated(Subscription, Origin),
    /// `subscription.failed`, with what AWS said.
    SubscriptionFailed(Subscription, Origin, String),
    /// `subscription.cancel_pending`.
    SubscriptionCancelPending(Subscription, Origin),
    /// `subscription.cancelled`.
    SubscriptionCancelled(Subscription, Origin),
    /// `entitlement.changed`.
    EntitlementChanged(EntitlementChange),
    /// `entitlement.expiring`: `days` before the entitlement's expiry.
    EntitlementExpiring {
        /// Owning organisation.
        organization_id: souk_core::Id,
        /// The integration.
        integration_id: souk_core::Id,
        /// The entitlement.
        entitlement: Entitlement,
        /// The threshold crossed.
        days: i32,
    },
    /// `agreement.created`.
    AgreementCreated(Agreement),
    /// `agreement.ended`, with the subscription's final metering deadline if known.
    AgreementEnded(Agreement, Option<time::OffsetDateTime>),
}

/// A customer's entitlements or features, before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct EntitlementChange {
    /// Owning organisation.
    pub organization_id: souk_core::Id,
    /// The integration.
    pub integration_id: souk_core::Id,
    /// The customer.
    pub customer_id: souk_core::Id,
    /// Product code.
    pub product_code: String,
    /// Entitlements after.
    pub entitlements: Vec<Entitlement>,
    /// Entitlements before.
    pub previous_entitlements: Vec<Entitlement>,
    /// Features after.
    pub features: Vec<Feature>,
    /// Features before.
    pub previous_features: Vec<Feature>,
    /// `aws`, `plan` or `subscription`.
    pub cause: &'static str,
}
