//! [`At`], the one way the emulator holds an instant: Unix time in whole milliseconds, UTC.
//!
//! The clock hands it out ([`crate::clock::EmulatorClock::now_at`]), every module keeps it in
//! its state and compares deadlines with it. Wire forms are conversions at the edges: awsJson
//! epoch seconds with a fraction ([`At::from_seconds_f64`], [`At::seconds_f64`]), CBOR tag-1
//! timestamps (the same numbers), RFC 3339 ([`At::parse_rfc3339`], [`At::rfc3339`]), SQS
//! millisecond attributes ([`At::millis`]) and the control API's whole epoch seconds
//! ([`At::seconds`]). Milliseconds are the finest unit any of them, or the clock offset, carries.
//!
//! Each state field keeps the JSON form it had before this type existed, so state files of
//! either age load: plain `At` is integer milliseconds (SQS, notification retries); fields
//! marked `#[serde(with = "crate::at::seconds")]`, [`rfc3339`] or [`offset_datetime`] keep
//! whole epoch seconds, RFC 3339 strings or `time`'s own serde form.

use std::ops::{Add, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime};

/// An instant: milliseconds since 1970-01-01T00:00:00Z, kept within the years −9999..=9999 that
/// `time` can show, so converting to a calendar date never fails and arithmetic saturates
/// instead of overflowing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At(i64);

const MILLIS_PER_SECOND: i64 = 1000;

impl At {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Self = Self(0);
    /// -9999-01-01T00:00:00Z, the first instant `time` can show.
    pub const MIN: Self = Self(-377_705_116_800_000);
    /// 9999-12-31T23:59:59.999Z, the last millisecond `time` can show.
    pub const MAX: Self = Self(253_402_300_799_999);

    /// `millis` since the epoch, clamped to [`At::MIN`]..=[`At::MAX`].
    pub const fn from_millis(millis: i64) -> Self {
        if millis < Self::MIN.0 {
            Self::MIN
        } else if millis > Self::MAX.0 {
            Self::MAX
        } else {
            Self(millis)
        }
    }

    /// Whole epoch `seconds`, clamped like [`At::from_millis`].
    pub const fn from_seconds(seconds: i64) -> Self {
        Self::from_millis(seconds.saturating_mul(MILLIS_PER_SECOND))
    }

    /// Whole epoch `seconds` from input, or `None` outside [`At::MIN`]..=[`At::MAX`] (where
    /// clamping would change the value a caller gave).
    pub fn checked_from_seconds(seconds: i64) -> Option<Self> {
        let millis = seconds.checked_mul(MILLIS_PER_SECOND)?;
        (Self::MIN.0..=Self::MAX.0)
            .contains(&millis)
            .then_some(Self(millis))
    }

    /// Epoch seconds with a fraction (awsJson and CBOR timestamps), clamped like
    /// [`At::from_millis`]; `None` when not finite. The whole seconds are exact (rounded down, as
    /// the hour a record bills in always was); the fraction is rounded to the millisecond,
    /// because `1.7e9 + 0.123` sent as a double may sit a hair below `.123`.
    pub fn from_seconds_f64(seconds: f64) -> Option<Self> {
        if !seconds.is_finite() {
            return None;
        }
        let whole = seconds.floor();
        if whole < Self::MIN.seconds() as f64 {
            return Some(Self::MIN);
        }
        if whole > Self::MAX.seconds() as f64 {
            return Some(Self::MAX);
        }
        // `seconds - whole` is exact for doubles; 999 keeps a rounded fraction in its second.
        let fraction = ((seconds - whole) * 1000.0).round().min(999.0) as i64;
        Some(Self(whole as i64 * MILLIS_PER_SECOND + fraction))
    }

    /// The instant `at` names, rounded down to the millisecond.
    pub fn from_offset_datetime(at: OffsetDateTime) -> Self {
        let millis = at.unix_timestamp_nanos().div_euclid(1_000_000);
        let saturated = if millis < 0 { i64::MIN } else { i64::MAX };
        Self::from_millis(i64::try_from(millis).unwrap_or(saturated))
    }

    /// Parses RFC 3339 (any offset), or `None`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(Self::from_offset_datetime)
    }

    /// Milliseconds since the epoch (SQS timestamps).
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down (the control API, awsJson and CBOR whole
    /// seconds).
    pub const fn seconds(self) -> i64 {
        self.0.div_euclid(MILLIS_PER_SECOND)
    }

    /// Seconds since the epoch with the milliseconds as a fraction.
    pub fn seconds_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The same instant as a `time` value in UTC, for calendar arithmetic and formatting.
    pub fn to_offset_datetime(self) -> OffsetDateTime {
        // Every `At` is within `time`'s range, so the fallback is never taken.
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC (`2026-11-22T12:00:00Z`, with `.123` when there are milliseconds); empty
    /// for years RFC 3339 cannot write (before year 0).
    pub fn rfc3339(self) -> String {
        self.to_offset_datetime()
            .format(&Rfc3339)
            .unwrap_or_default()
    }

    /// The UTC calendar date.
    pub fn date(self) -> Date {
        self.to_offset_datetime().date()
    }

    /// Rounded down to the whole second: the precision of times kept in whole seconds.
    pub const fn floor_seconds(self) -> Self {
        Self(self.0 - self.0.rem_euclid(MILLIS_PER_SECOND))
    }

    /// The start of the hour (what a metering record bills in).
    pub const fn floor_hour(self) -> Self {
        Self(self.0 - self.0.rem_euclid(3600 * MILLIS_PER_SECOND))
    }
}

fn duration_millis(by: Duration) -> i64 {
    let saturated = if by.is_negative() { i64::MIN } else { i64::MAX };
    i64::try_from(by.whole_milliseconds()).unwrap_or(saturated)
}

impl Add<Duration> for At {
    type Output = Self;

    /// Saturates at [`At::MIN`] / [`At::MAX`]; sub-millisecond parts of `by` are dropped.
    fn add(self, by: Duration) -> Self {
        Self::from_millis(self.0.saturating_add(duration_millis(by)))
    }
}

impl Sub<Duration> for At {
    type Output = Self;

    /// Saturates like `+`.
    fn sub(self, by: Duration) -> Self {
        Self::from_millis(self.0.saturating_sub(duration_millis(by)))
    }
}

impl Sub for At {
    type Output = Duration;

    fn sub(self, earlier: Self) -> Duration {
        Duration::milliseconds(self.0 - earlier.0)
    }
}

impl From<OffsetDateTime> for At {
    fn from(at: OffsetDateTime) -> Self {
        Self::from_offset_datetime(at)
    }
}

impl From<At> for OffsetDateTime {
    fn from(at: At) -> Self {
        at.to_offset_datetime()
    }
}

/// Integer milliseconds: the form of SQS and notification-retry times in the state file.
impl Serialize for At {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Self::from_millis)
    }
}

/// `#[serde(with)]` form: whole epoch seconds, an integer (market, STS and queue creation
/// times). The values kept in these fields are whole seconds, so nothing is lost.
pub mod seconds {
    use super::{At, Deserialize, Deserializer, Serializer};

    /// Writes [`At::seconds`].
    pub fn serialize<S: Serializer>(at: &At, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(at.seconds())
    }

    /// Reads whole epoch seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<At, D::Error> {
        i64::deserialize(deserializer).map(At::from_seconds)
    }

    /// The same for `Option<At>` (`null` when absent).
    pub mod option {
        use super::super::{At, Deserialize, Deserializer, Serializer};

        /// Writes [`At::seconds`] or `null`.
        pub fn serialize<S: Serializer>(at: &Option<At>, serializer: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => serializer.serialize_some(&at.seconds()),
                None => serializer.serialize_none(),
            }
        }

        /// Reads whole epoch seconds or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<At>, D::Error> {
            Option::<i64>::deserialize(deserializer).map(|s| s.map(At::from_seconds))
        }
    }
}

/// `#[serde(with)]` form: RFC 3339 strings, as `time::serde::rfc3339` writes them (agreements
/// and invoices, which the control API also shows as they are stored).
pub mod rfc3339 {
    use super::{At, Deserializer, Serializer};

    /// Writes RFC 3339.
    pub fn serialize<S: Serializer>(at: &At, serializer: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(&at.to_offset_datetime(), serializer)
    }

    /// Reads RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<At, D::Error> {
        time::serde::rfc3339::deserialize(deserializer).map(At::from_offset_datetime)
    }

    /// The same for `Option<At>`.
    pub mod option {
        use super::super::{At, Deserializer, Serializer};

        /// Writes RFC 3339 or `null`.
        pub fn serialize<S: Serializer>(at: &Option<At>, serializer: S) -> Result<S::Ok, S::Error> {
            time::serde::rfc3339::option::serialize(&at.map(At::to_offset_datetime), serializer)
        }

        /// Reads RFC 3339 or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<At>, D::Error> {
            time::serde::rfc3339::option::deserialize(deserializer)
                .map(|at| at.map(At::from_offset_datetime))
        }
    }
}

/// `#[serde(with)]` form: whatever `time::OffsetDateTime` serializes as (catalog and feed times,
/// and the billing events the control API lists).
pub mod offset_datetime {
    use super::{At, Deserialize, Deserializer, OffsetDateTime, Serialize, Serializer};

    /// Writes the `time` form.
    pub fn serialize<S: Serializer>(at: &At, serializer: S) -> Result<S::Ok, S::Error> {
        at.to_offset_datetime().serialize(serializer)
    }

    /// Reads the `time` form.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<At, D::Error> {
        OffsetDateTime::deserialize(deserializer).map(At::from_offset_datetime)
    }

    /// The same for `Option<At>`.
    pub mod option {
        use super::super::{At, Deserialize, Deserializer, OffsetDateTime, Serialize, Serializer};

        /// Writes the `time` form or `null`.
        pub fn serialize<S: Serializer>(at: &Option<At>, serializer: S) -> Result<S::Ok, S::Error> {
            at.map(At::to_offset_datetime).serialize(serializer)
        }

        /// Reads the `time` form or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<At>, D::Error> {
            Option::<OffsetDateTime>::deserialize(deserializer)
                .map(|at| at.map(At::from_offset_datetime))
        }
    }

    /// The same for an optional period `(start, end)`.
    pub mod option_pair {
        use super::super::{At, Deserialize, Deserializer, OffsetDateTime, Serialize, Serializer};

        /// Writes the `time` form of both ends or `null`.
        pub fn serialize<S: Serializer>(
            period: &Option<(At, At)>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            period
                .map(|(start, end)| (start.to_offset_datetime(), end.to_offset_datetime()))
                .serialize(serializer)
        }

        /// Reads the `time` form of both ends or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<(At, At)>, D::Error> {
            Option::<(OffsetDateTime, OffsetDateTime)>::deserialize(deserializer).map(|period| {
                period.map(|(start, end)| {
                    (
                        At::from_offset_datetime(start),
                        At::from_offset_datetime(end),
                    )
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    use super::At;

    /// 2023-11-14T22:13:20.123Z.
    const AT: At = At::from_millis(1_700_000_000_123);

    #[test]
    fn every_edge_form_round_trips() {
        // awsJson: epoch seconds with a fraction, as the SDKs send them.
        let body = json!({ "Timestamp": AT.seconds_f64() }).to_string();
        assert_eq!(body, r#"{"Timestamp":1700000000.123}"#);
        let sent: serde_json::Value = serde_json::from_str(&body).expect("json");
        let read = crate::metering::timestamp(&sent["Timestamp"]).map(|t| t.at);
        assert_eq!(read, Some(AT));

        // CBOR: tag-1 epoch timestamps, whole (entitlements, agreements) and fractional.
        for (value, expected) in [
            (json!(AT.seconds()), AT.floor_seconds()),
            (json!(AT.seconds_f64()), AT),
        ] {
            let cbor = crate::wire::cbor::json_to_cbor(&json!({ "T": value }), &["T"]);
            let mut bytes = Vec::new();
            ciborium::ser::into_writer(&cbor, &mut bytes).expect("cbor");
            assert_eq!(bytes[3], 0xc1, "tag 1 after the map and key headers");
            let decoded = crate::wire::cbor::decode_request(&bytes).expect("decode");
            let read = decoded["T"].as_f64().and_then(At::from_seconds_f64);
            assert_eq!(read, Some(expected));
        }

        // RFC 3339: the control API, agreements, STS `Expiration`.
        assert_eq!(AT.rfc3339(), "2023-11-14T22:13:20.123Z");
        assert_eq!(AT.floor_seconds().rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(At::parse_rfc3339(&AT.rfc3339()), Some(AT));
        assert_eq!(At::parse_rfc3339("2023-11-14T23:13:20.123+01:00"), Some(AT));
        assert_eq!(
            AT.to_offset_datetime(),
            datetime!(2023-11-14 22:13:20.123 UTC)
        );
        assert_eq!(At::from(datetime!(2023-11-14 22:13:20.123456789 UTC)), AT);

        // SQS: millisecond attributes (`SentTimestamp`), and a message keeps its instant.
        let mut queue = crate::sqs::queue::Queue::new("111122223333", "q", Default::default(), AT)
            .expect("queue");
        let sent = queue
            .send("m".into(), Default::default(), None, AT)
            .expect("send");
        assert_eq!(sent.sent_at.millis().to_string(), "1700000000123");
        assert_eq!(At::from_millis(sent.sent_at.millis()), AT);
        let attributes = queue
            .attribute_values(&["CreatedTimestamp".to_owned()], "arn", AT)
            .expect("attributes");
        assert_eq!(attributes["CreatedTimestamp"], "1700000000");

        // The control API: whole epoch seconds.
        assert_eq!(AT.seconds(), 1_700_000_000);
        assert_eq!(
            At::checked_from_seconds(AT.seconds()),
            Some(AT.floor_seconds())
        );
        assert_eq!(At::checked_from_seconds(i64::MAX / 1000), None);
    }

    #[test]
    fn each_persisted_form_is_the_one_the_state_file_had() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Fields {
            millis: At,
            #[serde(with = "crate::at::seconds")]
            seconds: At,
            #[serde(with = "crate::at::seconds::option")]
            maybe_seconds: Option<At>,
            #[serde(with = "crate::at::rfc3339")]
            rfc3339: At,
            #[serde(with = "crate::at::offset_datetime")]
            offset_datetime: At,
            #[serde(with = "crate::at::offset_datetime::option_pair")]
            period: Option<(At, At)>,
        }
        // As written before `At`: `time`'s tuple carries nanoseconds, RFC 3339 too.
        let before = json!({
            "millis": 1_700_000_000_123_i64,
            "seconds": 1_700_000_000,
            "maybe_seconds": null,
            "rfc3339": "2023-11-14T22:13:20.123456789Z",
            "offset_datetime": [2023, 318, 22, 13, 20, 123_456_789, 0, 0, 0],
            "period": [[2023, 318, 22, 0, 0, 0, 0, 0, 0], [2023, 318, 22, 59, 59, 0, 0, 0, 0]],
        });
        let read: Fields = serde_json::from_value(before).expect("old form");
        let hour = AT.floor_hour();
        assert_eq!(
            read,
            Fields {
                millis: AT,
                seconds: AT.floor_seconds(),
                maybe_seconds: None,
                rfc3339: AT,
                offset_datetime: AT,
                period: Some((hour, hour + Duration::HOUR - Duration::SECOND)),
            }
        );
        let written = serde_json::to_value(&read).expect("write");
        assert_eq!(written["seconds"], 1_700_000_000);
        assert_eq!(written["rfc3339"], "2023-11-14T22:13:20.123Z");
        assert_eq!(
            written["offset_datetime"],
            json!([2023, 318, 22, 13, 20, 123_000_000, 0, 0, 0])
        );
        assert_eq!(
            serde_json::from_value::<Fields>(written).expect("again"),
            read
        );
    }

    #[test]
    fn fractions_and_bounds() {
        // 1700000000.123 as a double is a hair below .123: still 123 ms.
        assert_eq!(At::from_seconds_f64(1_700_000_000.123), Some(AT));
        // A fraction rounding up stays in its second (and its hour).
        let late = At::from_seconds_f64(3599.9996).expect("finite");
        assert_eq!((late.seconds(), late.floor_hour()), (3599, At::UNIX_EPOCH));
        assert_eq!(At::from_seconds_f64(-0.5).map(At::seconds), Some(-1));
        assert_eq!(At::from_seconds_f64(f64::NAN), None);
        assert_eq!(At::from_seconds_f64(1e300), Some(At::MAX));
        assert_eq!(At::from_millis(-1).floor_hour(), At::from_seconds(-3600));

        assert_eq!(
            At::MIN.to_offset_datetime(),
            datetime!(-9999-01-01 0:00 UTC)
        );
        assert_eq!(
            At::MAX.to_offset_datetime(),
            datetime!(9999-12-31 23:59:59.999 UTC)
        );
        assert_eq!(At::MAX + Duration::MAX, At::MAX);
        assert_eq!(At::MIN - Duration::MAX, At::MIN);
        assert_eq!(At::from_seconds(i64::MIN), At::MIN);
        assert_eq!((AT + Duration::HOUR) - AT, Duration::HOUR);
    }
}
