//! awsQuery: form-encoded `POST /` with `Action=...&Version=...`, XML responses.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::{ApiError, REQUEST_ID_HEADER, request_id};

/// Parses a form body into ordered pairs. Malformed encoding is a `MalformedQueryString`-style
/// client error.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|err| ApiError::client("MalformedQueryString", format!("{err}")))
}

/// The first value of `name` in a parsed form.
pub fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Escapes text as [`escape`] does, and also carriage returns (`&#xD;`), which XML parsers
/// would otherwise normalise away from element content (SQS message bodies, S3 keys).
pub fn escape_text(text: &str) -> String {
    escape(text).replace('\r', "&#xD;")
}

/// Escapes text for XML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A 200 `text/xml` response:
/// `<{action}Response xmlns="{namespace}"><{action}Result>{result_xml}</{action}Result>
/// <ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></{action}Response>`.
/// `result_xml` must already be escaped.
pub fn ok_response(action: &str, namespace: &str, result_xml: &str) -> Response {
    let id = request_id();
    let body = format!(
        "<{action}Response xmlns=\"{namespace}\">\n  <{action}Result>\n{result_xml}  </{action}Result>\n  \
         <ResponseMetadata>\n    <RequestId>{id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    );
    raw(StatusCode::OK, body, &id)
}

/// An awsQuery error:
/// `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub fn error_response(error: &ApiError) -> Response {
    let id = request_id();
    let kind = if error.is_server() {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse>\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  \
         </Error>\n  <RequestId>{id}</RequestId>\n</ErrorResponse>\n",
        escape(&error.code),
        escape(&error.message)
    );
    raw(error.status, body, &id)
}

/// An S3 (restXml) error: `<Error>` at the root, as S3 answers and its SDKs read it.
pub fn s3_error_response(error: &ApiError) -> Response {
    let id = request_id();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{id}</RequestId></Error>\n",
        escape(&error.code),
        escape(&error.message)
    );
    raw(error.status, body, &id)
}

fn raw(status: StatusCode, body: String, id: &str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    response
}
