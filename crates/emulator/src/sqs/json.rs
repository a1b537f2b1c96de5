//! awsJson1_0 adapter (`X-Amz-Target: AmazonSQS.<Op>`, `application/x-amz-json-1.0`).

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::error::SqsError;
use super::ops::{self, ReceiveInput, ReceiveOutput};
use super::queue::MessageAttribute;
use crate::Emulator;

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Handles one awsJson1_0 SQS request; `operation` is the part of `X-Amz-Target` after `AmazonSQS.`.
pub fn handle(emu: &Emulator, operation: &str, body: Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let operation = operation.strip_prefix("AmazonSQS.").unwrap_or(operation);
    if operation == "ReceiveMessage" {
        return match parse::<ReceiveInput>(&body).and_then(|input| ops::plan_receive(emu, input)) {
            Ok(plan) => {
                super::poll::receive_response(emu, plan, CONTENT_TYPE, request_id, render_receive)
            }
            Err(error) => error.to_json_response(&request_id),
        };
    }
    match dispatch(emu, operation, &body) {
        Ok(value) => ok(value, &request_id),
        Err(error) => error.to_json_response(&request_id),
    }
}

fn dispatch(emu: &Emulator, operation: &str, body: &[u8]) -> Result<Value, SqsError> {
    match operation {
        "CreateQueue" => {
            let input: QueueNameInput = parse(body)?;
            let url =
                ops::create_queue(emu, &input.queue_name.unwrap_or_default(), input.attributes)?;
            Ok(json!({ "QueueUrl": url }))
        }
        "GetQueueUrl" => {
            let input: QueueNameInput = parse(body)?;
            let url = ops::get_queue_url(
                emu,
                &input.queue_name.unwrap_or_default(),
                input.queue_owner_aws_account_id.as_deref(),
            )?;
            Ok(json!({ "QueueUrl": url }))
        }
        "ListQueues" => {
            let input: ListInput = parse(body)?;
            Ok(json!({ "QueueUrls": ops::list_queues(emu, input.queue_name_prefix.as_deref()) }))
        }
        "DeleteQueue" => {
            let input: QueueInput = parse(body)?;
            ops::delete_queue(emu, &input.queue_url.unwrap_or_default())?;
            Ok(json!({}))
        }
        "PurgeQueue" => {
            let input: QueueInput = parse(body)?;
            ops::purge_queue(emu, &input.queue_url.unwrap_or_default())?;
            Ok(json!({}))
        }
        "SendMessage" => {
            let input: SendInput = parse(body)?;
            let attributes = input
                .message_attributes
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect();
            let output = ops::send_message(
                emu,
                &input.queue_url.unwrap_or_default(),
                input.message_body,
                input.delay_seconds,
                attributes,
            )?;
            let mut value =
                json!({ "MessageId": output.message_id, "MD5OfMessageBody": output.md5_of_body });
            if let Some(md5) = output.md5_of_attributes {
                value["MD5OfMessageAttributes"] = Value::String(md5);
            }
            Ok(value)
        }
        "DeleteMessage" => {
            let input: HandleInput = parse(body)?;
            ops::delete_message(
                emu,
                &input.queue_url.unwrap_or_default(),
                input.receipt_handle.as_deref(),
            )?;
            Ok(json!({}))
        }
        "ChangeMessageVisibility" => {
            let input: HandleInput = parse(body)?;
            ops::change_visibility(
                emu,
                &input.queue_url.unwrap_or_default(),
                input.receipt_handle.as_deref(),
                input.visibility_timeout,
            )?;
            Ok(json!({}))
        }
        "GetQueueAttributes" => {
            let input: AttributesInput = parse(body)?;
            let attributes = ops::get_attributes(
                emu,
                &input.queue_url.unwrap_or_default(),
                &input.attribute_names,
            )?;
            Ok(json!({ "Attributes": attributes }))
        }
        "SetQueueAttributes" => {
            let input: QueueNameInput = parse(body)?;
            ops::set_attributes(emu, &input.queue_url.unwrap_or_default(), input.attributes)?;
            Ok(json!({}))
        }
        other => Err(SqsError::InvalidAction(other.to_owned())),
    }
}

fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, SqsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|error| SqsError::Serialization(format!("Malformed request body: {error}")))
}

fn ok(value: Value, request_id: &str) -> Response {
    let mut response = value.to_string().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

fn render_receive(output: &ReceiveOutput, _request_id: &str) -> String {
    let messages: Vec<Value> = output
        .messages
        .iter()
        .map(|m| {
            let mut message = Map::new();
            message.insert("MessageId".into(), m.received.message.id.clone().into());
            message.insert(
                "ReceiptHandle".into(),
                m.received.receipt_handle.clone().into(),
            );
            message.insert("MD5OfBody".into(), m.md5_of_body.clone().into());
            message.insert("Body".into(), m.received.message.body.clone().into());
            if !m.system_attributes.is_empty() {
                message.insert("Attributes".into(), json!(m.system_attributes));
            }
            if !m.message_attributes.is_empty() {
                let attributes: Map<String, Value> = m
                    .message_attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), attribute_json(v)))
                    .collect();
                message.insert("MessageAttributes".into(), Value::Object(attributes));
            }
            if let Some(md5) = &m.md5_of_attributes {
                message.insert("MD5OfMessageAttributes".into(), md5.clone().into());
            }
            Value::Object(message)
        })
        .collect();
    if messages.is_empty() {
        json!({})
    } else {
        json!({ "Messages": messages })
    }
    .to_string()
}

fn attribute_json(attribute: &MessageAttribute) -> Value {
    let mut value = json!({ "DataType": attribute.data_type });
    if let Some(string) = &attribute.string_value {
        value["StringValue"] = string.clone().into();
    }
    if let Some(binary) = &attribute.binary_value {
        value["BinaryValue"] = base64::engine::general_purpose::STANDARD
            .encode(binary)
            .into();
    }
    value
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueNameInput {
    queue_name: Option<String>,
    queue_url: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    queue_owner_aws_account_id: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    queue_name_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueInput {
    queue_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendInput {
    queue_url: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: BTreeMap<String, JsonAttribute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonAttribute {
    #[serde(default)]
    data_type: String,
    string_value: Option<String>,
    binary_value: Option<String>,
}

impl From<JsonAttribute> for MessageAttribute {
    fn from(attribute: JsonAttribute) -> Self {
        Self {
            data_type: attribute.data_type,
            string_value: attribute.string_value,
            binary_value: attribute
                .binary_value
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HandleInput {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributesInput {
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
}
