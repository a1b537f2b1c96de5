//! Wire-protocol helpers shared by every emulated service.
//!
//! The error type [`ApiError`] is protocol-neutral: build it once, then
//! render it for the protocol the request came in on with [`ApiError::into_response`]:
//!
//! | protocol | error body | status |
//! |---|---|---|
//! | awsJson1_0 / awsJson1_1 | `{"__type": Name, "message": ...}` + `x-amzn-ErrorType` | per shape |
//! | rpcv2Cbor | CBOR map `{"__type", "message"}` + `smithy-protocol: rpc-v2-cbor` | per shape |
//! | restJson1 | `{"Message": ...}` + `x-amzn-ErrorType` | per shape |
//! | awsQuery | `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` | per shape |
//!
//! Every response carries an `x-amzn-RequestId` header (see [`request_id`]).

pub mod cbor;
pub mod error;
pub mod json;
pub mod query;
pub mod rest;
pub mod sigv4;

pub use error::{ApiError, Protocol};

/// The header AWS uses for the request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// A fresh request id (UUID v4, as AWS uses; from the thread-local RNG).
pub fn request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// Makes the `x-amzn-RequestId` header carry the error's modelled `requestId` member, when it
/// has one, so a client sees one id in both places.
pub(crate) fn echo_request_id(response: &mut axum::response::Response, error: &ApiError) {
    if let Some(id) = error
        .member("requestId")
        .and_then(serde_json::Value::as_str)
        .and_then(|id| http::HeaderValue::from_str(id).ok())
    {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
}
