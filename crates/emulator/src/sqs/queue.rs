//! Queues and messages: the state machine behind every SQS operation (visibility timeouts,
//! delays, retention, receipt handles), independent of the wire protocol.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::Duration;

use super::error::SqsError;
use crate::at::At;
use crate::support::md5;

/// Attributes a queue accepts, with AWS's defaults and allowed ranges.
const QUEUE_ATTRIBUTES: &[(&str, &str, i64, i64)] = &[
    ("DelaySeconds", "0", 0, 900),
    ("MaximumMessageSize", "262144", 1024, 1_048_576),
    ("MessageRetentionPeriod", "345600", 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", "0", 0, 20),
    ("VisibilityTimeout", "30", 0, 43_200),
];

/// Attributes accepted and echoed without behaviour.
const PASSIVE_ATTRIBUTES: &[&str] = &[
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// A message attribute (`MessageAttributes` member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, optionally with a `.custom` suffix.
    pub data_type: String,
    /// For String and Number types.
    pub string_value: Option<String>,
    /// For Binary types (raw bytes).
    pub binary_value: Option<Vec<u8>>,
}

/// One message in a queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    /// The message id (a UUID).
    pub id: String,
    /// The body as sent.
    pub body: String,
    /// Message attributes as sent.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// When it was sent.
    #[serde(rename = "sent_at_ms")]
    pub sent_at: At,
    /// When it becomes visible to ReceiveMessage.
    #[serde(rename = "visible_at_ms")]
    pub visible_at: At,
    /// How many times it has been received.
    pub receive_count: u32,
    /// When it was first received.
    #[serde(rename = "first_receive_ms")]
    pub first_receive: Option<At>,
    /// The nonce of the newest receipt handle issued for it.
    pub receipt_nonce: Option<String>,
}

/// One queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queue {
    /// Owning account id.
    pub account: String,
    /// Queue name.
    pub name: String,
    /// Attributes set at creation (or by SetQueueAttributes).
    pub attributes: BTreeMap<String, String>,
    /// Creation time (whole seconds, as `CreatedTimestamp` shows it).
    #[serde(with = "crate::at::seconds")]
    pub created_at: At,
    /// Messages, oldest first.
    pub messages: VecDeque<Message>,
}

/// What ReceiveMessage returns for one message.
#[derive(Debug, Clone)]
pub struct Received {
    /// The message as stored after this receive.
    pub message: Message,
    /// The receipt handle issued for this receive.
    pub receipt_handle: String,
}

impl Queue {
    /// A new, empty queue, validating `attributes`.
    pub fn new(
        account: &str,
        name: &str,
        attributes: BTreeMap<String, String>,
        now: At,
    ) -> Result<Self, SqsError> {
        validate_name(name)?;
        for (key, value) in &attributes {
            validate_attribute(key, value)?;
        }
        Ok(Self {
            account: account.to_owned(),
            name: name.to_owned(),
            attributes,
            created_at: now.floor_seconds(),
            messages: VecDeque::new(),
        })
    }

    /// The numeric value of a queue attribute, falling back to AWS's default.
    pub fn number_attribute(&self, name: &str) -> i64 {
        let default = QUEUE_ATTRIBUTES
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, d, ..)| *d)
            .unwrap_or("0");
        self.attributes
            .get(name)
            .map(String::as_str)
            .unwrap_or(default)
            .parse()
            .unwrap_or(0)
    }

    fn retention(&self) -> Duration {
        Duration::seconds(self.number_attribute("MessageRetentionPeriod"))
    }

    /// Removes messages older than the retention period.
    pub fn expire(&mut self, now: At) {
        let retention = self.retention();
        self.messages
            .retain(|message| now - message.sent_at < retention);
    }

    /// Whether a message is past retention; checks only the oldest, so a queue with nothing to
    /// drop costs one comparison (messages are appended in clock order).
    pub fn has_expired(&self, now: At) -> bool {
        let retention = self.retention();
        self.messages
            .front()
            .is_some_and(|oldest| now - oldest.sent_at >= retention)
    }

    /// Appends a message; `delay_seconds` overrides the queue's DelaySeconds.
    pub fn send(
        &mut self,
        body: String,
        attributes: BTreeMap<String, MessageAttribute>,
        delay_seconds: Option<i64>,
        now: At,
    ) -> Result<Message, SqsError> {
        validate_body(&body, self.number_attribute("MaximumMessageSize"))?;
        let delay = match delay_seconds {
            Some(delay) if !(0..=900).contains(&delay) => {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Value {delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided."
                )));
            }
            Some(delay) => delay,
            None => self.number_attribute("DelaySeconds"),
        };
        let message = Message {
            id: uuid::Uuid::new_v4().to_string(),
            body,
            attributes,
            sent_at: now,
            visible_at: now + Duration::seconds(delay),
            receive_count: 0,
            first_receive: None,
            receipt_nonce: None,
        };
        self.messages.push_back(message.clone());
        Ok(message)
    }

    /// Receives up to `max` visible messages, hiding each for `visibility_timeout` seconds.
    pub fn receive(
        &mut self,
        max: usize,
        visibility_timeout: Option<i64>,
        now: At,
    ) -> Vec<Received> {
        self.expire(now);
        let timeout = Duration::seconds(
            visibility_timeout.unwrap_or_else(|| self.number_attribute("VisibilityTimeout")),
        );
        let mut received = Vec::new();
        for message in self
            .messages
            .iter_mut()
            .filter(|m| m.visible_at <= now)
            .take(max)
        {
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            message.visible_at = now + timeout;
            message.receive_count += 1;
            message.first_receive.get_or_insert(now);
            message.receipt_nonce = Some(nonce.clone());
            let receipt_handle =
                encode_receipt_handle(&self.account, &self.name, &message.id, &nonce);
            received.push(Received {
                message: message.clone(),
                receipt_handle,
            });
        }
        received
    }

    /// Deletes the message a receipt handle names. A stale handle (the message was received again
    /// since) succeeds without deleting, as AWS documents.
    pub fn delete(&mut self, receipt_handle: &str) -> Result<(), SqsError> {
        let handle = self.parse_handle(receipt_handle)?;
        self.messages.retain(|m| {
            !(m.id == handle.message_id && m.receipt_nonce.as_deref() == Some(&handle.nonce))
        });
        Ok(())
    }

    /// Changes the visibility timeout of an in-flight message.
    pub fn change_visibility(
        &mut self,
        receipt_handle: &str,
        timeout: i64,
        now: At,
    ) -> Result<(), SqsError> {
        let handle = self.parse_handle(receipt_handle)?;
        if !(0..=43_200).contains(&timeout) {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."
            )));
        }
        let Some(message) = self.messages.iter_mut().find(|m| m.id == handle.message_id) else {
            return Err(SqsError::MessageNotInflight);
        };
        if message.visible_at <= now {
            return Err(SqsError::MessageNotInflight);
        }
        if message.receipt_nonce.as_deref() != Some(&handle.nonce) {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {receipt_handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
            )));
        }
        message.visible_at = now + Duration::seconds(timeout);
        Ok(())
    }

    fn parse_handle(&self, receipt_handle: &str) -> Result<ReceiptHandle, SqsError> {
        let invalid = || SqsError::ReceiptHandleIsInvalid(receipt_handle.to_owned());
        let handle = decode_receipt_handle(receipt_handle).ok_or_else(invalid)?;
        if handle.account != self.account || handle.queue != self.name {
            return Err(invalid());
        }
        Ok(handle)
    }

    /// Counts (visible, in flight, delayed) messages.
    pub fn counts(&self, now: At) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for message in &self.messages {
            if message.visible_at <= now {
                counts.0 += 1;
            } else if message.receive_count > 0 {
                counts.1 += 1;
            } else {
                counts.2 += 1;
            }
        }
        counts
    }

    /// Whether a message is visible now.
    pub fn has_visible(&self, now: At) -> bool {
        self.messages.iter().any(|m| m.visible_at <= now)
    }

    /// GetQueueAttributes: the requested attributes (`All` for every one).
    pub fn attribute_values(
        &self,
        names: &[String],
        arn: &str,
        now: At,
    ) -> Result<BTreeMap<String, String>, SqsError> {
        let (visible, in_flight, delayed) = self.counts(now);
        let mut all: BTreeMap<String, String> = BTreeMap::new();
        for (name, default, ..) in QUEUE_ATTRIBUTES {
            let value = self
                .attributes
                .get(*name)
                .cloned()
                .unwrap_or_else(|| (*default).to_owned());
            all.insert((*name).to_owned(), value);
        }
        for name in PASSIVE_ATTRIBUTES {
            if let Some(value) = self.attributes.get(*name) {
                all.insert((*name).to_owned(), value.clone());
            }
        }
        all.insert(
            "ApproximateNumberOfMessages".to_owned(),
            visible.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesNotVisible".to_owned(),
            in_flight.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesDelayed".to_owned(),
            delayed.to_string(),
        );
        let created = self.created_at.seconds().to_string();
        all.insert("CreatedTimestamp".to_owned(), created.clone());
        all.insert("LastModifiedTimestamp".to_owned(), created);
        all.insert("QueueArn".to_owned(), arn.to_owned());
        if names.iter().any(|n| n == "All") {
            return Ok(all);
        }
        let mut selected = BTreeMap::new();
        for name in names {
            let known = all.contains_key(name) || PASSIVE_ATTRIBUTES.contains(&name.as_str());
            if !known {
                return Err(SqsError::InvalidAttributeName(name.clone()));
            }
            if let Some(value) = all.get(name) {
                selected.insert(name.clone(), value.clone());
            }
        }
        Ok(selected)
    }
}

fn validate_name(name: &str) -> Result<(), SqsError> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let valid = !stem.is_empty()
        && name.len() <= 80
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(SqsError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .to_owned(),
        ))
    }
}

fn validate_attribute(name: &str, value: &str) -> Result<(), SqsError> {
    if PASSIVE_ATTRIBUTES.contains(&name) {
        return Ok(());
    }
    let Some((_, _, min, max)) = QUEUE_ATTRIBUTES.iter().find(|(n, ..)| *n == name) else {
        return Err(SqsError::InvalidAttributeName(name.to_owned()));
    };
    match value.parse::<i64>() {
        Ok(number) if (*min..=*max).contains(&number) => Ok(()),
        _ => Err(SqsError::InvalidAttributeValue(name.to_owned())),
    }
}

fn validate_body(body: &str, max_size: i64) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::InvalidParameterValue(
            "The request must contain the parameter MessageBody.".to_owned(),
        ));
    }
    if i64::try_from(body.len()).unwrap_or(i64::MAX) > max_size {
        return Err(SqsError::InvalidParameterValue(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )));
    }
    let allowed = |c: char| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
    if body.chars().all(allowed) {
        Ok(())
    } else {
        Err(SqsError::InvalidMessageContents("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF".to_owned()))
    }
}

struct ReceiptHandle {
    account: String,
    queue: String,
    message_id: String,
    nonce: String,
}

const HANDLE_PREFIX: &str = "souk1";

fn encode_receipt_handle(account: &str, queue: &str, message_id: &str, nonce: &str) -> String {
    let raw = format!("{HANDLE_PREFIX}\n{account}\n{queue}\n{message_id}\n{nonce}");
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn decode_receipt_handle(handle: &str) -> Option<ReceiptHandle> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(handle.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('\n');
    if parts.next()? != HANDLE_PREFIX {
        return None;
    }
    let handle = ReceiptHandle {
        account: parts.next()?.to_owned(),
        queue: parts.next()?.to_owned(),
        message_id: parts.next()?.to_owned(),
        nonce: parts.next()?.to_owned(),
    };
    parts.next().is_none().then_some(handle)
}

/// `MD5OfMessageAttributes` as SQS computes it: for each attribute in name order, the
/// length-prefixed name and data type, a transport byte (1 string, 2 binary) and the
/// length-prefixed value.
pub fn md5_of_attributes(attributes: &BTreeMap<String, MessageAttribute>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn push(buffer: &mut Vec<u8>, bytes: &[u8]) {
        buffer.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        buffer.extend_from_slice(bytes);
    }
    let mut buffer = Vec::new();
    for (name, attribute) in attributes {
        push(&mut buffer, name.as_bytes());
        push(&mut buffer, attribute.data_type.as_bytes());
        if let Some(binary) = &attribute.binary_value {
            buffer.push(2);
            push(&mut buffer, binary);
        } else {
            buffer.push(1);
            push(
                &mut buffer,
                attribute.string_value.as_deref().unwrap_or("").as_bytes(),
            );
        }
    }
    Some(md5::hex_digest(&buffer))
}

/// Queues and their messages.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SqsState {
    /// Queues by `<account>/<name>`.
    pub queues: BTreeMap<String, Queue>,
    /// Woken whenever a message is sent, so long polls re-check at once.
    #[serde(skip)]
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

impl SqsState {
    /// The queue a URL (`http://host/<account>/<name>`), an ARN (`arn:aws:sqs:<region>:<account>:<name>`)
    /// or a `<account>/<name>` key names.
    pub fn find_mut(&mut self, url_or_arn: &str) -> Option<&mut Queue> {
        let key = queue_key(url_or_arn)?;
        self.queues.get_mut(&key)
    }

    /// Sends `body` to the queue `url_or_arn` names (used by notification delivery).
    pub fn send_internal(
        &mut self,
        url_or_arn: &str,
        body: String,
        now: At,
    ) -> Result<String, SqsError> {
        let queue = self
            .find_mut(url_or_arn)
            .ok_or(SqsError::QueueDoesNotExist)?;
        let message = queue.send(body, BTreeMap::new(), None, now)?;
        self.wake.notify_waiters();
        Ok(message.id)
    }
}

/// `<account>/<name>` for a queue URL, ARN or key.
pub fn queue_key(url_or_arn: &str) -> Option<String> {
    if let Some(rest) = url_or_arn.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.split(':').collect();
        return match parts.as_slice() {
            [_, "sqs", _, account, name] if !account.is_empty() && !name.is_empty() => {
                Some(format!("{account}/{name}"))
            }
            _ => None,
        };
    }
    let path = match url_or_arn.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, path)| path).unwrap_or(""),
        None => url_or_arn,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., account, name] => Some(format!("{account}/{name}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Queue, decode_receipt_handle};
    use crate::at::At;
    use crate::sqs::SqsError;

    const T0: At = At::UNIX_EPOCH;

    fn ms(millis: i64) -> At {
        At::from_millis(millis)
    }

    fn queue(attributes: &[(&str, &str)]) -> Queue {
        let attributes = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Queue::new("111122223333", "q", attributes, T0).expect("queue")
    }

    #[test]
    fn delays_hide_messages_until_due() {
        let mut q = queue(&[("DelaySeconds", "10")]);
        q.send("a".into(), BTreeMap::new(), None, T0).expect("send");
        q.send("b".into(), BTreeMap::new(), Some(0), T0)
            .expect("send");
        let now = q.receive(10, None, ms(1_000));
        assert_eq!(
            now.iter()
                .map(|r| r.message.body.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
        assert_eq!(q.counts(ms(1_000)), (0, 1, 1));
        assert_eq!(q.receive(10, None, ms(10_000)).len(), 1);
        assert!(matches!(
            q.send("c".into(), BTreeMap::new(), Some(901), T0),
            Err(SqsError::InvalidParameterValue(_))
        ));
    }

    #[test]
    fn retention_drops_old_messages() {
        let mut q = queue(&[("MessageRetentionPeriod", "60")]);
        q.send("old".into(), BTreeMap::new(), None, T0)
            .expect("send");
        assert!(q.receive(1, None, ms(61_000)).is_empty());
        assert!(q.messages.is_empty());
    }

    #[test]
    fn receipt_handles_belong_to_their_queue() {
        let mut q = queue(&[]);
        q.send("x".into(), BTreeMap::new(), None, T0).expect("send");
        let handle = q.receive(1, Some(30), T0).remove(0).receipt_handle;
        let parsed = decode_receipt_handle(&handle).expect("handle");
        assert_eq!(parsed.queue, "q");
        let mut other = Queue::new("111122223333", "other", BTreeMap::new(), T0).expect("queue");
        assert!(matches!(
            other.delete(&handle),
            Err(SqsError::ReceiptHandleIsInvalid(_))
        ));
        assert!(matches!(
            q.change_visibility(&handle, 43_201, T0),
            Err(SqsError::InvalidParameterValue(_))
        ));
        q.change_visibility(&handle, 0, T0).expect("change");
        assert!(matches!(
            q.change_visibility(&handle, 5, T0),
            Err(SqsError::MessageNotInflight)
        ));
    }

    #[test]
    fn invalid_names_and_attributes_are_rejected() {
        assert!(Queue::new("1", "", BTreeMap::new(), T0).is_err());
        assert!(Queue::new("1", "has space", BTreeMap::new(), T0).is_err());
        assert!(Queue::new("1", &"x".repeat(81), BTreeMap::new(), T0).is_err());
        assert!(Queue::new("1", "ok.fifo", BTreeMap::new(), T0).is_ok());
        let bad = BTreeMap::from([("VisibilityTimeout".to_owned(), "abc".to_owned())]);
        assert!(matches!(
            Queue::new("1", "q", bad, T0),
            Err(SqsError::InvalidAttributeValue(_))
        ));
        let unknown = BTreeMap::from([("Colour".to_owned(), "blue".to_owned())]);
        assert!(matches!(
            Queue::new("1", "q", unknown, T0),
            Err(SqsError::InvalidAttributeName(_))
        ));
    }
}
