//! Exit codes and how failures are reported: one code per kind of failure, so scripts can tell
//! "fix your input" from "try again later", and a JSON error document under `--output json`.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | unexpected failure (a bug, an internal server error, an I/O error) |
//! | 2 | bad command line or configuration |
//! | 3 | unavailable: the server, database or broker could not be reached or timed out; retry |
//! | 4 | not authenticated or not allowed: no/unknown/revoked API key, missing scope |
//! | 5 | not found |
//! | 6 | invalid input: the server rejected a field (INVALID_ARGUMENT, OUT_OF_RANGE) |
//! | 7 | conflict: already exists, precondition failed, aborted; the data directory is in use |
//! | 8 | `integration verify`: the role could not be assumed or a permission check failed |

use serde_json::{Value, json};
use tonic::Code;

/// One kind of failure, with its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything not classified below.
    Failure,
    /// 2: bad command line or configuration.
    Usage,
    /// 3: something could not be reached; retrying may help.
    Unavailable,
    /// 4: not authenticated or not allowed.
    Auth,
    /// 5: not found.
    NotFound,
    /// 6: the request was rejected as invalid.
    Invalid,
    /// 7: conflicts with the current state.
    Conflict,
    /// 8: verification found a problem.
    VerifyFailed,
}

impl Kind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Unavailable => 3,
            Self::Auth => 4,
            Self::NotFound => 5,
            Self::Invalid => 6,
            Self::Conflict => 7,
            Self::VerifyFailed => 8,
        }
    }

    /// The kind of a gRPC status code.
    pub fn of_grpc(code: Code) -> Self {
        match code {
            Code::Ok => Self::Failure,
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
                Self::Unavailable
            }
            Code::Unauthenticated | Code::PermissionDenied => Self::Auth,
            Code::NotFound => Self::NotFound,
            Code::InvalidArgument | Code::OutOfRange => Self::Invalid,
            Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => Self::Conflict,
            Code::Cancelled
            | Code::Unknown
            | Code::Unimplemented
            | Code::Internal
            | Code::DataLoss => Self::Failure,
        }
    }
}

/// A failure that knows its [`Kind`] (and, from a server, its gRPC code and field violations).
/// Travels inside `anyhow::Error`; `main` looks for it to pick the exit code.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What kind of failure.
    pub kind: Kind,
    /// One readable line (field violations follow on their own lines in text output).
    pub message: String,
    /// The gRPC status code name when a server answered (`INVALID_ARGUMENT`).
    pub grpc_code: Option<&'static str>,
    /// Field violations from the server: (field, description).
    pub violations: Vec<(String, String)>,
    /// The command already printed its result (a failed verification report): under
    /// `--output json` no second document is printed.
    pub reported: bool,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            grpc_code: None,
            violations: Vec::new(),
            reported: false,
        }
    }

    /// The failure a gRPC status describes.
    pub fn from_status(status: &tonic::Status) -> Self {
        use tonic_types::StatusExt;
        let violations = status
            .get_details_bad_request()
            .map(|bad| {
                bad.field_violations
                    .into_iter()
                    .map(|v| (v.field, v.description))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            kind: Kind::of_grpc(status.code()),
            message: format!("{:?}: {}", status.code(), status.message()),
            grpc_code: Some(grpc_code_name(status.code())),
            violations,
            reported: false,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The kind of `error`: from the first cause in its chain that tells (a [`Failure`], a store or
/// service error, an I/O error such as a busy port or a refused connection), else
/// [`Kind::Failure`].
pub fn kind_of(error: &anyhow::Error) -> Kind {
    error
        .chain()
        .find_map(|cause| {
            if let Some(failure) = cause.downcast_ref::<Failure>() {
                return Some(failure.kind);
            }
            if let Some(error) = cause.downcast_ref::<souk_core::Error>() {
                return Some(of_core(error.code));
            }
            cause.downcast_ref::<std::io::Error>().and_then(of_io)
        })
        .unwrap_or(Kind::Failure)
}

fn of_core(code: souk_core::ErrorCode) -> Kind {
    use souk_core::ErrorCode as C;
    // An if-chain rather than a match: a code added later falls back to `Failure`.
    if code == C::Unavailable {
        Kind::Unavailable
    } else if code == C::InvalidArgument {
        Kind::Invalid
    } else if code == C::NotFound {
        Kind::NotFound
    } else if matches!(code, C::Unauthenticated | C::PermissionDenied) {
        Kind::Auth
    } else if matches!(code, C::Conflict | C::FailedPrecondition | C::Aborted) {
        Kind::Conflict
    } else {
        Kind::Failure
    }
}

fn of_io(error: &std::io::Error) -> Option<Kind> {
    use std::io::ErrorKind as K;
    match error.kind() {
        K::AddrInUse => Some(Kind::Conflict),
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::TimedOut
        | K::HostUnreachable
        | K::NetworkUnreachable => Some(Kind::Unavailable),
        _ => None,
    }
}

/// Whether the command already printed its result (see [`Failure::reported`]).
pub fn already_reported(error: &anyhow::Error) -> bool {
    error
        .chain()
        .find_map(|c| c.downcast_ref::<Failure>())
        .is_some_and(|f| f.reported)
}

/// The error as people read it: the context chain on one line, then one line per violation.
pub fn render_text(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error:#}");
    if let Some(failure) = error.chain().find_map(|c| c.downcast_ref::<Failure>()) {
        for (field, description) in &failure.violations {
            text.push_str(&format!("\n  - {field}: {description}"));
        }
    }
    text
}

/// The error as one JSON document:
/// `{"error": {"exit_code", "kind", "message", "grpc_code", "field_violations": [{field, description}]}}`.
pub fn render_json(error: &anyhow::Error) -> Value {
    let failure = error.chain().find_map(|c| c.downcast_ref::<Failure>());
    let kind = failure.map_or(Kind::Failure, |f| f.kind);
    let violations: Vec<Value> = failure
        .map(|f| {
            f.violations
                .iter()
                .map(|(field, description)| json!({ "field": field, "description": description }))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "error": {
            "exit_code": kind.code(),
            "kind": kind_name(kind),
            "message": format!("{error:#}"),
            "grpc_code": failure.and_then(|f| f.grpc_code),
            "field_violations": violations,
        }
    })
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Failure => "failure",
        Kind::Usage => "usage",
        Kind::Unavailable => "unavailable",
        Kind::Auth => "unauthenticated",
        Kind::NotFound => "not_found",
        Kind::Invalid => "invalid_argument",
        Kind::Conflict => "conflict",
        Kind::VerifyFailed => "verify_failed",
    }
}

fn grpc_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let kinds = [
            Kind::Failure,
            Kind::Usage,
            Kind::Unavailable,
            Kind::Auth,
            Kind::NotFound,
            Kind::Invalid,
            Kind::Conflict,
            Kind::VerifyFailed,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        codes.dedup();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn statuses_map_to_kinds_and_json() {
        let error = anyhow::Error::new(Failure::from_status(&tonic::Status::not_found("gone")))
            .context("cannot get int_1");
        assert_eq!(kind_of(&error), Kind::NotFound);
        let value = render_json(&error);
        assert_eq!(value["error"]["exit_code"], 5);
        assert_eq!(value["error"]["grpc_code"], "NOT_FOUND");
        assert_eq!(
            value["error"]["message"],
            "cannot get int_1: NotFound: gone"
        );
        assert_eq!(kind_of(&anyhow::anyhow!("plain")), Kind::Failure);
    }

    #[test]
    fn store_and_io_errors_have_their_kinds() {
        let down = anyhow::Error::new(souk_core::Error::new(
            souk_core::ErrorCode::Unavailable,
            "cannot connect to postgres",
        ))
        .context("cannot open the integration store");
        assert_eq!(kind_of(&down), Kind::Unavailable);
        let busy = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::AddrInUse))
            .context("cannot listen on 127.0.0.1:50051");
        assert_eq!(kind_of(&busy), Kind::Conflict);
        let denied = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(kind_of(&denied), Kind::Failure);
    }
}
