//! The usage report and the reconciliation over gRPC: their rows from the metering records
//! (here a fixed answer of the metering port, as the binary's adapter gives it), paging, the
//! exact errors of bad input, and what a process that does not read the metering records says.

use std::sync::Arc;

use async_trait::async_trait;
use souk_core::Id;
use souk_proto::common::{Date, DateRange};
use souk_proto::reporting as pb;
use souk_reporting::domain::Error;
use souk_reporting::domain::ports::{
    MeteredCustomer, MeteredQuery, MeteredState, MeteredTotal, MeteredUsage,
};
use tonic::Code;

use crate::harness::{BUYER, Harness, PRODUCT_CODE, authed, expect_code, violations};

/// In every period asked for: `cus_a` 10 shipped and 2 pending `users`, `cus_b` 1 rejected.
struct Records;

#[async_trait]
impl MeteredUsage for Records {
    async fn totals(
        &self,
        _organization_id: &Id,
        query: &MeteredQuery,
    ) -> Result<Vec<MeteredTotal>, Error> {
        let total = |period, customer: &str, state, quantity| MeteredTotal {
            period,
            customer_id: customer.to_owned(),
            aws_customer: MeteredCustomer::Account(BUYER.to_owned()),
            product_code: PRODUCT_CODE.to_owned(),
            dimension: "users".to_owned(),
            state,
            quantity,
            last_sent_at: None,
        };
        Ok((0..query.periods.len())
            .flat_map(|p| {
                [
                    total(p, "cus_a", MeteredState::Shipped, 10),
                    total(p, "cus_a", MeteredState::Pending, 2),
                    total(p, "cus_b", MeteredState::Rejected, 1),
                ]
            })
            .collect())
    }
}

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn usage_request(page_size: i32, page_token: String) -> pb::GetUsageReportRequest {
    pb::GetUsageReportRequest {
        page_size,
        page_token,
        period: Some(DateRange {
            start_date: day(2026, 11, 29),
            end_date: day(2026, 12, 1),
        }),
        granularity: pb::Granularity::Day as i32,
        ..Default::default()
    }
}

souk_testkit::both_backends!(
    usage_rows_sum_the_records_per_day_customer_and_dimension_page_by_page,
    |db: TestDb| async move {
        let h = Harness::start_with_metering(db, Some(Arc::new(Records))).await;
        let mut rows = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = h
                .client()
                .get_usage_report(authed(&h.reader, usage_request(3, token)))
                .await
                .expect("a page")
                .into_inner();
            pages += 1;
            rows.extend(page.rows);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        // Two days × two customers, three rows a page.
        assert_eq!(pages, 2);
        let seen: Vec<(i32, String, i64, i64, i64, i64)> = rows
            .iter()
            .map(|r| {
                let start = r.period.as_ref().and_then(|p| p.start_date.as_ref());
                (
                    start.map_or(0, |d| d.day),
                    r.customer_id.clone(),
                    r.recorded_quantity,
                    r.shipped_quantity,
                    r.rejected_quantity,
                    r.pending_quantity,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (29, "cus_a".to_owned(), 12, 10, 0, 2),
                (29, "cus_b".to_owned(), 1, 0, 1, 0),
                (30, "cus_a".to_owned(), 12, 10, 0, 2),
                (30, "cus_b".to_owned(), 1, 0, 1, 0),
            ]
        );
    }
);

souk_testkit::both_backends!(
    bad_usage_and_reconciliation_requests_name_their_fields,
    |db: TestDb| async move {
        let h = Harness::start_with_metering(db, Some(Arc::new(Records))).await;
        let usage = |request: pb::GetUsageReportRequest| {
            let mut client = h.client();
            let key = h.reader.clone();
            async move { client.get_usage_report(authed(&key, request)).await }
        };
        assert_eq!(
            violations(
                usage(pb::GetUsageReportRequest {
                    integration_id: "nope".into(),
                    customer_id: "cus-x".into(),
                    ..Default::default()
                })
                .await
            ),
            [
                ("period".to_owned(), "is required".to_owned()),
                (
                    "integration_id".to_owned(),
                    "must start with \"int_\"".to_owned()
                ),
                (
                    "customer_id".to_owned(),
                    "must start with \"cus_\"".to_owned()
                ),
            ]
        );
        let mut backwards = usage_request(0, String::new());
        backwards.period = Some(DateRange {
            start_date: day(2026, 12, 1),
            end_date: day(2026, 11, 1),
        });
        assert_eq!(
            violations(usage(backwards).await),
            [(
                "period.end_date".to_owned(),
                "must be after period.start_date (the end is exclusive)".to_owned()
            )]
        );
        let mut long = usage_request(0, String::new());
        long.period = Some(DateRange {
            start_date: day(2025, 1, 1),
            end_date: day(2026, 6, 1),
        });
        assert_eq!(
            violations(usage(long).await),
            [(
                "period".to_owned(),
                "covers more than 366 days: ask for GRANULARITY_MONTH".to_owned()
            )]
        );
        assert_eq!(
            violations(usage(usage_request(0, "garbage".into())).await),
            [(
                "page_token".to_owned(),
                "is not a token of this list: send the next_page_token of the previous page, with \
             the same filters"
                    .to_owned()
            )]
        );

        let reconcile = |request: pb::GetReconciliationReportRequest| {
            let mut client = h.client();
            let key = h.reader.clone();
            async move {
                client
                    .get_reconciliation_report(authed(&key, request))
                    .await
            }
        };
        let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        assert_eq!(
            violations(
                reconcile(pb::GetReconciliationReportRequest {
                    integration_id: h.emu.integration_id.to_string(),
                    start_time: at(1_700_000_000),
                    end_time: at(1_800_000_000),
                    filter: Some(pb::ReportFilter {
                        customer_aws_account_ids: vec!["4444".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
            ),
            [
                (
                    "end_time".to_owned(),
                    "must be at most 1098 days after start_time".to_owned()
                ),
                (
                    "filter.customer_aws_account_ids[0]".to_owned(),
                    "must be a 12-digit AWS account id".to_owned()
                ),
            ]
        );
        // Another organisation's integration is not found.
        let status = expect_code(
            h.client()
                .get_reconciliation_report(authed(
                    &h.other_key,
                    pb::GetReconciliationReportRequest {
                        integration_id: h.emu.integration_id.to_string(),
                        ..Default::default()
                    },
                ))
                .await,
            Code::FailedPrecondition,
        );
        assert!(
            status.message().contains("has no AWS role"),
            "{}",
            status.message()
        );
    }
);

crate::harness::both!(a_process_without_the_metering_records_says_so, |h| {
    let status = expect_code(
        h.client()
            .get_reconciliation_report(authed(
                &h.reader,
                pb::GetReconciliationReportRequest {
                    integration_id: h.emu.integration_id.to_string(),
                    ..Default::default()
                },
            ))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        status.message(),
        "this process does not read the metering service's records; serve the reporting \
         service from `souk dev` or `souk serve` with the metering store in the same database"
    );
    expect_code(
        h.client()
            .get_usage_report(authed(&h.reader, usage_request(0, String::new())))
            .await,
        Code::FailedPrecondition,
    );
});
