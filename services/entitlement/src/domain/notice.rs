//! A notification from AWS, whatever its route (SQS, the SNS endpoint, the EventBridge endpoint,
//! the buyer's browser), reduced to what the subscription state machine needs.

use time::OffsetDateTime;

/// What AWS said happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    /// Legacy `subscribe-success`, or EventBridge `Purchase Agreement Created`.
    SubscribeSuccess,
    /// Legacy `subscribe-fail`.
    SubscribeFail,
    /// Legacy `unsubscribe-pending`, or EventBridge `Purchase Agreement Ended`.
    UnsubscribePending,
    /// Legacy `unsubscribe-success`, or EventBridge `License Deprovisioned`.
    UnsubscribeSuccess,
    /// Legacy `entitlement-updated`, EventBridge `License Updated` or `Purchase Agreement
    /// Amended`: the contract changed; read the entitlements again.
    EntitlementUpdated,
}

impl NoticeKind {
    /// The legacy action name (`subscribe-success`, ...), for logs and events.
    pub fn action(&self) -> &'static str {
        match self {
            Self::SubscribeSuccess => "subscribe-success",
            Self::SubscribeFail => "subscribe-fail",
            Self::UnsubscribePending => "unsubscribe-pending",
            Self::UnsubscribeSuccess => "unsubscribe-success",
            Self::EntitlementUpdated => "entitlement-updated",
        }
    }
}

/// The route a notice took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeSource {
    /// A legacy SNS notification (HTTPS endpoint or SQS queue).
    Sns,
    /// An EventBridge event (API destination or SQS queue).
    EventBridge,
}

/// One notification, parsed and authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The route it took.
    pub source: NoticeSource,
    /// AWS's id of the message (SNS `MessageId`, EventBridge `id`): duplicates share it.
    pub message_id: String,
    /// When AWS sent it (SNS `Timestamp`, EventBridge `time`): orders notices of one
    /// subscription, whatever order they arrive in.
    pub sent_at: OffsetDateTime,
    /// Marketplace product code; `None` when the event names only the licence or agreement.
    pub product_code: Option<String>,
    /// Legacy CustomerIdentifier.
    pub customer_identifier: Option<String>,
    /// The buyer's 12-digit AWS account id.
    pub aws_account_id: Option<String>,
    /// AWS License Manager licence ARN (concurrent-agreement products).
    pub license_arn: Option<String>,
    /// AWS agreement id (`agmt-...`).
    pub agreement_id: Option<String>,
    /// AWS offer id (`offer-...`).
    pub offer_id: Option<String>,
    /// True if the accepted offer has a free-trial term.
    pub free_trial: bool,
}
