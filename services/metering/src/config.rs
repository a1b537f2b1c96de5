//! Settings of the metering service: the `[metering]` section of the configuration file,
//! `SOUK_METERING__<KEY>` in the environment.

use std::time::Duration;

use serde::Deserialize;
use souk_service::config::duration;

use crate::domain::IngestLimits;

/// What the metering service needs besides its store, the subscribers and AWS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeteringConfig {
    /// An hour is sealed (frozen and shipped) this long after it ends, so that late events
    /// still count towards it (default 5 min; at most 4 h, AWS takes records up to 6 h late).
    #[serde(deserialize_with = "duration")]
    pub seal_grace: Duration,
    /// BatchMeterUsage calls per second per seller account and process (AWS's quota is 10 per
    /// account: divide it among the replicas; default 8).
    pub batch_meter_usage_per_second: u32,
    /// How often the shipper seals closed hours and sends due records (default 1 s).
    #[serde(deserialize_with = "duration")]
    pub ship_interval: Duration,
    /// How long a replica holds the records it is sending; another replica takes them over
    /// after a crash (default 60 s).
    #[serde(deserialize_with = "duration")]
    pub lease: Duration,
    /// Events per RecordUsage call or StreamUsage chunk (default 1000).
    pub max_batch: usize,
    /// Events being written at once over every call; beyond, RESOURCE_EXHAUSTED (default
    /// 50,000).
    pub max_in_flight: usize,
    /// How old usage may be; older is refused, younger but outside AWS's window counts towards
    /// the current hour (default 7 days).
    #[serde(deserialize_with = "duration")]
    pub max_event_age: Duration,
    /// Run the sealing and shipping loop in this process (default true; turn off for
    /// ingestion-only replicas).
    pub ship: bool,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        let limits = IngestLimits::default();
        Self {
            seal_grace: Duration::from_secs(300),
            batch_meter_usage_per_second: crate::aws::BATCH_METER_USAGE_PER_SECOND,
            ship_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            max_batch: limits.max_batch,
            max_in_flight: limits.max_in_flight,
            max_event_age: limits.max_age,
            ship: true,
        }
    }
}

impl MeteringConfig {
    /// Checks the values a start-up would otherwise trip over.
    pub fn validate(&self) -> Result<(), souk_core::Error> {
        if self.seal_grace > Duration::from_secs(4 * 3600) {
            return Err(souk_core::Error::invalid_field(
                "metering.seal_grace",
                "must be at most 4h: AWS takes records at most 6 hours late",
            ));
        }
        if self.batch_meter_usage_per_second == 0 {
            return Err(souk_core::Error::invalid_field(
                "metering.batch_meter_usage_per_second",
                "must be at least 1",
            ));
        }
        if !(1..=1000).contains(&self.max_batch) {
            return Err(souk_core::Error::invalid_field(
                "metering.max_batch",
                "must be 1 to 1000",
            ));
        }
        if self.max_in_flight < self.max_batch {
            return Err(souk_core::Error::invalid_field(
                "metering.max_in_flight",
                "must be at least max_batch",
            ));
        }
        Ok(())
    }

    /// The ingestion limits.
    pub fn limits(&self) -> IngestLimits {
        IngestLimits {
            max_batch: self.max_batch,
            max_in_flight: self.max_in_flight,
            max_age: self.max_event_age,
            ..IngestLimits::default()
        }
    }
}
