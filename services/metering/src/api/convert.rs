//! Contract messages -> domain values, naming every bad field at once.

use souk_core::Id;
use souk_core::error::Violations;
use souk_proto::metering as pb;

use crate::domain::model::{Aggregation, Allocation, RecordStatus, Tag, UsageEvent};
use crate::domain::{Error, MeterSpec};

fn text(raw: &str) -> Option<String> {
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// The events of a RecordUsage call or StreamUsage chunk.
pub fn events(events: Vec<pb::UsageEvent>) -> Result<Vec<UsageEvent>, Error> {
    let mut v = Violations::new();
    let converted = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let timestamp = match &e.timestamp {
                None => {
                    v.add(format!("events[{i}].timestamp"), "is required");
                    time::OffsetDateTime::UNIX_EPOCH
                }
                Some(at) => souk_service::convert::instant(at).unwrap_or_else(|reason| {
                    v.add(format!("events[{i}].timestamp"), reason);
                    time::OffsetDateTime::UNIX_EPOCH
                }),
            };
            UsageEvent {
                idempotency_key: e.idempotency_key,
                customer: e.customer,
                dimension: e.dimension,
                quantity: e.quantity,
                timestamp,
                allocations: e.allocations.into_iter().map(allocation).collect(),
                attributes: e.attributes.into_iter().collect(),
            }
        })
        .collect();
    v.finish()?;
    Ok(converted)
}

fn allocation(a: pb::UsageAllocation) -> Allocation {
    Allocation {
        quantity: a.quantity,
        tags: a
            .tags
            .into_iter()
            .map(|t| Tag {
                key: t.key,
                value: t.value,
            })
            .collect(),
    }
}

/// The meter of a PutMeter call.
pub fn meter(meter: Option<pb::Meter>) -> Result<MeterSpec, Error> {
    let Some(meter) = meter else {
        return Err(Error::invalid("meter", "is required"));
    };
    let aggregation = match pb::Aggregation::try_from(meter.aggregation) {
        Ok(pb::Aggregation::Sum) => Aggregation::Sum,
        Ok(pb::Aggregation::Count) => Aggregation::Count,
        Ok(pb::Aggregation::Max) => Aggregation::Max,
        Ok(pb::Aggregation::Latest) => Aggregation::Latest,
        Ok(pb::Aggregation::UniqueCount) => Aggregation::UniqueCount,
        Ok(pb::Aggregation::Unspecified) | Err(_) => {
            return Err(Error::invalid(
                "meter.aggregation",
                "must be SUM, COUNT, MAX, LATEST or UNIQUE_COUNT",
            ));
        }
    };
    Ok(MeterSpec {
        product_code: meter.product_code,
        dimension: meter.dimension,
        feature: text(&meter.feature),
        aggregation,
        attribute: text(&meter.attribute),
        zero_fill: meter.zero_fill,
    })
}

/// The status filter of ListUsageRecords.
pub fn statuses(raw: &[i32]) -> Result<Vec<RecordStatus>, Error> {
    let mut v = Violations::new();
    let statuses = raw
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let status = match pb::HourlyRecordStatus::try_from(*s) {
                Ok(pb::HourlyRecordStatus::Open) => RecordStatus::Open,
                Ok(pb::HourlyRecordStatus::Pending) => RecordStatus::Pending,
                Ok(pb::HourlyRecordStatus::Sent) => RecordStatus::Sent,
                Ok(pb::HourlyRecordStatus::Held) => RecordStatus::Held,
                Ok(pb::HourlyRecordStatus::Failed) => RecordStatus::Failed,
                Ok(pb::HourlyRecordStatus::Carried) => RecordStatus::Carried,
                Ok(pb::HourlyRecordStatus::Unspecified) | Err(_) => {
                    v.add(format!("statuses[{i}]"), "is not a record status");
                    return None;
                }
            };
            Some(status)
        })
        .collect();
    v.finish()?;
    Ok(statuses)
}

/// The record ids of RetryRecords.
pub fn record_ids(raw: &[String]) -> Result<Vec<Id>, Error> {
    let mut v = Violations::new();
    let ids = raw
        .iter()
        .enumerate()
        .map(|(i, id)| souk_service::convert::id(&mut v, &format!("record_ids[{i}]"), "hrec", id))
        .collect();
    v.finish()?;
    Ok(ids)
}

/// The idempotency key of a mutating call.
pub fn idempotency_key(raw: &str) -> Result<(), Error> {
    souk_core::validate::idempotency_key(raw)
        .map_err(|reason| Error::invalid("idempotency_key", reason))
}
