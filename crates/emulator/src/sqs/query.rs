//! Legacy awsQuery adapter (`Action=<Op>&Version=2012-11-05` form posts, XML responses).

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderValue, header};

use super::error::SqsError;
use super::ops::{self, ReceiveInput, ReceiveOutput};
use super::queue::MessageAttribute;
use crate::Emulator;

/// The SQS XML namespace.
pub const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Handles one awsQuery SQS request.
pub fn handle_query(emu: &Emulator, form: Vec<(String, String)>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let params: BTreeMap<String, String> = form.into_iter().collect();
    let get = |name: &str| params.get(name).cloned();
    let action = get("Action").unwrap_or_default();
    let url = get("QueueUrl").unwrap_or_default();
    let number = |name: &str| -> Result<Option<i64>, SqsError> {
        match params.get(name) {
            None => Ok(None),
            Some(raw) => raw.trim().parse().map(Some).map_err(|_| {
                SqsError::InvalidParameterValue(format!(
                    "Value {raw} for parameter {name} is invalid."
                ))
            }),
        }
    };
    if action == "ReceiveMessage" {
        let input = (|| -> Result<ReceiveInput, SqsError> {
            Ok(ReceiveInput {
                queue_url: get("QueueUrl"),
                max_number_of_messages: number("MaxNumberOfMessages")?,
                visibility_timeout: number("VisibilityTimeout")?,
                wait_time_seconds: number("WaitTimeSeconds")?,
                attribute_names: indexed(&params, "AttributeName"),
                message_system_attribute_names: indexed(&params, "MessageSystemAttributeName"),
                message_attribute_names: indexed(&params, "MessageAttributeName"),
            })
        })();
        return match input.and_then(|input| ops::plan_receive(emu, input)) {
            Ok(plan) => {
                super::poll::receive_response(emu, plan, "text/xml", request_id, render_receive)
            }
            Err(error) => error.to_xml_response(&request_id),
        };
    }
    let result: Result<String, SqsError> = (|| match action.as_str() {
        "CreateQueue" => {
            let url = ops::create_queue(
                emu,
                &get("QueueName").unwrap_or_default(),
                attribute_map(&params),
            )?;
            Ok(format!("<QueueUrl>{}</QueueUrl>", escape(&url)))
        }
        "GetQueueUrl" => {
            let url = ops::get_queue_url(
                emu,
                &get("QueueName").unwrap_or_default(),
                get("QueueOwnerAWSAccountId").as_deref(),
            )?;
            Ok(format!("<QueueUrl>{}</QueueUrl>", escape(&url)))
        }
        "ListQueues" => Ok(ops::list_queues(emu, get("QueueNamePrefix").as_deref())
            .iter()
            .map(|url| format!("<QueueUrl>{}</QueueUrl>", escape(url)))
            .collect()),
        "DeleteQueue" => ops::delete_queue(emu, &url).map(|()| String::new()),
        "PurgeQueue" => ops::purge_queue(emu, &url).map(|()| String::new()),
        "SendMessage" => {
            let output = ops::send_message(
                emu,
                &url,
                get("MessageBody"),
                number("DelaySeconds")?,
                message_attributes(&params),
            )?;
            let mut xml = format!(
                "<MessageId>{}</MessageId><MD5OfMessageBody>{}</MD5OfMessageBody>",
                output.message_id, output.md5_of_body
            );
            if let Some(md5) = output.md5_of_attributes {
                xml.push_str(&format!(
                    "<MD5OfMessageAttributes>{md5}</MD5OfMessageAttributes>"
                ));
            }
            Ok(xml)
        }
        "DeleteMessage" => {
            ops::delete_message(emu, &url, get("ReceiptHandle").as_deref()).map(|()| String::new())
        }
        "ChangeMessageVisibility" => ops::change_visibility(
            emu,
            &url,
            get("ReceiptHandle").as_deref(),
            number("VisibilityTimeout")?,
        )
        .map(|()| String::new()),
        "GetQueueAttributes" => {
            let attributes = ops::get_attributes(emu, &url, &indexed(&params, "AttributeName"))?;
            Ok(attributes
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<Attribute><Name>{}</Name><Value>{}</Value></Attribute>",
                        escape(k),
                        escape(v)
                    )
                })
                .collect())
        }
        "SetQueueAttributes" => {
            ops::set_attributes(emu, &url, attribute_map(&params)).map(|()| String::new())
        }
        "" => Err(SqsError::MissingParameter("Action".to_owned())),
        other => Err(SqsError::InvalidAction(other.to_owned())),
    })();
    match result {
        Ok(inner) => ok(&action, &inner, &request_id),
        Err(error) => error.to_xml_response(&request_id),
    }
}

/// Values of `Prefix.1`, `Prefix.2`, … (and a bare `Prefix`) in index order.
fn indexed(params: &BTreeMap<String, String>, prefix: &str) -> Vec<String> {
    let mut values: Vec<(u32, String)> = params
        .iter()
        .filter_map(|(k, v)| {
            let index = k.strip_prefix(prefix)?;
            if index.is_empty() {
                return Some((0, v.clone()));
            }
            index
                .strip_prefix('.')?
                .parse()
                .ok()
                .map(|i| (i, v.clone()))
        })
        .collect();
    values.sort();
    values.into_iter().map(|(_, v)| v).collect()
}

/// `Attribute.N.Name` / `Attribute.N.Value` pairs.
fn attribute_map(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for n in 1..=64 {
        let (Some(name), Some(value)) = (
            params.get(&format!("Attribute.{n}.Name")),
            params.get(&format!("Attribute.{n}.Value")),
        ) else {
            continue;
        };
        map.insert(name.clone(), value.clone());
    }
    map
}

/// `MessageAttribute.N.Name` / `.Value.DataType` / `.Value.StringValue` / `.Value.BinaryValue`.
fn message_attributes(params: &BTreeMap<String, String>) -> BTreeMap<String, MessageAttribute> {
    let mut map = BTreeMap::new();
    for n in 1..=10 {
        let Some(name) = params.get(&format!("MessageAttribute.{n}.Name")) else {
            continue;
        };
        let field = |f: &str| {
            params
                .get(&format!("MessageAttribute.{n}.Value.{f}"))
                .cloned()
        };
        map.insert(
            name.clone(),
            MessageAttribute {
                data_type: field("DataType").unwrap_or_default(),
                string_value: field("StringValue"),
                binary_value: field("BinaryValue")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()),
            },
        );
    }
    map
}

fn ok(action: &str, inner: &str, request_id: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\"?><{action}Response xmlns=\"{XMLNS}\"><{action}Result>{inner}</{action}Result>\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

fn render_receive(output: &ReceiveOutput, request_id: &str) -> String {
    let mut inner = String::new();
    for m in &output.messages {
        inner.push_str(&format!(
            "<Message><MessageId>{}</MessageId><ReceiptHandle>{}</ReceiptHandle><MD5OfBody>{}</MD5OfBody><Body>{}</Body>",
            m.received.message.id,
            escape(&m.received.receipt_handle),
            m.md5_of_body,
            escape(&m.received.message.body)
        ));
        for (name, value) in &m.system_attributes {
            inner.push_str(&format!(
                "<Attribute><Name>{name}</Name><Value>{value}</Value></Attribute>"
            ));
        }
        if let Some(md5) = &m.md5_of_attributes {
            inner.push_str(&format!(
                "<MD5OfMessageAttributes>{md5}</MD5OfMessageAttributes>"
            ));
        }
        for (name, attribute) in &m.message_attributes {
            inner.push_str(&format!(
                "<MessageAttribute><Name>{}</Name><Value><DataType>{}</DataType>",
                escape(name),
                escape(&attribute.data_type)
            ));
            if let Some(string) = &attribute.string_value {
                inner.push_str(&format!("<StringValue>{}</StringValue>", escape(string)));
            }
            if let Some(binary) = &attribute.binary_value {
                let encoded = base64::engine::general_purpose::STANDARD.encode(binary);
                inner.push_str(&format!("<BinaryValue>{encoded}</BinaryValue>"));
            }
            inner.push_str("</Value></MessageAttribute>");
        }
        inner.push_str("</Message>");
    }
    format!(
        "<?xml version=\"1.0\"?><ReceiveMessageResponse xmlns=\"{XMLNS}\"><ReceiveMessageResult>{inner}\
         </ReceiveMessageResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
         </ReceiveMessageResponse>"
    )
}

pub use crate::wire::query::escape_text as escape;
