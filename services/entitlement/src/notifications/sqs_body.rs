//! One body from the seller's notification queue (docs/aws/notifications.md): an SNS envelope
//! (raw delivery off, the onboarding default), a bare legacy message (raw delivery on), or an
//! EventBridge event forwarded by the onboarding rule.

use time::OffsetDateTime;

use super::envelope::{SnsEnvelope, envelope_inbound, parse_sns_envelope};
use super::{Inbound, ParseError, check_size, json_object, legacy};

const WHAT: &str = "SQS body";

/// A queue body, sorted by shape. Envelopes are kept whole so the poller may verify their
/// signature before acting; the other shapes carry no signature (the queue policy is their
/// only authentication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsBody {
    /// An SNS envelope, not yet verified; [`envelope_inbound`] reads it.
    Envelope(SnsEnvelope),
    /// A raw legacy message or an EventBridge event, already read.
    Unsigned(Inbound),
}

/// Sorts and parses a queue body. Raw legacy messages have no id or time of their own, so they
/// take the SQS `MessageId` and `SentTimestamp` (`sqs_message_id`, `sent_at`).
pub fn classify_sqs_body(
    body: &str,
    sqs_message_id: &str,
    sent_at: OffsetDateTime,
) -> Result<SqsBody, ParseError> {
    check_size(WHAT, body.len())?;
    let object = json_object(WHAT, body.as_bytes())?;
    if object.contains_key("Type") && object.contains_key("MessageId") {
        return parse_sns_envelope(body.as_bytes()).map(SqsBody::Envelope);
    }
    if object.contains_key("detail-type") {
        return super::eventbridge::event_inbound(&object).map(SqsBody::Unsigned);
    }
    if object.contains_key("action") {
        let sent_at = sent_at.to_offset(time::UtcOffset::UTC);
        return legacy::message_notice(&object, sqs_message_id, sent_at)
            .map(|notice| SqsBody::Unsigned(Inbound::Notice(notice)));
    }
    Err(ParseError::new(format!(
        "{WHAT}: neither an SNS envelope, an EventBridge event nor a Marketplace message"
    )))
}

/// Parses a queue body into what it asks of Souk, without checking envelope signatures (use
/// [`classify_sqs_body`] to check them).
pub fn parse_sqs_body(
    body: &str,
    sqs_message_id: &str,
    sent_at: OffsetDateTime,
) -> Result<Inbound, ParseError> {
    match classify_sqs_body(body, sqs_message_id, sent_at)? {
        SqsBody::Envelope(envelope) => envelope_inbound(&envelope),
        SqsBody::Unsigned(inbound) => Ok(inbound),
    }
}

#[cfg(test)]
mod tests {
    use souk_emulator::notify::signing::SignatureVersion;
    use time::macros::datetime;

    use super::*;
    use crate::domain::notice::{NoticeKind, NoticeSource};
    use crate::notifications::fixtures::{self, AT};

    const SENT: OffsetDateTime = datetime!(2026-11-02 08:15:31.5 UTC);

    fn notice(body: &str) -> crate::domain::notice::Notice {
        match parse_sqs_body(body, "sqs-1", SENT) {
            Ok(Inbound::Notice(notice)) => notice,
            other => panic!("not a notice: {other:?}"),
        }
    }

    #[test]
    fn a_raw_delivery_takes_the_sqs_id_and_time() {
        let message = fixtures::message(&fixtures::market_lifecycle(false)[0]);
        let notice = notice(&message);
        assert_eq!(notice.kind, NoticeKind::SubscribeSuccess);
        assert_eq!(notice.source, NoticeSource::Sns);
        assert_eq!(notice.message_id, "sqs-1");
        assert_eq!(notice.sent_at, SENT);
    }

    #[test]
    fn an_envelope_is_kept_for_verification_and_reads_like_the_endpoints() {
        let message = fixtures::message(&fixtures::market_lifecycle(false)[2]);
        let body = fixtures::envelope(&message, SignatureVersion::V1).to_json();
        let Ok(SqsBody::Envelope(envelope)) = classify_sqs_body(&body, "sqs-1", SENT) else {
            panic!("not an envelope");
        };
        assert_eq!(
            parse_sqs_body(&body, "sqs-1", SENT),
            envelope_inbound(&envelope)
        );
        let notice = notice(&body);
        assert_eq!(notice.kind, NoticeKind::UnsubscribePending);
        assert_eq!(notice.message_id, envelope.message_id());
        assert_eq!(notice.sent_at, AT);
    }

    #[test]
    fn an_eventbridge_rule_delivery_is_read() {
        let event = fixtures::event(&fixtures::agreement_events()[4]);
        let notice = notice(&event);
        assert_eq!(notice.kind, NoticeKind::UnsubscribePending);
        assert_eq!(notice.source, NoticeSource::EventBridge);
        let catalog = r#"{"version":"0","id":"e-2","detail-type":"Change Set Succeeded","source":"aws.marketplacecatalog","time":"2026-11-02T08:15:30Z","detail":{}}"#;
        assert!(matches!(
            parse_sqs_body(catalog, "sqs-2", SENT),
            Ok(Inbound::Ignored { .. })
        ));
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let reason = |body: &str| {
            parse_sqs_body(body, "sqs-1", SENT)
                .map_err(|e| e.to_string())
                .err()
                .unwrap_or_default()
        };
        assert_eq!(
            reason(r#"{"hello":"world"}"#),
            "SQS body: neither an SNS envelope, an EventBridge event nor a Marketplace message"
        );
        assert!(reason("not json").starts_with("SQS body: invalid JSON"));
        assert_eq!(reason("\"text\""), "SQS body: not a JSON object");
        assert_eq!(
            reason(r#"{"Type":"Notification","MessageId":"m"}"#),
            "SNS envelope: missing TopicArn"
        );
        assert_eq!(
            reason(r#"{"action":"subscribe-success","product-code":"p"}"#),
            "legacy message: missing customer-identifier"
        );
    }
}
