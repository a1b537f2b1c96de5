//! Requests as the use cases' values: ids, time ranges, dates, filters, groupings and pages,
//! collecting every field violation so that one reply names every bad field.

use souk_core::access::Caller;
use souk_core::error::Violations;
use souk_core::validate::aws_account_id;
use souk_core::{PageRequest, PageScope};
use souk_proto::reporting as pb;
use souk_service::convert::{finish, id, instant};
use time::OffsetDateTime;

use crate::domain::Error;
use crate::domain::billing_event::BillingAction;
use crate::domain::billing_events::EventFilter;
use crate::domain::filter::Filter;
use crate::domain::ports::Acting;
use crate::domain::revenue::Grouping;
use crate::domain::usage::{Granularity, UsageRequest};

pub(super) fn acting(
    v: &mut Violations,
    caller: &souk_core::access::Caller,
    integration_id: &str,
) -> Acting {
    Acting {
        organization_id: caller.organization_id.clone(),
        integration_id: id(v, "integration_id", "int", integration_id),
    }
}

/// `start_time` and `end_time`, each optional, the end after the start.
pub(super) fn range(
    v: &mut Violations,
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
    let mut at = |field: &str, raw: Option<&prost_types::Timestamp>| {
        raw.and_then(|t| match instant(t) {
            Ok(at) => Some(at),
            Err(reason) => {
                v.add(field, reason);
                None
            }
        })
    };
    let start = at("start_time", start);
    let end = at("end_time", end);
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        v.add("end_time", "must be after start_time");
    }
    (start, end)
}

/// The filter of a report request: at most 100 values per list, account ids of 12 digits.
pub(super) fn filter(v: &mut Violations, raw: Option<&pb::ReportFilter>) -> Filter {
    let Some(raw) = raw else {
        return Filter::default();
    };
    let mut list = |field: &str, values: &[String], account: bool| -> Vec<String> {
        if values.len() > MAX_FILTER_VALUES {
            v.add(
                format!("filter.{field}"),
                format!("must hold at most {MAX_FILTER_VALUES} values"),
            );
        }
        for (i, value) in values.iter().enumerate() {
            if value.trim().is_empty() {
                v.add(format!("filter.{field}[{i}]"), "must not be empty");
            } else if account && let Err(reason) = aws_account_id(value) {
                v.add(format!("filter.{field}[{i}]"), reason);
            }
        }
        values.to_vec()
    };
    Filter {
        product_ids: list("product_ids", &raw.product_ids, false),
        product_codes: list("product_codes", &raw.product_codes, false),
        customer_aws_account_ids: list(
            "customer_aws_account_ids",
            &raw.customer_aws_account_ids,
            true,
        ),
        offer_ids: list("offer_ids", &raw.offer_ids, false),
        agreement_ids: list("agreement_ids", &raw.agreement_ids, false),
        reseller_aws_account_ids: list(
            "reseller_aws_account_ids",
            &raw.reseller_aws_account_ids,
            true,
        ),
    }
}

/// Longest usage report by day.
pub(super) const MAX_USAGE_DAYS: i64 = 366;

/// Longest reconciliation (three years of months).
pub(super) const MAX_RECONCILED_DAYS: i64 = 3 * 366;

/// A required date range in `field`: its start and (exclusive) end, both required, the end
/// after the start.
pub(super) fn date_range(
    v: &mut Violations,
    field: &str,
    raw: Option<&souk_proto::common::DateRange>,
) -> (Option<time::Date>, Option<time::Date>) {
    match raw {
        Some(raw) => date_bounds(v, field, raw, true),
        None => {
            v.add(field, "is required");
            (None, None)
        }
    }
}

/// The days of the range `raw` in `field`, each required when `required` (else unset is
/// `None`), valid dates, the end after the start.
fn date_bounds(
    v: &mut Violations,
    field: &str,
    raw: &souk_proto::common::DateRange,
    required: bool,
) -> (Option<time::Date>, Option<time::Date>) {
    let mut day = |name: &str, raw: Option<&souk_proto::common::Date>| {
        let Some(raw) = raw else {
            if required {
                v.add(format!("{field}.{name}"), "is required");
            }
            return None;
        };
        let day = date(raw);
        if day.is_none() {
            v.add(format!("{field}.{name}"), "is not a valid date");
        }
        day
    };
    let start = day("start_date", raw.start_date.as_ref());
    let end = day("end_date", raw.end_date.as_ref());
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        v.add(
            format!("{field}.end_date"),
            format!("must be after {field}.start_date (the end is exclusive)"),
        );
    }
    (start, end)
}

/// Most values one list of a report filter may hold.
pub(super) const MAX_FILTER_VALUES: usize = 100;

/// The filters and page of a ListBillingEvents request (the page `None` when its size or
/// token is bad); tokens are bound to the organisation and every filter.
pub(super) fn billing_event_filter(
    v: &mut Violations,
    caller: &souk_core::access::Caller,
    req: &pb::ListBillingEventsRequest,
) -> (EventFilter, Option<PageRequest>) {
    let mut filter = EventFilter::default();
    if let Some(period) = &req.period {
        let (start, end) = date_bounds(v, "period", period, false);
        filter.start = start.map(|d| d.midnight().assume_utc());
        filter.end = end.map(|d| d.midnight().assume_utc());
    }
    for (i, raw) in req.actions.iter().enumerate() {
        match pb::BillingAction::try_from(*raw) {
            Ok(pb::BillingAction::Invoiced) => filter.actions.push(BillingAction::Invoiced),
            Ok(pb::BillingAction::Forgiven) => filter.actions.push(BillingAction::Forgiven),
            Ok(pb::BillingAction::Disbursed) => filter.actions.push(BillingAction::Disbursed),
            _ => v.add(
                format!("actions[{i}]"),
                "must be INVOICED, FORGIVEN or DISBURSED",
            ),
        }
    }
    for (i, kind) in req.transaction_types.iter().enumerate() {
        if kind.trim().is_empty() {
            v.add(format!("transaction_types[{i}]"), "must not be empty");
        }
    }
    filter.transaction_types.clone_from(&req.transaction_types);
    let customer = req.customer_aws_account_id.as_str();
    if !customer.is_empty() {
        match aws_account_id(customer) {
            Ok(()) => filter.customer_aws_account_id = Some(customer.to_owned()),
            Err(reason) => v.add("customer_aws_account_id", reason),
        }
    }
    if !req.product_id.is_empty() {
        filter.product_id = Some(req.product_id.clone());
    }
    let period = req
        .period
        .as_ref()
        .map(|p| format!("{:?}-{:?}", p.start_date, p.end_date))
        .unwrap_or_default();
    let actions = format!("{:?}", req.actions);
    let kinds = req.transaction_types.join("\u{1f}");
    let scope = PageScope::new(
        "souk.reporting.v1.ReportingService/ListBillingEvents",
        caller.organization_id.as_str(),
        &[
            &req.integration_id,
            &period,
            &actions,
            &kinds,
            customer,
            &req.product_id,
        ],
    );
    let page = match PageRequest::parse(req.page_size, &req.page_token, scope) {
        Ok(page) => Some(page),
        Err((field, reason)) => {
            v.add(field, reason);
            None
        }
    };
    (filter, page)
}

/// A contract date as a calendar date, if it is one.
pub(super) fn date(raw: &souk_proto::common::Date) -> Option<time::Date> {
    let month = time::Month::try_from(u8::try_from(raw.month).ok()?).ok()?;
    time::Date::from_calendar_date(raw.year, month, u8::try_from(raw.day).ok()?).ok()
}

pub(super) fn grouping(raw: i32) -> Option<Grouping> {
    match pb::RevenueGrouping::try_from(raw).ok()? {
        pb::RevenueGrouping::Month => Some(Grouping::Month),
        pb::RevenueGrouping::Product => Some(Grouping::Product),
        pb::RevenueGrouping::Customer => Some(Grouping::Customer),
        pb::RevenueGrouping::Offer => Some(Grouping::Offer),
        pb::RevenueGrouping::Unspecified => None,
    }
}

/// The usage report request of `req`, its page and the row it starts at.
pub(super) fn usage_request(
    caller: &Caller,
    req: &pb::GetUsageReportRequest,
) -> Result<(UsageRequest, PageRequest, usize), Error> {
    let mut v = Violations::new();
    let (start, end) = date_range(&mut v, "period", req.period.as_ref());
    let granularity = match pb::Granularity::try_from(req.granularity) {
        Ok(pb::Granularity::Day) => Granularity::Day,
        Ok(pb::Granularity::Month | pb::Granularity::Unspecified) => Granularity::Month,
        Err(_) => {
            v.add(
                "granularity",
                "must be GRANULARITY_DAY or GRANULARITY_MONTH",
            );
            Granularity::Month
        }
    };
    if let (Some(start), Some(end)) = (start, end)
        && granularity == Granularity::Day
        && (end - start).whole_days() > MAX_USAGE_DAYS
    {
        v.add(
            "period",
            format!("covers more than {MAX_USAGE_DAYS} days: ask for GRANULARITY_MONTH"),
        );
    }
    let integration_id = (!req.integration_id.is_empty())
        .then(|| id(&mut v, "integration_id", "int", &req.integration_id));
    let customer_id = (!req.customer_id.is_empty())
        .then(|| id(&mut v, "customer_id", "cus", &req.customer_id).to_string());
    let filters = [
        req.integration_id.as_str(),
        req.customer_id.as_str(),
        req.product_code.as_str(),
        req.dimension.as_str(),
        &format!("{:?}", req.period),
        &req.granularity.to_string(),
    ];
    let page = souk_service::convert::page(
        "souk.reporting.v1.ReportingService/GetUsageReport",
        caller,
        &filters,
        req.page_size,
        &req.page_token,
    );
    let (Some(start), Some(end)) = (start, end) else {
        finish(v, ()).map_err(Error::from)?;
        return Err(Error::Internal(
            "a usage period without violations is missing".into(),
        ));
    };
    finish(v, ()).map_err(Error::from)?;
    let page = page.map_err(Error::from)?;
    let offset = match page.after.as_deref() {
        Some(after) => after.parse::<usize>().map_err(|_| {
            Error::from(souk_core::Error::invalid_field(
                "page_token",
                "is not a token of this list",
            ))
        })?,
        None => 0,
    };
    let request = UsageRequest {
        start,
        end,
        granularity,
        integration_id,
        customer_id,
        product_code: (!req.product_code.is_empty()).then(|| req.product_code.clone()),
        dimension: (!req.dimension.is_empty()).then(|| req.dimension.clone()),
    };
    Ok((request, page, offset))
}
