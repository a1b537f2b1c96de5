//! The one mapping from domain errors to gRPC statuses.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::Error;

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
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
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::Conflict(message) => Status::already_exists(message),
            Error::Aborted(message) => Status::aborted(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Unavailable(message) => {
                tracing::warn!(error = %message, "dependency unavailable");
                Status::unavailable("a dependency is unavailable, retry later")
            }
            Error::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use souk_core::FieldViolation;

    #[test]
    fn invalid_argument_carries_bad_request_violations() {
        let status = Status::from(Error::InvalidArgument(vec![
            FieldViolation::new("name", "must not be empty"),
            FieldViolation::new("region", "unknown AWS region \"mars-1\""),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad_request = status.get_details_bad_request().unwrap();
        assert_eq!(bad_request.field_violations.len(), 2);
        assert_eq!(bad_request.field_violations[1].field, "region");
    }

    #[test]
    fn internal_details_stay_internal() {
        let status = Status::from(Error::Internal("password=hunter2".into()));
        assert_eq!(status.message(), "internal error");
    }
}
