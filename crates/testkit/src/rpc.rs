//! What every service's gRPC tests need: a request carrying an API key, and assertions on the
//! status a call failed with, down to its `google.rpc.BadRequest` field violations.

#![allow(clippy::unwrap_used)]

use tonic::{Code, Request, Status};

/// Puts the API key `secret` on a request.
pub fn authed<T>(secret: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {secret}").parse().expect("ascii header"),
    );
    request
}

/// Asserts `result` failed with `code`; returns the status.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// The field violations of an INVALID_ARGUMENT status, as (field, description) pairs in the
/// order the service reports them.
#[track_caller]
pub fn violations<T: std::fmt::Debug>(result: Result<T, Status>) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    let status = expect_code(result, Code::InvalidArgument);
    let bad_request = status
        .get_details_bad_request()
        .expect("google.rpc.BadRequest details");
    bad_request
        .field_violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}
