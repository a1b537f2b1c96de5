//! Logging set-up: human-readable text for `souk dev`, JSON lines in production.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

use crate::config::LogFormat;

/// PostgreSQL notices (`relation "souk_migrations" already exists, skipping` on every start,
/// from `CREATE ... IF NOT EXISTS`) are expected chatter: sqlx logs them at INFO, so they are
/// kept to warnings unless `RUST_LOG` asks for sqlx explicitly.
const QUIET_NOTICES: &str = "sqlx::postgres::notice=warn";

/// Installs the global subscriber; `RUST_LOG` wins over the configured level.
pub fn init(format: LogFormat, level: &str) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level, std::env::var("RUST_LOG").ok().as_deref()))
        .with_ansi(use_colours())
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(error) = result {
        eprintln!("logging already initialised: {error}");
    }
}

/// The filter: `RUST_LOG` if set and valid, else `level`; PostgreSQL notices at warn unless
/// `RUST_LOG` names sqlx.
fn filter(level: &str, rust_log: Option<&str>) -> EnvFilter {
    let explicit = rust_log.and_then(|v| EnvFilter::try_new(v).ok());
    let names_sqlx = rust_log.is_some_and(|v| v.contains("sqlx"));
    let filter = explicit.unwrap_or_else(|| EnvFilter::new(level));
    match QUIET_NOTICES.parse::<Directive>() {
        Ok(directive) if !names_sqlx => filter.add_directive(directive),
        _ => filter,
    }
}

/// Colours only for a person at a terminal: logs go to stderr, so colour when stderr is a
/// terminal and `NO_COLOR` is unset (escape codes in files and log collectors are noise).
fn use_colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_quiet_unless_asked_for() {
        assert!(filter("info", None).to_string().contains(QUIET_NOTICES));
        assert!(
            filter("debug", Some("souk=debug"))
                .to_string()
                .contains(QUIET_NOTICES)
        );
        assert!(
            !filter("info", Some("sqlx=info"))
                .to_string()
                .contains(QUIET_NOTICES)
        );
    }
}
