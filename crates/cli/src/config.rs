//! Configuration: built-in defaults, then a TOML file, then `SOUK_*` environment variables.
//! Validated before any port is bound; secrets (database passwords) never reach a log line.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default for `souk dev`).
    #[default]
    Text,
    /// One JSON object per line (production).
    Json,
}

/// Everything a Souk process can be configured with.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC listen address.
    pub grpc_addr: SocketAddr,
    /// HTTP listen address (health, metrics, fulfilment page, webhooks).
    pub http_addr: SocketAddr,
    /// `postgres://…` for `souk serve`; `souk dev` uses SQLite files in its data directory.
    pub database_url: Option<String>,
    /// Connections per service pool.
    pub database_max_connections: u32,
    /// NATS server for `souk serve`.
    pub nats_url: String,
    /// Send every AWS call to this endpoint instead of AWS (the emulator, in tests and demos).
    pub aws_endpoint_url: Option<String>,
    /// Default AWS region for Souk's own calls (STS).
    pub aws_region: String,
    /// The AWS principal (account root or role ARN) that seller roles trust: where Souk runs.
    /// Empty until configured; the onboarding template needs it.
    pub souk_principal_arn: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter, `tracing_subscriber::EnvFilter` syntax.
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            database_max_connections: 10,
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            aws_endpoint_url: None,
            aws_region: "us-east-1".to_owned(),
            souk_principal_arn: String::new(),
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("database_max_connections", &self.database_max_connections)
            .field("nats_url", &redact_url(&self.nats_url))
            .field("aws_endpoint_url", &self.aws_endpoint_url)
            .field("aws_region", &self.aws_region)
            .field("souk_principal_arn", &self.souk_principal_arn)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .finish()
    }
}

impl Config {
    /// Loads defaults, then `file` (when given), then the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Overrides fields from `SOUK_*` variables read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("SOUK_GRPC_ADDR") {
            self.grpc_addr = v
                .parse()
                .with_context(|| format!("SOUK_GRPC_ADDR={v:?} is not host:port"))?;
        }
        if let Some(v) = var("SOUK_HTTP_ADDR") {
            self.http_addr = v
                .parse()
                .with_context(|| format!("SOUK_HTTP_ADDR={v:?} is not host:port"))?;
        }
        if let Some(v) = var("SOUK_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = var("SOUK_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = v
                .parse()
                .with_context(|| format!("SOUK_DATABASE_MAX_CONNECTIONS={v:?} is not a number"))?;
        }
        if let Some(v) = var("SOUK_NATS_URL") {
            self.nats_url = v;
        }
        if let Some(v) = var("SOUK_AWS_ENDPOINT_URL") {
            self.aws_endpoint_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = var("SOUK_AWS_REGION") {
            self.aws_region = v;
        }
        if let Some(v) = var("SOUK_PRINCIPAL_ARN") {
            self.souk_principal_arn = v;
        }
        if let Some(v) = var("SOUK_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => bail!("SOUK_LOG_FORMAT={other:?} must be \"text\" or \"json\""),
            };
        }
        if let Some(v) = var("SOUK_LOG_LEVEL") {
            self.log_level = v;
        }
        Ok(())
    }

    /// The PostgreSQL URL `souk serve` needs, with a clear error when it is missing.
    pub fn require_database_url(&self) -> anyhow::Result<&str> {
        match self.database_url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(url)
            }
            Some(_) => bail!("SOUK_DATABASE_URL must be a postgres:// URL for `souk serve`"),
            None => bail!(
                "SOUK_DATABASE_URL is not set; `souk serve` needs PostgreSQL (or use `souk dev`)"
            ),
        }
    }
}

/// `scheme://user:secret@host/…` with the secret replaced, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_defaults() {
        let mut config: Config =
            toml::from_str("grpc_addr = \"127.0.0.1:6000\"\nnats_url = \"nats://n:4222\"").unwrap();
        config
            .apply_env(|name| (name == "SOUK_NATS_URL").then(|| "nats://env:4222".to_owned()))
            .unwrap();
        assert_eq!(config.grpc_addr.port(), 6000);
        assert_eq!(config.nats_url, "nats://env:4222");
        assert_eq!(config.http_addr.port(), 8080);
    }

    #[test]
    fn bad_values_are_named() {
        let mut config = Config::default();
        let err = config
            .apply_env(|name| (name == "SOUK_GRPC_ADDR").then(|| "nope".to_owned()))
            .unwrap_err();
        assert_eq!(err.to_string(), "SOUK_GRPC_ADDR=\"nope\" is not host:port");
        let err = toml::from_str::<Config>("unknown_key = 1").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `unknown_key`"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact_url("postgres://souk:hunter2@db:5432/souk"),
            "postgres://souk:***@db:5432/souk"
        );
        let config = Config {
            database_url: Some("postgres://u:pw@h/d".into()),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("pw@"));
        assert_eq!(
            Config::default()
                .require_database_url()
                .unwrap_err()
                .to_string(),
            "SOUK_DATABASE_URL is not set; `souk serve` needs PostgreSQL (or use `souk dev`)"
        );
    }
}
