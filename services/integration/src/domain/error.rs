//! The integration service's failures, in the caller's vocabulary.

use souk_core::{ErrorCode, FieldViolation};

/// What went wrong, as the caller should learn it. Internal details stay in the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is malformed; every bad field is listed.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The thing does not exist, or belongs to another organisation.
    #[error("{0} not found")]
    NotFound(String),
    /// It exists already (duplicate name), or an idempotency key was reused with another request.
    #[error("{0}")]
    Conflict(String),
    /// A concurrent request won; retrying will see its result.
    #[error("{0}")]
    Aborted(String),
    /// The operation is not allowed in the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller is not allowed to do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// A dependency is unavailable; retrying may help.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; never shown to the caller.
    #[error("internal: {0}")]
    Internal(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, reason)])
    }
}

impl From<souk_core::Error> for Error {
    fn from(error: souk_core::Error) -> Self {
        match error.code {
            ErrorCode::InvalidArgument => Error::InvalidArgument(error.violations),
            ErrorCode::NotFound => Error::NotFound(error.message),
            ErrorCode::Conflict => Error::Conflict(error.message),
            ErrorCode::FailedPrecondition => Error::FailedPrecondition(error.message),
            ErrorCode::Aborted => Error::Aborted(error.message),
            ErrorCode::Unauthenticated | ErrorCode::PermissionDenied => {
                Error::PermissionDenied(error.message)
            }
            ErrorCode::Unavailable => Error::Unavailable(error.message),
            ErrorCode::Internal => Error::Internal(error.message),
        }
    }
}
