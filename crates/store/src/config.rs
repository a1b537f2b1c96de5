//! Where a service's store lives and how big its pool is.

use std::path::PathBuf;
use std::time::Duration;

use souk_core::Error;

/// The database engine behind a [`Store`](crate::Store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL: one schema per service, the system of record at scale.
    Postgres,
    /// SQLite: one file per service, for the standalone `souk dev` mode.
    Sqlite,
}

impl Backend {
    /// `"postgres"` or `"sqlite"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to reach one service's store.
///
/// * `postgres://user@host:5432/db` (or `postgresql://`): the service's tables live in the
///   schema named [`service`](Self::service), created if missing; every pooled connection has
///   its `search_path` set to it.
/// * `sqlite://<data-dir>` (or `sqlite:<data-dir>`): the service's tables live in the file
///   `<data-dir>/<service>.db`, created (with the directory) if missing, in WAL mode with
///   `synchronous=FULL`. In-memory SQLite is refused: each pooled connection would get its own
///   empty database.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The database URL (see above). May hold a password: never log it, use [`Self::redacted_url`].
    pub url: String,
    /// The service name: the PostgreSQL schema and the SQLite file stem. Lowercase ASCII letters,
    /// digits and `_`, starting with a letter or `_`, at most 63 bytes.
    pub service: String,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before getting `Unavailable`.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a locked database before failing with `SQLITE_BUSY`.
    pub busy_timeout: Duration,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.redacted_url())
            .field("service", &self.service)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .finish()
    }
}

impl StoreConfig {
    /// Default pool size.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

    /// A config for `service` at `url` with default pool settings.
    pub fn new(url: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            service: service.into(),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(10),
        }
    }

    /// Sets the pool size.
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// The backend the URL names, or `InvalidArgument` for any other scheme.
    pub fn backend(&self) -> Result<Backend, Error> {
        let url = self.url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(Error::invalid_field(
                "database_url",
                "must start with postgres://, postgresql:// or sqlite://",
            ))
        }
    }

    /// The URL with any password replaced by `***`, safe to log.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks the service name and the URL; `InvalidArgument` names the bad field.
    pub(crate) fn validate(&self) -> Result<Backend, Error> {
        check_identifier(&self.service)
            .map_err(|reason| Error::invalid_field("service", reason))?;
        if self.max_connections == 0 {
            return Err(Error::invalid_field(
                "max_connections",
                "must be at least 1",
            ));
        }
        let backend = self.backend()?;
        if backend == Backend::Sqlite {
            self.sqlite_dir()?;
        }
        Ok(backend)
    }

    /// For SQLite: the data directory the URL names.
    pub(crate) fn sqlite_dir(&self) -> Result<PathBuf, Error> {
        let rest = self.url.trim();
        let rest = rest
            .strip_prefix("sqlite://")
            .or_else(|| rest.strip_prefix("sqlite:"))
            .unwrap_or(rest);
        if rest.contains('?') || rest.contains('#') {
            return Err(Error::invalid_field(
                "database_url",
                "sqlite URLs take no parameters: give the data directory, as sqlite://<dir>",
            ));
        }
        if rest.is_empty() || rest == ":memory:" || rest.starts_with("file:") {
            return Err(Error::invalid_field(
                "database_url",
                "must name a data directory (sqlite://<dir>); in-memory databases are not durable",
            ));
        }
        Ok(PathBuf::from(rest))
    }

    /// For SQLite: the file of this service, `<data-dir>/<service>.db`.
    pub fn sqlite_file(&self) -> Result<PathBuf, Error> {
        Ok(self.sqlite_dir()?.join(format!("{}.db", self.service)))
    }
}

/// Lowercase identifier usable unquoted as a schema name and as a file stem.
pub(crate) fn check_identifier(name: &str) -> Result<(), String> {
    let Some(first) = name.bytes().next() else {
        return Err("must not be empty".into());
    };
    if name.len() > 63 {
        return Err("must be at most 63 bytes".into());
    }
    if !(first.is_ascii_lowercase() || first == b'_') {
        return Err("must start with a lowercase letter or '_'".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("must contain only lowercase letters, digits and '_'".into());
    }
    if name.starts_with("pg_") {
        return Err("must not start with \"pg_\" (reserved by PostgreSQL)".into());
    }
    Ok(())
}

/// `url` with the password of `scheme://user:password@host/…` replaced by `***`, for logs and
/// error messages (database and broker URLs alike).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use souk_core::ErrorCode;

    #[test]
    fn backend_follows_the_scheme() {
        assert_eq!(
            StoreConfig::new("postgres://h/db", "metering").backend(),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            StoreConfig::new("postgresql://h/db", "metering").backend(),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            StoreConfig::new("sqlite://data", "metering").backend(),
            Ok(Backend::Sqlite)
        );
        let err = StoreConfig::new("mysql://h/db", "metering")
            .backend()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.violations[0].field, "database_url");
    }

    #[test]
    fn sqlite_file_is_per_service() {
        let config = StoreConfig::new("sqlite:///var/lib/souk", "metering");
        assert_eq!(
            config.sqlite_file(),
            Ok(PathBuf::from("/var/lib/souk/metering.db"))
        );
        let config = StoreConfig::new("sqlite:data", "offer");
        assert_eq!(config.sqlite_file(), Ok(PathBuf::from("data/offer.db")));
    }

    #[test]
    fn in_memory_sqlite_and_parameters_are_refused() {
        for url in [
            "sqlite::memory:",
            "sqlite://",
            "sqlite://data?mode=memory",
            "sqlite:file:x",
        ] {
            let err = StoreConfig::new(url, "metering").validate().unwrap_err();
            assert_eq!(err.violations[0].field, "database_url", "{url}");
        }
    }

    #[test]
    fn service_names_are_plain_identifiers() {
        assert!(check_identifier("metering").is_ok());
        assert!(check_identifier("_t_0192abc").is_ok());
        for bad in [
            "",
            "Metering",
            "1abc",
            "a-b",
            "a;drop",
            "pg_catalog",
            &"a".repeat(64),
        ] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
        let err = StoreConfig::new("sqlite://d", "Bad Name")
            .validate()
            .unwrap_err();
        assert_eq!(err.violations[0].field, "service");
    }

    #[test]
    fn passwords_are_redacted() {
        let config = StoreConfig::new("postgres://souk:s3cret@db:5432/souk?sslmode=require", "x");
        assert_eq!(
            config.redacted_url(),
            "postgres://souk:***@db:5432/souk?sslmode=require"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(
            redact_url("postgres://postgres@h/db"),
            "postgres://postgres@h/db"
        );
        assert_eq!(redact_url("sqlite://data"), "sqlite://data");
    }
}
