//! The SQS operations over the world, shared by the JSON and query protocol adapters.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::SqsError;
use super::queue::{MessageAttribute, Queue, Received, md5_of_attributes};
use super::{queue_arn, queue_key, queue_url};
use crate::Emulator;
use crate::at::At;

/// CreateQueue.
pub fn create_queue(
    emu: &Emulator,
    name: &str,
    attributes: BTreeMap<String, String>,
) -> Result<String, SqsError> {
    if name.is_empty() {
        return Err(SqsError::MissingParameter("QueueName".to_owned()));
    }
    let account = emu.config().seller_account_id.clone();
    let now = emu.clock().now_at();
    let queue = Queue::new(&account, name, attributes, now)?;
    let mut world = emu.world();
    let key = format!("{account}/{name}");
    if let Some(existing) = world.sqs.queues.get(&key) {
        let differing = queue
            .attributes
            .iter()
            .find(|(k, v)| existing.attributes.get(*k).is_some_and(|old| old != *v))
            .map(|(k, _)| k.clone());
        if let Some(attribute) = differing {
            return Err(SqsError::QueueNameExists(attribute));
        }
    } else {
        world.sqs.queues.insert(key, queue);
    }
    drop(world);
    Ok(queue_url(emu, &account, name))
}

/// GetQueueUrl.
pub fn get_queue_url(emu: &Emulator, name: &str, owner: Option<&str>) -> Result<String, SqsError> {
    if name.is_empty() {
        return Err(SqsError::MissingParameter("QueueName".to_owned()));
    }
    let account = owner
        .filter(|o| !o.is_empty())
        .unwrap_or(&emu.config().seller_account_id)
        .to_owned();
    let exists = emu
        .world()
        .sqs
        .queues
        .contains_key(&format!("{account}/{name}"));
    if exists {
        Ok(queue_url(emu, &account, name))
    } else {
        Err(SqsError::QueueDoesNotExist)
    }
}

/// DeleteQueue.
pub fn delete_queue(emu: &Emulator, url: &str) -> Result<(), SqsError> {
    let key = required_key(url)?;
    let removed = emu.world().sqs.queues.remove(&key);
    removed.map(|_| ()).ok_or(SqsError::QueueDoesNotExist)
}

/// PurgeQueue.
pub fn purge_queue(emu: &Emulator, url: &str) -> Result<(), SqsError> {
    with_queue(emu, url, |queue, _| {
        queue.messages.clear();
        Ok(())
    })
}

/// ListQueues.
pub fn list_queues(emu: &Emulator, prefix: Option<&str>) -> Vec<String> {
    let world = emu.world();
    let names: Vec<(String, String)> = world
        .sqs
        .queues
        .values()
        .filter(|q| prefix.is_none_or(|p| q.name.starts_with(p)))
        .map(|q| (q.account.clone(), q.name.clone()))
        .collect();
    drop(world);
    names
        .into_iter()
        .map(|(account, name)| queue_url(emu, &account, &name))
        .collect()
}

/// What SendMessage returns.
#[derive(Debug, Clone)]
pub struct SendOutput {
    /// The new message id.
    pub message_id: String,
    /// MD5 of the body (hex).
    pub md5_of_body: String,
    /// MD5 of the message attributes, when any were sent.
    pub md5_of_attributes: Option<String>,
}

/// SendMessage.
pub fn send_message(
    emu: &Emulator,
    url: &str,
    body: Option<String>,
    delay_seconds: Option<i64>,
    attributes: BTreeMap<String, MessageAttribute>,
) -> Result<SendOutput, SqsError> {
    let body = body.ok_or_else(|| SqsError::MissingParameter("MessageBody".to_owned()))?;
    for (name, attribute) in &attributes {
        validate_message_attribute(name, attribute)?;
    }
    let md5_of_attributes = md5_of_attributes(&attributes);
    let md5_of_body = crate::support::md5::hex_digest(body.as_bytes());
    let message = with_queue(emu, url, |queue, now| {
        queue.send(body, attributes, delay_seconds, now)
    })?;
    emu.world().sqs.wake.notify_waiters();
    Ok(SendOutput {
        message_id: message.id,
        md5_of_body,
        md5_of_attributes,
    })
}

fn validate_message_attribute(name: &str, attribute: &MessageAttribute) -> Result<(), SqsError> {
    let base = attribute.data_type.split('.').next().unwrap_or("");
    let valid = match base {
        "String" | "Number" => attribute.string_value.is_some(),
        "Binary" => attribute.binary_value.is_some(),
        _ => false,
    };
    if name.is_empty() || !valid {
        return Err(SqsError::InvalidParameterValue(format!(
            "The message attribute '{name}' has an invalid message attribute type or value."
        )));
    }
    Ok(())
}

/// ReceiveMessage parameters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveInput {
    /// The queue.
    #[serde(default)]
    pub queue_url: Option<String>,
    /// 1..=10, default 1.
    #[serde(default)]
    pub max_number_of_messages: Option<i64>,
    /// Overrides the queue's visibility timeout.
    #[serde(default)]
    pub visibility_timeout: Option<i64>,
    /// Long-poll seconds, 0..=20.
    #[serde(default)]
    pub wait_time_seconds: Option<i64>,
    /// System attributes to return (legacy member).
    #[serde(default)]
    pub attribute_names: Vec<String>,
    /// System attributes to return.
    #[serde(default)]
    pub message_system_attribute_names: Vec<String>,
    /// Message attributes to return (`All`, `.*` or names).
    #[serde(default)]
    pub message_attribute_names: Vec<String>,
}

/// What ReceiveMessage returns.
#[derive(Debug, Clone, Default)]
pub struct ReceiveOutput {
    /// Received messages with their system attributes and selected message attributes.
    pub messages: Vec<ReceivedMessage>,
}

/// One received message as returned on the wire.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// Message and receipt handle.
    pub received: Received,
    /// MD5 of the body.
    pub md5_of_body: String,
    /// Selected system attributes.
    pub system_attributes: BTreeMap<String, String>,
    /// Selected message attributes.
    pub message_attributes: BTreeMap<String, MessageAttribute>,
    /// MD5 of the selected message attributes.
    pub md5_of_attributes: Option<String>,
}

/// Validated ReceiveMessage parameters.
#[derive(Debug, Clone)]
pub struct ReceivePlan {
    pub(crate) key: String,
    pub(crate) max: usize,
    pub(crate) visibility_timeout: Option<i64>,
    pub(crate) wait_seconds: i64,
    system_names: Vec<String>,
    attribute_names: Vec<String>,
}

/// Validates a ReceiveMessage request (the queue must exist).
pub fn plan_receive(emu: &Emulator, input: ReceiveInput) -> Result<ReceivePlan, SqsError> {
    let key = required_key(input.queue_url.as_deref().unwrap_or(""))?;
    let max = input.max_number_of_messages.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(SqsError::InvalidParameterValue(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
        )));
    }
    if let Some(timeout) = input
        .visibility_timeout
        .filter(|t| !(0..=43_200).contains(t))
    {
        return Err(SqsError::InvalidParameterValue(format!(
            "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."
        )));
    }
    let queue_wait = {
        let world = emu.world();
        let queue = world
            .sqs
            .queues
            .get(&key)
            .ok_or(SqsError::QueueDoesNotExist)?;
        queue.number_attribute("ReceiveMessageWaitTimeSeconds")
    };
    let wait_seconds = input.wait_time_seconds.unwrap_or(queue_wait);
    if !(0..=20).contains(&wait_seconds) {
        return Err(SqsError::InvalidParameterValue(format!(
            "Value {wait_seconds} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
        )));
    }
    let mut system_names = input.attribute_names;
    system_names.extend(input.message_system_attribute_names);
    Ok(ReceivePlan {
        key,
        max: usize::try_from(max).unwrap_or(1),
        visibility_timeout: input.visibility_timeout,
        wait_seconds,
        system_names,
        attribute_names: input.message_attribute_names,
    })
}

/// Receives what is visible now (possibly nothing); `None` when the queue no longer exists.
pub fn receive_now(emu: &Emulator, plan: &ReceivePlan) -> Option<ReceiveOutput> {
    let now = emu.clock().now_at();
    let sender = emu.config().seller_account_id.clone();
    let received = {
        let mut world = emu.world();
        let queue = world.sqs.queues.get_mut(&plan.key)?;
        queue.receive(plan.max, plan.visibility_timeout, now)
    };
    let messages = received
        .into_iter()
        .map(|r| describe(r, plan, &sender))
        .collect();
    Some(ReceiveOutput { messages })
}

fn describe(received: Received, plan: &ReceivePlan, sender: &str) -> ReceivedMessage {
    let message = &received.message;
    let all_system = plan.system_names.iter().any(|n| n == "All");
    let mut system_attributes = BTreeMap::new();
    let candidates = [
        ("SenderId", sender.to_owned()),
        ("SentTimestamp", message.sent_at.millis().to_string()),
        ("ApproximateReceiveCount", message.receive_count.to_string()),
        (
            "ApproximateFirstReceiveTimestamp",
            message
                .first_receive
                .unwrap_or(message.sent_at)
                .millis()
                .to_string(),
        ),
    ];
    for (name, value) in candidates {
        if all_system || plan.system_names.iter().any(|n| n == name) {
            system_attributes.insert(name.to_owned(), value);
        }
    }
    let wants = |name: &str| {
        plan.attribute_names.iter().any(|pattern| {
            pattern == "All"
                || pattern == ".*"
                || pattern == name
                || pattern
                    .strip_suffix(".*")
                    .is_some_and(|prefix| name.starts_with(&format!("{prefix}.")))
        })
    };
    let message_attributes: BTreeMap<String, MessageAttribute> = message
        .attributes
        .iter()
        .filter(|(name, _)| wants(name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ReceivedMessage {
        md5_of_body: crate::support::md5::hex_digest(message.body.as_bytes()),
        md5_of_attributes: md5_of_attributes(&message.attributes)
            .filter(|_| !message_attributes.is_empty()),
        system_attributes,
        message_attributes,
        received,
    }
}

/// DeleteMessage.
pub fn delete_message(
    emu: &Emulator,
    url: &str,
    receipt_handle: Option<&str>,
) -> Result<(), SqsError> {
    let handle =
        receipt_handle.ok_or_else(|| SqsError::MissingParameter("ReceiptHandle".to_owned()))?;
    with_queue(emu, url, |queue, _| queue.delete(handle))
}

/// ChangeMessageVisibility.
pub fn change_visibility(
    emu: &Emulator,
    url: &str,
    receipt_handle: Option<&str>,
    timeout: Option<i64>,
) -> Result<(), SqsError> {
    let handle =
        receipt_handle.ok_or_else(|| SqsError::MissingParameter("ReceiptHandle".to_owned()))?;
    let timeout =
        timeout.ok_or_else(|| SqsError::MissingParameter("VisibilityTimeout".to_owned()))?;
    with_queue(emu, url, |queue, now| {
        queue.change_visibility(handle, timeout, now)
    })?;
    emu.world().sqs.wake.notify_waiters();
    Ok(())
}

/// GetQueueAttributes.
pub fn get_attributes(
    emu: &Emulator,
    url: &str,
    names: &[String],
) -> Result<BTreeMap<String, String>, SqsError> {
    let key = required_key(url)?;
    let now = emu.clock().now_at();
    let (account, name) = key.split_once('/').unwrap_or_default();
    let arn = queue_arn(emu, account, name);
    with_queue(emu, url, |queue, _| {
        queue.attribute_values(names, &arn, now)
    })
}

/// SetQueueAttributes.
pub fn set_attributes(
    emu: &Emulator,
    url: &str,
    attributes: BTreeMap<String, String>,
) -> Result<(), SqsError> {
    with_queue(emu, url, |queue, now| {
        let validated = Queue::new(&queue.account, &queue.name, attributes, now)?;
        queue.attributes.extend(validated.attributes);
        Ok(())
    })
}

fn required_key(url: &str) -> Result<String, SqsError> {
    if url.is_empty() {
        return Err(SqsError::MissingParameter("QueueUrl".to_owned()));
    }
    queue_key(url).ok_or(SqsError::QueueDoesNotExist)
}

fn with_queue<T>(
    emu: &Emulator,
    url: &str,
    f: impl FnOnce(&mut Queue, At) -> Result<T, SqsError>,
) -> Result<T, SqsError> {
    let key = required_key(url)?;
    let now = emu.clock().now_at();
    let mut world = emu.world();
    let queue = world
        .sqs
        .queues
        .get_mut(&key)
        .ok_or(SqsError::QueueDoesNotExist)?;
    f(queue, now)
}
