//! SNS envelopes (docs/aws/notifications.md, SNS envelope): `Notification` and `SubscriptionConfirmation`, signed.

use serde::Serialize;
use serde_json::json;

use super::Notification;
use super::signing::{SignatureVersion, Signer, string_to_sign};
use crate::at::At;

/// A signed SNS envelope, serialized in AWS's field order.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    /// `Notification` or `SubscriptionConfirmation`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Message id.
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// Confirmation token.
    #[serde(rename = "Token", skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Topic ARN.
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    /// The message (a JSON document as a string for notifications).
    #[serde(rename = "Message")]
    pub message: String,
    /// Confirmation URL.
    #[serde(rename = "SubscribeURL", skip_serializing_if = "Option::is_none")]
    pub subscribe_url: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    /// "1" or "2".
    #[serde(rename = "SignatureVersion")]
    pub signature_version: String,
    /// Base64 signature.
    #[serde(rename = "Signature")]
    pub signature: String,
    /// Where the certificate is served.
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    /// Unsubscribe link (notifications).
    #[serde(rename = "UnsubscribeURL", skip_serializing_if = "Option::is_none")]
    pub unsubscribe_url: Option<String>,
}

impl Envelope {
    /// The envelope as the JSON text SNS delivers.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Signs the envelope in place.
    pub fn sign(&mut self, signer: &Signer, version: SignatureVersion) -> Result<(), String> {
        self.signature_version = version.as_str().to_owned();
        let mut fields = vec![
            ("Type", self.kind.as_str()),
            ("MessageId", self.message_id.as_str()),
            ("TopicArn", self.topic_arn.as_str()),
            ("Message", self.message.as_str()),
            ("Timestamp", self.timestamp.as_str()),
        ];
        if let Some(token) = &self.token {
            fields.push(("Token", token));
        }
        if let Some(url) = &self.subscribe_url {
            fields.push(("SubscribeURL", url));
        }
        self.signature = signer.sign(&string_to_sign(&self.kind, &fields), version)?;
        Ok(())
    }
}

/// The `Message` JSON of an SNS notification (`None` for EventBridge notifications).
pub fn message_body(notification: &Notification) -> Option<String> {
    let value = match notification {
        Notification::Subscription {
            action,
            product_code,
            customer_identifier,
            customer_aws_account_id,
            offer_id,
            free_trial,
        } => {
            let mut body = serde_json::Map::new();
            body.insert("action".into(), action.clone().into());
            body.insert(
                "customer-identifier".into(),
                customer_identifier.clone().into(),
            );
            if customer_identifier.is_empty() {
                // Concurrent-agreement products have no legacy identifier: name the buyer account.
                body.insert(
                    "customer-aws-account-id".into(),
                    customer_aws_account_id.clone().into(),
                );
            }
            body.insert("product-code".into(), product_code.clone().into());
            if let Some(offer) = offer_id {
                body.insert("offer-identifier".into(), offer.clone().into());
            }
            body.insert(
                "isFreeTrialTermPresent".into(),
                free_trial.to_string().into(),
            );
            serde_json::Value::Object(body)
        }
        Notification::EntitlementUpdated {
            product_code,
            customer_identifier,
        } => json!({
            "action": "entitlement-updated",
            "customer-identifier": customer_identifier,
            "product-code": product_code,
        }),
        Notification::EventBridge { .. } => return None,
    };
    Some(value.to_string())
}

/// The product code a notification concerns, if it is an SNS one.
pub fn product_code(notification: &Notification) -> Option<&str> {
    match notification {
        Notification::Subscription { product_code, .. }
        | Notification::EntitlementUpdated { product_code, .. } => Some(product_code),
        Notification::EventBridge { .. } => None,
    }
}

/// SNS timestamp format with milliseconds.
pub fn timestamp(at: At) -> String {
    let at = at.to_offset_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}
