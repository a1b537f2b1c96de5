//! A small migrations runner: ordered, checksummed, one transaction each, safe with replicas.
//!
//! Each [`Migration`] has a version, a name and its SQL for each backend (often the same text,
//! see [`Migration::portable`]). Applied migrations are recorded in `souk_migrations` with the
//! SHA-256 of the SQL that ran; a store whose recorded checksum differs from the code's refuses
//! to start, because the schema is no longer what the code was tested against.
//!
//! Versions 1 to 99 belong to the tables this crate shares with every service ([`shared`]:
//! outbox, dead letters, idempotency keys); a service numbers its own migrations from
//! [`FIRST_SERVICE_VERSION`]. [`Store::migrate`](crate::Store::migrate) applies both.
//!
//! On PostgreSQL every migration transaction first takes `pg_advisory_xact_lock` on a key derived
//! from the service name, then re-reads what is applied, so replicas starting together apply each
//! migration exactly once. On SQLite transactions begin with `BEGIN IMMEDIATE`, which serialises
//! writers on the file.

use sha2::{Digest, Sha256};
use souk_core::{Error, ErrorCode};
use sqlx::{AnyConnection, Row};

use crate::config::Backend;
use crate::error::map_sqlx_error;
use crate::{Result, Store};

/// The advisory lock that serialises migration transactions across replicas.
const MIGRATIONS_LOCK: &str = "migrations";

/// The first version a service may use for its own migrations.
pub const FIRST_SERVICE_VERSION: i64 = 100;

/// One schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Position in the order of application; unique and increasing within a list.
    pub version: i64,
    /// Short snake_case description, recorded with the version.
    pub name: &'static str,
    /// The SQL run on PostgreSQL (may hold several statements).
    pub postgres: &'static str,
    /// The SQL run on SQLite (may hold several statements).
    pub sqlite: &'static str,
}

impl Migration {
    /// A migration whose SQL differs per backend.
    pub const fn new(
        version: i64,
        name: &'static str,
        postgres: &'static str,
        sqlite: &'static str,
    ) -> Self {
        Self {
            version,
            name,
            postgres,
            sqlite,
        }
    }

    /// A migration whose SQL is the same on both backends.
    pub const fn portable(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            name,
            postgres: sql,
            sqlite: sql,
        }
    }

    /// The SQL for `backend`.
    pub fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Postgres => self.postgres,
            Backend::Sqlite => self.sqlite,
        }
    }

    /// Hex SHA-256 of the SQL for `backend` (line endings normalised to `\n`, so a Windows
    /// checkout of an `include_str!` file does not look edited): what `souk_migrations.checksum`
    /// records.
    pub fn checksum(&self, backend: Backend) -> String {
        let sql = self.sql(backend).replace("\r\n", "\n");
        hex::encode(Sha256::digest(sql.as_bytes()))
    }
}

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run, in order.
    pub applied: Vec<i64>,
    /// How many of the given migrations were already applied (by an earlier run or a replica).
    pub already_applied: usize,
}

/// The migrations of the tables every service shares (versions 1 to 99).
pub fn shared() -> &'static [Migration] {
    SHARED
}

const SHARED: &[Migration] = &[
    Migration::new(
        1,
        "outbox",
        "CREATE TABLE outbox (
            seq BIGSERIAL PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            organization_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            event_type TEXT NOT NULL,
            payload BYTEA NOT NULL,
            occurred_at BIGINT NOT NULL,
            published_at BIGINT,
            attempts BIGINT NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
        CREATE INDEX outbox_organization_seq ON outbox (organization_id, seq);",
        "CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            organization_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            event_type TEXT NOT NULL,
            payload BLOB NOT NULL,
            occurred_at BIGINT NOT NULL,
            published_at BIGINT,
            attempts BIGINT NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
        CREATE INDEX outbox_organization_seq ON outbox (organization_id, seq);",
    ),
    Migration::new(
        2,
        "dead_letters",
        "CREATE TABLE dead_letters (
            id BIGSERIAL PRIMARY KEY,
            consumer TEXT NOT NULL,
            event_id TEXT NOT NULL,
            organization_id TEXT,
            subject TEXT NOT NULL,
            payload BYTEA NOT NULL,
            reason TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (consumer, event_id)
        );",
        "CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            consumer TEXT NOT NULL,
            event_id TEXT NOT NULL,
            organization_id TEXT,
            subject TEXT NOT NULL,
            payload BLOB NOT NULL,
            reason TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (consumer, event_id)
        );",
    ),
    Migration::new(
        3,
        "idempotency",
        "CREATE TABLE idempotency (
            organization_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            response BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (organization_id, scope, idempotency_key)
        );
        CREATE INDEX idempotency_created_at ON idempotency (created_at);",
        "CREATE TABLE idempotency (
            organization_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            response BLOB NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (organization_id, scope, idempotency_key)
        );
        CREATE INDEX idempotency_created_at ON idempotency (created_at);",
    ),
];

/// Applies the [`shared`] migrations, then `service` (whose versions must be at least
/// [`FIRST_SERVICE_VERSION`]). This is what [`Store::migrate`] does.
pub async fn run(store: &Store, service: &[Migration]) -> Result<MigrationReport> {
    if let Some(low) = service.iter().find(|m| m.version < FIRST_SERVICE_VERSION) {
        return Err(Error::internal(format!(
            "migration {} ({}) uses a version reserved for shared tables: service migrations start at {FIRST_SERVICE_VERSION}",
            low.version, low.name
        )));
    }
    let all: Vec<Migration> = SHARED.iter().chain(service).copied().collect();
    apply(store, &all).await
}

/// Applies exactly `migrations` (no shared ones added), in order, each in its own transaction.
///
/// Fails with `FailedPrecondition` when an applied migration's checksum differs from the
/// code's, and with `Internal` when the list is malformed or a migration's SQL fails (that
/// migration is rolled back, earlier ones stay applied).
pub async fn apply(store: &Store, migrations: &[Migration]) -> Result<MigrationReport> {
    check_order(migrations)?;
    let backend = store.backend();

    // The bookkeeping table, created under the same lock so replicas don't race on it.
    let mut tx = store.begin_write().await?;
    store.lock(&mut tx, MIGRATIONS_LOCK).await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS souk_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx_error)?;
    let recorded = applied(&mut tx).await?;
    tx.commit().await.map_err(map_sqlx_error)?;

    for (version, name, _) in &recorded {
        if !migrations.iter().any(|m| m.version == *version) {
            tracing::warn!(
                service = store.service(),
                version,
                name = name.as_str(),
                "database has a migration this build does not know; running with a newer schema"
            );
        }
    }

    let mut report = MigrationReport::default();
    for migration in migrations {
        if let Some((_, _, checksum)) = recorded.iter().find(|(v, _, _)| *v == migration.version) {
            verify(migration, backend, checksum)?;
            report.already_applied += 1;
            continue;
        }
        let mut tx = store.begin_write().await?;
        store.lock(&mut tx, MIGRATIONS_LOCK).await?;
        // A replica may have applied it since we looked.
        let now: Option<String> =
            sqlx::query_scalar("SELECT checksum FROM souk_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        if let Some(checksum) = now {
            verify(migration, backend, &checksum)?;
            report.already_applied += 1;
            continue;
        }
        sqlx::raw_sql(migration.sql(backend))
            .execute(&mut *tx)
            .await
            .map_err(|err| {
                Error::internal(format!(
                    "migration {} ({}) failed on {backend}: {err}",
                    migration.version, migration.name
                ))
            })?;
        sqlx::query(
            "INSERT INTO souk_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(migration.checksum(backend))
        .bind(souk_core::clock::to_unix_millis(time::OffsetDateTime::now_utc()))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        tracing::info!(
            service = store.service(),
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
        report.applied.push(migration.version);
    }
    Ok(report)
}

/// Versions must be positive, unique and increasing; names non-empty.
fn check_order(migrations: &[Migration]) -> Result<()> {
    let mut previous = 0;
    for migration in migrations {
        if migration.version <= previous {
            return Err(Error::internal(format!(
                "migration {} ({}) is out of order: versions must be positive and strictly increasing",
                migration.version, migration.name
            )));
        }
        if migration.name.is_empty() {
            return Err(Error::internal(format!(
                "migration {} has no name",
                migration.version
            )));
        }
        previous = migration.version;
    }
    Ok(())
}

fn verify(migration: &Migration, backend: Backend, recorded: &str) -> Result<()> {
    let expected = migration.checksum(backend);
    if recorded == expected {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::FailedPrecondition,
        format!(
            "migration {} ({}) was changed after it was applied: recorded checksum {recorded}, code has {expected}; \
             never edit an applied migration, add a new one",
            migration.version, migration.name
        ),
    ))
}

/// `(version, name, checksum)` of every recorded migration.
async fn applied(conn: &mut AnyConnection) -> Result<Vec<(i64, String, String)>> {
    let rows = sqlx::query("SELECT version, name, checksum FROM souk_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("version").map_err(map_sqlx_error)?,
                row.try_get("name").map_err(map_sqlx_error)?,
                row.try_get("checksum").map_err(map_sqlx_error)?,
            ))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shared_migrations_are_ordered_and_below_service_range() {
        assert!(check_order(shared()).is_ok());
        assert!(shared().iter().all(|m| m.version < FIRST_SERVICE_VERSION));
    }

    #[test]
    fn order_is_checked() {
        let a = Migration::portable(100, "a", "SELECT 1");
        let b = Migration::portable(101, "b", "SELECT 1");
        assert!(check_order(&[a, b]).is_ok());
        assert!(check_order(&[b, a]).is_err());
        assert!(check_order(&[a, a]).is_err());
        assert!(check_order(&[Migration::portable(0, "zero", "")]).is_err());
        assert!(check_order(&[Migration::portable(5, "", "")]).is_err());
    }

    #[test]
    fn checksum_is_per_backend_sql() {
        let m = Migration::new(
            100,
            "x",
            "CREATE TABLE x (id BIGSERIAL)",
            "CREATE TABLE x (id INTEGER)",
        );
        assert_ne!(m.checksum(Backend::Postgres), m.checksum(Backend::Sqlite));
        assert_eq!(m.checksum(Backend::Sqlite).len(), 64);
        let crlf = Migration::portable(100, "x", "CREATE TABLE x (\r\n id BIGINT\r\n)");
        let lf = Migration::portable(100, "x", "CREATE TABLE x (\n id BIGINT\n)");
        assert_eq!(
            crlf.checksum(Backend::Postgres),
            lf.checksum(Backend::Postgres)
        );
        let err = verify(&m, Backend::Sqlite, "00").unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedPrecondition);
        assert!(err.message.contains("was changed after it was applied"));
    }
}
