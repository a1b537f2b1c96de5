//! Rows to domain types and back. Instants are unix milliseconds; allocations are JSON text of
//! the shape `[{"quantity": n, "tags": [{"key": "k", "value": "v"}]}]` (tags sorted by key,
//! NULL when there are none).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use souk_core::Id;
use souk_core::clock::to_unix_millis;
use souk_store::row::{at, id, opt_at, opt_text, text};
pub(crate) use souk_store::row::{int, opt_int};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::json_rows::JsonRows;
use crate::domain::Error;
use crate::domain::model::{
    Aggregation, Allocation, AwsCustomer, HourlyRecord, Meter, RecordKey, RecordStatus, Tag, Tally,
};
use crate::domain::ports::StoredEvent;

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Internal(format!("stored {what} is unreadable: {detail}"))
}

/// An instant as stored.
pub(crate) fn ms(at: OffsetDateTime) -> i64 {
    to_unix_millis(at)
}

/// The start of the UTC hour containing the instant `millis`.
pub(crate) fn hour_of(millis: i64) -> i64 {
    millis - millis.rem_euclid(HOUR_MS)
}

// --- allocations ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct TagJson {
    key: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
struct AllocationJson {
    quantity: i64,
    tags: Vec<TagJson>,
}

fn allocation_json(quantity: i64, tags: &[Tag]) -> AllocationJson {
    AllocationJson {
        quantity,
        tags: tags
            .iter()
            .map(|t| TagJson {
                key: t.key.clone(),
                value: t.value.clone(),
            })
            .collect(),
    }
}

fn tags_of(json: Vec<TagJson>) -> Vec<Tag> {
    json.into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

fn to_json(parts: &[AllocationJson]) -> Result<Option<String>, Error> {
    if parts.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(parts)
        .map(Some)
        .map_err(|e| Error::Internal(format!("encoding allocations: {e}")))
}

fn parse_json(raw: Option<String>) -> Result<Vec<AllocationJson>, Error> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(&raw).map_err(|e| corrupt("allocations", e)),
    }
}

/// An event's allocations as stored (NULL when none).
pub(crate) fn allocations_json(allocations: &[Allocation]) -> Result<Option<String>, Error> {
    let parts: Vec<AllocationJson> = allocations
        .iter()
        .map(|a| allocation_json(a.quantity, &a.tags))
        .collect();
    to_json(&parts)
}

/// A record's allocations (tag set -> quantity) as stored (NULL when none).
pub(crate) fn tally_allocations_json(
    allocations: &BTreeMap<Vec<Tag>, i64>,
) -> Result<Option<String>, Error> {
    let parts: Vec<AllocationJson> = allocations
        .iter()
        .map(|(tags, quantity)| allocation_json(*quantity, tags))
        .collect();
    to_json(&parts)
}

fn allocations(raw: Option<String>) -> Result<Vec<Allocation>, Error> {
    Ok(parse_json(raw)?
        .into_iter()
        .map(|a| Allocation {
            quantity: a.quantity,
            tags: tags_of(a.tags),
        })
        .collect())
}

fn tally_allocations(raw: Option<String>) -> Result<BTreeMap<Vec<Tag>, i64>, Error> {
    Ok(parse_json(raw)?
        .into_iter()
        .map(|a| (tags_of(a.tags), a.quantity))
        .collect())
}

// --- meters --------------------------------------------------------------------------------

/// Columns of `meters`, in the order [`meter`] reads them.
pub(crate) const METER_COLUMNS: &str = "organization_id, product_code, dimension, feature, aggregation, attribute, zero_fill, updated_at";

fn aggregation(row: &AnyRow) -> Result<Aggregation, Error> {
    let name = text(row, "aggregation")?;
    Aggregation::parse(&name).ok_or_else(|| corrupt("aggregation", name))
}

pub(crate) fn meter(row: &AnyRow) -> Result<Meter, Error> {
    Ok(Meter {
        organization_id: id(row, "organization_id")?,
        product_code: text(row, "product_code")?,
        dimension: text(row, "dimension")?,
        feature: opt_text(row, "feature")?,
        aggregation: aggregation(row)?,
        attribute: opt_text(row, "attribute")?,
        zero_fill: int(row, "zero_fill")? != 0,
        updated_at: at(row, "updated_at")?,
    })
}

// --- usage events --------------------------------------------------------------------------

/// Columns of `usage_events`, in the order [`stored_event`] reads them.
pub(crate) const EVENT_COLUMNS: &str = "organization_id, idempotency_key, usage_id, content_hash, \
     customer_id, dimension, quantity, occurred_at, hour_start, allocations, unique_value, \
     recorded_at";

pub(crate) fn stored_event(row: &AnyRow) -> Result<StoredEvent, Error> {
    Ok(StoredEvent {
        usage_id: id(row, "usage_id")?,
        organization_id: id(row, "organization_id")?,
        idempotency_key: text(row, "idempotency_key")?,
        content_hash: text(row, "content_hash")?,
        customer_id: id(row, "customer_id")?,
        dimension: text(row, "dimension")?,
        quantity: int(row, "quantity")?,
        occurred_at: at(row, "occurred_at")?,
        hour_start: at(row, "hour_start")?,
        allocations: allocations(opt_text(row, "allocations")?)?,
        unique_value: opt_text(row, "unique_value")?,
        recorded_at: at(row, "recorded_at")?,
    })
}

// --- hourly records ------------------------------------------------------------------------

/// Columns of `hourly_records`, in the order [`record`] reads them.
pub(crate) const RECORD_COLUMNS: &str = "id, organization_id, customer_id, dimension, hour_start, \
     integration_id, product_code, customer_identifier, aws_account_id, license_arn, aggregation, \
     quantity, allocations, latest_at, latest_key, status, metering_record_id, aws_status, \
     attempts, last_error, sealed_at, sent_at, carried_to";

/// The AWS customer columns (`customer_identifier`, `aws_account_id`, `license_arn`).
pub(crate) fn aws_customer_columns(
    customer: Option<&AwsCustomer>,
) -> (Option<String>, Option<String>, Option<String>) {
    match customer {
        None => (None, None, None),
        Some(AwsCustomer::Identifier(identifier)) => (Some(identifier.clone()), None, None),
        Some(AwsCustomer::Licence {
            aws_account_id,
            license_arn,
        }) => (
            None,
            Some(aws_account_id.clone()),
            Some(license_arn.clone()),
        ),
    }
}

fn aws_customer(row: &AnyRow) -> Result<Option<AwsCustomer>, Error> {
    let identifier = opt_text(row, "customer_identifier")?;
    let account = opt_text(row, "aws_account_id")?;
    let licence = opt_text(row, "license_arn")?;
    Ok(match (identifier, account, licence) {
        (Some(identifier), _, _) => Some(AwsCustomer::Identifier(identifier)),
        (None, Some(aws_account_id), Some(license_arn)) => Some(AwsCustomer::Licence {
            aws_account_id,
            license_arn,
        }),
        _ => None,
    })
}

/// The columns every insert into `hourly_records` starts with, in the order [`record_row`]
/// writes them.
pub(crate) const RECORD_ROW_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "customer_id",
    "dimension",
    "hour_start",
    "integration_id",
    "product_code",
    "customer_identifier",
    "aws_account_id",
    "license_arn",
    "aggregation",
    "quantity",
    "allocations",
    "latest_at",
    "latest_key",
];

/// The columns [`new_record_rows`] writes: [`RECORD_ROW_COLUMNS`] and a new record's state.
pub(crate) fn new_record_columns() -> Vec<&'static str> {
    [
        RECORD_ROW_COLUMNS,
        &[
            "status",
            "next_attempt_at",
            "attempts",
            "created_at",
            "updated_at",
        ],
    ]
    .concat()
}

/// `records` as new rows of [`new_record_columns`], written at `now` (ingestion's records
/// and carrying's target): due at their hour's start, never attempted.
pub(crate) fn new_record_rows(records: &[&HourlyRecord], now: i64) -> Result<JsonRows, Error> {
    let mut rows = JsonRows::with_capacity(records.len());
    for record in records {
        record_row(rows.row(), record)?
            .text("status", record.status.as_str())
            .int("next_attempt_at", ms(record.key.hour_start))
            .int("attempts", 0)
            .int("created_at", now)
            .int("updated_at", now);
    }
    Ok(rows)
}

/// `row` with `record`'s [`RECORD_ROW_COLUMNS`].
pub(crate) fn record_row<'a>(
    row: &'a mut JsonRows,
    record: &HourlyRecord,
) -> Result<&'a mut JsonRows, Error> {
    let (identifier, account, licence) = aws_customer_columns(record.aws_customer.as_ref());
    let (latest_at, latest_key) = match &record.tally.latest {
        None => (None, None),
        Some((at, key)) => (Some(*at), Some(key.as_str())),
    };
    Ok(row
        .text("id", record.id.as_str())
        .text("organization_id", record.key.organization_id.as_str())
        .text("customer_id", record.key.customer_id.as_str())
        .text("dimension", &record.key.dimension)
        .int("hour_start", ms(record.key.hour_start))
        .text("integration_id", record.integration_id.as_str())
        .text("product_code", &record.product_code)
        .opt_text("customer_identifier", identifier.as_deref())
        .opt_text("aws_account_id", account.as_deref())
        .opt_text("license_arn", licence.as_deref())
        .text("aggregation", record.tally.aggregation.as_str())
        .int("quantity", record.tally.quantity)
        .opt_text(
            "allocations",
            tally_allocations_json(&record.tally.allocations)?.as_deref(),
        )
        .opt_int("latest_at", latest_at)
        .opt_text("latest_key", latest_key))
}

pub(crate) fn record(row: &AnyRow) -> Result<HourlyRecord, Error> {
    let status_name = text(row, "status")?;
    let status =
        RecordStatus::parse(&status_name).ok_or_else(|| corrupt("record status", status_name))?;
    let latest = match (opt_int(row, "latest_at")?, opt_text(row, "latest_key")?) {
        (Some(at), Some(key)) => Some((at, key)),
        _ => None,
    };
    let attempts = int(row, "attempts")?;
    Ok(HourlyRecord {
        id: id(row, "id")?,
        key: RecordKey {
            organization_id: id(row, "organization_id")?,
            customer_id: id(row, "customer_id")?,
            dimension: text(row, "dimension")?,
            hour_start: at(row, "hour_start")?,
        },
        integration_id: id(row, "integration_id")?,
        product_code: text(row, "product_code")?,
        aws_customer: aws_customer(row)?,
        tally: Tally {
            aggregation: aggregation(row)?,
            quantity: int(row, "quantity")?,
            allocations: tally_allocations(opt_text(row, "allocations")?)?,
            latest,
        },
        status,
        metering_record_id: opt_text(row, "metering_record_id")?,
        aws_status: opt_text(row, "aws_status")?,
        attempts: i32::try_from(attempts).unwrap_or(i32::MAX),
        last_error: opt_text(row, "last_error")?,
        sealed_at: opt_at(row, "sealed_at")?,
        sent_at: opt_at(row, "sent_at")?,
        carried_to: opt_text(row, "carried_to")?.map(Id::from_trusted),
    })
}
