//! Configuration: built-in defaults, then a TOML file, then `SOUK_*` environment variables.
//! Process-wide settings sit at the top level; each service has its own section (`[metering]`,
//! `SOUK_METERING__<KEY>`) read by the service kit. Validated before any port is bound; unknown
//! keys fail start-up, unknown `SOUK_*` variables are reported; secrets (database passwords)
//! never reach a log line.

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

/// Which clock the services run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClockSource {
    /// The wall clock (default; `souk dev --emulate-aws` always uses its emulator's clock).
    #[default]
    System,
    /// The clock of the emulator at `aws_endpoint_url` (`GET /_souk/clock`), so advancing it
    /// moves this process too (tests beside a separate `souk emulator`).
    Emulator,
}

/// The sections of the services, by name.
pub const SECTIONS: [&str; 5] = [
    "integration",
    "entitlement",
    "metering",
    "offer",
    "reporting",
];

/// Variables read by the command-line flags rather than the configuration.
const FLAG_VARIABLES: [&str; 10] = [
    "SOUK_CA_CERT",
    "SOUK_CLIENT_CERT",
    "SOUK_CLIENT_KEY",
    "SOUK_CONFIG",
    "SOUK_DATA_DIR",
    "SOUK_EMULATOR_ADDR",
    "SOUK_SERVER",
    "SOUK_API_KEY",
    "SOUK_GRPC_ADDR",
    "SOUK_HTTP_ADDR",
];

/// Top-level variables of [`Config::apply_env`].
const CONFIG_VARIABLES: [&str; 14] = [
    "SOUK_CLOCK_SOURCE",
    "SOUK_TLS_CERT_FILE",
    "SOUK_TLS_KEY_FILE",
    "SOUK_TLS_CLIENT_CA_FILE",
    "SOUK_GRPC_ADDR",
    "SOUK_HTTP_ADDR",
    "SOUK_DATABASE_URL",
    "SOUK_DATABASE_MAX_CONNECTIONS",
    "SOUK_NATS_URL",
    "SOUK_AWS_ENDPOINT_URL",
    "SOUK_AWS_REGION",
    "SOUK_PRINCIPAL_ARN",
    "SOUK_LOG_FORMAT",
    "SOUK_LOG_LEVEL",
];

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
    /// Log format (default: text for `souk dev`, JSON for `souk serve` and `souk bootstrap`).
    pub log_format: Option<LogFormat>,
    /// PEM certificate chain: with `tls_key_file`, gRPC and HTTP are served over TLS.
    pub tls_cert_file: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<std::path::PathBuf>,
    /// PEM CA certificates: when set, clients must present a certificate it signed (mTLS).
    pub tls_client_ca_file: Option<std::path::PathBuf>,
    /// Log filter, `tracing_subscriber::EnvFilter` syntax.
    pub log_level: String,
    /// The services' clock: `system` (default) or `emulator`.
    pub clock_source: ClockSource,
    /// `[integration]`.
    #[serde(skip)]
    pub integration: souk_integration::IntegrationConfig,
    /// `[entitlement]`.
    #[serde(skip)]
    pub entitlement: souk_entitlement::EntitlementConfig,
    /// `[metering]`.
    #[serde(skip)]
    pub metering: souk_metering::MeteringConfig,
    /// `[offer]`.
    #[serde(skip)]
    pub offer: souk_offer::OfferConfig,
    /// `[reporting]`.
    #[serde(skip)]
    pub reporting: souk_reporting::ReportingConfig,
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
            log_format: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            log_level: "info".to_owned(),
            clock_source: ClockSource::System,
            integration: souk_integration::IntegrationConfig::default(),
            entitlement: souk_entitlement::EntitlementConfig::default(),
            metering: souk_metering::MeteringConfig::default(),
            offer: souk_offer::OfferConfig::default(),
            reporting: souk_reporting::ReportingConfig::default(),
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
            .field("tls_cert_file", &self.tls_cert_file)
            .field("integration", &self.integration)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Loads defaults, then `file` (when given), then the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?,
            None => String::new(),
        };
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(name, _)| name.starts_with("SOUK_"))
            .collect();
        let config = Self::from_sources(&text, &vars).with_context(|| match file {
            Some(path) => format!("invalid configuration ({})", path.display()),
            None => "invalid configuration".to_owned(),
        })?;
        // Logging starts after the configuration is read, so this goes to stderr directly.
        for unknown in unknown_variables(&vars) {
            eprintln!(
                "warning: {unknown} is not a Souk setting and is ignored (settings: deploy/config/souk.example.toml)"
            );
        }
        Ok(config)
    }

    /// The configuration from the TOML `text` and the `SOUK_*` variables `vars`.
    pub fn from_sources(text: &str, vars: &[(String, String)]) -> anyhow::Result<Self> {
        let mut table: toml::Table = toml::from_str(text)?;
        let mut sections: std::collections::HashMap<&str, toml::Table> =
            std::collections::HashMap::new();
        for name in SECTIONS {
            match table.remove(name) {
                Some(toml::Value::Table(section)) => {
                    sections.insert(name, section);
                }
                Some(_) => bail!("[{name}] must be a table"),
                None => {}
            }
        }
        let mut config: Self = toml::Value::Table(table).try_into()?;
        config.apply_env(|name| {
            vars.iter()
                .find(|(var, _)| var == name)
                .map(|(_, value)| value.clone())
        })?;
        let mut section = |name: &str| sections.remove(name);
        config.integration =
            souk_service::config::section("integration", section("integration"), vars)?;
        config.entitlement =
            souk_service::config::section("entitlement", section("entitlement"), vars)?;
        config.metering = souk_service::config::section("metering", section("metering"), vars)?;
        config.offer = souk_service::config::section("offer", section("offer"), vars)?;
        config.reporting = souk_service::config::section("reporting", section("reporting"), vars)?;
        Ok(config)
    }

    /// The TLS material of the listeners, read and checked now; `None` for plaintext (TLS
    /// terminated by a mesh sidecar, or `souk dev` on loopback).
    pub fn tls(&self) -> anyhow::Result<Option<souk_service::tls::Tls>> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (None, None) if self.tls_client_ca_file.is_none() => Ok(None),
            (Some(cert), Some(key)) => {
                let files = souk_service::tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: self.tls_client_ca_file.clone(),
                };
                souk_service::tls::Tls::load(&files).map(Some)
            }
            _ => bail!(
                "TLS needs both tls_cert_file and tls_key_file (SOUK_TLS_CERT_FILE, SOUK_TLS_KEY_FILE); \
                 tls_client_ca_file needs them too"
            ),
        }
    }

    /// The integration service's settings, with the process-wide trusted principal.
    pub fn integration_config(&self) -> souk_integration::IntegrationConfig {
        souk_integration::IntegrationConfig {
            souk_principal_arn: self.souk_principal_arn.clone(),
            ..self.integration.clone()
        }
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
                "text" => Some(LogFormat::Text),
                "json" => Some(LogFormat::Json),
                other => bail!("SOUK_LOG_FORMAT={other:?} must be \"text\" or \"json\""),
            };
        }
        if let Some(v) = var("SOUK_CLOCK_SOURCE") {
            self.clock_source = match v.as_str() {
                "system" => ClockSource::System,
                "emulator" => ClockSource::Emulator,
                other => bail!("SOUK_CLOCK_SOURCE={other:?} must be \"system\" or \"emulator\""),
            };
        }
        if let Some(v) = var("SOUK_LOG_LEVEL") {
            self.log_level = v;
        }
        if let Some(v) = var("SOUK_TLS_CERT_FILE") {
            self.tls_cert_file =
                Some(v.into()).filter(|p: &std::path::PathBuf| !p.as_os_str().is_empty());
        }
        if let Some(v) = var("SOUK_TLS_KEY_FILE") {
            self.tls_key_file =
                Some(v.into()).filter(|p: &std::path::PathBuf| !p.as_os_str().is_empty());
        }
        if let Some(v) = var("SOUK_TLS_CLIENT_CA_FILE") {
            self.tls_client_ca_file =
                Some(v.into()).filter(|p: &std::path::PathBuf| !p.as_os_str().is_empty());
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

/// The `SOUK_*` variables in `vars` that no setting, section or flag reads.
pub fn unknown_variables(vars: &[(String, String)]) -> Vec<String> {
    vars.iter()
        .map(|(name, _)| name)
        .filter(|name| {
            !CONFIG_VARIABLES.contains(&name.as_str())
                && !FLAG_VARIABLES.contains(&name.as_str())
                && !SECTIONS
                    .iter()
                    .any(|section| name.starts_with(&souk_service::config::env_prefix(section)))
        })
        .cloned()
        .collect()
}

pub use souk_store::redact_url;

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
    fn service_sections_come_from_the_file_and_the_environment() {
        let vars = vec![
            (
                "SOUK_INTEGRATION__PROBE_TIMEOUT".to_owned(),
                "2s".to_owned(),
            ),
            ("SOUK_PRINCIPAL_ARN".to_owned(), "111122223333".to_owned()),
            ("SOUK_TRUSTED_PRINCIPAL_ARN".to_owned(), "x".to_owned()),
        ];
        let config = Config::from_sources(
            "log_level = \"debug\"\n[integration]\nsns_webhook_url = \"https://souk.example.com/sns\"\n",
            &vars,
        )
        .unwrap();
        let integration = config.integration_config();
        assert_eq!(integration.probe_timeout, std::time::Duration::from_secs(2));
        assert_eq!(
            integration.sns_webhook_url.as_deref(),
            Some("https://souk.example.com/sns")
        );
        assert_eq!(integration.souk_principal_arn, "111122223333");
        assert_eq!(config.log_level, "debug");
        assert_eq!(
            unknown_variables(&vars),
            vec!["SOUK_TRUSTED_PRINCIPAL_ARN".to_owned()]
        );

        let err = Config::from_sources("[metering]\nbatch = 1\n", &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `batch`"),
            "{err:#}"
        );
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let example = include_str!("../../../deploy/config/souk.example.toml");
        let config = Config::from_sources(example, &[]).unwrap();
        assert_eq!(
            config.metering.max_event_age,
            std::time::Duration::from_secs(7 * 24 * 3600)
        );
        config.metering.validate().unwrap();
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
