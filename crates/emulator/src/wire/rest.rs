//! restJson1 responses (Catalog API; also the shape of the control API's errors).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use super::{ApiError, REQUEST_ID_HEADER, request_id};

/// A 200 `application/json` response with `value` as the body.
pub fn ok_response<T: Serialize>(value: &T) -> Response {
    with_status(StatusCode::OK, value)
}

/// An `application/json` response with an explicit status.
pub fn with_status<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => raw(status, body, None),
        Err(err) => error_response(&ApiError::server(
            "InternalServiceException",
            format!("internal error: {err}"),
        )),
    }
}

/// A restJson1 error: status per shape, `x-amzn-ErrorType: <Code>` and `{"Message": "..."}`
/// (capital `Message`, as the Catalog model names it).
pub fn error_response(error: &ApiError) -> Response {
    let body = serde_json::json!({ "Message": error.message });
    raw(
        error.status,
        body.to_string().into_bytes(),
        Some(&error.code),
    )
}

fn raw(status: StatusCode, body: Vec<u8>, error_type: Option<&str>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    if let Some(code) = error_type.and_then(|code| HeaderValue::from_str(code).ok()) {
        headers.insert("x-amzn-ErrorType", code);
    }
    response
}
