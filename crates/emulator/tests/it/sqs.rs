//! SQS through the official Rust SDK (awsJson1_0) and the legacy query protocol.

use std::time::{Duration, Instant};

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};

use crate::assert_service_error;
use crate::support::sqs::{create_queue, http, spawn, sqs_client};

#[tokio::test(flavor = "multi_thread")]
async fn send_receive_delete_round_trip() {
    let emulator = spawn().await;
    let sqs = sqs_client(&emulator.url);
    let created = sqs
        .create_queue()
        .queue_name("events")
        .send()
        .await
        .expect("create");
    let url = created.queue_url().expect("url").to_owned();
    assert_eq!(url, format!("{}/111122223333/events", emulator.url));
    let fetched = sqs
        .get_queue_url()
        .queue_name("events")
        .send()
        .await
        .expect("get url");
    assert_eq!(fetched.queue_url(), Some(url.as_str()));

    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("hello")
        .send()
        .await
        .expect("send");
    assert_eq!(
        sent.md5_of_message_body(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    assert!(sent.message_id().is_some());

    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive");
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.body(), Some("hello"));
    assert_eq!(message.message_id(), sent.message_id());
    assert_eq!(
        message.md5_of_body(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    let attributes = message.attributes().expect("attributes");
    assert_eq!(
        attributes
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .map(String::as_str),
        Some("1")
    );
    assert!(attributes.contains_key(&MessageSystemAttributeName::SentTimestamp));

    let handle = message.receipt_handle().expect("handle");
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(handle)
        .send()
        .await
        .expect("delete");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("attributes");
    let attributes = attributes.attributes().expect("map");
    assert_eq!(
        attributes
            .get(&QueueAttributeName::ApproximateNumberOfMessages)
            .map(String::as_str),
        Some("0")
    );
    assert_eq!(
        attributes
            .get(&QueueAttributeName::QueueArn)
            .map(String::as_str),
        Some("arn:aws:sqs:us-east-1:111122223333:events")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_of_at_most_ten_and_message_attributes() {
    let emulator = spawn().await;
    let sqs = sqs_client(&emulator.url);
    let url = create_queue(&sqs, "many").await;
    for i in 0..12 {
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(format!("v{i}"))
            .build()
            .expect("attr");
        let sent = sqs
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .message_attributes("k", attribute)
            .send()
            .await
            .expect("send");
        assert!(sent.md5_of_message_attributes().is_some());
    }
    let first = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receive");
    assert_eq!(first.messages().len(), 10);
    let attribute = first.messages()[0]
        .message_attributes()
        .and_then(|m| m.get("k"))
        .expect("attribute");
    assert_eq!(attribute.string_value(), Some("v0"));
    let second = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    assert_eq!(second.messages().len(), 2);
    assert!(second.messages()[0].message_attributes().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn visibility_timeout_lapses_on_the_emulator_clock() {
    let emulator = spawn().await;
    let sqs = sqs_client(&emulator.url);
    let url = create_queue(&sqs, "vis").await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .expect("send");
    let first = sqs
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(30)
        .send()
        .await
        .expect("receive");
    let old_handle = first.messages()[0]
        .receipt_handle()
        .expect("handle")
        .to_owned();
    let hidden = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive");
    assert!(hidden.messages().is_empty(), "in flight");

    emulator.emu.clock().advance(time::Duration::seconds(31));
    let again = sqs
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .expect("receive");
    let message = &again.messages()[0];
    assert_eq!(
        message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map(String::as_str),
        Some("2")
    );
    let handle = message.receipt_handle().expect("handle").to_owned();

    // Deleting with the stale handle succeeds but keeps the message (AWS semantics).
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(&old_handle)
        .send()
        .await
        .expect("stale delete");
    // ChangeMessageVisibility(0) makes it visible at once.
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .expect("change");
    let third = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive");
    assert_eq!(third.messages().len(), 1);
    let handle = third.messages()[0]
        .receipt_handle()
        .expect("handle")
        .to_owned();
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(&handle)
        .send()
        .await
        .expect("delete");
    let error = sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(10)
        .send()
        .await
        .expect_err("deleted message is not in flight");
    assert_service_error!(error, is_message_not_inflight);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polling_returns_when_a_message_arrives() {
    let emulator = spawn().await;
    let sqs = sqs_client(&emulator.url);
    let url = create_queue(&sqs, "poll").await;
    let started = Instant::now();
    let empty = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    assert!(empty.messages().is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );

    let poller = {
        let sqs = sqs.clone();
        let url = url.clone();
        tokio::spawn(async move {
            sqs.receive_message()
                .queue_url(url)
                .wait_time_seconds(20)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    sqs.send_message()
        .queue_url(&url)
        .message_body("late")
        .send()
        .await
        .expect("send");
    let received = poller.await.expect("join").expect("receive");
    assert_eq!(received.messages().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "long poll took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_errors_with_status_and_code() {
    let emulator = spawn().await;
    let sqs = sqs_client(&emulator.url);

    let error = sqs
        .get_queue_url()
        .queue_name("missing")
        .send()
        .await
        .expect_err("missing queue");
    assert_service_error!(error, is_queue_does_not_exist);
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(
        error.code(),
        Some("AWS.SimpleQueueService.NonExistentQueue")
    );

    let error = sqs
        .send_message()
        .queue_url(format!("{}/111122223333/missing", emulator.url))
        .message_body("x")
        .send()
        .await
        .expect_err("missing queue");
    assert_service_error!(error, is_queue_does_not_exist);

    let url = sqs
        .create_queue()
        .queue_name("errors")
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .expect("create")
        .queue_url
        .expect("url");
    // Same name, same attributes: idempotent. Different attributes: QueueNameExists.
    sqs.create_queue()
        .queue_name("errors")
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .expect("idempotent");
    let error = sqs
        .create_queue()
        .queue_name("errors")
        .attributes(QueueAttributeName::VisibilityTimeout, "6")
        .send()
        .await
        .expect_err("exists");
    assert_service_error!(error, is_queue_name_exists);

    let error = sqs
        .create_queue()
        .queue_name("bad")
        .attributes(QueueAttributeName::VisibilityTimeout, "99999")
        .send()
        .await
        .expect_err("range");
    assert_service_error!(error, is_invalid_attribute_value);

    let error = sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle("not-a-handle")
        .send()
        .await
        .expect_err("bad handle");
    assert_service_error!(error, is_receipt_handle_is_invalid);
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));

    let error = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(11)
        .send()
        .await
        .expect_err("too many");
    assert_eq!(error.code(), Some("InvalidParameterValue"));
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));

    let error = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(21)
        .send()
        .await
        .expect_err("too long");
    assert_eq!(error.code(), Some("InvalidParameterValue"));

    let error = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("Bogus"))
        .send()
        .await
        .expect_err("unknown attribute");
    assert_service_error!(error, is_invalid_attribute_name);

    let error = sqs
        .send_message()
        .queue_url(&url)
        .message_body("bad \u{1} char")
        .send()
        .await
        .expect_err("contents");
    assert_service_error!(error, is_invalid_message_contents);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_requests_get_errors_not_panics() {
    let emulator = spawn().await;
    let operations = [
        "CreateQueue",
        "GetQueueUrl",
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "DeleteQueue",
        "PurgeQueue",
        "ListQueues",
        "Nope",
    ];
    let bodies = [
        "{",
        "[]",
        "{\"QueueUrl\": 5}",
        "{\"MaxNumberOfMessages\": \"x\"}",
        "null",
        "{\"QueueUrl\":\"\"}",
        "\u{0}",
    ];
    for operation in operations {
        for body in bodies {
            let target = format!("AmazonSQS.{operation}");
            let response = http(
                "POST",
                &format!("{}/", emulator.url),
                &[
                    ("X-Amz-Target", &target),
                    ("Content-Type", "application/x-amz-json-1.0"),
                ],
                body,
            )
            .await;
            assert!(
                response.status == 400 || response.status == 200,
                "{operation} {body}: {}",
                response.status
            );
            if response.status == 400 {
                assert!(
                    response.json()["__type"].is_string(),
                    "{operation} {body}: {}",
                    response.body
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn query_protocol_round_trip_and_errors() {
    let emulator = spawn().await;
    let form = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).expect("form");
    let post = |body: String| {
        let url = format!("{}/", emulator.url);
        async move {
            http(
                "POST",
                &url,
                &[("Content-Type", "application/x-www-form-urlencoded")],
                &body,
            )
            .await
        }
    };
    let created = post(form(&[
        ("Action", "CreateQueue"),
        ("QueueName", "legacy"),
        ("Version", "2012-11-05"),
    ]))
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("<QueueUrl>"), "{}", created.body);
    let url = format!("{}/111122223333/legacy", emulator.url);
    let sent = post(form(&[
        ("Action", "SendMessage"),
        ("QueueUrl", &url),
        ("MessageBody", "a & <b>"),
    ]))
    .await;
    assert!(sent.body.contains("<MD5OfMessageBody>"), "{}", sent.body);
    let received = post(form(&[
        ("Action", "ReceiveMessage"),
        ("QueueUrl", &url),
        ("AttributeName.1", "All"),
    ]))
    .await;
    assert!(
        received.body.contains("<Body>a &amp; &lt;b&gt;</Body>"),
        "{}",
        received.body
    );
    assert!(
        received.body.contains("<Name>SentTimestamp</Name>"),
        "{}",
        received.body
    );
    let attributes = post(form(&[
        ("Action", "GetQueueAttributes"),
        ("QueueUrl", &url),
        ("AttributeName.1", "ApproximateNumberOfMessagesNotVisible"),
    ]))
    .await;
    assert!(
        attributes.body.contains("<Value>1</Value>"),
        "{}",
        attributes.body
    );
    let missing = post(form(&[("Action", "GetQueueUrl"), ("QueueName", "nope")])).await;
    assert_eq!(missing.status, 400);
    assert!(
        missing
            .body
            .contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
        "{}",
        missing.body
    );
    let bad = post(form(&[
        ("Action", "DeleteMessage"),
        ("QueueUrl", &url),
        ("ReceiptHandle", "zzz"),
    ]))
    .await;
    assert!(
        bad.body.contains("<Code>ReceiptHandleIsInvalid</Code>"),
        "{}",
        bad.body
    );
    let unknown = post(form(&[("Action", "Explode")])).await;
    assert_eq!(unknown.status, 400);
    let garbage = post("%%%=&&==".to_owned()).await;
    assert_eq!(garbage.status, 400);
}
