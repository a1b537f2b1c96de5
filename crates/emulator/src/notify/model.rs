//! Notifications waiting for delivery, subscriptions, the delivery queue and log, and delivery
//! settings (data; `World.notify`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::subscription::{Subscription, Target};
use crate::at::At;

/// One lifecycle event to deliver, in AWS's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notification {
    /// SNS `aws-mp-subscription-notification` (action = subscribe-success, subscribe-fail,
    /// unsubscribe-pending, unsubscribe-success).
    Subscription {
        /// The SNS `action`.
        action: String,
        /// The product code.
        product_code: String,
        /// Legacy customer identifier (empty for concurrent-agreement products).
        customer_identifier: String,
        /// The buyer's AWS account id.
        customer_aws_account_id: String,
        /// Offer id, when known.
        offer_id: Option<String>,
        /// Whether the offer has a free-trial term.
        free_trial: bool,
    },
    /// SNS `aws-mp-entitlement-notification` (action = entitlement-updated).
    EntitlementUpdated {
        /// The product code.
        product_code: String,
        /// Legacy customer identifier.
        customer_identifier: String,
    },
    /// An EventBridge event (`source`, `detail-type`, `detail` as AWS documents them).
    EventBridge {
        /// `aws.agreement-marketplace`, `aws.marketplacecatalog` or `aws.marketplace`.
        source: String,
        /// For example `Purchase Agreement Created - Proposer`.
        detail_type: String,
        /// ARNs for the `resources` array.
        resources: Vec<String>,
        /// The `detail` object.
        detail: serde_json::Value,
    },
}

/// Delivery settings (control API `PUT /_souk/notifications/settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The emulator's externally reachable base URL (`http://host:port`), used in queue URLs,
    /// `SigningCertURL`, `SubscribeURL` and `UnsubscribeURL`.
    pub public_url: Option<String>,
    /// The AWS-owned account in the SNS topic ARNs.
    pub topic_account_id: String,
    /// Attempts per HTTP delivery before it is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further retry.
    pub backoff_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: None,
            topic_account_id: "287250355862".to_owned(),
            max_attempts: 4,
            backoff_ms: 200,
        }
    }
}

/// Outcome of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Queued or waiting for a retry.
    Pending,
    /// Accepted by the queue or endpoint (2xx).
    Delivered,
    /// Gave up after the last attempt.
    Failed,
}

/// One delivery (to one subscription) and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Delivery id.
    pub id: String,
    /// The subscription delivered to.
    pub subscription_id: String,
    /// `Notification`, `SubscriptionConfirmation` or `EventBridge`.
    pub kind: String,
    /// SNS MessageId or EventBridge event id.
    pub message_id: String,
    /// Where it went.
    pub target: Target,
    /// Outcome so far.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The last HTTP status, for HTTP targets.
    pub last_http_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The delivered body.
    pub body: String,
}

/// A delivery waiting for its (next) attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The [`DeliveryRecord`] it updates.
    pub record_id: String,
    /// Where it goes.
    pub target: Target,
    /// HTTP headers (HTTP targets).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, on the wall clock (retries are real time).
    #[serde(rename = "next_attempt_ms")]
    pub next_attempt: At,
}

/// Notification subscriptions and the notifications waiting to be delivered.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyState {
    /// Emitted, not yet delivered.
    pub pending: Vec<Notification>,
    /// Subscriptions.
    pub subscriptions: Vec<Subscription>,
    /// Deliveries waiting for an attempt.
    #[serde(alias = "outbox")]
    pub queued: Vec<Outgoing>,
    /// The most recent deliveries (bounded log).
    pub deliveries: Vec<DeliveryRecord>,
    /// Delivery settings.
    pub settings: Settings,
    /// Where state files written before the world had a `feeds` field kept the feeds state;
    /// read once on load ([`crate::World::migrate`]), never written.
    #[serde(rename = "feeds", skip_serializing)]
    pub(crate) legacy_feeds: Option<crate::feeds::model::FeedsState>,
    /// Wakes the delivery task.
    #[serde(skip)]
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

impl NotifyState {
    /// Queues `notification` for delivery to every subscribed queue or endpoint.
    pub fn emit(&mut self, notification: Notification) {
        self.pending.push(notification);
        self.wake.notify_one();
    }
}
