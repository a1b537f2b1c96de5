//! Settings of the offer service: the `[offer]` section of the configuration file,
//! `SOUK_OFFER__<KEY>` in the environment.

use std::time::Duration;

use serde::Deserialize;
use souk_service::config::duration;

use crate::domain::TrackOptions;

/// How the offer tracker paces its calls to AWS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfferConfig {
    /// How often the tracker looks for offers due a check (default 1 s).
    #[serde(deserialize_with = "duration")]
    pub track_interval: Duration,
    /// First wait before DescribeChangeSet is asked again; doubled each time up to
    /// `max_poll` (default 2 s).
    #[serde(deserialize_with = "duration")]
    pub first_poll: Duration,
    /// Longest wait between two looks at a running change set, or after a failed call
    /// (default 60 s).
    #[serde(deserialize_with = "duration")]
    pub max_poll: Duration,
    /// How often a released offer is checked for an agreement (default 60 s).
    #[serde(deserialize_with = "duration")]
    pub acceptance_poll: Duration,
    /// Days before the expiry at which a released offer nobody accepted yet earns an
    /// `offer.expiring` event, each once (default 7 and 1).
    pub expiring_reminder_days: Vec<u32>,
    /// Run the tracker in this process (default true).
    pub track: bool,
}

impl Default for OfferConfig {
    fn default() -> Self {
        let options = TrackOptions::default();
        Self {
            track_interval: Duration::from_secs(1),
            first_poll: options.first_poll,
            max_poll: options.max_poll,
            acceptance_poll: options.acceptance_poll,
            expiring_reminder_days: options.reminder_days,
            track: true,
        }
    }
}

impl OfferConfig {
    /// Checks the values a start-up would otherwise trip over.
    pub fn validate(&self) -> Result<(), souk_core::Error> {
        let positive = [
            ("offer.track_interval", self.track_interval),
            ("offer.first_poll", self.first_poll),
            ("offer.max_poll", self.max_poll),
            ("offer.acceptance_poll", self.acceptance_poll),
        ];
        for (field, value) in positive {
            if value.is_zero() {
                return Err(souk_core::Error::invalid_field(field, "must be positive"));
            }
        }
        if self.max_poll < self.first_poll {
            return Err(souk_core::Error::invalid_field(
                "offer.max_poll",
                "must be at least first_poll",
            ));
        }
        Ok(())
    }

    /// The tracker's pacing, reminders largest first.
    pub fn track_options(&self) -> TrackOptions {
        let mut reminder_days = self.expiring_reminder_days.clone();
        reminder_days.sort_unstable_by(|a, b| b.cmp(a));
        reminder_days.dedup();
        TrackOptions {
            first_poll: self.first_poll,
            max_poll: self.max_poll,
            acceptance_poll: self.acceptance_poll,
            reminder_days,
            ..TrackOptions::default()
        }
    }
}
