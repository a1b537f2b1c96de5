//! The usage report: what the metering service recorded for an organisation, and how much of it
//! AWS accepted, refused or is still to receive, per period (UTC day or month), customer,
//! product and dimension. The records come from the metering service's store through
//! [`MeteredUsage`]; the reconciliation (reconciliation.rs) compares the same records with the
//! billing events.

use std::collections::BTreeMap;
use std::sync::Arc;

use souk_core::Id;
use time::{Date, Duration, Month as CalendarMonth, OffsetDateTime, Time};

use super::error::Error;
use super::ports::{Acting, MeteredQuery, MeteredState, MeteredUsage};
use super::revenue::Reports;

/// The length of a usage report's periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One UTC day.
    Day,
    /// One calendar month (UTC).
    Month,
}

/// What a usage report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRequest {
    /// First day.
    pub start: Date,
    /// Day after the last day.
    pub end: Date,
    /// Length of the periods.
    pub granularity: Granularity,
    /// Only usage shipping through this integration.
    pub integration_id: Option<Id>,
    /// Only this customer (`cus_...`).
    pub customer_id: Option<String>,
    /// Only this product code.
    pub product_code: Option<String>,
    /// Only this dimension.
    pub dimension: Option<String>,
}

/// Usage of one customer, product and dimension in one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageRow {
    /// First day of the period.
    pub start: Option<Date>,
    /// Day after its last day.
    pub end: Option<Date>,
    /// The customer (`cus_...`).
    pub customer_id: String,
    /// Product code.
    pub product_code: String,
    /// Dimension.
    pub dimension: String,
    /// Recorded through RecordUsage: the three below together.
    pub recorded: i64,
    /// Accepted by AWS.
    pub shipped: i64,
    /// Refused by AWS.
    pub rejected: i64,
    /// Not shipped yet.
    pub pending: i64,
}

/// One calendar month (UTC) of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub label: String,
    /// Its first instant.
    pub start: OffsetDateTime,
    /// The first instant of the next month.
    pub end: OffsetDateTime,
}

/// The whole months covering `[start, end)`; without `start`, the `default_months` months up
/// to the one holding `end`.
pub fn months(
    start: Option<OffsetDateTime>,
    end: OffsetDateTime,
    default_months: u32,
) -> Vec<Month> {
    let last = month_start(end - Duration::nanoseconds(1));
    let mut first = match start {
        Some(start) => month_start(start),
        None => {
            let mut first = last;
            for _ in 1..default_months {
                first = previous_month(first);
            }
            first
        }
    };
    let mut months = Vec::new();
    while first <= last {
        let next = next_month(first);
        months.push(Month {
            label: format!("{:04}-{:02}", first.year(), u8::from(first.month())),
            start: first,
            end: next,
        });
        first = next;
    }
    months
}

fn month_start(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let day = Date::from_calendar_date(at.year(), at.month(), 1).unwrap_or(at.date());
    day.with_time(Time::MIDNIGHT).assume_utc()
}

fn next_month(first: OffsetDateTime) -> OffsetDateTime {
    let (year, month) = match first.month() {
        CalendarMonth::December => (first.year() + 1, CalendarMonth::January),
        month => (first.year(), month.next()),
    };
    Date::from_calendar_date(year, month, 1)
        .unwrap_or(first.date())
        .with_time(Time::MIDNIGHT)
        .assume_utc()
}

fn previous_month(first: OffsetDateTime) -> OffsetDateTime {
    month_start(first - Duration::days(1))
}

/// The periods `[start, end)` of `granularity` covering the days `[start, end)`, the last one
/// cut at `end`.
pub fn periods(start: Date, end: Date, granularity: Granularity) -> Vec<(Date, Date)> {
    let mut periods = Vec::new();
    let mut day = start;
    while day < end {
        let next = match granularity {
            Granularity::Day => day.next_day().unwrap_or(end),
            Granularity::Month => next_month(day.with_time(Time::MIDNIGHT).assume_utc()).date(),
        };
        let next = next.min(end);
        periods.push((day, next));
        day = next;
    }
    periods
}

/// The usage report and the reconciliation use cases.
#[derive(Clone)]
pub struct UsageReports {
    reports: Reports,
    metered: Option<Arc<dyn MeteredUsage>>,
}

impl std::fmt::Debug for UsageReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageReports")
            .field("reads_metering", &self.metered.is_some())
            .finish_non_exhaustive()
    }
}

impl UsageReports {
    /// Over `reports` (the billing events, names and clock) and the metering service's
    /// records (`None` when this process cannot read them).
    pub fn new(reports: Reports, metered: Option<Arc<dyn MeteredUsage>>) -> Self {
        Self { reports, metered }
    }

    /// The billing event reports.
    pub(super) fn reports(&self) -> &Reports {
        &self.reports
    }

    /// Whether this process reads the metering records.
    pub(super) fn reads_metering(&self) -> bool {
        self.metered.is_some()
    }

    /// The metering records, or why they cannot be read.
    pub(super) fn metered(&self) -> Result<&Arc<dyn MeteredUsage>, Error> {
        self.metered.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this process does not read the metering service's records; serve the reporting \
                 service from `souk dev` or `souk serve` with the metering store in the same database"
                    .to_owned(),
            )
        })
    }

    /// `request`'s rows from row `offset` on, at most `limit`, ordered by period, customer,
    /// product and dimension.
    pub async fn usage(
        &self,
        organization_id: &Id,
        request: &UsageRequest,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<UsageRow>, Error> {
        let metered = self.metered()?;
        if let Some(integration_id) = &request.integration_id {
            // Another organisation's integration is NOT_FOUND, as on every report.
            let acting = Acting {
                organization_id: organization_id.clone(),
                integration_id: integration_id.clone(),
            };
            self.reports.seller_account(&acting).await?;
        }
        let periods = periods(request.start, request.end, request.granularity);
        let query = MeteredQuery {
            integration_id: request.integration_id.clone(),
            customer_id: request.customer_id.clone(),
            product_codes: request.product_code.iter().cloned().collect(),
            dimension: request.dimension.clone(),
            periods: periods
                .iter()
                .map(|(start, end)| {
                    (
                        start.with_time(Time::MIDNIGHT).assume_utc(),
                        end.with_time(Time::MIDNIGHT).assume_utc(),
                    )
                })
                .collect(),
        };
        let totals = metered.totals(organization_id, &query).await?;
        let mut rows: BTreeMap<(usize, String, String, String), UsageRow> = BTreeMap::new();
        for total in totals {
            let Some((start, end)) = periods.get(total.period) else {
                continue;
            };
            let row = rows
                .entry((
                    total.period,
                    total.customer_id.clone(),
                    total.product_code.clone(),
                    total.dimension.clone(),
                ))
                .or_insert_with(|| UsageRow {
                    start: Some(*start),
                    end: Some(*end),
                    customer_id: total.customer_id,
                    product_code: total.product_code,
                    dimension: total.dimension,
                    ..UsageRow::default()
                });
            let quantity = total.quantity;
            match total.state {
                MeteredState::Shipped => row.shipped = row.shipped.saturating_add(quantity),
                MeteredState::Rejected => row.rejected = row.rejected.saturating_add(quantity),
                MeteredState::Pending => row.pending = row.pending.saturating_add(quantity),
            }
            row.recorded = row.recorded.saturating_add(quantity);
        }
        Ok(rows.into_values().skip(offset).take(limit).collect())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn months_cover_the_range_whole_and_default_to_a_year_back() {
        let labels = |months: Vec<Month>| months.into_iter().map(|m| m.label).collect::<Vec<_>>();
        assert_eq!(
            labels(months(
                Some(datetime!(2026-11-15 10:00 UTC)),
                datetime!(2027-02-01 0:00 UTC),
                12
            )),
            ["2026-11", "2026-12", "2027-01"]
        );
        let year = months(None, datetime!(2026-12-01 9:30 UTC), 12);
        assert_eq!(year.len(), 12);
        assert_eq!(year[0].label, "2026-01");
        assert_eq!(year[11].label, "2026-12");
        assert_eq!(year[11].start, datetime!(2026-12-01 0:00 UTC));
        assert_eq!(year[11].end, datetime!(2027-01-01 0:00 UTC));
    }

    #[test]
    fn periods_are_days_or_months_and_the_last_is_cut_at_the_end() {
        assert_eq!(
            periods(
                date!(2026 - 11 - 29),
                date!(2026 - 12 - 01),
                Granularity::Day
            ),
            [
                (date!(2026 - 11 - 29), date!(2026 - 11 - 30)),
                (date!(2026 - 11 - 30), date!(2026 - 12 - 01)),
            ]
        );
        assert_eq!(
            periods(
                date!(2026 - 11 - 15),
                date!(2027 - 01 - 10),
                Granularity::Month
            ),
            [
                (date!(2026 - 11 - 15), date!(2026 - 12 - 01)),
                (date!(2026 - 12 - 01), date!(2027 - 01 - 01)),
                (date!(2027 - 01 - 01), date!(2027 - 01 - 10)),
            ]
        );
    }
}
