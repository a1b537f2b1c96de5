//! The error vocabulary every Souk service speaks, independent of gRPC.
//!
//! Services map their domain errors onto [`Error`]; the gRPC adapters map [`Error`] onto
//! `tonic::Status` in exactly one place.

use std::fmt;

/// What kind of failure happened, in the caller's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The input is malformed; the field violations say where.
    InvalidArgument,
    /// The thing asked for does not exist (or belongs to another organisation).
    NotFound,
    /// The thing being created exists already, or a concurrent change won.
    Conflict,
    /// The system is not in a state that allows the operation.
    FailedPrecondition,
    /// A concurrent request won; retrying will see its result.
    Aborted,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The credentials do not allow the operation.
    PermissionDenied,
    /// A dependency (database, broker, AWS) is unavailable; retrying may help.
    Unavailable,
    /// A bug or an unexpected failure; details are logged, never returned.
    Internal,
}

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, in the request's own naming (`role_arn`, `products[0].product_code`).
    pub field: String,
    /// What is wrong with it, in lowercase prose.
    pub reason: String,
}

impl FieldViolation {
    /// A violation of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A failure in the caller's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind of failure.
    pub code: ErrorCode,
    /// A lowercase, human-readable message safe to return to the caller.
    pub message: String,
    /// For [`ErrorCode::InvalidArgument`]: every field that is wrong.
    pub violations: Vec<FieldViolation>,
}

impl Error {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// Invalid input, with the list of field violations.
    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        let message = match violations.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.reason),
            many => format!("{} invalid fields", many.len()),
        };
        Self {
            code: ErrorCode::InvalidArgument,
            message,
            violations,
        }
    }

    /// Invalid input in one field.
    pub fn invalid_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::invalid(vec![FieldViolation::new(field, reason)])
    }

    /// `what` was not found.
    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// An unexpected failure; `message` stays internal (the wire says "internal error").
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// Collects field violations so that one response names every bad field at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation of `field`.
    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldViolation::new(field, reason));
    }

    /// How many violations were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records the violation carried by `check`, if any.
    pub fn check(&mut self, field: &str, check: Result<(), String>) {
        if let Err(reason) = check {
            self.add(field, reason);
        }
    }

    /// `Ok(())` when nothing was recorded, otherwise an `InvalidArgument` error listing all.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(self.0))
        }
    }
}

/// `field: reason; field: reason` (the message of a services' `InvalidArgument`).
pub fn describe_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_every_violation() {
        let mut v = Violations::new();
        v.add("name", "must not be empty");
        v.check("role_arn", Err("is not an IAM role ARN".into()));
        v.check("region", Ok(()));
        let err = v.finish().unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.violations.len(), 2);
        assert_eq!(err.message, "2 invalid fields");
    }
}
