//! The events the metering service publishes (through the outbox, in the transaction of the
//! change): `metering.record_sent` when AWS accepted an hourly record, `metering.record_failed`
//! when it was not billed (held on CustomerNotSubscribed, DuplicateRecord, or refused for a
//! named reason). Each names the record's customer and product (and AWS customer) in the
//! envelope's subject.

use souk_events::EventFactory;
use souk_proto::events::event::Payload;
use souk_proto::events::{RecordFailed, RecordSent, Subject};
use souk_store::outbox::OutboxRecord;

use crate::domain::Error;
use crate::domain::model::{AwsCustomer, HourlyRecord};
use crate::proto;

/// Event type of [`MeteringEvent::RecordSent`].
pub const RECORD_SENT: &str = "metering.record_sent";
/// Event type of [`MeteringEvent::RecordFailed`].
pub const RECORD_FAILED: &str = "metering.record_failed";

/// What the metering service tells the rest of the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeteringEvent {
    /// AWS accepted the record (status sent, with its MeteringRecordId).
    RecordSent(HourlyRecord),
    /// The record was not billed (status held or failed).
    RecordFailed {
        /// The record as it is now.
        record: HourlyRecord,
        /// AWS's status or error code.
        reason: String,
    },
}

impl MeteringEvent {
    /// The event type.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::RecordSent(_) => RECORD_SENT,
            Self::RecordFailed { .. } => RECORD_FAILED,
        }
    }

    fn record(&self) -> &HourlyRecord {
        match self {
            Self::RecordSent(record) | Self::RecordFailed { record, .. } => record,
        }
    }
}

/// The outbox record of `event`.
pub fn record(factory: &EventFactory, event: &MeteringEvent) -> Result<OutboxRecord, Error> {
    let event_type = event.event_type();
    let r = event.record();
    let payload = match event {
        MeteringEvent::RecordSent(record) => Payload::RecordSent(RecordSent {
            record: Some(proto::hourly_record(record)),
        }),
        MeteringEvent::RecordFailed { record, reason } => Payload::RecordFailed(RecordFailed {
            record: Some(proto::hourly_record(record)),
            reason: reason.clone(),
        }),
    };
    factory
        .record_about(
            event_type,
            r.key.organization_id.as_str(),
            r.integration_id.as_str(),
            subject(r),
            payload,
        )
        .map_err(|e| Error::Internal(format!("building event {event_type}: {e}")))
}

fn subject(r: &HourlyRecord) -> Subject {
    let (license_arn, aws_account_id) = match &r.aws_customer {
        Some(AwsCustomer::Licence {
            aws_account_id,
            license_arn,
        }) => (license_arn.clone(), aws_account_id.clone()),
        Some(AwsCustomer::Identifier(_)) | None => (String::new(), String::new()),
    };
    Subject {
        customer_id: r.key.customer_id.to_string(),
        product_code: r.product_code.clone(),
        license_arn,
        aws_account_id,
        ..Subject::default()
    }
}
