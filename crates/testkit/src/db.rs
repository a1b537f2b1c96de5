//! A fresh database per test, on PostgreSQL or SQLite, and one suite run on both.
//!
//! ```ignore
//! // tests/it/outbox.rs
//! use souk_testkit::both_backends;
//!
//! both_backends!(append_is_visible_after_commit, |store| async move {
//!     store.migrate(&[]).await?;
//!     /* ... */
//!     Ok::<_, souk_core::Error>(())
//! });
//!
//! both_backends!(restart_keeps_data, |db: TestDb| async move {
//!     let first = db.store("svc").await?;
//!     /* ... */
//!     anyhow::Ok(())
//! });
//! ```
//!
//! Each invocation generates a module with two `#[test]`s, `<name>::sqlite` and
//! `<name>::postgres`, each on its own multi-threaded runtime and its own database. The body may
//! return `()` or any `Result<(), E: Debug>`.

use std::future::Future;

use anyhow::Context as _;
use sqlx::Connection as _;
use tempfile::TempDir;

pub use souk_store::{Backend, Migration, Store, StoreConfig};

/// The PostgreSQL server tests use unless [`POSTGRES_URL_ENV`] says otherwise (trust auth).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Environment variable that overrides [`DEFAULT_POSTGRES_URL`]. Test databases are created on
/// the same server with the same credentials.
pub const POSTGRES_URL_ENV: &str = "SOUK_TEST_DATABASE_URL";

/// The service name [`both_backends!`](crate::both_backends) gives the store it passes to a test.
pub const TEST_SERVICE: &str = "test";

/// A database that exists for one test: a uniquely named PostgreSQL database, or a temporary
/// SQLite data directory. Removed by [`TestDb::cleanup`] or, failing that, on drop.
pub struct TestDb {
    url: String,
    inner: Inner,
}

enum Inner {
    Postgres {
        admin_url: String,
        database: String,
        dropped: bool,
    },
    Sqlite {
        _dir: TempDir,
    },
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.backend())
            .field("url", &self.url)
            .finish()
    }
}

impl TestDb {
    /// A fresh database of `backend`.
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite(),
        }
    }

    /// Creates a uniquely named database (`souk_test_<uuid>`) on the test server.
    pub async fn postgres() -> anyhow::Result<Self> {
        let admin_url = postgres_admin_url();
        let database = format!("souk_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .with_context(|| {
                format!(
                    "cannot connect to the test PostgreSQL (set {POSTGRES_URL_ENV} to override)"
                )
            })?;
        sqlx::Executor::execute(
            &mut admin,
            sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{database}\"")),
        )
        .await
        .with_context(|| format!("cannot create test database {database}"))?;
        admin.close().await.ok();
        let url = with_database(&admin_url, &database);
        Ok(Self {
            url,
            inner: Inner::Postgres {
                admin_url,
                database,
                dropped: false,
            },
        })
    }

    /// Creates a temporary SQLite data directory (each service gets its own file in it).
    pub fn sqlite() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("souk-test-")
            .tempdir()
            .context("cannot create a temporary directory for SQLite")?;
        let path = dir
            .path()
            .to_str()
            .context("temporary directory path is not UTF-8")?;
        let url = format!("sqlite://{path}");
        Ok(Self {
            url,
            inner: Inner::Sqlite { _dir: dir },
        })
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Postgres { .. } => Backend::Postgres,
            Inner::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// The database URL (`postgres://…/souk_test_…` or `sqlite:///tmp/souk-test-…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store config for `service` on this database, with a small pool.
    pub fn config(&self, service: &str) -> StoreConfig {
        StoreConfig::new(self.url.clone(), service).with_max_connections(5)
    }

    /// Connects a store for `service` (no migrations run).
    pub async fn store(&self, service: &str) -> anyhow::Result<Store> {
        Store::connect(&self.config(service))
            .await
            .with_context(|| format!("cannot open the {service} store on {}", self.url))
    }

    /// Connects a store for `service` and applies the shared and `migrations`.
    pub async fn migrated_store(
        &self,
        service: &str,
        migrations: &[Migration],
    ) -> anyhow::Result<Store> {
        let store = self.store(service).await?;
        store
            .migrate(migrations)
            .await
            .with_context(|| format!("cannot migrate the {service} store on {}", self.url))?;
        Ok(store)
    }

    /// Removes the database now (PostgreSQL: `DROP DATABASE … WITH (FORCE)`, which also ends
    /// connections still open). Drop does the same, less politely.
    pub async fn cleanup(mut self) -> anyhow::Result<()> {
        if let Inner::Postgres {
            admin_url,
            database,
            dropped,
        } = &mut self.inner
        {
            *dropped = true;
            drop_database(admin_url, database).await?;
        }
        Ok(())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Inner::Postgres {
            admin_url,
            database,
            dropped: false,
        } = &self.inner
        else {
            return;
        };
        let admin_url = admin_url.clone();
        let database = database.clone();
        // Drop may run inside a runtime (or while a test unwinds): do the async work on a thread
        // with its own runtime.
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => {
                    if let Err(err) = runtime.block_on(drop_database(&admin_url, &database)) {
                        eprintln!("souk-testkit: {err:#}");
                    }
                }
                Err(err) => eprintln!("souk-testkit: cannot drop test database {database}: {err}"),
            }
        });
        if worker.join().is_err() {
            eprintln!("souk-testkit: dropping a test database panicked");
        }
    }
}

async fn drop_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("cannot connect to drop test database {database}"))?;
    sqlx::Executor::execute(
        &mut admin,
        sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
        )),
    )
    .await
    .with_context(|| format!("cannot drop test database {database}"))?;
    admin.close().await.ok();
    Ok(())
}

/// The URL of the test server's maintenance database.
fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// `url` with its database (the path) replaced by `database`, query kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// What a test body may return: `()` or a `Result` whose error fails the test.
pub trait TestOutcome {
    /// Panics (failing the test) on an error.
    fn check(self);
}

impl TestOutcome for () {
    fn check(self) {}
}

impl<E: std::fmt::Debug> TestOutcome for Result<(), E> {
    fn check(self) {
        if let Err(err) = self {
            panic!("test failed: {err:?}");
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => panic!("cannot start a tokio runtime: {err}"),
    }
}

/// Runs `test` with a fresh [`TestDb`] of `backend` on its own runtime; used by
/// [`both_backends!`](crate::both_backends).
pub fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future,
    Fut::Output: TestOutcome,
{
    runtime().block_on(async move {
        let db = match TestDb::new(backend).await {
            Ok(db) => db,
            Err(err) => panic!("cannot create a {backend} test database: {err:#}"),
        };
        test(db).await.check();
    });
}

/// Runs `test` with a store (service [`TEST_SERVICE`], no migrations run) on a fresh
/// database of `backend`; used by [`both_backends!`](crate::both_backends).
pub fn run_with_store<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future,
    Fut::Output: TestOutcome,
{
    run(backend, |db| async move {
        let store = match db.store(TEST_SERVICE).await {
            Ok(store) => store,
            Err(err) => panic!("{err:#}"),
        };
        let outcome = test(store.clone()).await;
        store.close().await;
        if let Err(err) = db.cleanup().await {
            eprintln!("souk-testkit: {err:#}");
        }
        outcome
    });
}

/// Runs `test` with a store for `service`, migrated with `migrations`, on a fresh database of
/// `backend` on its own runtime, then closes the store and removes the database. Without
/// [`POSTGRES_URL_ENV`] and without a server at [`DEFAULT_POSTGRES_URL`], a PostgreSQL run is
/// skipped with a message; any other failure to set up fails the test.
pub fn run_migrated<F, Fut>(backend: Backend, service: &str, migrations: &[Migration], test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    runtime().block_on(async move {
        let db = match TestDb::new(backend).await {
            Ok(db) => db,
            Err(err)
                if backend == Backend::Postgres && std::env::var_os(POSTGRES_URL_ENV).is_none() =>
            {
                eprintln!("skipped: no PostgreSQL at the default test URL ({err:#})");
                return;
            }
            Err(err) => panic!("cannot create a {backend} test database: {err:#}"),
        };
        let store = match db.migrated_store(service, migrations).await {
            Ok(store) => store,
            Err(err) => panic!("{err:#}"),
        };
        test(store.clone()).await;
        store.close().await;
        db.cleanup().await.ok();
    });
}

/// Writes one test twice: `<name>::sqlite` and `<name>::postgres`.
///
/// * `both_backends!(name, |store| async move { ... })`: the body gets a connected
///   [`Store`] (service `"test"`, nothing migrated).
/// * `both_backends!(name, |db: TestDb| async move { ... })`: the body gets the [`TestDb`]
///   itself, to open several stores or reopen one.
/// * `both_backends!(name, run, |fx: Fx| { ... })`: the body (a block, run in an
///   `async move`) gets what the test's own `run(backend, |fx: Fx| ...)` builds, typically on
///   [`run_migrated`].
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $run:path, |$fx:ident : $fixture:ty| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                $run(
                    $crate::db::Backend::Sqlite,
                    |$fx: $fixture| async move { $body },
                );
            }

            #[test]
            fn postgres() {
                $run($crate::db::Backend::Postgres, |$fx: $fixture| async move {
                    $body
                });
            }
        }
    };
    ($name:ident, |$db:ident : TestDb| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                $crate::db::run($crate::db::Backend::Sqlite, |$db: $crate::db::TestDb| $body);
            }

            #[test]
            fn postgres() {
                $crate::db::run($crate::db::Backend::Postgres, |$db: $crate::db::TestDb| {
                    $body
                });
            }
        }
    };
    ($name:ident, |$store:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                $crate::db::run_with_store(
                    $crate::db::Backend::Sqlite,
                    |$store: $crate::db::Store| $body,
                );
            }

            #[test]
            fn postgres() {
                $crate::db::run_with_store(
                    $crate::db::Backend::Postgres,
                    |$store: $crate::db::Store| $body,
                );
            }
        }
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn database_exists(name: &str) -> bool {
        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
            .await
            .unwrap();
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        count == 1
    }

    #[tokio::test]
    async fn postgres_databases_are_dropped_on_cleanup_and_on_drop() {
        for explicit in [true, false] {
            let db = TestDb::postgres().await.unwrap();
            let name = db.url().rsplit('/').next().unwrap().to_owned();
            assert!(name.starts_with("souk_test_"));
            let store = db.store("svc").await.unwrap();
            store.ping().await.unwrap();
            assert!(database_exists(&name).await);
            if explicit {
                db.cleanup().await.unwrap();
            } else {
                drop(db);
            }
            assert!(!database_exists(&name).await, "{name} still exists");
        }
    }

    #[tokio::test]
    async fn sqlite_directories_are_removed_on_drop() {
        let db = TestDb::sqlite().unwrap();
        let store = db.store("svc").await.unwrap();
        store.ping().await.unwrap();
        let file = db.config("svc").sqlite_file().unwrap();
        assert!(file.exists());
        store.close().await;
        drop(db);
        assert!(!file.exists());
    }

    #[test]
    fn database_is_replaced_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
