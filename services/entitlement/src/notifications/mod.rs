//! AWS Marketplace notifications, from raw bytes to [`Notice`]s: legacy SNS envelopes (HTTP
//! endpoint or SQS), raw SNS messages, EventBridge events, and the SNS signature check
//! (docs/aws/notifications.md). Pure parsing and verification: no HTTP server, no store.
//!
//! Flow for the SNS HTTP endpoint: [`parse_sns_envelope`], then [`SnsVerifier::verify`], then
//! [`envelope_inbound`]. For the EventBridge endpoint: [`parse_eventbridge`] (its shared secret
//! is checked by the caller). For the SQS poller: [`parse_sqs_body`], or [`classify_sqs_body`]
//! to verify envelopes first.
//!
//! No input makes these functions panic; bodies over [`MAX_BODY_BYTES`] are refused unread.

mod certificates;
mod envelope;
mod eventbridge;
pub mod fuzz;
mod legacy;
mod signature;
mod sqs_body;

pub use certificates::{
    CertificateFetcher, CertificatePolicy, FetchError, HttpCertificateFetcher, PolicyError,
    SnsVerifier,
};
pub use envelope::{EnvelopeKind, SnsEnvelope, envelope_inbound, parse_sns_envelope};
pub use eventbridge::parse_eventbridge;
pub use signature::VerifyError;
pub use sqs_body::{SqsBody, classify_sqs_body, parse_sqs_body};

use serde_json::Value;
use time::OffsetDateTime;

use crate::domain::notice::Notice;

/// The largest body accepted: SNS and EventBridge both cap a message at 256 KiB, and
/// Marketplace notifications are far smaller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What one inbound message asks of Souk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A subscription or licence change to apply.
    Notice(Notice),
    /// SNS asks the endpoint to confirm a subscription (fetch `subscribe_url`).
    Confirmation(SubscriptionConfirmation),
    /// Well-formed, but nothing Souk acts on (catalog events, other agreement events,
    /// `UnsubscribeConfirmation`); acknowledge and drop.
    Ignored {
        /// Why it was ignored, for logs.
        reason: String,
    },
}

/// An SNS `SubscriptionConfirmation`: confirmed by fetching `subscribe_url` once its signature
/// was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionConfirmation {
    /// The topic that wants to deliver to us.
    pub topic_arn: String,
    /// `https://sns.<region>.amazonaws.com/?Action=ConfirmSubscription&...`.
    pub subscribe_url: String,
    /// The confirmation token (valid two days).
    pub token: String,
    /// SNS `MessageId`.
    pub message_id: String,
}

/// Why a body is not a notification Souk understands. The display is a short reason a
/// dead-letter row can store, e.g. `SNS envelope: missing MessageId`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    reason: String,
}

impl ParseError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason, as displayed.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Refuses oversized bodies before anything parses them.
fn check_size(what: &str, len: usize) -> Result<(), ParseError> {
    if len > MAX_BODY_BYTES {
        return Err(ParseError::new(format!(
            "{what}: body of {len} bytes exceeds {MAX_BODY_BYTES}"
        )));
    }
    Ok(())
}

/// A JSON document that must be an object.
fn json_object(what: &str, bytes: &[u8]) -> Result<serde_json::Map<String, Value>, ParseError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ParseError::new(format!("{what}: not a JSON object"))),
        Err(error) => Err(ParseError::new(format!("{what}: invalid JSON ({error})"))),
    }
}

/// The decoded text of an SNS `Message` (or a raw SQS body): an EventBridge event when it has a
/// `detail-type`, a legacy Marketplace message otherwise.
fn message_inbound(
    message: &str,
    message_id: &str,
    sent_at: OffsetDateTime,
) -> Result<Inbound, ParseError> {
    let object = json_object("SNS message", message.as_bytes())?;
    if object.contains_key("detail-type") {
        eventbridge::event_inbound(&object)
    } else {
        legacy::message_notice(&object, message_id, sent_at).map(Inbound::Notice)
    }
}

/// An optional string member: absent, `null` and `""` are all "not given".
fn optional_string(
    what: &str,
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ParseError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ParseError::new(format!("{what}: {key} is not a string"))),
    }
}

/// A required, non-empty string member.
fn required_string(
    what: &str,
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<String, ParseError> {
    optional_string(what, object, key)?
        .ok_or_else(|| ParseError::new(format!("{what}: missing {key}")))
}

/// A value from the input quoted for an error message, cut so reasons stay short.
fn quoted(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", &value[..end]),
        None => format!("{value:?}"),
    }
}

/// A 12-digit AWS account id, or an error naming `field`.
fn account_id(
    what: &str,
    field: &str,
    value: Option<String>,
) -> Result<Option<String>, ParseError> {
    match value {
        Some(id) if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) => {
            Err(ParseError::new(format!(
                "{what}: {field} {} is not an AWS account id",
                quoted(&id)
            )))
        }
        other => Ok(other),
    }
}

/// An RFC 3339 instant, in UTC.
fn rfc3339(what: &str, field: &str, text: &str) -> Result<OffsetDateTime, ParseError> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|at| at.to_offset(time::UtcOffset::UTC))
        .map_err(|_| {
            ParseError::new(format!(
                "{what}: {field} {} is not an RFC 3339 time",
                quoted(text)
            ))
        })
}

/// Notifications exactly as the emulator builds them (its own builders and signer), so the
/// tests prove Souk reads what the emulator sends.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::collections::BTreeMap;

    use souk_emulator::agreement::{Agreement, AgreementStatus, events};
    use souk_emulator::market::{
        self, Dimension, DimensionKind, EntitlementValue, NewProduct, SubscribeRequest,
    };
    use souk_emulator::notify::signing::{self, SignatureVersion};
    use souk_emulator::notify::{Notification, eventbridge, sns};
    use souk_emulator::{At, EmulatorConfig, World};
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    /// The product in every fixture.
    pub const PRODUCT: &str = "soukdemoproductcode0001";
    /// The buyer in every fixture (the emulator's default seller is 111122223333).
    pub const BUYER: &str = "444455556666";
    /// When the fixtures happen.
    pub const AT: OffsetDateTime = datetime!(2026-11-02 08:15:30.125 UTC);
    /// The emulator's certificate URL (its default public URL).
    pub const EMULATOR_CERT_URL: &str =
        "http://localhost:4566/_souk/sns/SimpleNotificationService-souk.pem";

    /// A buyer's whole life on a product: subscribe, new entitlements, unsubscribe, the final
    /// hour passing. Concurrent-agreement products add the EventBridge events.
    pub fn market_lifecycle(concurrent: bool) -> Vec<Notification> {
        let config = EmulatorConfig::default();
        let mut world = World::default();
        let product = NewProduct {
            product_code: Some(PRODUCT.to_owned()),
            dimensions: vec![Dimension {
                name: "seats".to_owned(),
                kind: DimensionKind::Entitled,
                description: String::new(),
            }],
            concurrent_agreements: concurrent,
            ..NewProduct::default()
        };
        market::create_product(&mut world, product).expect("product");
        let request = SubscribeRequest {
            product_code: PRODUCT.to_owned(),
            customer_aws_account_id: BUYER.to_owned(),
            offer_id: Some("offer-soukdemo00001".to_owned()),
            free_trial: true,
            ..SubscribeRequest::default()
        };
        let now = At::from(AT);
        market::subscribe(&mut world, &config, request, now).expect("subscribe");
        let seats = BTreeMap::from([("seats".to_owned(), EntitlementValue::Integer(5))]);
        market::set_entitlements(&mut world, &config, PRODUCT, BUYER, seats, None)
            .expect("entitlements");
        let unsubscribed = now + Duration::seconds(10);
        market::unsubscribe(&mut world, &config, PRODUCT, BUYER, unsubscribed)
            .expect("unsubscribe");
        market::tick(&mut world, &config, unsubscribed + Duration::HOUR);
        std::mem::take(&mut world.notify.pending)
    }

    /// The agreement events of a channel-partner sale (proposer ≠ manufacturer, so both the
    /// `- Proposer` and `- Manufacturer` variants): created, amended, ended, licence updated.
    pub fn agreement_events() -> Vec<Notification> {
        let mut world = World::default();
        let agreement = Agreement {
            id: "agmt-4mwg1nevbokzw95eca5797ixs".to_owned(),
            intent: "NEW".to_owned(),
            status: AgreementStatus::Active,
            acceptor_account_id: BUYER.to_owned(),
            proposer_account_id: "777788889999".to_owned(),
            manufacturer_account_id: "111122223333".to_owned(),
            offer_id: "offer-1234567890123".to_owned(),
            offer_set_id: None,
            product_id: "prod-1111111111111".to_owned(),
            product_code: PRODUCT.to_owned(),
            resale_authorization_id: Some("resaleauthz-yaxjqxiskysxa".to_owned()),
            previous_agreement_id: None,
            acceptance_time: AT.into(),
            start_time: AT.into(),
            end_time: None,
            terms: Vec::new(),
            selector_value: None,
            quantities: Vec::new(),
            currency_code: "USD".to_owned(),
            agreement_value_micros: 0,
            auto_renew: true,
            updated_at: AT.into(),
        };
        events::created(&mut world, &agreement);
        events::amended(&mut world, &agreement);
        let ended = Agreement {
            status: AgreementStatus::Cancelled,
            ..agreement.clone()
        };
        events::ended(&mut world, &ended);
        events::license_updated(
            &mut world,
            &agreement,
            Some(
                "arn:aws:license-manager::444455556666:license:l-0123456789abcdef0123456789abcdef",
            ),
        );
        std::mem::take(&mut world.notify.pending)
    }

    /// The EventBridge event the emulator delivers for `notification`, as JSON text.
    pub fn event(notification: &Notification) -> String {
        let Notification::EventBridge {
            source,
            detail_type,
            resources,
            detail,
        } = notification
        else {
            panic!("not an EventBridge notification: {notification:?}");
        };
        let config = EmulatorConfig::default();
        eventbridge::event(
            source,
            detail_type,
            resources,
            detail,
            &config.seller_account_id,
            &config.region,
            AT.into(),
        )
        .to_string()
    }

    /// The SNS `Message` the emulator sends for `notification`.
    pub fn message(notification: &Notification) -> String {
        sns::message_body(notification).expect("an SNS notification")
    }

    /// A `Notification` envelope around `message`, signed by the emulator's key.
    pub fn envelope(message: &str, version: SignatureVersion) -> sns::Envelope {
        let mut envelope = sns::Envelope {
            kind: "Notification".to_owned(),
            message_id: "6f1c2a9e-0b7d-4e55-9a63-2d8f41c0e7b1".to_owned(),
            token: None,
            topic_arn: format!(
                "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-{PRODUCT}"
            ),
            message: message.to_owned(),
            subscribe_url: None,
            timestamp: sns::timestamp(AT.into()),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: EMULATOR_CERT_URL.to_owned(),
            unsubscribe_url: Some(
                "http://localhost:4566/_souk/sns/unsubscribe?Action=Unsubscribe".to_owned(),
            ),
        };
        envelope.sign(&signer(), version).expect("signed");
        envelope
    }

    /// A `SubscriptionConfirmation`, signed by the emulator's key.
    pub fn confirmation() -> sns::Envelope {
        let mut envelope = envelope(
            "You have chosen to subscribe to the topic",
            SignatureVersion::V2,
        );
        envelope.kind = "SubscriptionConfirmation".to_owned();
        envelope.token = Some("2336412f37fb687f5d51e6e2425c464de".to_owned());
        envelope.subscribe_url = Some(format!(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={}&Token=2336412f37fb687f5d51e6e2425c464de",
            envelope.topic_arn
        ));
        envelope.unsubscribe_url = None;
        envelope
            .sign(&signer(), SignatureVersion::V2)
            .expect("signed");
        envelope
    }

    /// The emulator's signer (key cached on disk across test runs).
    pub fn signer() -> std::sync::Arc<signing::Signer> {
        signing::signer_blocking().expect("emulator signer")
    }
}
