//! SQS errors as AWS returns them: awsJson1_0 bodies (`__type` plus the query-compatible
//! `x-amzn-query-error` header the SDKs map to modelled errors) and awsQuery `ErrorResponse` XML.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// An SQS error in AWS's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqsError {
    /// The queue URL or name names no queue.
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    /// CreateQueue with a name already used by a queue with different attributes.
    #[error("A queue already exists with the same name and a different value for attribute {0}")]
    QueueNameExists(String),
    /// The receipt handle is not one this emulator issued.
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    /// ChangeMessageVisibility on a message that is not in flight.
    #[error("Message does not exist or is not available for visibility timeout change.")]
    MessageNotInflight,
    /// An unknown attribute name.
    #[error("Unknown Attribute {0}.")]
    InvalidAttributeName(String),
    /// An attribute value out of range.
    #[error("Invalid value for the parameter {0}.")]
    InvalidAttributeValue(String),
    /// A message body that is empty, too large or has characters SQS does not allow.
    #[error("{0}")]
    InvalidMessageContents(String),
    /// A parameter value out of range (for example MaxNumberOfMessages = 11).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A required parameter is missing.
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    /// The request body is not valid JSON for the operation.
    #[error("{0}")]
    Serialization(String),
    /// An operation this emulator does not implement.
    #[error("The action {0} is not valid for this endpoint.")]
    InvalidAction(String),
}

impl SqsError {
    /// The modelled shape name (`__type` in JSON, after `com.amazonaws.sqs#`).
    pub fn shape(&self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "QueueDoesNotExist",
            Self::QueueNameExists(_) => "QueueNameExists",
            Self::ReceiptHandleIsInvalid(_) => "ReceiptHandleIsInvalid",
            Self::MessageNotInflight => "MessageNotInflight",
            Self::InvalidAttributeName(_) => "InvalidAttributeName",
            Self::InvalidAttributeValue(_) => "InvalidAttributeValue",
            Self::InvalidMessageContents(_) => "InvalidMessageContents",
            Self::InvalidParameterValue(_) => "InvalidParameterValue",
            Self::MissingParameter(_) => "MissingParameter",
            Self::Serialization(_) => "SerializationException",
            Self::InvalidAction(_) => "InvalidAction",
        }
    }

    /// The awsQuery error code (`x-amzn-query-error`, `<Code>` in XML).
    pub fn query_code(&self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            Self::QueueNameExists(_) => "QueueAlreadyExists",
            Self::MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            Self::Serialization(_) => "MalformedQueryString",
            other => other.shape(),
        }
    }

    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    /// The awsJson1_0 error response.
    pub fn to_json_response(&self, request_id: &str) -> Response {
        let namespace = if matches!(self, Self::Serialization(_)) {
            "com.amazon.coral.service"
        } else {
            "com.amazonaws.sqs"
        };
        let body = serde_json::json!({
            "__type": format!("{namespace}#{}", self.shape()),
            "message": self.to_string(),
        });
        let mut response = (self.status(), body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("{};Sender", self.query_code())) {
            headers.insert("x-amzn-query-error", value);
        }
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", value);
        }
        response
    }

    /// The awsQuery (XML) error response.
    pub fn to_xml_response(&self, request_id: &str) -> Response {
        let body = format!(
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{}\"><Error><Type>Sender</Type><Code>{}</Code>\
             <Message>{}</Message><Detail/></Error><RequestId>{}</RequestId></ErrorResponse>",
            super::query::XMLNS,
            self.query_code(),
            super::query::escape(&self.to_string()),
            request_id
        );
        let mut response = (self.status(), body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        response
    }
}
