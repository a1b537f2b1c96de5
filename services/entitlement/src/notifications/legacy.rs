//! The legacy Marketplace SNS `Message` (docs/aws/notifications.md, subscription and entitlement
//! messages): `{"action": "subscribe-success", "customer-identifier": ..., "product-code": ...}`.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{ParseError, account_id, optional_string, quoted, required_string};
use crate::domain::notice::{Notice, NoticeKind, NoticeSource};

const WHAT: &str = "legacy message";

/// The notice a legacy message carries. SNS gives the message no id or time of its own, so
/// they come from the envelope (or, for raw delivery, from the SQS message).
pub(super) fn message_notice(
    object: &Map<String, Value>,
    message_id: &str,
    sent_at: OffsetDateTime,
) -> Result<Notice, ParseError> {
    let action = required_string(WHAT, object, "action")?;
    let kind = match action.as_str() {
        "subscribe-success" => NoticeKind::SubscribeSuccess,
        "subscribe-fail" => NoticeKind::SubscribeFail,
        "unsubscribe-pending" => NoticeKind::UnsubscribePending,
        "unsubscribe-success" => NoticeKind::UnsubscribeSuccess,
        "entitlement-updated" => NoticeKind::EntitlementUpdated,
        other => {
            return Err(ParseError::new(format!(
                "{WHAT}: unknown action {}",
                quoted(other)
            )));
        }
    };
    let product_code = required_string(WHAT, object, "product-code")?;
    // The emulator sends an empty identifier plus `customer-aws-account-id` for
    // concurrent-agreement products; AWS documents only the identifier. One of them must name
    // the buyer.
    let customer_identifier = optional_string(WHAT, object, "customer-identifier")?;
    let aws_account_id = account_id(
        WHAT,
        "customer-aws-account-id",
        optional_string(WHAT, object, "customer-aws-account-id")?,
    )?;
    if customer_identifier.is_none() && aws_account_id.is_none() {
        return Err(ParseError::new(format!(
            "{WHAT}: missing customer-identifier"
        )));
    }
    Ok(Notice {
        kind,
        source: NoticeSource::Sns,
        message_id: message_id.to_owned(),
        sent_at,
        product_code: Some(product_code),
        customer_identifier,
        aws_account_id,
        // Not documented for SNS; taken if a future message carries them, in either spelling.
        license_arn: first_string(object, &["license-arn", "licenseArn"])?,
        agreement_id: first_string(object, &["agreement-id", "agreementId"])?,
        offer_id: optional_string(WHAT, object, "offer-identifier")?,
        free_trial: free_trial(object)?,
    })
}

fn first_string(object: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>, ParseError> {
    for key in keys {
        if let Some(value) = optional_string(WHAT, object, key)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// `isFreeTrialTermPresent`: documented as the string `"true"`/`"false"`, accepted as a JSON
/// boolean too; absent (AMI, container, entitlement messages) means no free trial.
fn free_trial(object: &Map<String, Value>) -> Result<bool, ParseError> {
    const KEY: &str = "isFreeTrialTermPresent";
    match object.get(KEY) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => {
            let shown = match other {
                Value::String(text) => text.clone(),
                value => value.to_string(),
            };
            Err(ParseError::new(format!(
                "{WHAT}: {KEY} {} is neither true nor false",
                quoted(&shown)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use souk_emulator::notify::Notification;

    use super::*;
    use crate::notifications::fixtures::{self, AT, BUYER, PRODUCT};

    fn parse(message: &str) -> Result<Notice, ParseError> {
        let object: Map<String, Value> = serde_json::from_str(message).expect("a JSON object");
        message_notice(&object, "m-1", AT)
    }

    fn sns_messages(notifications: &[Notification]) -> Vec<String> {
        notifications
            .iter()
            .filter(|n| !matches!(n, Notification::EventBridge { .. }))
            .map(fixtures::message)
            .collect()
    }

    #[test]
    fn every_action_the_emulator_sends_becomes_its_notice() {
        let messages = sns_messages(&fixtures::market_lifecycle(false));
        let notices: Vec<Notice> = messages
            .iter()
            .map(|message| parse(message).expect("notice"))
            .collect();
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
        let subscribed = &notices[0];
        assert_eq!(subscribed.source, NoticeSource::Sns);
        assert_eq!(subscribed.message_id, "m-1");
        assert_eq!(subscribed.sent_at, AT);
        assert_eq!(subscribed.product_code.as_deref(), Some(PRODUCT));
        assert!(subscribed.customer_identifier.is_some());
        assert_eq!(subscribed.aws_account_id, None);
        assert_eq!(subscribed.offer_id.as_deref(), Some("offer-soukdemo00001"));
        assert!(subscribed.free_trial);
        // entitlement-updated carries no free-trial flag.
        assert!(!notices[1].free_trial);
    }

    #[test]
    fn subscribe_fail_is_read() {
        let message = fixtures::message(&Notification::Subscription {
            action: "subscribe-fail".to_owned(),
            product_code: PRODUCT.to_owned(),
            customer_identifier: "cid-souk-demo-1".to_owned(),
            customer_aws_account_id: BUYER.to_owned(),
            offer_id: None,
            free_trial: false,
        });
        let notice = parse(&message).expect("notice");
        assert_eq!(notice.kind, NoticeKind::SubscribeFail);
        assert_eq!(
            notice.customer_identifier.as_deref(),
            Some("cid-souk-demo-1")
        );
        assert_eq!(notice.offer_id, None);
    }

    #[test]
    fn a_concurrent_agreement_buyer_is_named_by_account() {
        let messages = sns_messages(&fixtures::market_lifecycle(true));
        let notice = parse(&messages[0]).expect("notice");
        assert_eq!(notice.kind, NoticeKind::SubscribeSuccess);
        // The emulator sends `"customer-identifier": ""` for these buyers.
        assert_eq!(notice.customer_identifier, None);
        assert_eq!(notice.aws_account_id.as_deref(), Some(BUYER));
    }

    #[test]
    fn the_documented_aws_messages_are_read() {
        let notice = parse(
            r#"{"action":"subscribe-success","customer-identifier":"X01EXAMPLEX",
                "product-code":"n0123EXAMPLEXXXXXXXXXXXX","offer-identifier":"offer-abcexample123",
                "isFreeTrialTermPresent":"true"}"#,
        )
        .expect("notice");
        assert_eq!(notice.customer_identifier.as_deref(), Some("X01EXAMPLEX"));
        assert!(notice.free_trial);
        let notice = parse(
            r#"{"action":"entitlement-updated","customer-identifier":"X01EXAMPLEX","product-code":"n0123EXAMPLEXXXXXXXXXXXX"}"#,
        )
        .expect("notice");
        assert_eq!(notice.kind, NoticeKind::EntitlementUpdated);
    }

    #[test]
    fn the_free_trial_flag_is_read_as_text_or_boolean() {
        let with = |flag: &str| {
            parse(&format!(
                r#"{{"action":"subscribe-success","customer-identifier":"c","product-code":"p","isFreeTrialTermPresent":{flag}}}"#
            ))
        };
        assert!(with("\"true\"").expect("notice").free_trial);
        assert!(!with("\"false\"").expect("notice").free_trial);
        assert!(with("true").expect("notice").free_trial);
        assert!(!with("false").expect("notice").free_trial);
        assert!(!with("null").expect("notice").free_trial);
        assert_eq!(
            with("\"maybe\"").map_err(|e| e.to_string()),
            Err(
                "legacy message: isFreeTrialTermPresent \"maybe\" is neither true nor false"
                    .to_owned()
            )
        );
    }

    #[test]
    fn licence_and_agreement_ids_are_taken_when_present() {
        let notice = parse(
            r#"{"action":"entitlement-updated","customer-aws-account-id":"444455556666","product-code":"p",
                "license-arn":"arn:aws:license-manager::444455556666:license:l-1","agreementId":"agmt-1"}"#,
        )
        .expect("notice");
        assert_eq!(
            notice.license_arn.as_deref(),
            Some("arn:aws:license-manager::444455556666:license:l-1")
        );
        assert_eq!(notice.agreement_id.as_deref(), Some("agmt-1"));
    }

    #[test]
    fn missing_or_wrong_members_are_named() {
        let reason = |message: &str| parse(message).map_err(|e| e.to_string()).err();
        assert_eq!(
            reason(r#"{"customer-identifier":"c","product-code":"p"}"#).as_deref(),
            Some("legacy message: missing action")
        );
        assert_eq!(
            reason(r#"{"action":"subscribe-success","customer-identifier":"c"}"#).as_deref(),
            Some("legacy message: missing product-code")
        );
        assert_eq!(
            reason(r#"{"action":"subscribe-success","customer-identifier":"","product-code":"p"}"#)
                .as_deref(),
            Some("legacy message: missing customer-identifier")
        );
        assert_eq!(
            reason(r#"{"action":"renew","customer-identifier":"c","product-code":"p"}"#).as_deref(),
            Some("legacy message: unknown action \"renew\"")
        );
        assert_eq!(
            reason(r#"{"action":1,"customer-identifier":"c","product-code":"p"}"#).as_deref(),
            Some("legacy message: action is not a string")
        );
        assert_eq!(
            reason(r#"{"action":"subscribe-success","customer-aws-account-id":"12","product-code":"p"}"#)
                .as_deref(),
            Some("legacy message: customer-aws-account-id \"12\" is not an AWS account id")
        );
    }
}
