//! The SNS envelope an HTTP endpoint (or an SQS queue without raw delivery) receives, and the
//! string SNS signs over it (docs/aws/notifications.md, SNS envelope and string to sign).

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::{Inbound, ParseError, SubscriptionConfirmation, check_size, quoted, rfc3339};

const WHAT: &str = "SNS envelope";

/// The envelope's `Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// A published message.
    Notification,
    /// SNS asks the endpoint to confirm a subscription.
    SubscriptionConfirmation,
    /// SNS tells the endpoint it was unsubscribed.
    UnsubscribeConfirmation,
}

impl EnvelopeKind {
    /// The `Type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// A well-formed SNS envelope; not yet authenticated (see
/// [`SnsVerifier`](super::SnsVerifier)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsEnvelope {
    kind: EnvelopeKind,
    message_id: String,
    topic_arn: String,
    subject: Option<String>,
    message: String,
    /// As received: the signature covers this text, not a re-formatting of `timestamp`.
    timestamp_text: String,
    timestamp: OffsetDateTime,
    signature_version: String,
    signature: String,
    signing_cert_url: String,
    subscribe_url: Option<String>,
    token: Option<String>,
    unsubscribe_url: Option<String>,
}

/// The members Souk reads; the others (`MessageAttributes`, ...) are ignored. Values are taken
/// as JSON values so a wrong type gets a precise reason; serde's struct derive still rejects a
/// duplicated member, which could otherwise make the signed and the used value differ.
#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "Type")]
    kind: Option<Value>,
    #[serde(rename = "MessageId")]
    message_id: Option<Value>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<Value>,
    #[serde(rename = "Subject")]
    subject: Option<Value>,
    #[serde(rename = "Message")]
    message: Option<Value>,
    #[serde(rename = "Timestamp")]
    timestamp: Option<Value>,
    #[serde(rename = "SignatureVersion")]
    signature_version: Option<Value>,
    #[serde(rename = "Signature")]
    signature: Option<Value>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<Value>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<Value>,
    #[serde(rename = "Token")]
    token: Option<Value>,
    #[serde(rename = "UnsubscribeURL")]
    unsubscribe_url: Option<Value>,
}

/// `null` counts as absent (`"Subject": null` means no subject, and is not signed).
fn optional(value: Option<Value>, key: &str) -> Result<Option<String>, ParseError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ParseError::new(format!("{WHAT}: {key} is not a string"))),
    }
}

fn required(value: Option<Value>, key: &str) -> Result<String, ParseError> {
    match optional(value, key)? {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(ParseError::new(format!("{WHAT}: missing {key}"))),
    }
}

/// Parses the body of an SNS HTTP delivery (or an SQS message without raw delivery).
pub fn parse_sns_envelope(body: &[u8]) -> Result<SnsEnvelope, ParseError> {
    check_size(WHAT, body.len())?;
    // A serde struct also accepts a JSON array (members by position); an envelope is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ParseError::new(format!("{WHAT}: not a JSON object")));
    }
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|error| ParseError::new(format!("{WHAT}: invalid JSON ({error})")))?;
    let kind_text = required(raw.kind, "Type")?;
    let kind = match kind_text.as_str() {
        "Notification" => EnvelopeKind::Notification,
        "SubscriptionConfirmation" => EnvelopeKind::SubscriptionConfirmation,
        "UnsubscribeConfirmation" => EnvelopeKind::UnsubscribeConfirmation,
        other => {
            return Err(ParseError::new(format!(
                "{WHAT}: unknown Type {}",
                quoted(other)
            )));
        }
    };
    let message_id = required(raw.message_id, "MessageId")?;
    let topic_arn = required(raw.topic_arn, "TopicArn")?;
    // An empty Message is legal SNS (and signed as such), so only its presence is required.
    let message = optional(raw.message, "Message")?
        .ok_or_else(|| ParseError::new(format!("{WHAT}: missing Message")))?;
    let timestamp_text = required(raw.timestamp, "Timestamp")?;
    let timestamp = rfc3339(WHAT, "Timestamp", &timestamp_text)?;
    let signature_version = required(raw.signature_version, "SignatureVersion")?;
    let signature = required(raw.signature, "Signature")?;
    let signing_cert_url = required(raw.signing_cert_url, "SigningCertURL")?;
    let subject = optional(raw.subject, "Subject")?;
    let unsubscribe_url = optional(raw.unsubscribe_url, "UnsubscribeURL")?;
    let (subscribe_url, token) = if kind == EnvelopeKind::Notification {
        (
            optional(raw.subscribe_url, "SubscribeURL")?,
            optional(raw.token, "Token")?,
        )
    } else {
        // Both are signed for confirmations, so both must be there.
        (
            Some(required(raw.subscribe_url, "SubscribeURL")?),
            Some(required(raw.token, "Token")?),
        )
    };
    Ok(SnsEnvelope {
        kind,
        message_id,
        topic_arn,
        subject,
        message,
        timestamp_text,
        timestamp,
        signature_version,
        signature,
        signing_cert_url,
        subscribe_url,
        token,
        unsubscribe_url,
    })
}

impl SnsEnvelope {
    /// `Type`.
    pub fn kind(&self) -> EnvelopeKind {
        self.kind
    }

    /// `MessageId`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// `TopicArn`; the caller checks it is one of the seller's Marketplace topics.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// `Subject`, when the publisher set one.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// `Message`, JSON-decoded (for notifications, a JSON document as text).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `Timestamp`, in UTC.
    pub fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }

    /// `SignatureVersion` as received (`"1"`, `"2"`, or something the verifier refuses).
    pub fn signature_version(&self) -> &str {
        &self.signature_version
    }

    /// `Signature`, base64.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// `SigningCertURL`.
    pub fn signing_cert_url(&self) -> &str {
        &self.signing_cert_url
    }

    /// `SubscribeURL` (confirmations).
    pub fn subscribe_url(&self) -> Option<&str> {
        self.subscribe_url.as_deref()
    }

    /// `Token` (confirmations).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `UnsubscribeURL` (notifications).
    pub fn unsubscribe_url(&self) -> Option<&str> {
        self.unsubscribe_url.as_deref()
    }

    /// The text SNS signed: `Key\nValue\n` for each signed key in byte order of the names;
    /// `Subject` only when present; confirmations sign `SubscribeURL` and `Token` instead.
    pub fn string_to_sign(&self) -> String {
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        match self.kind {
            EnvelopeKind::Notification => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
                fields.push(("Timestamp", &self.timestamp_text));
            }
            EnvelopeKind::SubscriptionConfirmation | EnvelopeKind::UnsubscribeConfirmation => {
                fields.push(("SubscribeURL", self.subscribe_url.as_deref().unwrap_or("")));
                fields.push(("Timestamp", &self.timestamp_text));
                fields.push(("Token", self.token.as_deref().unwrap_or("")));
            }
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", self.kind.as_str()));
        let mut out =
            String::with_capacity(fields.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
        for (key, value) in fields {
            out.push_str(key);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
        out
    }
}

/// What a (verified) envelope asks of Souk: a notice from its `Message` (legacy, or an
/// EventBridge event published to SNS), a confirmation request, or nothing.
pub fn envelope_inbound(envelope: &SnsEnvelope) -> Result<Inbound, ParseError> {
    match envelope.kind {
        EnvelopeKind::Notification => {
            super::message_inbound(&envelope.message, &envelope.message_id, envelope.timestamp)
        }
        EnvelopeKind::SubscriptionConfirmation => {
            Ok(Inbound::Confirmation(SubscriptionConfirmation {
                topic_arn: envelope.topic_arn.clone(),
                subscribe_url: envelope.subscribe_url.clone().unwrap_or_default(),
                token: envelope.token.clone().unwrap_or_default(),
                message_id: envelope.message_id.clone(),
            }))
        }
        EnvelopeKind::UnsubscribeConfirmation => Ok(Inbound::Ignored {
            reason: format!("UnsubscribeConfirmation from {}", envelope.topic_arn),
        }),
    }
}

#[cfg(test)]
mod tests {
    use souk_emulator::notify::signing::{self, SignatureVersion};

    use super::*;
    use crate::domain::notice::{NoticeKind, NoticeSource};
    use crate::notifications::fixtures::{self, AT};

    fn reason(body: &str) -> String {
        match parse_sns_envelope(body.as_bytes()) {
            Ok(envelope) => panic!("parsed: {envelope:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn minimal(without: &str) -> String {
        let members = [
            ("Type", "Notification"),
            ("MessageId", "m-1"),
            ("TopicArn", "arn:aws:sns:us-east-1:287250355862:t"),
            ("Message", "hello"),
            ("Timestamp", "2026-11-02T08:15:30.125Z"),
            ("SignatureVersion", "1"),
            ("Signature", "c2ln"),
            (
                "SigningCertURL",
                "https://sns.us-east-1.amazonaws.com/x.pem",
            ),
        ];
        let object: serde_json::Map<String, Value> = members
            .iter()
            .filter(|(key, _)| *key != without)
            .map(|(key, value)| ((*key).to_owned(), Value::from(*value)))
            .collect();
        Value::Object(object).to_string()
    }

    #[test]
    fn the_emulator_envelope_parses_with_every_member() {
        let sent = fixtures::envelope("{\"action\":\"x\"}", SignatureVersion::V2);
        let envelope = parse_sns_envelope(sent.to_json().as_bytes()).expect("envelope");
        assert_eq!(envelope.kind(), EnvelopeKind::Notification);
        assert_eq!(envelope.message_id(), sent.message_id);
        assert_eq!(envelope.topic_arn(), sent.topic_arn);
        assert_eq!(envelope.message(), "{\"action\":\"x\"}");
        assert_eq!(envelope.timestamp(), AT);
        assert_eq!(envelope.signature_version(), "2");
        assert_eq!(envelope.signature(), sent.signature);
        assert_eq!(envelope.signing_cert_url(), fixtures::EMULATOR_CERT_URL);
        assert_eq!(envelope.unsubscribe_url(), sent.unsubscribe_url.as_deref());
        assert_eq!(envelope.subject(), None);
    }

    #[test]
    fn string_to_sign_matches_the_documented_example_with_subject() {
        let body = serde_json::json!({
            "Type": "Notification",
            "MessageId": "4d4dc071",
            "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
            "Subject": "My subject",
            "Message": "My Test Message",
            "Timestamp": "2019-01-31T04:37:04.321Z",
            "SignatureVersion": "1",
            "Signature": "c2ln",
            "SigningCertURL": "https://sns.us-west-2.amazonaws.com/x.pem",
            "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": { "a": { "Type": "String", "Value": "b" } }
        });
        let envelope = parse_sns_envelope(body.to_string().as_bytes()).expect("envelope");
        assert_eq!(
            envelope.string_to_sign(),
            "Message\nMy Test Message\nMessageId\n4d4dc071\nSubject\nMy subject\nTimestamp\n\
             2019-01-31T04:37:04.321Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
        );
    }

    #[test]
    fn string_to_sign_equals_the_emulators_for_notifications_and_confirmations() {
        for sent in [
            fixtures::envelope("line one\nline \"two\"", SignatureVersion::V1),
            fixtures::confirmation(),
        ] {
            let envelope = parse_sns_envelope(sent.to_json().as_bytes()).expect("envelope");
            let mut fields = vec![
                ("Type", sent.kind.as_str()),
                ("MessageId", sent.message_id.as_str()),
                ("TopicArn", sent.topic_arn.as_str()),
                ("Message", sent.message.as_str()),
                ("Timestamp", sent.timestamp.as_str()),
            ];
            if let Some(token) = &sent.token {
                fields.push(("Token", token));
            }
            if let Some(url) = &sent.subscribe_url {
                fields.push(("SubscribeURL", url));
            }
            assert_eq!(
                envelope.string_to_sign(),
                signing::string_to_sign(&sent.kind, &fields)
            );
        }
    }

    #[test]
    fn a_notification_envelope_yields_the_notice_of_its_message() {
        let notification = fixtures::market_lifecycle(false).remove(0);
        let sent = fixtures::envelope(&fixtures::message(&notification), SignatureVersion::V1);
        let envelope = parse_sns_envelope(sent.to_json().as_bytes()).expect("envelope");
        let Ok(Inbound::Notice(notice)) = envelope_inbound(&envelope) else {
            panic!("not a notice");
        };
        assert_eq!(notice.kind, NoticeKind::SubscribeSuccess);
        assert_eq!(notice.source, NoticeSource::Sns);
        assert_eq!(notice.message_id, sent.message_id);
        assert_eq!(notice.sent_at, AT);
    }

    #[test]
    fn an_eventbridge_event_published_to_sns_keeps_its_own_id_and_time() {
        let notification = fixtures::agreement_events().remove(0);
        let event = fixtures::event(&notification);
        let sent = fixtures::envelope(&event, SignatureVersion::V2);
        let envelope = parse_sns_envelope(sent.to_json().as_bytes()).expect("envelope");
        let Ok(Inbound::Notice(notice)) = envelope_inbound(&envelope) else {
            panic!("not a notice");
        };
        let id = serde_json::from_str::<Value>(&event).expect("event")["id"].clone();
        assert_eq!(notice.source, NoticeSource::EventBridge);
        assert_eq!(notice.kind, NoticeKind::SubscribeSuccess);
        assert_eq!(Value::from(notice.message_id), id);
    }

    #[test]
    fn a_subscription_confirmation_asks_to_be_confirmed() {
        let sent = fixtures::confirmation();
        let envelope = parse_sns_envelope(sent.to_json().as_bytes()).expect("envelope");
        assert_eq!(envelope.kind(), EnvelopeKind::SubscriptionConfirmation);
        assert_eq!(
            envelope_inbound(&envelope),
            Ok(Inbound::Confirmation(SubscriptionConfirmation {
                topic_arn: sent.topic_arn.clone(),
                subscribe_url: sent.subscribe_url.clone().expect("url"),
                token: sent.token.clone().expect("token"),
                message_id: sent.message_id.clone(),
            }))
        );
    }

    #[test]
    fn an_unsubscribe_confirmation_is_ignored() {
        let mut sent = fixtures::confirmation();
        sent.kind = "UnsubscribeConfirmation".to_owned();
        let envelope = parse_sns_envelope(sent.to_json().as_bytes()).expect("envelope");
        assert!(matches!(
            envelope_inbound(&envelope),
            Ok(Inbound::Ignored { .. })
        ));
    }

    #[test]
    fn a_null_subject_is_no_subject() {
        let mut body: Value = serde_json::from_str(&minimal("")).expect("json");
        body["Subject"] = Value::Null;
        let envelope = parse_sns_envelope(body.to_string().as_bytes()).expect("envelope");
        assert_eq!(envelope.subject(), None);
        assert!(!envelope.string_to_sign().contains("Subject"));
    }

    #[test]
    fn every_missing_member_is_named() {
        for key in [
            "Type",
            "MessageId",
            "TopicArn",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
        ] {
            assert_eq!(
                reason(&minimal(key)),
                format!("SNS envelope: missing {key}")
            );
        }
        let mut confirmation: Value = serde_json::from_str(&minimal("")).expect("json");
        confirmation["Type"] = Value::from("SubscriptionConfirmation");
        confirmation["Token"] = Value::from("t");
        assert_eq!(
            reason(&confirmation.to_string()),
            "SNS envelope: missing SubscribeURL"
        );
    }

    #[test]
    fn malformed_envelopes_get_a_short_reason() {
        assert_eq!(reason("[1,2,3]"), "SNS envelope: not a JSON object");
        assert_eq!(reason(""), "SNS envelope: not a JSON object");
        assert!(reason("{").starts_with("SNS envelope: invalid JSON"));
        let mut body: Value = serde_json::from_str(&minimal("")).expect("json");
        body["Type"] = Value::from("Telegram");
        assert_eq!(
            reason(&body.to_string()),
            "SNS envelope: unknown Type \"Telegram\""
        );
        body["Type"] = Value::from(7);
        assert_eq!(
            reason(&body.to_string()),
            "SNS envelope: Type is not a string"
        );
        let mut body: Value = serde_json::from_str(&minimal("")).expect("json");
        body["Timestamp"] = Value::from("yesterday");
        assert_eq!(
            reason(&body.to_string()),
            "SNS envelope: Timestamp \"yesterday\" is not an RFC 3339 time"
        );
    }

    #[test]
    fn a_duplicated_member_is_refused() {
        // Otherwise the signature could cover one Message and Souk act on the other.
        let body = minimal("").replacen('{', "{\"Message\":\"evil\",", 1);
        assert!(reason(&body).contains("duplicate field `Message`"));
    }

    #[test]
    fn an_oversized_body_is_refused_unread() {
        let body = format!(
            "{{\"Message\":\"{}\"}}",
            "a".repeat(super::super::MAX_BODY_BYTES)
        );
        assert!(reason(&body).starts_with("SNS envelope: body of"));
    }
}
