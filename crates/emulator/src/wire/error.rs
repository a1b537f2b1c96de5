//! A protocol-neutral AWS error and its rendering per protocol.

use axum::response::Response;
use http::StatusCode;

/// The wire protocol a request came in on; decides how errors (and faults) are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `application/x-amz-json-1.0` (Agreement API).
    AwsJson1_0,
    /// `application/x-amz-json-1.1` (Metering, Entitlement for boto3, SQS JSON).
    AwsJson1_1,
    /// Smithy RPC v2 CBOR (Entitlement for the Rust SDK).
    RpcV2Cbor,
    /// restJson1 (Catalog) and the control API.
    RestJson1,
    /// awsQuery (STS, SQS query).
    AwsQuery,
    /// restXml (S3): `<Error><Code>` at the document's root.
    RestXml,
}

/// An AWS error as a client sees it: HTTP status, error code (shape name) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status (400 for client errors unless the shape says otherwise, 500 for server errors).
    pub status: StatusCode,
    /// The error code: the Smithy shape name (`ThrottlingException`) or, for awsQuery, the
    /// `awsQueryError` code (`AccessDenied`, `MalformedPolicyDocument`).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Further members the error shape models (Agreement's `requestId`, `reason`, `fields`,
    /// `resourceId`, ...), rendered next to the message by the JSON and CBOR protocols.
    pub members: Vec<(String, serde_json::Value)>,
}

impl ApiError {
    /// A client (`Sender`) error with status 400.
    pub fn client(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_status(StatusCode::BAD_REQUEST, code, message)
    }

    /// A server (`Receiver`) error with status 500.
    pub fn server(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_status(StatusCode::INTERNAL_SERVER_ERROR, code, message)
    }

    /// An error with an explicit status (for shapes with `@httpError`, e.g. 409 or 403).
    pub fn with_status(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            members: Vec::new(),
        }
    }

    /// Adds a modelled member (replacing one of the same name).
    pub fn with_member(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.members.retain(|(n, _)| n != name);
        self.members.push((name.to_owned(), value.into()));
        self
    }

    /// The value of a modelled member.
    pub fn member(&self, name: &str) -> Option<&serde_json::Value> {
        self.members.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// `SerializationException` (400): the body could not be decoded.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }

    /// `UnknownOperationException` (400): the target names no operation of the service.
    pub fn unknown_operation(operation: &str) -> Self {
        Self::client(
            "UnknownOperationException",
            format!("operation {operation} is not supported"),
        )
    }

    /// `ValidationException` (400): a modelled constraint was violated and the operation has no
    /// more specific error.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::client("ValidationException", message)
    }

    /// `ThrottlingException` (400), the code every JSON/CBOR service uses.
    pub fn throttling() -> Self {
        Self::client("ThrottlingException", "Rate exceeded")
    }

    /// Whether the status is a 5xx (rendered as `Receiver` in awsQuery).
    pub fn is_server(&self) -> bool {
        self.status.is_server_error()
    }

    /// Renders the error for `protocol`.
    pub fn into_response(self, protocol: Protocol) -> Response {
        match protocol {
            Protocol::AwsJson1_0 => {
                super::json::error_response(&self, super::json::CONTENT_TYPE_1_0)
            }
            Protocol::AwsJson1_1 => {
                super::json::error_response(&self, super::json::CONTENT_TYPE_1_1)
            }
            Protocol::RpcV2Cbor => super::cbor::error_response(&self),
            Protocol::RestJson1 => super::rest::error_response(&self),
            Protocol::AwsQuery => super::query::error_response(&self),
            Protocol::RestXml => super::query::s3_error_response(&self),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}
