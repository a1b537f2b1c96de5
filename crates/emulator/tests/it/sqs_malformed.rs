//! Malformed SQS requests (JSON and query) never panic: deterministic pseudo-random bodies and
//! forms straight into the protocol handlers.

use souk_emulator::{Emulator, EmulatorConfig};

/// xorshift64*: deterministic, dependency-free noise.
pub struct Noise(pub u64);

impl Noise {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const MEMBERS: &[&str] = &[
    "QueueName",
    "QueueUrl",
    "MessageBody",
    "ReceiptHandle",
    "VisibilityTimeout",
    "WaitTimeSeconds",
    "MaxNumberOfMessages",
    "DelaySeconds",
    "Attributes",
    "AttributeNames",
    "MessageAttributes",
    "MessageAttributeNames",
    "QueueOwnerAWSAccountId",
    "Action",
];
const VALUES: &[&str] = &[
    "null",
    "0",
    "-1",
    "11",
    "99999999999999999999",
    "1.5",
    "\"\"",
    "\"q\"",
    "\"http://h/1/q\"",
    "\"arn:aws:sqs:r:1:q\"",
    "\"c291azEKMQpxCm0Kbg==\"",
    "[]",
    "[\"All\"]",
    "{}",
    "{\"a\":{}}",
    "{\"k\":{\"DataType\":\"Binary\",\"BinaryValue\":\"!!\"}}",
    "true",
    "\"\\u0000\"",
    "\"\u{10FFFF}\"",
];
const OPERATIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "DeleteQueue",
    "PurgeQueue",
    "ListQueues",
    "",
    "AmazonSQS.SendMessage",
];

#[tokio::test(flavor = "multi_thread")]
async fn random_json_and_query_requests_are_answered() {
    let emulator = Emulator::new(EmulatorConfig::default());
    // A queue that random requests may hit (without long polling: WaitTimeSeconds > 0 would wait).
    let created =
        souk_emulator::sqs::handle(&emulator, "CreateQueue", r#"{"QueueName":"q"}"#.into());
    assert_eq!(created.status(), 200);
    let mut noise = Noise(0x5eed_1234_abcd_ef01);
    for _ in 0..3000 {
        let mut body = String::from("{");
        for i in 0..(noise.next() % 5) {
            if i > 0 {
                body.push(',');
            }
            let member = noise.pick(MEMBERS);
            let value = if member == "WaitTimeSeconds" {
                "0"
            } else {
                noise.pick(VALUES)
            };
            body.push_str(&format!("\"{member}\":{value}"));
        }
        body.push('}');
        let mut bytes = body.clone().into_bytes();
        if noise.next().is_multiple_of(7) {
            // Truncate anywhere, even inside a UTF-8 sequence.
            let cut = (noise.next() as usize) % bytes.len();
            bytes.truncate(cut);
        }
        let operation = noise.pick(OPERATIONS);
        let response = souk_emulator::sqs::handle(&emulator, operation, bytes.into());
        assert!(
            matches!(response.status().as_u16(), 200 | 400),
            "{operation} {body}: {}",
            response.status()
        );

        let mut form = vec![("Action".to_owned(), noise.pick(OPERATIONS).to_owned())];
        for _ in 0..(noise.next() % 5) {
            let member = noise.pick(MEMBERS);
            let value = if member == "WaitTimeSeconds" {
                "0"
            } else {
                noise.pick(VALUES)
            };
            form.push((
                format!(
                    "{member}{}",
                    noise.pick(&["", ".1", ".1.Name", ".1.Value", ".x", ".99999999999"])
                ),
                value.trim_matches('"').to_owned(),
            ));
        }
        let response = souk_emulator::sqs::handle_query(&emulator, form.clone());
        assert!(
            matches!(response.status().as_u16(), 200 | 400),
            "{form:?}: {}",
            response.status()
        );
    }
}
