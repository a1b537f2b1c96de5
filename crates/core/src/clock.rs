//! Time as the domain sees it: always UTC, always from a [`Clock`] so tests can move it.

use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A source of the current UTC instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// A clock shared between components.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; for tests and for the emulator's buyer timeline.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock stopped at `start` (converted to UTC).
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start.to_offset(time::UtcOffset::UTC))),
        }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = at.to_offset(time::UtcOffset::UTC);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A clock truncated to whole milliseconds, the precision of stored instants: what a service
/// hands out is exactly what a later read returns.
#[derive(Debug)]
pub struct MillisClock(pub SharedClock);

impl Clock for MillisClock {
    fn now(&self) -> OffsetDateTime {
        let now = self.0.now();
        now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(now)
    }
}

/// Milliseconds since the Unix epoch: the portable way instants are stored in SQL.
pub fn to_unix_millis(at: OffsetDateTime) -> i64 {
    let nanos = at.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// The inverse of [`to_unix_millis`]; out-of-range values clamp to the Unix epoch.
pub fn from_unix_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The start of the UTC hour that contains `at`.
pub fn floor_to_hour(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-01-01 10:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 10:00 UTC));
        clock.advance(Duration::hours(2));
        assert_eq!(clock.now(), datetime!(2026-01-01 12:00 UTC));
    }

    #[test]
    fn millis_round_trip_and_hour_floor() {
        let at = datetime!(2026-03-04 05:06:07.089 UTC);
        assert_eq!(from_unix_millis(to_unix_millis(at)), at);
        assert_eq!(floor_to_hour(at), datetime!(2026-03-04 05:00 UTC));
    }
}
