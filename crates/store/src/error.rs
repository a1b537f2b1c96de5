//! The one place where `sqlx::Error` becomes a [`souk_core::Error`].
//!
//! PostgreSQL reports SQLSTATE codes, SQLite its (extended) result codes; both land on the same
//! [`ErrorCode`]s so that domain code never looks at a database error again.

use souk_core::{Error, ErrorCode};

/// Maps a sqlx error onto the shared vocabulary.
///
/// * unique violation (PostgreSQL `23505`, SQLite `2067`/`1555`) -> `Conflict`
/// * foreign key violation (`23503`, SQLite `787`) -> `FailedPrecondition`
/// * serialization failure `40001`, deadlock `40P01`, lock timeout `55P03`, connection and
///   shutdown classes, `SQLITE_BUSY`/`SQLITE_LOCKED`, pool timeouts and I/O -> `Unavailable`
///   (retryable, see [`is_retryable`])
/// * `RowNotFound` -> `NotFound`
/// * anything else -> `Internal`, whose message keeps the driver's detail for the log only (the
///   gRPC boundary replaces it by "internal error").
pub fn map_sqlx_error(err: sqlx::Error) -> Error {
    let code = classify(&err);
    let message = match code {
        ErrorCode::Conflict => "conflicts with an existing record".to_owned(),
        ErrorCode::FailedPrecondition => "refers to a record that does not exist".to_owned(),
        ErrorCode::NotFound => "record not found".to_owned(),
        ErrorCode::Unavailable => format!("database unavailable: {err}"),
        _ => format!("database error: {err}"),
    };
    Error::new(code, message)
}

/// Whether retrying the whole transaction may succeed: serialization failures, deadlocks,
/// busy databases, pool timeouts and lost connections.
pub fn is_retryable(err: &sqlx::Error) -> bool {
    classify(err) == ErrorCode::Unavailable
}

/// The name of the violated constraint, when the database reports one (PostgreSQL does; SQLite
/// only names the columns in its message). Lets a store tell "duplicate name" from "duplicate id".
pub fn constraint_name(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) => db.constraint().map(str::to_owned),
        _ => None,
    }
}

/// The error code a sqlx error maps to.
pub(crate) fn classify(err: &sqlx::Error) -> ErrorCode {
    match err {
        sqlx::Error::Database(db) => {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return ErrorCode::Conflict,
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return ErrorCode::FailedPrecondition;
                }
                _ => {}
            }
            match db.code() {
                Some(code) => classify_code(&code),
                None => ErrorCode::Internal,
            }
        }
        sqlx::Error::RowNotFound => ErrorCode::NotFound,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

/// Classifies a PostgreSQL SQLSTATE (five characters) or a SQLite result code (a number).
fn classify_code(code: &str) -> ErrorCode {
    if let Ok(sqlite) = code.parse::<u32>()
        && code.len() < 5
    {
        return classify_sqlite(sqlite);
    }
    match code {
        "23505" => ErrorCode::Conflict,
        "23503" => ErrorCode::FailedPrecondition,
        // serialization_failure, deadlock_detected, lock_not_available, too_many_connections,
        // admin_shutdown, crash_shutdown, cannot_connect_now, idle_session_timeout
        "40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P02" | "57P03" | "57P05" => {
            ErrorCode::Unavailable
        }
        // class 08: connection exception
        c if c.starts_with("08") => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

/// Classifies a SQLite (extended) result code.
fn classify_sqlite(code: u32) -> ErrorCode {
    const SQLITE_BUSY: u32 = 5;
    const SQLITE_LOCKED: u32 = 6;
    const SQLITE_CONSTRAINT_FOREIGNKEY: u32 = 787;
    const SQLITE_CONSTRAINT_PRIMARYKEY: u32 = 1555;
    const SQLITE_CONSTRAINT_UNIQUE: u32 = 2067;
    match code {
        SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY => ErrorCode::Conflict,
        SQLITE_CONSTRAINT_FOREIGNKEY => ErrorCode::FailedPrecondition,
        // primary code in the low byte: BUSY (incl. BUSY_SNAPSHOT, BUSY_TIMEOUT), LOCKED
        c if c & 0xff == SQLITE_BUSY || c & 0xff == SQLITE_LOCKED => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn postgres_sqlstates() {
        assert_eq!(classify_code("23505"), ErrorCode::Conflict);
        assert_eq!(classify_code("23503"), ErrorCode::FailedPrecondition);
        assert_eq!(classify_code("40001"), ErrorCode::Unavailable);
        assert_eq!(classify_code("40P01"), ErrorCode::Unavailable);
        assert_eq!(classify_code("08006"), ErrorCode::Unavailable);
        assert_eq!(classify_code("42P01"), ErrorCode::Internal);
        assert_eq!(classify_code("23502"), ErrorCode::Internal);
    }

    #[test]
    fn sqlite_result_codes() {
        assert_eq!(classify_code("2067"), ErrorCode::Conflict);
        assert_eq!(classify_code("1555"), ErrorCode::Conflict);
        assert_eq!(classify_code("787"), ErrorCode::FailedPrecondition);
        assert_eq!(classify_code("5"), ErrorCode::Unavailable);
        assert_eq!(classify_code("517"), ErrorCode::Unavailable); // BUSY_SNAPSHOT
        assert_eq!(classify_code("6"), ErrorCode::Unavailable);
        assert_eq!(classify_code("1"), ErrorCode::Internal);
        assert_eq!(classify_code("1299"), ErrorCode::Internal); // NOT NULL
    }

    #[test]
    fn non_database_errors() {
        assert_eq!(
            map_sqlx_error(sqlx::Error::RowNotFound).code,
            ErrorCode::NotFound
        );
        assert!(is_retryable(&sqlx::Error::PoolTimedOut));
        let io = sqlx::Error::Io(std::io::Error::other("reset"));
        assert!(is_retryable(&io));
        let internal = map_sqlx_error(sqlx::Error::Protocol("garbage".into()));
        assert_eq!(internal.code, ErrorCode::Internal);
        assert!(
            internal.message.contains("garbage"),
            "detail kept for the log"
        );
        assert!(!is_retryable(&sqlx::Error::RowNotFound));
    }
}
