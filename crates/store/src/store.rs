//! Opening a service's store: the pool, the schema or file, the per-connection settings.

use souk_core::{Error, ErrorCode};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::config::{Backend, StoreConfig};
use crate::error::map_sqlx_error;
use crate::migrate::{self, Migration, MigrationReport};
use crate::waker::OutboxWaker;
use crate::{Result, Tx};

/// One service's database: a pool plus what the code needs to know to speak its dialect.
///
/// Cheap to clone (the pool is reference counted).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    service: String,
    waker: OutboxWaker,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("service", &self.service)
            .field("pool_size", &self.pool.size())
            .finish()
    }
}

impl Store {
    /// Opens the store described by `config`.
    ///
    /// On PostgreSQL the schema named after the service is created if missing and every pooled
    /// connection's `search_path` is set to it. On SQLite the data directory and the file are
    /// created if missing, and every connection runs in WAL mode with `synchronous=FULL`,
    /// foreign keys on and a busy timeout. One connection is opened eagerly, so a wrong URL or an
    /// unreachable server fails here (`InvalidArgument` or `Unavailable`), not on first use.
    ///
    /// Migrations are not run: call [`Store::migrate`].
    pub async fn connect(config: &StoreConfig) -> Result<Self> {
        // Idempotent: sqlx guards it with a `Once`.
        sqlx::any::install_default_drivers();
        let backend = config.validate()?;
        let service = config.service.clone();
        let url = match backend {
            Backend::Postgres => {
                tokio::time::timeout(config.acquire_timeout, create_schema(&config.url, &service))
                    .await
                    .map_err(|_| {
                        Error::new(
                            ErrorCode::Unavailable,
                            format!(
                                "cannot connect to postgres at {} within {:?}",
                                config.redacted_url(),
                                config.acquire_timeout
                            ),
                        )
                    })??;
                config.url.trim().to_owned()
            }
            Backend::Sqlite => prepare_sqlite_file(config).await?,
        };
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|_| Error::invalid_field("database_url", "is not a valid URL"))?;
        let pool_options = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout);
        let pool_options = match backend {
            Backend::Postgres => {
                let set_path = format!("SET search_path TO \"{service}\"");
                pool_options.after_connect(move |conn, _meta| {
                    let set_path = set_path.clone();
                    Box::pin(async move {
                        conn.execute(sqlx::AssertSqlSafe(set_path)).await?;
                        Ok(())
                    })
                })
            }
            Backend::Sqlite => {
                let pragmas = sqlite_pragmas(config);
                pool_options.after_connect(move |conn, _meta| {
                    let pragmas = pragmas.clone();
                    Box::pin(async move {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(pragmas))
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                })
            }
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|err| connect_error(config, err))?;
        tracing::debug!(backend = %backend, service = %service, url = %config.redacted_url(), "store connected");
        Ok(Self {
            pool,
            backend,
            service,
            waker: OutboxWaker::new(),
        })
    }

    /// Rings after every [`UnitOfWork`](crate::UnitOfWork) that appended outbox rows commits;
    /// the relay and the `WatchEvents` streams of this store listen to it.
    pub fn outbox_waker(&self) -> &OutboxWaker {
        &self.waker
    }

    /// The database engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The service name: PostgreSQL schema, SQLite file stem.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The connection pool, for queries outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction (PostgreSQL: `READ COMMITTED`; SQLite: deferred).
    ///
    /// For a SQLite transaction that reads and then writes, prefer [`Store::begin_write`]: a
    /// deferred transaction that must upgrade to a write lock fails at once with `SQLITE_BUSY`
    /// when another writer got there first.
    pub async fn begin(&self) -> Result<Tx> {
        self.pool.begin().await.map_err(map_sqlx_error)
    }

    /// Starts a transaction that will write: on SQLite `BEGIN IMMEDIATE` takes the write lock
    /// up front (waiting up to the busy timeout) so the transaction cannot fail half-way on a
    /// lock upgrade; on PostgreSQL the same as [`Store::begin`].
    pub async fn begin_write(&self) -> Result<Tx> {
        match self.backend {
            Backend::Postgres => self.begin().await,
            Backend::Sqlite => self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(map_sqlx_error),
        }
    }

    /// Applies `migrations` (the shared ones from [`migrate::shared`] first, then the
    /// service's own, versions 100 and up) that are not yet applied; see [`crate::migrate`].
    pub async fn migrate(&self, migrations: &[Migration]) -> Result<MigrationReport> {
        migrate::run(self, migrations).await
    }

    /// Waits for the lock named `purpose` (scoped to this service) until `tx` ends.
    ///
    /// On PostgreSQL a transaction-scoped advisory lock; on SQLite nothing is needed beyond a
    /// transaction from [`Store::begin_write`], which already excludes every other writer.
    pub async fn lock(&self, tx: &mut AnyConnection, purpose: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(self.advisory_key(purpose))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        }
        Ok(())
    }

    /// Takes the lock named `purpose` until `tx` ends if nobody holds it; `false` when another
    /// replica does. For singleton jobs ("one replica aggregates this hour"). On SQLite always
    /// `true` (see [`Store::lock`]).
    pub async fn try_lock(&self, tx: &mut AnyConnection, purpose: &str) -> Result<bool> {
        if self.backend == Backend::Sqlite {
            return Ok(true);
        }
        let taken: i64 =
            sqlx::query_scalar("SELECT CASE WHEN pg_try_advisory_xact_lock($1) THEN 1 ELSE 0 END")
                .bind(self.advisory_key(purpose))
                .fetch_one(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        Ok(taken == 1)
    }

    /// A 63-bit key for PostgreSQL advisory locks, distinct per service and per `purpose`.
    pub(crate) fn advisory_key(&self, purpose: &str) -> i64 {
        // FNV-1a: stable across releases and processes (unlike the std hasher).
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.service.bytes().chain([b':']).chain(purpose.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        i64::try_from(hash >> 1).unwrap_or(i64::MAX)
    }

    /// Checks that the database answers (`SELECT 1`): for readiness probes.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_sqlx_error)?;
        Ok(())
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the service's schema on PostgreSQL, tolerating a concurrent creator.
async fn create_schema(url: &str, schema: &str) -> Result<()> {
    let options: AnyConnectOptions = url
        .trim()
        .parse()
        .map_err(|_| Error::invalid_field("database_url", "is not a valid URL"))?;
    let mut conn = sqlx::AnyConnection::connect_with(&options)
        .await
        .map_err(|err| {
            let mapped = map_sqlx_error(err);
            match mapped.code {
                ErrorCode::Internal => Error::new(
                    ErrorCode::Unavailable,
                    format!("cannot connect to postgres: {}", mapped.message),
                ),
                _ => mapped,
            }
        })?;
    // Look first: a role may use a schema a DBA created without the right to create one.
    let exists =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
            .bind(schema)
            .fetch_one(&mut conn)
            .await
            .map_err(map_sqlx_error)?;
    if exists > 0 {
        return conn.close().await.map_err(map_sqlx_error);
    }
    let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    let result = conn.execute(sqlx::AssertSqlSafe(create)).await;
    let closed = conn.close().await;
    match result {
        Ok(_) => {}
        // Two replicas racing on IF NOT EXISTS: one gets unique_violation / duplicate_schema.
        Err(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("23505") | Some("42P06")) => {}
        Err(err) => return Err(map_sqlx_error(err)),
    }
    closed.map_err(map_sqlx_error)
}

/// Creates the data directory, returns the sqlx URL of the service's file (created if missing).
async fn prepare_sqlite_file(config: &StoreConfig) -> Result<String> {
    let dir = config.sqlite_dir()?;
    tokio::fs::create_dir_all(&dir).await.map_err(|err| {
        Error::new(
            ErrorCode::Unavailable,
            format!(
                "cannot create sqlite data directory {}: {err}",
                dir.display()
            ),
        )
    })?;
    let file = std::path::absolute(config.sqlite_file()?)
        .map_err(|err| Error::internal(format!("cannot resolve sqlite path: {err}")))?;
    let path = file.to_str().ok_or_else(|| {
        Error::invalid_field("database_url", "sqlite data directory must be valid UTF-8")
    })?;
    Ok(format!("sqlite://{}?mode=rwc", encode_path(path)))
}

/// Percent-encodes the characters sqlx's SQLite URL parser would misread.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for ch in path.chars() {
        match ch {
            '%' | '?' | '#' | ' ' | '"' | '<' | '>' | '`' | '{' | '}' => {
                let mut buf = [0u8; 4];
                for byte in ch.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The settings every SQLite connection runs with: durable WAL, foreign keys, busy timeout.
fn sqlite_pragmas(config: &StoreConfig) -> String {
    let busy_ms = config.busy_timeout.as_millis();
    format!(
        "PRAGMA busy_timeout = {busy_ms};\n\
         PRAGMA journal_mode = WAL;\n\
         PRAGMA synchronous = FULL;\n\
         PRAGMA foreign_keys = ON;"
    )
}

fn connect_error(config: &StoreConfig, err: sqlx::Error) -> Error {
    let mapped = map_sqlx_error(err);
    match mapped.code {
        ErrorCode::Internal => Error::new(
            ErrorCode::Unavailable,
            format!(
                "cannot open {} store {}: {}",
                config.service,
                config.redacted_url(),
                mapped.message
            ),
        ),
        _ => mapped,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(encode_path("/tmp/a b/x?.db"), "/tmp/a%20b/x%3F.db");
        assert_eq!(
            encode_path("/var/lib/souk/metering.db"),
            "/var/lib/souk/metering.db"
        );
    }

    #[test]
    fn pragmas_make_sqlite_durable() {
        let pragmas = sqlite_pragmas(&StoreConfig::new("sqlite://d", "metering"));
        assert!(pragmas.contains("journal_mode = WAL"));
        assert!(pragmas.contains("synchronous = FULL"));
        assert!(pragmas.contains("foreign_keys = ON"));
        assert!(pragmas.contains("busy_timeout = 10000"));
    }
}
