//! The events the reporting service publishes through the outbox: `report.ingested` with what
//! an ingestion read, when it read new rows.

use souk_events::EventFactory;
use souk_proto::events::event::Payload;
use souk_proto::events::{ReportIngested, Subject};
use souk_store::outbox::OutboxRecord;

use crate::domain::Error;
use crate::domain::ingest::IngestReport;
use crate::domain::ports::Acting;
use crate::proto;

/// The outbox record of `report.ingested` for `report`.
pub fn ingested(
    factory: &EventFactory,
    acting: &Acting,
    report: &IngestReport,
) -> Result<OutboxRecord, Error> {
    let payload = Payload::ReportIngested(ReportIngested {
        integration_id: acting.integration_id.to_string(),
        counts: Some(proto::ingest_response(report)),
    });
    factory
        .record_about(
            "report.ingested",
            acting.organization_id.as_str(),
            acting.integration_id.as_str(),
            Subject::default(),
            payload,
        )
        .map_err(|e| Error::Internal(format!("building event report.ingested: {e}")))
}
