//! Settings of the entitlement service: the `[entitlement]` section of the configuration file,
//! `SOUK_ENTITLEMENT__<KEY>` in the environment.

use std::time::Duration;

use serde::Deserialize;
use souk_service::config::duration;

use crate::aws::GET_ENTITLEMENTS_PER_SECOND;

/// What the entitlement service needs besides its store, the integrations and AWS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntitlementConfig {
    /// The HTTP port's base URL as buyers' browsers and AWS reach it (for example
    /// `https://souk.example.com`); reported in the fulfilment settings. Defaults to the local
    /// HTTP listener.
    pub public_url: Option<String>,
    /// CheckEntitlement answers are `LIVE` while the replica's snapshot was confirmed this
    /// recently (default 10 s).
    #[serde(deserialize_with = "duration")]
    pub check_fresh_within: Duration,
    /// Beyond `check_fresh_within`, answers come from the last known state (`STALE`) up to this
    /// age, then from each feature's default (`DEFAULT`; default 5 min).
    #[serde(deserialize_with = "duration")]
    pub check_max_staleness: Duration,
    /// Features allowed when the snapshot is older than `check_max_staleness`; every other
    /// feature is refused then (fail closed).
    pub check_fail_open_features: Vec<String>,
    /// Longest time between two catch-up reads of the snapshot (default 1 s).
    #[serde(deserialize_with = "duration")]
    pub snapshot_poll_interval: Duration,
    /// Time between full reloads of the snapshot (default 5 min).
    #[serde(deserialize_with = "duration")]
    pub snapshot_full_reload: Duration,
    /// SQS long-poll wait (0 to 20 s, default 20 s).
    #[serde(deserialize_with = "duration")]
    pub sqs_wait_time: Duration,
    /// SNS messages older than this are refused as replays (default 1 h).
    #[serde(deserialize_with = "duration")]
    pub sns_max_age: Duration,
    /// Extra URL prefix SNS signing certificates may come from besides
    /// `https://sns.<region>.amazonaws.com/` (the emulator's, in the sandbox).
    pub sns_certificate_url_prefix: Option<String>,
    /// GetEntitlements calls per second per seller account (AWS's quota is 20).
    pub get_entitlements_per_second: u32,
    /// How often failed entitlement reads are retried and expiry notices sent (default 30 s).
    #[serde(deserialize_with = "duration")]
    pub housekeeping_interval: Duration,
}

impl Default for EntitlementConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            check_fresh_within: Duration::from_secs(10),
            check_max_staleness: Duration::from_secs(300),
            check_fail_open_features: Vec::new(),
            snapshot_poll_interval: Duration::from_secs(1),
            snapshot_full_reload: Duration::from_secs(300),
            sqs_wait_time: Duration::from_secs(20),
            sns_max_age: Duration::from_secs(3600),
            sns_certificate_url_prefix: None,
            get_entitlements_per_second: GET_ENTITLEMENTS_PER_SECOND,
            housekeeping_interval: Duration::from_secs(30),
        }
    }
}

impl EntitlementConfig {
    /// Checks the settings; the error names the bad setting.
    pub fn validate(&self) -> Result<(), souk_core::Error> {
        let mut v = souk_core::error::Violations::new();
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            v.add("public_url", "must be an http:// or https:// URL");
        }
        if self.check_max_staleness < self.check_fresh_within {
            v.add("check_max_staleness", "must be at least check_fresh_within");
        }
        for (name, value) in [
            ("check_fresh_within", self.check_fresh_within),
            ("snapshot_poll_interval", self.snapshot_poll_interval),
            ("snapshot_full_reload", self.snapshot_full_reload),
            ("sns_max_age", self.sns_max_age),
            ("housekeeping_interval", self.housekeeping_interval),
        ] {
            if value.is_zero() {
                v.add(name, "must be positive");
            }
        }
        if self.sqs_wait_time > Duration::from_secs(20) {
            v.add("sqs_wait_time", "must be at most 20 s (SQS's limit)");
        }
        if !(1..=20).contains(&self.get_entitlements_per_second) {
            v.add(
                "get_entitlements_per_second",
                "must be 1 to 20 (AWS's quota is 20 per second)",
            );
        }
        v.finish()
    }
}
