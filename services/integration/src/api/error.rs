//! The one mapping from domain errors to gRPC statuses.

use souk_service::status;
use tonic::Status;

use crate::domain::Error;

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => status::invalid_argument(violations),
            Error::NotFound(what) => status::not_found(&what),
            Error::Conflict(message) => Status::already_exists(message),
            Error::Aborted(message) => Status::aborted(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Unavailable(message) => status::unavailable(&message),
            Error::Internal(message) => status::internal(&message),
        }
    }
}
