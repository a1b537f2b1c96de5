//! Settings of the reporting service: the `[reporting]` section of the configuration file,
//! `SOUK_REPORTING__<KEY>` in the environment. None yet: ingestion runs on demand
//! (IngestDataFeeds, `souk report ingest`).

use serde::Deserialize;

/// The `[reporting]` section; any key is reported as unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportingConfig {}

impl ReportingConfig {
    /// Checks the values a start-up would otherwise trip over.
    pub fn validate(&self) -> Result<(), souk_core::Error> {
        Ok(())
    }
}
