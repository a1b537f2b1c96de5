//! Domain values as `souk.metering.v1` messages: one set of builders for the gRPC replies
//! (`api/`) and the event payloads (`events/`).

use souk_proto::metering as pb;
use souk_service::convert::timestamp;

use crate::domain::model::{
    Aggregation, Allocation, AwsCustomer, HourlyRecord, Meter, RecordStatus, Tag,
};
use crate::domain::ports::Counts;

/// Aggregation.
pub fn aggregation(aggregation: Aggregation) -> pb::Aggregation {
    match aggregation {
        Aggregation::Sum => pb::Aggregation::Sum,
        Aggregation::Count => pb::Aggregation::Count,
        Aggregation::Max => pb::Aggregation::Max,
        Aggregation::Latest => pb::Aggregation::Latest,
        Aggregation::UniqueCount => pb::Aggregation::UniqueCount,
    }
}

/// Record status.
pub fn status(status: RecordStatus) -> pb::HourlyRecordStatus {
    match status {
        RecordStatus::Open => pb::HourlyRecordStatus::Open,
        RecordStatus::Pending => pb::HourlyRecordStatus::Pending,
        RecordStatus::Sent => pb::HourlyRecordStatus::Sent,
        RecordStatus::Held => pb::HourlyRecordStatus::Held,
        RecordStatus::Failed => pb::HourlyRecordStatus::Failed,
        RecordStatus::Carried => pb::HourlyRecordStatus::Carried,
    }
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// Meter.
pub fn meter(m: &Meter) -> pb::Meter {
    pb::Meter {
        product_code: m.product_code.clone(),
        dimension: m.dimension.clone(),
        feature: text(&m.feature),
        aggregation: aggregation(m.aggregation) as i32,
        attribute: text(&m.attribute),
        zero_fill: m.zero_fill,
        update_time: Some(timestamp(m.updated_at)),
    }
}

/// Cost-allocation tag.
pub fn tag(t: &Tag) -> pb::Tag {
    pb::Tag {
        key: t.key.clone(),
        value: t.value.clone(),
    }
}

/// Usage allocation.
pub fn allocation(a: &Allocation) -> pb::UsageAllocation {
    pb::UsageAllocation {
        quantity: a.quantity,
        tags: a.tags.iter().map(tag).collect(),
    }
}

/// Hourly record (its allocations are the tally's tag sets, in tag-set order).
pub fn hourly_record(r: &HourlyRecord) -> pb::HourlyRecord {
    let license_arn = match &r.aws_customer {
        Some(AwsCustomer::Licence { license_arn, .. }) => license_arn.clone(),
        Some(AwsCustomer::Identifier(_)) | None => String::new(),
    };
    pb::HourlyRecord {
        id: r.id.to_string(),
        customer_id: r.key.customer_id.to_string(),
        dimension: r.key.dimension.clone(),
        hour_start: Some(timestamp(r.key.hour_start)),
        quantity: r.tally.quantity,
        status: status(r.status) as i32,
        metering_record_id: text(&r.metering_record_id),
        integration_id: r.integration_id.to_string(),
        product_code: r.product_code.clone(),
        license_arn,
        allocations: r.tally.usage_allocations().iter().map(allocation).collect(),
        attempts: r.attempts,
        last_error: text(&r.last_error),
        aws_status: text(&r.aws_status),
        seal_time: r.sealed_at.map(timestamp),
        send_time: r.sent_at.map(timestamp),
        carried_to: r
            .carried_to
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

/// Counts of one integration and product.
pub fn counts(c: &Counts) -> pb::MeteringCounts {
    let n = |s: RecordStatus| c.by_status.get(&s).copied().unwrap_or(0);
    pb::MeteringCounts {
        integration_id: c.integration_id.to_string(),
        product_code: c.product_code.clone(),
        open: n(RecordStatus::Open),
        pending: n(RecordStatus::Pending),
        sent: n(RecordStatus::Sent),
        held: n(RecordStatus::Held),
        failed: n(RecordStatus::Failed),
        carried: n(RecordStatus::Carried),
        oldest_unsent_hour_start: c.oldest_unsent_hour.map(timestamp),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use souk_core::Id;
    use time::macros::datetime;

    use super::*;
    use crate::domain::model::{RecordKey, Tally};

    fn tag_of(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_record_carries_its_customer_allocations_and_times() {
        let record = HourlyRecord {
            id: Id::generate("hrec"),
            key: RecordKey {
                organization_id: Id::generate("org"),
                customer_id: Id::generate("cus"),
                dimension: "requests".into(),
                hour_start: datetime!(2026-06-01 10:00 UTC),
            },
            integration_id: Id::generate("int"),
            product_code: "prod-1".into(),
            aws_customer: Some(AwsCustomer::Licence {
                aws_account_id: "111122223333".into(),
                license_arn: "arn:aws:license-manager::1:license:l-1".into(),
            }),
            tally: Tally {
                aggregation: Aggregation::Sum,
                quantity: 7,
                allocations: BTreeMap::from([(Vec::new(), 2), (vec![tag_of("team", "a")], 5)]),
                latest: None,
            },
            status: RecordStatus::Sent,
            metering_record_id: Some("mr-1".into()),
            aws_status: Some("Success".into()),
            attempts: 2,
            last_error: None,
            sealed_at: Some(datetime!(2026-06-01 11:05 UTC)),
            sent_at: Some(datetime!(2026-06-01 11:06 UTC)),
            carried_to: None,
        };
        let pb = hourly_record(&record);
        assert_eq!(pb.status, pb::HourlyRecordStatus::Sent as i32);
        assert_eq!(pb.license_arn, "arn:aws:license-manager::1:license:l-1");
        assert_eq!(pb.quantity, 7);
        assert_eq!(pb.allocations.len(), 2);
        assert_eq!(pb.allocations[0].quantity, 2);
        assert!(pb.allocations[0].tags.is_empty());
        assert_eq!(pb.allocations[1].tags[0].key, "team");
        assert_eq!(pb.metering_record_id, "mr-1");
        assert_eq!(pb.attempts, 2);
        assert!(pb.seal_time.is_some() && pb.send_time.is_some());
        assert!(pb.carried_to.is_empty());
        assert!(pb.last_error.is_empty());
    }

    #[test]
    fn a_carried_record_names_the_record_it_went_into() {
        let into = Id::generate("hrec");
        let record = HourlyRecord {
            id: Id::generate("hrec"),
            key: RecordKey {
                organization_id: Id::generate("org"),
                customer_id: Id::generate("cus"),
                dimension: "requests".into(),
                hour_start: datetime!(2026-06-01 03:00 UTC),
            },
            integration_id: Id::generate("int"),
            product_code: "prod-1".into(),
            aws_customer: Some(AwsCustomer::Identifier("c-1".into())),
            tally: Tally {
                aggregation: Aggregation::Sum,
                quantity: 4,
                allocations: BTreeMap::new(),
                latest: None,
            },
            status: RecordStatus::Carried,
            metering_record_id: None,
            aws_status: None,
            attempts: 0,
            last_error: None,
            sealed_at: Some(datetime!(2026-06-01 04:05 UTC)),
            sent_at: None,
            carried_to: Some(into.clone()),
        };
        let pb = hourly_record(&record);
        assert_eq!(pb.status, pb::HourlyRecordStatus::Carried as i32);
        assert_eq!(pb.carried_to, into.to_string());
        assert_eq!(pb.quantity, 4);
        assert!(pb.send_time.is_none() && pb.metering_record_id.is_empty());
    }

    #[test]
    fn counts_name_every_status() {
        let counts = counts(&Counts {
            integration_id: Id::generate("int"),
            product_code: "p".into(),
            by_status: HashMap::from([(RecordStatus::Pending, 3), (RecordStatus::Held, 1)]),
            oldest_unsent_hour: Some(datetime!(2026-06-01 10:00 UTC)),
        });
        assert_eq!((counts.pending, counts.held, counts.sent), (3, 1, 0));
        assert!(counts.oldest_unsent_hour_start.is_some());
    }

    #[test]
    fn enums_match_the_contract() {
        assert_eq!(
            aggregation(Aggregation::UniqueCount),
            pb::Aggregation::UniqueCount
        );
        for s in RecordStatus::ALL {
            assert_ne!(status(s), pb::HourlyRecordStatus::Unspecified);
        }
    }
}
