//! Catalog days as instants: an `AvailabilityEndDate` or `AgreementEndDate` runs to the last
//! millisecond of its day, a `ChargeDate` or `AgreementStartDate` starts at 00:00 UTC, and a
//! duration of months moves the day of the month (clamped to the month's length).

use time::{Date, Month, OffsetDateTime, Time};

/// The last millisecond of `day`, UTC.
pub fn end_of_day(day: Date) -> OffsetDateTime {
    start_of_day(day) + time::Duration::days(1) - time::Duration::milliseconds(1)
}

/// The first instant of `day`, UTC.
pub fn start_of_day(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_utc()
}

/// `day` moved `months` later, the day of the month clamped to the target month's last day;
/// `None` past the calendar's end.
pub fn add_months(day: Date, months: u32) -> Option<Date> {
    let index =
        i64::from(day.year()) * 12 + i64::from(u8::from(day.month())) - 1 + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, day.day().min(last)).ok()
}

/// `YYYY-MM-DD`, as the Catalog API takes days.
pub fn iso(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        assert_eq!(
            add_months(date!(2026 - 01 - 31), 1),
            Some(date!(2026 - 02 - 28))
        );
        assert_eq!(
            add_months(date!(2026 - 11 - 30), 14),
            Some(date!(2028 - 01 - 30))
        );
        assert_eq!(
            add_months(date!(2026 - 12 - 15), 0),
            Some(date!(2026 - 12 - 15))
        );
    }

    #[test]
    fn days_run_from_midnight_to_the_last_millisecond() {
        assert_eq!(
            start_of_day(date!(2026 - 12 - 01)),
            datetime!(2026-12-01 00:00 UTC)
        );
        assert_eq!(
            end_of_day(date!(2026 - 12 - 01)),
            datetime!(2026-12-01 23:59:59.999 UTC)
        );
        assert_eq!(iso(date!(2027 - 03 - 04)), "2027-03-04");
    }
}
