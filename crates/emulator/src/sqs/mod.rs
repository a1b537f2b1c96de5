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
pub mod queue;

pub use error::SqsError;
pub use json::handle;
pub use ops::{ReceiveOutput, SendOutput};
pub use query::handle_query;
pub use queue::{Message, MessageAttribute, Queue, Received, SqsState, queue_key};

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
