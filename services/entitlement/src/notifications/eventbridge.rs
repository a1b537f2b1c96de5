//! EventBridge events (docs/aws/notifications.md, agreement and licence events): the five
//! `aws.agreement-marketplace` detail-types Souk acts on become notices; every other event is
//! ignored, not an error, since the onboarding rule also forwards catalog events.

use serde_json::{Map, Value};

use super::{
    Inbound, ParseError, account_id, check_size, json_object, optional_string, quoted,
    required_string, rfc3339,
};
use crate::domain::notice::{Notice, NoticeKind, NoticeSource};

const WHAT: &str = "EventBridge event";

/// The source of agreement and licence events.
const AGREEMENT_SOURCE: &str = "aws.agreement-marketplace";

/// Parses the body of an EventBridge delivery (API destination, or the SQS body of a rule
/// target).
pub fn parse_eventbridge(body: &[u8]) -> Result<Inbound, ParseError> {
    check_size(WHAT, body.len())?;
    event_inbound(&json_object(WHAT, body)?)
}

/// What the detail-type means, or `None` for one Souk ignores. Agreement events come as
/// `- Proposer` and, for channel-partner sales, also `- Manufacturer`; both mean the same here.
fn kind(detail_type: &str) -> Option<NoticeKind> {
    let (name, recipient) = detail_type.rsplit_once(" - ")?;
    let agreement_recipient = matches!(recipient, "Proposer" | "Manufacturer");
    match name {
        "Purchase Agreement Created" if agreement_recipient => Some(NoticeKind::SubscribeSuccess),
        "Purchase Agreement Amended" if agreement_recipient => Some(NoticeKind::EntitlementUpdated),
        "Purchase Agreement Ended" if agreement_recipient => Some(NoticeKind::UnsubscribePending),
        "License Updated" if recipient == "Manufacturer" => Some(NoticeKind::EntitlementUpdated),
        "License Deprovisioned" if recipient == "Manufacturer" => {
            Some(NoticeKind::UnsubscribeSuccess)
        }
        _ => None,
    }
}

/// The inbound of a parsed event object.
pub(super) fn event_inbound(event: &Map<String, Value>) -> Result<Inbound, ParseError> {
    let source = required_string(WHAT, event, "source")?;
    let detail_type = required_string(WHAT, event, "detail-type")?;
    let kind = match kind(&detail_type) {
        Some(kind) if source == AGREEMENT_SOURCE => kind,
        _ => {
            return Ok(Inbound::Ignored {
                reason: format!(
                    "EventBridge {} {} is not a subscription event",
                    quoted(&source),
                    quoted(&detail_type)
                ),
            });
        }
    };
    let message_id = required_string(WHAT, event, "id")?;
    let time = required_string(WHAT, event, "time")?;
    let sent_at = rfc3339(WHAT, "time", &time)?;
    let detail = match event.get("detail") {
        Some(Value::Object(detail)) => detail,
        None | Some(Value::Null) => return Err(ParseError::new(format!("{WHAT}: missing detail"))),
        Some(_) => return Err(ParseError::new(format!("{WHAT}: detail is not an object"))),
    };
    let resources = resources(event)?;
    let agreement_id = match nested(detail, "agreement", "id")? {
        Some(id) => Some(id),
        None => resources
            .iter()
            .find_map(|arn| {
                arn.split_once(":agreement/")
                    .or_else(|| arn.split_once(":agreement:"))
            })
            .map(|(_, id)| id.to_owned())
            .filter(|id| !id.is_empty()),
    };
    let license_arn = match nested(detail, "license", "arn")? {
        Some(arn) => Some(arn),
        None => resources
            .iter()
            .find(|arn| arn.contains(":license:") || arn.contains(":license/"))
            .cloned(),
    };
    // Without an agreement or a licence the event names no subscription to apply it to.
    if agreement_id.is_none() && license_arn.is_none() {
        return Err(ParseError::new(format!(
            "{WHAT}: missing detail.agreement.id"
        )));
    }
    Ok(Inbound::Notice(Notice {
        kind,
        source: NoticeSource::EventBridge,
        message_id,
        sent_at,
        product_code: nested(detail, "product", "code")?,
        customer_identifier: None,
        aws_account_id: account_id(
            WHAT,
            "detail.acceptor.accountId",
            nested(detail, "acceptor", "accountId")?,
        )?,
        license_arn,
        agreement_id,
        offer_id: nested(detail, "offer", "id")?,
        // Events do not flag free trials; the agreement's terms tell.
        free_trial: false,
    }))
}

/// `detail.<outer>.<inner>` as a string; an absent or `null` outer object means "not given".
fn nested(
    detail: &Map<String, Value>,
    outer: &str,
    inner: &str,
) -> Result<Option<String>, ParseError> {
    match detail.get(outer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => optional_string(WHAT, object, inner).map_err(|_| {
            ParseError::new(format!("{WHAT}: detail.{outer}.{inner} is not a string"))
        }),
        Some(_) => Err(ParseError::new(format!(
            "{WHAT}: detail.{outer} is not an object"
        ))),
    }
}

/// The `resources` ARNs (absent means none).
fn resources(event: &Map<String, Value>) -> Result<Vec<String>, ParseError> {
    match event.get("resources") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(arn) => Ok(arn.clone()),
                _ => Err(ParseError::new(format!(
                    "{WHAT}: resources holds a non-string"
                ))),
            })
            .collect(),
        Some(_) => Err(ParseError::new(format!(
            "{WHAT}: resources is not an array"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use souk_emulator::notify::Notification;
    use time::OffsetDateTime;
    use time::macros::datetime;

    use super::*;
    use crate::notifications::fixtures::{self, BUYER, PRODUCT};

    /// The emulator writes event times in whole seconds.
    const EVENT_AT: OffsetDateTime = datetime!(2026-11-02 08:15:30 UTC);

    fn notice(body: &str) -> Notice {
        match parse_eventbridge(body.as_bytes()) {
            Ok(Inbound::Notice(notice)) => notice,
            other => panic!("not a notice: {other:?}"),
        }
    }

    fn reason(body: &str) -> String {
        match parse_eventbridge(body.as_bytes()) {
            Err(error) => error.to_string(),
            other => panic!("parsed: {other:?}"),
        }
    }

    /// Changes a valid event into an invalid one.
    type Change = fn(&mut Value);

    fn detail_type(notification: &Notification) -> &str {
        match notification {
            Notification::EventBridge { detail_type, .. } => detail_type,
            _ => "",
        }
    }

    #[test]
    fn every_agreement_event_the_emulator_sends_becomes_its_notice() {
        let expected = [
            (
                "Purchase Agreement Created - Proposer",
                NoticeKind::SubscribeSuccess,
            ),
            (
                "Purchase Agreement Created - Manufacturer",
                NoticeKind::SubscribeSuccess,
            ),
            (
                "Purchase Agreement Amended - Proposer",
                NoticeKind::EntitlementUpdated,
            ),
            (
                "Purchase Agreement Amended - Manufacturer",
                NoticeKind::EntitlementUpdated,
            ),
            (
                "Purchase Agreement Ended - Proposer",
                NoticeKind::UnsubscribePending,
            ),
            (
                "Purchase Agreement Ended - Manufacturer",
                NoticeKind::UnsubscribePending,
            ),
            (
                "License Updated - Manufacturer",
                NoticeKind::EntitlementUpdated,
            ),
        ];
        let events = fixtures::agreement_events();
        assert_eq!(events.len(), expected.len());
        for (notification, (name, kind)) in events.iter().zip(expected) {
            assert_eq!(detail_type(notification), name);
            let body = fixtures::event(notification);
            let id = serde_json::from_str::<Value>(&body).expect("json")["id"].clone();
            let notice = notice(&body);
            assert_eq!(notice.kind, kind, "{name}");
            assert_eq!(notice.source, NoticeSource::EventBridge);
            assert_eq!(Value::from(notice.message_id.clone()), id);
            assert_eq!(notice.sent_at, EVENT_AT);
            assert_eq!(
                notice.agreement_id.as_deref(),
                Some("agmt-4mwg1nevbokzw95eca5797ixs")
            );
            assert_eq!(notice.offer_id.as_deref(), Some("offer-1234567890123"));
            assert_eq!(notice.aws_account_id.as_deref(), Some(BUYER));
            assert_eq!(notice.customer_identifier, None);
            assert!(!notice.free_trial);
            if name.starts_with("License") {
                assert_eq!(notice.product_code.as_deref(), Some(PRODUCT));
                assert_eq!(
                    notice.license_arn.as_deref(),
                    Some(
                        "arn:aws:license-manager::444455556666:license:l-0123456789abcdef0123456789abcdef"
                    )
                );
            } else {
                assert_eq!(notice.product_code, None);
                assert_eq!(notice.license_arn, None);
            }
        }
    }

    #[test]
    fn a_concurrent_agreement_buyer_lifecycle_ends_with_license_deprovisioned() {
        let events: Vec<Notification> = fixtures::market_lifecycle(true)
            .into_iter()
            .filter(|n| matches!(n, Notification::EventBridge { .. }))
            .collect();
        let names: Vec<&str> = events.iter().map(detail_type).collect();
        assert_eq!(
            names,
            [
                "Purchase Agreement Created - Proposer",
                "License Updated - Manufacturer",
                "Purchase Agreement Ended - Proposer",
                "License Deprovisioned - Manufacturer",
            ]
        );
        let notices: Vec<Notice> = events.iter().map(|n| notice(&fixtures::event(n))).collect();
        let kinds: Vec<NoticeKind> = notices.iter().map(|n| n.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                NoticeKind::SubscribeSuccess,
                NoticeKind::EntitlementUpdated,
                NoticeKind::UnsubscribePending,
                NoticeKind::UnsubscribeSuccess,
            ]
        );
        let deprovisioned = &notices[3];
        assert_eq!(deprovisioned.aws_account_id.as_deref(), Some(BUYER));
        assert_eq!(deprovisioned.product_code.as_deref(), Some(PRODUCT));
        assert!(
            deprovisioned
                .agreement_id
                .as_deref()
                .is_some_and(|id| id.starts_with("agmt-"))
        );
        assert!(
            deprovisioned
                .license_arn
                .as_deref()
                .is_some_and(|arn| arn.contains(":license:l-"))
        );
        assert_eq!(
            deprovisioned.offer_id.as_deref(),
            Some("offer-soukdemo00001")
        );
    }

    #[test]
    fn the_documented_aws_event_is_read() {
        let notice = notice(
            r#"{ "version": "0", "id": "12345678-1234-1234-1234-123456789012",
  "detail-type": "Purchase Agreement Created - Proposer", "source": "aws.agreement-marketplace",
  "account": "123456512334", "time": "2024-08-30T21:36:03Z", "region": "us-east-1",
  "resources": ["arn:aws:aws-marketplace::aws:agreement:agmt-4mwg1nevbokzw95eca5797ixs"],
  "detail": { "requestId": "3d4c9f9b-0000", "catalog": "AWSMarketplace",
    "agreement": { "id": "agmt-4mwg1nevbokzw95eca5797ixs", "intent": "NEW", "status": "ACTIVE",
                   "acceptanceTime": "2024-06-26T21:36:03Z", "startTime": "2024-08-30T21:36:03Z", "endTime": "2025-05-30T21:36:03Z" },
    "resaleAuthorization": { "id": "resaleauthz-yaxjqxiskysxa" },
    "acceptor": { "accountId": "845735284135" }, "proposer": { "accountId": "123456512334" },
    "offer": { "id": "offer-1234567890123" } } }"#,
        );
        assert_eq!(notice.kind, NoticeKind::SubscribeSuccess);
        assert_eq!(notice.message_id, "12345678-1234-1234-1234-123456789012");
        assert_eq!(notice.sent_at, datetime!(2024-08-30 21:36:03 UTC));
        assert_eq!(notice.aws_account_id.as_deref(), Some("845735284135"));
    }

    #[test]
    fn ids_missing_from_detail_are_taken_from_resources() {
        let notice = notice(
            r#"{"id":"e-1","detail-type":"License Deprovisioned - Manufacturer","source":"aws.agreement-marketplace",
                "time":"2026-11-02T08:15:30Z",
                "resources":["arn:aws:aws-marketplace::aws:agreement:agmt-1","arn:aws:license-manager::444455556666:license:l-2"],
                "detail":{"license":{"arn":null},"offer":{"id":null}}}"#,
        );
        assert_eq!(notice.kind, NoticeKind::UnsubscribeSuccess);
        assert_eq!(notice.agreement_id.as_deref(), Some("agmt-1"));
        assert_eq!(
            notice.license_arn.as_deref(),
            Some("arn:aws:license-manager::444455556666:license:l-2")
        );
        assert_eq!(notice.offer_id, None);
    }

    #[test]
    fn other_events_are_ignored_not_refused() {
        for (source, detail_type) in [
            ("aws.marketplacecatalog", "Change Set Succeeded"),
            ("aws.marketplacecatalog", "Offer Released"),
            (
                "aws.agreement-marketplace",
                "Purchase Agreement Ending - Proposer",
            ),
            ("aws.agreement-marketplace", "License Updated - Proposer"),
            ("aws.marketplace", "Disbursement Paused"),
            ("evil.source", "Purchase Agreement Created - Proposer"),
        ] {
            let body = serde_json::json!({
                "version": "0", "id": "e-1", "detail-type": detail_type, "source": source,
                "time": "2026-11-02T08:15:30Z",
                "detail": { "requestId": "r", "Catalog": "AWSMarketplace", "ChangeSetId": "cs-1" }
            });
            assert!(
                matches!(
                    parse_eventbridge(body.to_string().as_bytes()),
                    Ok(Inbound::Ignored { .. })
                ),
                "{source} {detail_type}"
            );
        }
    }

    #[test]
    fn missing_or_wrong_members_are_named() {
        let event = |change: Change| {
            let mut body = serde_json::json!({
                "version": "0", "id": "e-1", "detail-type": "Purchase Agreement Ended - Proposer",
                "source": "aws.agreement-marketplace", "time": "2026-11-02T08:15:30Z",
                "resources": [],
                "detail": { "agreement": { "id": "agmt-1", "status": "CANCELLED" },
                            "acceptor": { "accountId": "444455556666" } }
            });
            change(&mut body);
            body.to_string()
        };
        assert_eq!(notice(&event(|_| {})).kind, NoticeKind::UnsubscribePending);
        let cases: [(Change, &str); 9] = [
            (|b| b["id"] = Value::Null, "EventBridge event: missing id"),
            (
                |b| b["source"] = Value::Null,
                "EventBridge event: missing source",
            ),
            (
                |b| b["detail-type"] = Value::from(3),
                "EventBridge event: detail-type is not a string",
            ),
            (
                |b| b["time"] = Value::from("soon"),
                "EventBridge event: time \"soon\" is not an RFC 3339 time",
            ),
            (
                |b| b["detail"] = Value::Null,
                "EventBridge event: missing detail",
            ),
            (
                |b| b["detail"] = Value::from("x"),
                "EventBridge event: detail is not an object",
            ),
            (
                |b| b["detail"]["agreement"] = Value::Null,
                "EventBridge event: missing detail.agreement.id",
            ),
            (
                |b| b["detail"]["acceptor"]["accountId"] = Value::from(444455556666_u64),
                "EventBridge event: detail.acceptor.accountId is not a string",
            ),
            (
                |b| b["resources"] = Value::from("arn"),
                "EventBridge event: resources is not an array",
            ),
        ];
        for (change, expected) in cases {
            assert_eq!(reason(&event(change)), expected);
        }
        assert_eq!(reason("[]"), "EventBridge event: not a JSON object");
    }
}
