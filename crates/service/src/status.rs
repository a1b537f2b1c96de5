//! `tonic::Status` builders for the outcomes every service reports. Internal details are logged
//! here, once, and never sent.

use souk_core::FieldViolation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `INVALID_ARGUMENT` naming every bad field, with a `google.rpc.BadRequest` detail.
pub fn invalid_argument(violations: Vec<FieldViolation>) -> Status {
    let message = match violations.as_slice() {
        [one] => format!("invalid {}: {}", one.field, one.reason),
        many => format!(
            "{} invalid fields: {}",
            many.len(),
            many.iter()
                .map(|v| v.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let details = ErrorDetails::with_bad_request(
        violations
            .into_iter()
            .map(|v| tonic_types::FieldViolation::new(v.field, v.reason))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `NOT_FOUND`: "`what` not found".
pub fn not_found(what: &str) -> Status {
    Status::not_found(format!("{what} not found"))
}

/// `UNAVAILABLE` with a generic message; `detail` is logged.
pub fn unavailable(detail: &str) -> Status {
    tracing::warn!(error = %detail, "dependency unavailable");
    Status::unavailable("a dependency is unavailable, retry later")
}

/// `INTERNAL` with a generic message; `detail` is logged.
pub fn internal(detail: &str) -> Status {
    tracing::error!(error = %detail, "internal error");
    Status::internal("internal error")
}

/// Implements `From<$error> for tonic::Status` for a service's `Error` (declared with
/// `souk_core::service_error!`): the one mapping from domain failures to gRPC statuses.
#[macro_export]
macro_rules! status_from_service_error {
    ($error:ty) => {
        impl From<$error> for tonic::Status {
            fn from(error: $error) -> Self {
                use $crate::status;
                type E = $error;
                match error {
                    E::InvalidArgument(violations) => status::invalid_argument(violations),
                    E::NotFound(what) => status::not_found(&what),
                    E::Conflict(message) => tonic::Status::already_exists(message),
                    E::Aborted(message) => tonic::Status::aborted(message),
                    E::FailedPrecondition(message) => tonic::Status::failed_precondition(message),
                    E::PermissionDenied(message) => tonic::Status::permission_denied(message),
                    E::Unavailable(detail) => status::unavailable(&detail),
                    E::ResourceExhausted(message) => tonic::Status::resource_exhausted(message),
                    E::Internal(detail) => status::internal(&detail),
                }
            }
        }
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_bad_request_violations() {
        let status = invalid_argument(vec![
            FieldViolation::new("name", "must not be empty"),
            FieldViolation::new("region", "unknown AWS region \"mars-1\""),
        ]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "2 invalid fields: name, region");
        let bad_request = status.get_details_bad_request().unwrap();
        assert_eq!(bad_request.field_violations.len(), 2);
        assert_eq!(bad_request.field_violations[1].field, "region");
    }

    #[test]
    fn internal_details_stay_internal() {
        assert_eq!(internal("password=hunter2").message(), "internal error");
        assert_eq!(
            unavailable("db down at 10.0.0.1").message(),
            "a dependency is unavailable, retry later"
        );
    }
}
