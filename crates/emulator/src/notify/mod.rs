//! Lifecycle notifications: legacy SNS envelopes (signed for real, SignatureVersion 1 and 2) and
//! EventBridge-shaped events, delivered to emulator SQS queues and/or HTTP endpoints.
//! Other modules only call [`NotifyState::emit`].
//!
//! Delivery model: `emit` queues a [`Notification`] in the world and wakes the background
//! delivery task ([`start_delivery`], started by the server next to the listener). The task takes
//! the pending notifications under the world lock, builds and signs the envelopes without it,
//! enqueues SQS deliveries under the lock again, and POSTs HTTP deliveries with a timeout and a
//! bounded exponential backoff ([`Settings`]). [`flush`] runs one delivery pass on demand (the
//! control API's `POST /_souk/notifications/flush`, and tests).

mod control;
mod delivery;
pub mod eventbridge;
pub mod http;
mod routes;
pub mod signing;
pub mod sns;
pub mod subscription;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use control::control_router;
pub use delivery::{FlushSummary, flush, start_delivery};
pub use routes::router;
pub use subscription::{Feed, SnsTopic, Status, Subscription, Target};

use crate::Emulator;

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
    /// Wall-clock epoch milliseconds of the next attempt.
    pub next_attempt_ms: i64,
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
    pub(crate) legacy_feeds: Option<crate::feeds::FeedsState>,
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

/// The emulator's base URL as clients reach it (settings, else `http://localhost:4566`).
pub fn public_url(emu: &Emulator) -> String {
    let configured = emu.world().notify.settings.public_url.clone();
    configured
        .unwrap_or_else(|| "http://localhost:4566".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Sets the base URL used in queue URLs and SNS links; the server calls this once it has bound.
pub fn set_public_url(emu: &Emulator, url: &str) {
    emu.world().notify.settings.public_url = Some(url.trim_end_matches('/').to_owned());
}

/// Wall-clock epoch milliseconds (retry scheduling is real time, not emulator time).
pub(crate) fn wall_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
