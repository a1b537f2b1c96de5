//! Reads confined to one organisation: every query names `organization_id`, so a row of another
//! tenant is simply not found.

use souk_core::{Page, PageRequest};
use sqlx::any::AnyRow;

use crate::Backend;
use crate::error::map_sqlx_error;

/// The query for row `$2` of `table` if it belongs to organisation `$1`; with `for_update`, it
/// also locks the row until the transaction ends (PostgreSQL; SQLite's write transaction holds
/// the whole database already).
pub fn owned_row_sql(table: &str, columns: &str, backend: Backend, for_update: bool) -> String {
    let sql = format!("SELECT {columns} FROM {table} WHERE organization_id = $1 AND id = $2");
    match (for_update, backend) {
        (true, Backend::Postgres) => format!("{sql} FOR UPDATE"),
        _ => sql,
    }
}

/// Row `id` of `table` (read with [`owned_row_sql`]) if it belongs to `organization_id`, mapped
/// by `map`.
pub async fn fetch_owned<'e, T, E>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    sql: String,
    organization_id: &str,
    id: &str,
    map: fn(&AnyRow) -> Result<T, E>,
) -> Result<Option<T>, E>
where
    E: From<souk_core::Error>,
{
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(organization_id.to_owned())
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .map_err(|e| E::from(map_sqlx_error(e)))?;
    row.as_ref().map(map).transpose()
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
