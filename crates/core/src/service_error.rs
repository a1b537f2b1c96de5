//! The failure vocabulary every service's domain speaks, defined once: each service declares its
//! own `Error` type with [`service_error!`](crate::service_error) (so its `api/` can convert it
//! into a gRPC status) and gets the same variants and the same reading of `souk_core::Error`.

/// Declares `pub enum Error` with the variants every service's domain uses (`InvalidArgument`
/// with field violations, `NotFound`, `Conflict`, `Aborted`, `FailedPrecondition`,
/// `PermissionDenied`, `Unavailable`, `Internal`), `Error::invalid(field, reason)`, and
/// `From<souk_core::Error>`.
#[macro_export]
macro_rules! service_error {
    ($service:literal) => {
        #[doc = concat!("The ", $service, " service's failures, in the caller's vocabulary.")]
        /// Internal details stay in the log.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum Error {
            /// The input is malformed; every bad field is listed.
            #[error("invalid argument: {}", $crate::error::describe_violations(.0))]
            InvalidArgument(Vec<$crate::FieldViolation>),
            /// The thing does not exist, or belongs to another organisation.
            #[error("{0} not found")]
            NotFound(String),
            /// It exists already, or an idempotency key was reused with another request.
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
            /// Too much work in flight; retrying after a pause will succeed.
            #[error("{0}")]
            ResourceExhausted(String),
            /// A bug or an unexpected failure; never shown to the caller.
            #[error("internal: {0}")]
            Internal(String),
        }

        impl Error {
            /// One invalid field.
            pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
                Self::InvalidArgument(vec![$crate::FieldViolation::new(field, reason)])
            }
        }

        impl From<$crate::Error> for Error {
            fn from(error: $crate::Error) -> Self {
                use $crate::ErrorCode;
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
    };
}
