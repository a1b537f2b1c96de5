//! Reading the columns of an `AnyRow` in the stored conventions of every service: ids and other
//! strings as `TEXT`, integers and instants (unix milliseconds) as `BIGINT`. A column that is
//! missing or of another type is an internal error ([`map_sqlx_error`]); a service's own error
//! type takes it with `?` (`From<souk_core::Error>`).

use souk_core::Id;
use souk_core::clock::from_unix_millis;
use sqlx::Row as _;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use crate::error::map_sqlx_error;

/// A `TEXT` column.
pub fn text(row: &AnyRow, column: &str) -> crate::Result<String> {
    row.try_get(column).map_err(map_sqlx_error)
}

/// A nullable `TEXT` column.
pub fn opt_text(row: &AnyRow, column: &str) -> crate::Result<Option<String>> {
    row.try_get(column).map_err(map_sqlx_error)
}

/// An id column (trusted: the service wrote it).
pub fn id(row: &AnyRow, column: &str) -> crate::Result<Id> {
    Ok(Id::from_trusted(text(row, column)?))
}

/// A `BIGINT` column.
pub fn int(row: &AnyRow, column: &str) -> crate::Result<i64> {
    row.try_get(column).map_err(map_sqlx_error)
}

/// A nullable `BIGINT` column.
pub fn opt_int(row: &AnyRow, column: &str) -> crate::Result<Option<i64>> {
    row.try_get(column).map_err(map_sqlx_error)
}

/// An instant column (unix milliseconds).
pub fn at(row: &AnyRow, column: &str) -> crate::Result<OffsetDateTime> {
    Ok(from_unix_millis(int(row, column)?))
}

/// A nullable instant column (unix milliseconds).
pub fn opt_at(row: &AnyRow, column: &str) -> crate::Result<Option<OffsetDateTime>> {
    Ok(opt_int(row, column)?.map(from_unix_millis))
}

/// Every row of `found` mapped by `map`; the first error stops it.
pub fn map_all<T, E>(found: &[AnyRow], map: fn(&AnyRow) -> Result<T, E>) -> Result<Vec<T>, E> {
    found.iter().map(map).collect()
}
