//! Settings of the reporting service: the `[reporting]` section of the configuration file,
//! `SOUK_REPORTING__<KEY>` in the environment.

use std::time::Duration;

use serde::Deserialize;
use souk_service::config::duration;

/// How often the data feeds are read on Souk's own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportingConfig {
    /// How often every integration with a data feed bucket is read (default 1 h; AWS delivers
    /// once a day, so a new delivery is read within the hour).
    #[serde(deserialize_with = "duration")]
    pub ingest_interval: Duration,
    /// Read the feeds on a schedule in this process (default true; false for replicas that
    /// only answer RPCs).
    pub ingest: bool,
    /// The key the revenue page's links are signed with (`GET /reports`, docs/reporting.md),
    /// at least 32 characters; every replica behind one address needs the same. Unset: a random
    /// key per process, so links work only on the process that made them, until it restarts
    /// (enough for `souk dev`).
    pub page_link_secret: Option<LinkSecret>,
}

/// A signing key read from the configuration; never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct LinkSecret(String);

impl LinkSecret {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The key's bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(***)")
    }
}

impl Default for ReportingConfig {
    fn default() -> Self {
        Self {
            ingest_interval: Duration::from_secs(3600),
            ingest: true,
            page_link_secret: None,
        }
    }
}

impl ReportingConfig {
    /// Checks the values a start-up would otherwise trip over.
    pub fn validate(&self) -> Result<(), souk_core::Error> {
        if self.ingest_interval.is_zero() {
            return Err(souk_core::Error::invalid_field(
                "reporting.ingest_interval",
                "must be positive",
            ));
        }
        if self
            .page_link_secret
            .as_ref()
            .is_some_and(|secret| secret.expose().len() < 32)
        {
            return Err(souk_core::Error::invalid_field(
                "reporting.page_link_secret",
                "must be at least 32 characters",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_page_link_secret_is_long_and_never_printed() {
        let short = ReportingConfig {
            page_link_secret: Some(LinkSecret::new("too short")),
            ..ReportingConfig::default()
        };
        assert!(short.validate().is_err());
        let long = ReportingConfig {
            page_link_secret: Some(LinkSecret::new("x".repeat(32))),
            ..ReportingConfig::default()
        };
        assert!(long.validate().is_ok());
        assert!(!format!("{long:?}").contains("xxxx"), "{long:?}");
        let parsed: ReportingConfig =
            serde_json::from_str(r#"{"page_link_secret": "0123456789abcdef0123456789abcdef"}"#)
                .unwrap();
        assert_eq!(parsed.page_link_secret.map(|s| s.expose().len()), Some(32));
    }
}
