//! Integration tests of souk-store: every test runs on SQLite and on PostgreSQL
//! (`<test>::sqlite`, `<test>::postgres`), each on a fresh database.

#![allow(clippy::unwrap_used)]

mod dead_letter;
mod errors;
mod idempotency;
mod locks;
mod migrations;
mod outbox;

use souk_store::{Migration, Store};
use time::OffsetDateTime;

/// A service's own migrations, as a service would write them.
pub const SERVICE: &[Migration] = &[
    Migration::portable(
        100,
        "widgets",
        "CREATE TABLE widgets (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            name TEXT NOT NULL,
            price_micros BIGINT NOT NULL,
            UNIQUE (organization_id, name)
        )",
    ),
    Migration::portable(
        101,
        "parts",
        "CREATE TABLE parts (
            id TEXT PRIMARY KEY,
            widget_id TEXT NOT NULL REFERENCES widgets (id),
            quantity BIGINT NOT NULL
        );
        CREATE INDEX parts_widget ON parts (widget_id);",
    ),
];

/// Opens nothing: migrates `store` with the shared and the test service's migrations.
pub async fn migrated(store: &Store) -> anyhow::Result<()> {
    store.migrate(SERVICE).await?;
    Ok(())
}

/// Inserts a widget on `executor`.
pub async fn insert_widget<'c, E>(
    executor: E,
    id: &str,
    org: &str,
    name: &str,
) -> Result<(), souk_core::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO widgets (id, organization_id, name, price_micros) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(org)
    .bind(name)
    .bind(1_500_000_i64)
    .execute(executor)
    .await
    .map_err(souk_store::map_sqlx_error)?;
    Ok(())
}

/// A fixed instant, to the millisecond (what the store keeps).
pub fn at(millis: i64) -> OffsetDateTime {
    souk_core::clock::from_unix_millis(1_780_000_000_000 + millis)
}
