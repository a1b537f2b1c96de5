//! The tonic `ReportingService`: authorise, convert (convert.rs), call one use case, convert
//! back. Every call acts for the organisation of the caller's API key on one of its
//! integrations.

mod convert;
mod error;

use souk_core::Page;
use souk_core::access::Permission;
use souk_core::error::Violations;
use souk_proto::reporting as pb;
use souk_proto::reporting::reporting_service_server::ReportingService;
use souk_service::authorize;
use souk_service::convert::{finish, instant, timestamp};
use tonic::{Request, Response, Status};

use self::convert::{
    MAX_RECONCILED_DAYS, acting, billing_event_filter, filter, grouping, range, usage_request,
};
use crate::domain::Error;
use crate::domain::ingest::Ingestion;
use crate::domain::reconciliation::Reconciler;
use crate::domain::revenue::Reports;
use crate::domain::usage::UsageReports;
use crate::proto;

/// The gRPC adapter of the reporting service.
#[derive(Debug, Clone)]
pub struct ReportingApi {
    ingestion: Ingestion,
    reports: Reports,
    usage: UsageReports,
    reconciler: Reconciler,
}

impl ReportingApi {
    /// The adapter over the use cases.
    pub fn new(
        ingestion: Ingestion,
        reports: Reports,
        usage: UsageReports,
        reconciler: Reconciler,
    ) -> Self {
        Self {
            ingestion,
            reports,
            usage,
            reconciler,
        }
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
        let filter = filter(&mut v, req.filter.as_ref());
        finish(v, ()).map_err(Error::from)?;
        let report = self
            .reports
            .filtered_revenue(&acting, start, end, &group_by, &filter)
            .await?;
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
        let filter = filter(&mut v, req.filter.as_ref());
        finish(v, ()).map_err(Error::from)?;
        let report = self
            .reports
            .filtered_disbursements(&acting, start, end, &filter)
            .await?;
        Ok(Response::new(proto::disbursement_report(&report)))
    }

    async fn list_billing_events(
        &self,
        request: Request<pb::ListBillingEventsRequest>,
    ) -> Result<Response<pb::ListBillingEventsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        let acting = acting(&mut v, &caller, &req.integration_id);
        let (filter, page) = billing_event_filter(&mut v, &caller, &req);
        finish(v, ()).map_err(Error::from)?;
        let Some(page) = page else {
            return Err(
                Error::Internal("a page request without violations is missing".into()).into(),
            );
        };
        let events = self
            .reports
            .billing_events(&acting, &filter, page.after.as_deref(), page.fetch_limit())
            .await?;
        let page = Page::from_rows(events, &page, |e| e.cursor().key());
        Ok(Response::new(pb::ListBillingEventsResponse {
            billing_events: page
                .items
                .iter()
                .map(|e| proto::billing_event(acting.integration_id.as_str(), &e.event))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_channel_partner_report(
        &self,
        request: Request<pb::GetChannelPartnerReportRequest>,
    ) -> Result<Response<pb::GetChannelPartnerReportResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        let acting = acting(&mut v, &caller, &req.integration_id);
        let (start, end) = range(&mut v, req.start_time.as_ref(), req.end_time.as_ref());
        let filter = filter(&mut v, req.filter.as_ref());
        finish(v, ()).map_err(Error::from)?;
        let rows = self
            .reports
            .channel_partner_shares(&acting, start, end, &filter)
            .await?;
        Ok(Response::new(pb::GetChannelPartnerReportResponse {
            rows: rows.iter().map(proto::channel_partner_share).collect(),
        }))
    }

    async fn get_contract_report(
        &self,
        request: Request<pb::GetContractReportRequest>,
    ) -> Result<Response<pb::GetContractReportResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        let acting = acting(&mut v, &caller, &req.integration_id);
        let at = req.at_time.as_ref().and_then(|t| match instant(t) {
            Ok(at) => Some(at),
            Err(reason) => {
                v.add("at_time", reason);
                None
            }
        });
        let filter = filter(&mut v, req.filter.as_ref());
        finish(v, ()).map_err(Error::from)?;
        let report = self
            .reports
            .contracts(&acting, at, req.include_inactive, &filter)
            .await?;
        Ok(Response::new(proto::contract_report(&report)))
    }

    async fn get_usage_report(
        &self,
        request: Request<pb::GetUsageReportRequest>,
    ) -> Result<Response<pb::GetUsageReportResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let (request, page, offset) = usage_request(&caller, &req)?;
        let limit = usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX);
        let rows = self
            .usage
            .usage(&caller.organization_id, &request, offset, limit)
            .await?;
        let rows: Vec<(usize, _)> = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| (offset + i, row))
            .collect();
        let page = Page::from_rows(rows, &page, |(i, _)| (i + 1).to_string());
        Ok(Response::new(pb::GetUsageReportResponse {
            rows: page
                .items
                .iter()
                .map(|(_, row)| proto::usage_row(row))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_reconciliation_report(
        &self,
        request: Request<pb::GetReconciliationReportRequest>,
    ) -> Result<Response<pb::GetReconciliationReportResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        let acting = acting(&mut v, &caller, &req.integration_id);
        let (start, end) = range(&mut v, req.start_time.as_ref(), req.end_time.as_ref());
        if let (Some(start), Some(end)) = (start, end)
            && (end - start).whole_days() > MAX_RECONCILED_DAYS
        {
            v.add(
                "end_time",
                format!("must be at most {MAX_RECONCILED_DAYS} days after start_time"),
            );
        }
        let filter = filter(&mut v, req.filter.as_ref());
        finish(v, ()).map_err(Error::from)?;
        let report = self
            .reconciler
            .reconcile(&acting, start, end, &filter, req.include_matched)
            .await?;
        Ok(Response::new(pb::GetReconciliationReportResponse {
            rows: report.rows.iter().map(proto::reconciliation_row).collect(),
            matched: i64::try_from(report.matched).unwrap_or(i64::MAX),
            discrepancies: i64::try_from(report.discrepancies).unwrap_or(i64::MAX),
            data_freshness_time: report.freshness.map(timestamp),
            installments: report
                .installments
                .iter()
                .map(proto::installment_check)
                .collect(),
        }))
    }
}
