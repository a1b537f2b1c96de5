//! The tonic `ReportingService`: authorise, convert, call one use case, convert back. Every
//! call acts for the organisation of the caller's API key on one of its integrations.
//! ListBillingEvents and GetUsageReport answer UNIMPLEMENTED until their reports land.

mod error;

use souk_core::access::Permission;
use souk_core::error::Violations;
use souk_proto::reporting as pb;
use souk_proto::reporting::reporting_service_server::ReportingService;
use souk_service::authorize;
use souk_service::convert::{finish, id, instant, timestamp};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::domain::Error;
use crate::domain::ingest::Ingestion;
use crate::domain::ports::Acting;
use crate::domain::revenue::{Grouping, Reports};
use crate::proto;

/// The gRPC adapter of the reporting service.
#[derive(Debug, Clone)]
pub struct ReportingApi {
    ingestion: Ingestion,
    reports: Reports,
}

impl ReportingApi {
    /// The adapter over the use cases.
    pub fn new(ingestion: Ingestion, reports: Reports) -> Self {
        Self { ingestion, reports }
    }
}

fn acting(v: &mut Violations, caller: &souk_core::access::Caller, integration_id: &str) -> Acting {
    Acting {
        organization_id: caller.organization_id.clone(),
        integration_id: id(v, "integration_id", "int", integration_id),
    }
}

/// `start_time` and `end_time`, each optional, the end after the start.
fn range(
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

fn grouping(raw: i32) -> Option<Grouping> {
    match pb::RevenueGrouping::try_from(raw).ok()? {
        pb::RevenueGrouping::Month => Some(Grouping::Month),
        pb::RevenueGrouping::Product => Some(Grouping::Product),
        pb::RevenueGrouping::Customer => Some(Grouping::Customer),
        pb::RevenueGrouping::Offer => Some(Grouping::Offer),
        pb::RevenueGrouping::Unspecified => None,
    }
}

#[tonic::async_trait]
impl ReportingService for ReportingApi {
    async fn ingest_data_feeds(
        &self,
        request: Request<pb::IngestDataFeedsRequest>,
    ) -> Result<Response<pb::IngestDataFeedsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let mut v = Violations::new();
        let acting = acting(&mut v, &caller, &req.integration_id);
        finish(v, ()).map_err(Error::from)?;
        let report = self.ingestion.ingest(&acting, req.full_resync).await?;
        Ok(Response::new(proto::ingest_response(&report)))
    }

    async fn get_revenue_report(
        &self,
        request: Request<pb::GetRevenueReportRequest>,
    ) -> Result<Response<pb::GetRevenueReportResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        let acting = acting(&mut v, &caller, &req.integration_id);
        let (start, end) = range(&mut v, req.start_time.as_ref(), req.end_time.as_ref());
        let mut group_by = Vec::new();
        for (i, raw) in req.group_by.iter().enumerate() {
            match grouping(*raw) {
                Some(g) if group_by.contains(&g) => {
                    v.add(format!("group_by[{i}]"), "is named twice");
                }
                Some(g) => group_by.push(g),
                None => v.add(
                    format!("group_by[{i}]"),
                    "must be MONTH, PRODUCT, CUSTOMER or OFFER",
                ),
            }
        }
        finish(v, ()).map_err(Error::from)?;
        let report = self.reports.revenue(&acting, start, end, &group_by).await?;
        Ok(Response::new(pb::GetRevenueReportResponse {
            rows: report.rows.iter().map(proto::revenue_row).collect(),
            data_freshness_time: report.freshness.map(timestamp),
        }))
    }

    async fn get_disbursement_report(
        &self,
        request: Request<pb::GetDisbursementReportRequest>,
    ) -> Result<Response<pb::GetDisbursementReportResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        let acting = acting(&mut v, &caller, &req.integration_id);
        let (start, end) = range(&mut v, req.start_time.as_ref(), req.end_time.as_ref());
        finish(v, ()).map_err(Error::from)?;
        let report = self.reports.disbursements(&acting, start, end).await?;
        Ok(Response::new(proto::disbursement_report(&report)))
    }
}
