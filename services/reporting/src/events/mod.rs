//! The events the reporting service publishes through the outbox: `report.ingested` with what
//! an ingestion read, when it read new rows, and `report.disbursement_received` for each
//! payout the feeds show for the first time, committed with its rows, and `report.discrepancy`
//! for each reconciliation difference worth a seller's attention, new or changed.

use souk_events::EventFactory;
use souk_proto::events::event::Payload;
use souk_proto::events::{DisbursementReceived, ReportDiscrepancy, ReportIngested, Subject};
use souk_store::outbox::OutboxRecord;

use crate::domain::Error;
use crate::domain::billing_event::BillingEvent;
use crate::domain::ingest::IngestReport;
use crate::domain::ports::Acting;
use crate::domain::reconciliation::ReconciledUsage;
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

/// The outbox record of `report.disbursement_received` for the DISBURSEMENT row `payout`,
/// which settles `settled` billing events.
pub fn disbursement_received(
    factory: &EventFactory,
    acting: &Acting,
    payout: &BillingEvent,
    settled: i64,
) -> Result<OutboxRecord, Error> {
    let disbursement = proto::billing_event(acting.integration_id.as_str(), payout);
    let payload = Payload::DisbursementReceived(DisbursementReceived {
        amount: disbursement.amount.clone(),
        disbursement: Some(disbursement),
        settled_event_count: i32::try_from(settled).unwrap_or(i32::MAX),
    });
    factory
        .record_about(
            "report.disbursement_received",
            acting.organization_id.as_str(),
            acting.integration_id.as_str(),
            Subject::default(),
            payload,
        )
        .map_err(|e| Error::Internal(format!("building event report.disbursement_received: {e}")))
}

/// The outbox record of `report.discrepancy` for `usage`.
pub fn discrepancy(
    factory: &EventFactory,
    acting: &Acting,
    usage: &ReconciledUsage,
) -> Result<OutboxRecord, Error> {
    let payload = Payload::ReportDiscrepancy(ReportDiscrepancy {
        integration_id: acting.integration_id.to_string(),
        row: Some(proto::reconciliation_row(usage)),
    });
    factory
        .record_about(
            "report.discrepancy",
            acting.organization_id.as_str(),
            acting.integration_id.as_str(),
            Subject {
                customer_id: usage.customer_id.clone(),
                ..Subject::default()
            },
            payload,
        )
        .map_err(|e| Error::Internal(format!("building event report.discrepancy: {e}")))
}
