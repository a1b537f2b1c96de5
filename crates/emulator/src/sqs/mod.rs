//! The SQS subset a notification consumer needs: CreateQueue, GetQueueUrl, SendMessage,
//! ReceiveMessage (long polling up to 20 s), DeleteMessage, ChangeMessageVisibility,
//! GetQueueAttributes, plus DeleteQueue, PurgeQueue and ListQueues. Spoken as awsJson1_0
//! (`X-Amz-Target: AmazonSQS.<Op>`, what aws-sdk-sqs and boto3 send today) and as the legacy
//! awsQuery form protocol (`Action=<Op>`).
//!
//! Queue URLs are `<emulator URL>/<account>/<name>`; only the last two path segments are used to
//! find a queue, so clients may rewrite the host. Visibility timeouts, delays and retention run on
//! the emulator clock. Long polling never holds the world lock across an await: the response is
//! returned at once with a body that resolves when a message arrives or the wait ends.

mod error;
mod json;
mod ops;
mod poll;
pub(crate) mod query;
mod queue;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use error::SqsError;
pub use json::handle;
pub use ops::{ReceiveOutput, SendOutput, now_ms};
pub use query::handle_query;
pub use queue::{Message, MessageAttribute, Queue, Received};

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
        now_ms: i64,
    ) -> Result<String, SqsError> {
        let queue = self
            .find_mut(url_or_arn)
            .ok_or(SqsError::QueueDoesNotExist)?;
        let message = queue.send(body, BTreeMap::new(), None, now_ms)?;
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

/// The URL of queue `name` in `account`.
pub fn queue_url(emu: &crate::Emulator, account: &str, name: &str) -> String {
    format!("{}/{account}/{name}", crate::notify::public_url(emu))
}

/// The ARN of queue `name` in `account`.
pub fn queue_arn(emu: &crate::Emulator, account: &str, name: &str) -> String {
    format!("arn:aws:sqs:{}:{account}:{name}", emu.config().region)
}

#[cfg(test)]
mod tests {
    use super::queue_key;

    #[test]
    fn queue_keys_from_urls_and_arns() {
        assert_eq!(
            queue_key("http://localhost:4566/111122223333/q1").as_deref(),
            Some("111122223333/q1")
        );
        assert_eq!(
            queue_key("https://sqs.us-east-1.amazonaws.com/1/q").as_deref(),
            Some("1/q")
        );
        assert_eq!(
            queue_key("arn:aws:sqs:us-east-1:1:q").as_deref(),
            Some("1/q")
        );
        assert_eq!(queue_key("arn:aws:sns:us-east-1:1:q"), None);
        assert_eq!(queue_key("http://localhost/q"), None);
        assert_eq!(queue_key(""), None);
    }
}
