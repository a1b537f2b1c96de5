//! Notification subscriptions: which SNS topic or EventBridge events go to which SQS queue or
//! HTTP endpoint, and how (signature version, raw delivery, shared secret).

use serde::{Deserialize, Serialize};

use super::model::Notification;
use super::signing::SignatureVersion;

/// The two AWS Marketplace SNS topics of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnsTopic {
    /// `aws-mp-subscription-notification-<product code>`.
    Subscription,
    /// `aws-mp-entitlement-notification-<product code>`.
    Entitlement,
}

impl SnsTopic {
    /// The topic name for `product_code`.
    pub fn name(self, product_code: &str) -> String {
        match self {
            Self::Subscription => format!("aws-mp-subscription-notification-{product_code}"),
            Self::Entitlement => format!("aws-mp-entitlement-notification-{product_code}"),
        }
    }
}

/// Where deliveries go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", content = "endpoint", rename_all = "lowercase")]
pub enum Target {
    /// An emulator SQS queue, by URL or ARN.
    Sqs(String),
    /// An HTTP endpoint (POST).
    Http(String),
}

impl Target {
    /// The endpoint as configured.
    pub fn endpoint(&self) -> &str {
        match self {
            Self::Sqs(endpoint) | Self::Http(endpoint) => endpoint,
        }
    }
}

/// What a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Feed {
    /// One of a product's SNS topics, as signed SNS envelopes.
    Sns {
        /// The topic.
        topic: SnsTopic,
        /// The product code.
        product_code: String,
        /// The topic ARN.
        topic_arn: String,
        /// SHA1 ("1") or SHA256 ("2") signatures.
        signature_version: SignatureVersion,
        /// Deliver the bare `Message` instead of the envelope.
        raw_message_delivery: bool,
    },
    /// EventBridge events (a rule on the default bus).
    EventBridge {
        /// Event sources to match; empty matches all.
        sources: Vec<String>,
        /// Detail types to match; empty matches all.
        detail_types: Vec<String>,
        /// Shared secret sent with HTTP deliveries.
        secret: Option<String>,
        /// The header carrying the secret.
        secret_header: String,
    },
}

/// Confirmation state (HTTP SNS subscriptions start pending, as on AWS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the endpoint to visit the SubscribeURL.
    PendingConfirmation,
    /// Receives deliveries.
    Confirmed,
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Emulator id.
    pub id: String,
    /// Subscription ARN (SNS) or rule ARN (EventBridge).
    pub arn: String,
    /// What it receives.
    pub feed: Feed,
    /// Where it goes.
    pub target: Target,
    /// Confirmation state.
    pub status: Status,
    /// The confirmation token in the SubscribeURL.
    pub token: String,
}

impl Subscription {
    /// Whether this subscription receives `notification`.
    pub fn matches(&self, notification: &Notification) -> bool {
        if self.status != Status::Confirmed {
            return false;
        }
        match (&self.feed, notification) {
            (
                Feed::Sns {
                    topic: SnsTopic::Subscription,
                    product_code,
                    ..
                },
                Notification::Subscription {
                    product_code: code, ..
                },
            )
            | (
                Feed::Sns {
                    topic: SnsTopic::Entitlement,
                    product_code,
                    ..
                },
                Notification::EntitlementUpdated {
                    product_code: code, ..
                },
            ) => product_code == code,
            (
                Feed::EventBridge {
                    sources,
                    detail_types,
                    ..
                },
                Notification::EventBridge {
                    source,
                    detail_type,
                    ..
                },
            ) => {
                (sources.is_empty() || sources.contains(source))
                    && (detail_types.is_empty() || detail_types.contains(detail_type))
            }
            _ => false,
        }
    }
}
