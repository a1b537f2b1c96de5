//! Value formats shared by the Catalog and Agreement emulation: identifiers, ISO-8601 dates and
//! durations, decimal prices as integer micros.

use time::macros::format_description;
use time::{Date, Time};

use crate::at::At;

/// A new opaque identifier: `prefix` followed by `len` lower-case alphanumerics.
pub fn new_id(prefix: &str, len: usize) -> String {
    let mut tail = String::with_capacity(len);
    while tail.len() < len {
        tail.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    tail.truncate(len);
    format!("{prefix}{tail}")
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the catalog's `DateTimeISO8601`.
pub fn iso_seconds(at: At) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset_datetime().format(&format).unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SS.000Z`, as DescribeEntity shows dates inside documents.
pub fn iso_millis(at: At) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset_datetime().format(&format).unwrap_or_default()
}

/// Parses a strict calendar date `YYYY-MM-DD`.
pub fn parse_date(value: &str) -> Option<Date> {
    let format = format_description!("[year]-[month]-[day]");
    if value.len() != 10 {
        return None;
    }
    Date::parse(value, &format).ok()
}

/// Parses a `DateTimeISO8601` filter value (`YYYY-MM-DDTHH:MM:SSZ`, with or without millis).
pub fn parse_datetime(value: &str) -> Option<At> {
    At::parse_rfc3339(value)
}

/// Midnight UTC at the start of `date`.
pub fn start_of(date: Date) -> At {
    At::from_offset_datetime(date.with_time(Time::MIDNIGHT).assume_utc())
}

/// The last millisecond (23:59:59.999 UTC) of `date`.
pub fn end_of(date: Date) -> At {
    let last = Time::from_hms_milli(23, 59, 59, 999).unwrap_or(Time::MIDNIGHT);
    At::from_offset_datetime(date.with_time(last).assume_utc())
}

/// An ISO-8601 duration of the catalog's form `P(nY)(nM)(nD)` (at least one part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoDuration {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Days.
    pub days: u32,
}

impl IsoDuration {
    /// Parses `P12M`, `P1Y`, `P365D`, `P1Y6M`...
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix('P')?;
        if rest.is_empty() {
            return None;
        }
        let mut out = Self::default();
        let mut number = String::new();
        let mut last_unit = 0u8;
        for c in rest.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: u32 = number.parse().ok()?;
            number.clear();
            let unit = match c {
                'Y' => 1,
                'M' => 2,
                'D' => 3,
                _ => return None,
            };
            if unit <= last_unit {
                return None;
            }
            last_unit = unit;
            match unit {
                1 => out.years = n,
                2 => out.months = n,
                _ => out.days = n,
            }
        }
        if !number.is_empty() {
            return None;
        }
        Some(out)
    }

    /// `from` moved forward by this duration (calendar months, clamped to the month's end).
    pub fn add_to(&self, from: At) -> At {
        let total_months = i64::from(self.years) * 12 + i64::from(self.months);
        let from = from.to_offset_datetime();
        let date = from.date();
        let month_index =
            i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1 + total_months;
        let year = i32::try_from(month_index.div_euclid(12)).unwrap_or(9999);
        let month = u8::try_from(month_index.rem_euclid(12) + 1).unwrap_or(1);
        let month = time::Month::try_from(month).unwrap_or(time::Month::January);
        let day = date.day().min(time::util::days_in_month(month, year));
        let Ok(moved) = Date::from_calendar_date(year, month, day) else {
            return end_of(Date::MAX);
        };
        At::from_offset_datetime(from.replace_date(moved))
            + time::Duration::days(i64::from(self.days))
    }

    /// Approximate length in days (for comparisons only).
    pub fn approx_days(&self) -> i64 {
        i64::from(self.years) * 365 + i64::from(self.months) * 30 + i64::from(self.days)
    }
}

/// Parses a non-negative decimal price string into integer micros (1e-6), at most `max_decimals`
/// decimals and at most 100000000.
pub fn parse_micros(value: &str, max_decimals: usize) -> Option<i64> {
    let (whole, fraction) = match value.split_once('.') {
        Some((w, f)) => (w, f),
        None => (value, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > max_decimals || whole.len() > 9 {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros = whole.checked_mul(1_000_000)?;
    for (i, digit) in fraction.chars().enumerate() {
        let d = i64::from(digit.to_digit(10)?);
        if i < 6 {
            micros += d * 10_i64.pow(u32::try_from(5 - i).ok()?);
        }
    }
    if micros > 100_000_000 * 1_000_000 {
        return None;
    }
    Some(micros)
}

/// Formats integer micros as a decimal string with two to six decimals.
pub fn format_micros(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let mut fraction = format!("{:06}", abs % 1_000_000);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{sign}{}.{fraction}", abs / 1_000_000)
}

/// A 12-digit AWS account id.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip() {
        assert_eq!(parse_micros("200.00", 2), Some(200_000_000));
        assert_eq!(parse_micros("0.0", 3), Some(0));
        assert_eq!(parse_micros("1.123", 2), None);
        assert_eq!(parse_micros("abc", 2), None);
        assert_eq!(format_micros(170_000_000), "170.00");
        assert_eq!(format_micros(1_500), "0.0015");
    }

    #[test]
    fn durations() {
        assert_eq!(
            IsoDuration::parse("P12M"),
            Some(IsoDuration {
                years: 0,
                months: 12,
                days: 0
            })
        );
        assert_eq!(
            IsoDuration::parse("P1Y6M3D").map(|d| d.approx_days()),
            Some(548)
        );
        assert!(IsoDuration::parse("P").is_none());
        assert!(IsoDuration::parse("PM").is_none());
        assert!(IsoDuration::parse("P3D1Y").is_none());
        let from =
            start_of(Date::from_calendar_date(2025, time::Month::January, 31).unwrap_or(Date::MIN));
        let to = IsoDuration {
            years: 0,
            months: 1,
            days: 0,
        }
        .add_to(from);
        assert_eq!(to.date().day(), 28);
    }

    #[test]
    fn huge_values_saturate_instead_of_overflowing() {
        let end = end_of(Date::MAX);
        assert_eq!(end.date(), Date::MAX);
        let far = IsoDuration::parse("P999999999Y4294967295D").unwrap_or_default();
        assert_eq!(far.add_to(start_of(Date::MIN)).date(), Date::MAX);
        assert_eq!(end + time::Duration::MAX, end_of(Date::MAX));
    }

    #[test]
    fn dates() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2024-1-01").is_none());
    }
}
