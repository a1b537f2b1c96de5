//! UTC hours: the unit AWS bills usage in.

use time::{Duration, OffsetDateTime};

/// How far back AWS accepts a usage record's timestamp.
pub const AWS_WINDOW: Duration = Duration::hours(6);

/// Time a sealed record needs to reach AWS before its hour leaves the window: usage of an hour
/// older than `AWS_WINDOW - SHIPPING_MARGIN` counts towards the current hour (late events at
/// ingestion, and never-sent records at sealing: see [`carry_before`]).
pub const SHIPPING_MARGIN: Duration = Duration::hours(1);

/// Records of hours starting before this instant, never sent, are carried into the current
/// hour by a sealing pass at `now`.
pub fn carry_before(now: OffsetDateTime) -> OffsetDateTime {
    now - (AWS_WINDOW - SHIPPING_MARGIN)
}

/// Start of the UTC hour containing `at`.
pub fn floor_hour(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(at)
}

/// Unix milliseconds of `at` (how instants are stored and ordered).
pub fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn hours_start_on_the_hour_in_utc() {
        assert_eq!(
            floor_hour(datetime!(2026-11-30 10:59:59.999 UTC)),
            datetime!(2026-11-30 10:00 UTC)
        );
        assert_eq!(
            floor_hour(datetime!(2026-11-30 12:30 +02:00)),
            datetime!(2026-11-30 10:00 UTC)
        );
    }
}
