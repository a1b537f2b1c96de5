//! Reads confined to one organisation: every query names `organization_id`, so a row of another
//! tenant is simply not found.

use souk_core::{Page, PageRequest};
use sqlx::any::AnyRow;

use crate::Backend;
use crate::error::map_sqlx_error;

/// Which row of which table, read or locked.
#[derive(Debug, Clone, Copy)]
pub struct OwnedRow<'a> {
    /// The table.
    pub table: &'a str,
    /// The columns to read.
    pub columns: &'a str,
    /// Also lock the row until the transaction ends (PostgreSQL; SQLite's write transaction
    /// holds the whole database already).
    pub for_update: bool,
}

/// Row `id` of `row.table` if it belongs to `organization_id`, mapped by `map`.
pub async fn fetch_owned<'e, T, E>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    backend: Backend,
    row: OwnedRow<'_>,
    organization_id: &str,
    id: &str,
    map: fn(&AnyRow) -> Result<T, E>,
) -> Result<Option<T>, E>
where
    E: From<souk_core::Error>,
{
    let mut sql = format!(
        "SELECT {} FROM {} WHERE organization_id = $1 AND id = $2",
        row.columns, row.table
    );
    if row.for_update && backend == Backend::Postgres {
        sql.push_str(" FOR UPDATE");
    }
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(organization_id.to_owned())
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .map_err(|e| E::from(map_sqlx_error(e)))?;
    found.as_ref().map(map).transpose()
}

/// One page of `table`'s rows of `organization_id` in `id` order (ids are time-ordered, so
/// oldest first); `key` names a row's id for the next page token.
pub async fn list_owned<'e, T, E>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    table: &str,
    columns: &str,
    organization_id: &str,
    page: &PageRequest,
    map: fn(&AnyRow) -> Result<T, E>,
    key: fn(&T) -> String,
) -> Result<Page<T>, E>
where
    E: From<souk_core::Error>,
{
    let sql = format!(
        "SELECT {columns} FROM {table} WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(organization_id.to_owned())
        .bind(page.after.clone().unwrap_or_default())
        .bind(page.fetch_limit())
        .fetch_all(executor)
        .await
        .map_err(|e| E::from(map_sqlx_error(e)))?;
    let items = found.iter().map(map).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(items, page, key))
}
