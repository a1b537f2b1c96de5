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

/// A control-API JSON body. Unlike axum's `Json`, every rejection is the control API's own error
/// shape (`{"Message"}`, 400 `InvalidArgument`): a body that is not JSON, has members of the
/// wrong type or (with `deny_unknown_fields` on `T`) unknown members. The content type is not
/// checked, so `curl -d` works; an empty body reads as `{}`.
#[derive(Debug, Clone)]
pub struct ControlJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ControlJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|err| invalid_argument(format!("could not read the request body: {err}")))?;
        parse_control(&body)
            .map(ControlJson)
            .map_err(|err| error_response(&err))
    }
}

/// Parses a control-API body as [`ControlJson`] does.
pub fn parse_control<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|err| {
        ApiError::with_status(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            format!("invalid request body: {err}"),
        )
    })
}

/// A control-API 400: `{"Message"}` with `x-amzn-ErrorType: InvalidArgument`.
pub fn invalid_argument(message: impl Into<String>) -> Response {
    error_response(&ApiError::with_status(
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
        message,
    ))
}

/// A control-API 404: `{"Message"}` with `x-amzn-ErrorType: NotFound`.
pub fn not_found(message: impl Into<String>) -> Response {
    error_response(&ApiError::with_status(
        StatusCode::NOT_FOUND,
        "NotFound",
        message,
    ))
}
