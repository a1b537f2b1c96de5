//! awsJson1_0 / awsJson1_1 responses: `POST /` with `X-Amz-Target: Service.Operation`.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use super::{ApiError, REQUEST_ID_HEADER, request_id};

/// Content type of awsJson1_0.
pub const CONTENT_TYPE_1_0: &str = "application/x-amz-json-1.0";
/// Content type of awsJson1_1.
pub const CONTENT_TYPE_1_1: &str = "application/x-amz-json-1.1";

/// A 200 response with `value` serialized as the body and the given awsJson content type.
pub fn ok_response<T: Serialize>(value: &T, content_type: &'static str) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => raw_response(StatusCode::OK, body, content_type, None),
        Err(err) => error_response(
            &ApiError::server(
                "InternalServiceErrorException",
                format!("internal error: {err}"),
            ),
            content_type,
        ),
    }
}

/// An awsJson error: status per shape, `x-amzn-ErrorType` header and
/// `{"__type": "<Code>", "message": "..."}` body (lower-case `message`, as metering and
/// entitlement model it; clients accept either case).
pub fn error_response(error: &ApiError, content_type: &'static str) -> Response {
    let mut body = serde_json::json!({ "__type": error.code, "message": error.message });
    for (name, value) in &error.members {
        body[name.as_str()] = value.clone();
    }
    let mut response = raw_response(
        error.status,
        body.to_string().into_bytes(),
        content_type,
        Some(&error.code),
    );
    super::echo_request_id(&mut response, error);
    response
}

fn raw_response(
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    error_type: Option<&str>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    if let Some(code) = error_type.and_then(|code| HeaderValue::from_str(code).ok()) {
        headers.insert("x-amzn-ErrorType", code);
    }
    response
}

/// Parses an awsJson request body into `T`. An empty body is read as `{}` (SDKs send `{}` for
/// operations without input, some clients send nothing). Syntax errors and type mismatches
/// become `SerializationException`, as AWS's JSON front end reports them.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|err| ApiError::serialization(format!("could not parse request body: {err}")))
}
