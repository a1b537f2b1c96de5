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
}

impl Default for ReportingConfig {
    fn default() -> Self {
        Self {
            ingest_interval: Duration::from_secs(3600),
            ingest: true,
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
        Ok(())
    }
}
