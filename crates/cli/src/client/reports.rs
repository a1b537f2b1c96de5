//! `souk report …`: read an integration's Seller Data Feeds now (`ingest`) and report its billed
//! revenue, AWS fees, refunds, disbursements and tax (`revenue`) as a table, JSON or CSV.
//! Amounts travel as integer micros and are printed as exact decimals, never through floats.

use serde_json::{Value, json};
use souk_proto::reporting::reporting_service_client::ReportingServiceClient;
use souk_proto::reporting::{
    FeedIngestion, GetDisbursementReportRequest, GetDisbursementReportResponse,
    GetRevenueReportRequest, GetRevenueReportResponse, IngestDataFeedsRequest,
    IngestDataFeedsResponse, ReportFilter, RevenueGrouping, RevenueRow,
};
use tonic::transport::Channel;

use super::call;
use super::offers::{instant, usage};
use super::output::{Table, csv, emit, enum_name, time, time_json};
use crate::args::{
    ClientArgs, OutputFormat, ReportCommand, ReportFilterArgs, RevenueFormat, RevenueGroupArg,
};

/// An authenticated client of the reporting service.
pub type ReportingClient = ReportingServiceClient<
    tonic::service::interceptor::InterceptedService<Channel, super::BearerAuth>,
>;

/// A client of the reporting service at the server `args` name.
pub async fn reporting_client<F>(args: &ClientArgs<F>) -> anyhow::Result<ReportingClient>
where
    F: clap::ValueEnum + Clone + Send + Sync + 'static,
{
    let (channel, auth) = super::authenticated_channel(args).await?;
    Ok(ReportingServiceClient::with_interceptor(channel, auth))
}

/// Runs a `report` subcommand.
pub async fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Partners(args) => super::contracts::partners(args).await,
        ReportCommand::Contracts(args) => super::contracts::contracts(args).await,
        ReportCommand::Usage(args) => super::usage_report::run(args).await,
        ReportCommand::Reconcile(args) => super::reconciliation::run(args).await,
        ReportCommand::Page(args) => super::report_page::run(args).await,
        ReportCommand::BillingEvents(args) => super::billing_events::run(args).await,
        ReportCommand::Ingest {
            integration,
            full_resync,
            client,
        } => {
            let mut reporting = reporting_client(&client).await?;
            eprintln!("reading the data feed bucket of {integration}");
            let answer = call(reporting.ingest_data_feeds(IngestDataFeedsRequest {
                integration_id: integration,
                full_resync,
            }))
            .await?;
            emit(
                client.output,
                &feeds_table(&answer),
                &ingestion_json(&answer),
            );
            if client.output == OutputFormat::Table {
                print!("{}", ingestion_summary(&answer));
            }
            Ok(())
        }
        ReportCommand::Disbursements {
            integration,
            from,
            to,
            filter,
            client,
        } => {
            let (start_time, end_time) = range(from, to)?;
            let mut reporting = reporting_client(&client).await?;
            let report = call(
                reporting.get_disbursement_report(GetDisbursementReportRequest {
                    integration_id: integration,
                    start_time,
                    end_time,
                    filter: report_filter(&filter),
                }),
            )
            .await?;
            match client.output {
                RevenueFormat::Table => print!("{}", disbursement_tables(&report)),
                RevenueFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&disbursement_json(&report)).unwrap_or_default()
                ),
                RevenueFormat::Csv => print!("{}", disbursement_csv(&report)),
            }
            Ok(())
        }
        ReportCommand::Revenue {
            integration,
            from,
            to,
            group_by,
            filter,
            client,
        } => {
            let (start_time, end_time) = range(from, to)?;
            let groups = groups(&group_by);
            let mut reporting = reporting_client(&client).await?;
            let report = call(reporting.get_revenue_report(GetRevenueReportRequest {
                integration_id: integration,
                start_time,
                end_time,
                group_by: groups.iter().map(|g| *g as i32).collect(),
                filter: report_filter(&filter),
            }))
            .await?;
            let freshness = match time(report.data_freshness_time.as_ref()) {
                at if at.is_empty() => "no billing events counted yet".to_owned(),
                at => format!("data as of {at} (newest billing event counted)"),
            };
            match client.output {
                RevenueFormat::Table => {
                    print!("{}", revenue_table(&groups, &report.rows).render());
                    println!("{freshness}");
                }
                RevenueFormat::Json => {
                    let json = revenue_json(&report);
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&json).unwrap_or_default()
                    );
                }
                RevenueFormat::Csv => {
                    print!("{}", revenue_csv(&report.rows));
                    eprintln!("{freshness}");
                }
            }
            Ok(())
        }
    }
}

/// The filter flags as the contract's filter; none when no flag is given.
fn report_filter(args: &ReportFilterArgs) -> Option<ReportFilter> {
    let filter = ReportFilter {
        product_ids: args.products.clone(),
        product_codes: args.product_codes.clone(),
        customer_aws_account_ids: args.customers.clone(),
        offer_ids: args.offers.clone(),
        agreement_ids: args.agreements.clone(),
        reseller_aws_account_ids: args.resellers.clone(),
    };
    (filter != ReportFilter::default()).then_some(filter)
}

/// `--from` and `--to` as instants, the end after the start.
pub(super) fn range(
    from: Option<String>,
    to: Option<String>,
) -> anyhow::Result<(
    Option<prost_types::Timestamp>,
    Option<prost_types::Timestamp>,
)> {
    let start = from
        .map(|raw| instant("--from", &raw))
        .transpose()
        .map_err(usage)?;
    let end = to
        .map(|raw| instant("--to", &raw))
        .transpose()
        .map_err(usage)?;
    if let (Some(start), Some(end)) = (&start, &end)
        && (end.seconds, end.nanos) <= (start.seconds, start.nanos)
    {
        return Err(usage(
            "--to must be after --from (--to is exclusive)".to_owned(),
        ));
    }
    Ok((start, end))
}

/// The payouts, the outstanding invoices and the totals of a disbursement report.
fn disbursement_tables(report: &GetDisbursementReportResponse) -> String {
    let mut paid = Table::new(vec!["PAID", "CURRENCY", "AMOUNT", "BANK TRACE", "INVOICES"]);
    for d in &report.disbursements {
        paid.row(vec![
            time(d.paid_time.as_ref()),
            d.currency_code.clone(),
            amount(d.amount_micros),
            d.bank_trace_id.clone(),
            d.invoice_ids.join(" "),
        ]);
    }
    let mut open = Table::new(vec![
        "INVOICE",
        "CURRENCY",
        "OUTSTANDING",
        "INVOICED",
        "AGE (DAYS)",
    ]);
    for o in &report.outstanding {
        open.row(vec![
            o.invoice_id.clone(),
            o.currency_code.clone(),
            amount(o.amount_micros),
            time(o.invoice_time.as_ref()),
            o.age_days.to_string(),
        ]);
    }
    let mut totals = Table::new(vec!["CURRENCY", "DISBURSED", "OUTSTANDING"]);
    for t in &report.totals {
        totals.row(vec![
            t.currency_code.clone(),
            amount(t.disbursed_micros),
            amount(t.outstanding_micros),
        ]);
    }
    format!("{}\n{}\n{}", paid.render(), open.render(), totals.render())
}

/// The payouts and the outstanding invoices as one CSV, a `kind` column telling them apart
/// (`payout`: its billing event, paid time, bank trace and the invoices it settles, `;`
/// between them; `outstanding`: its invoice, invoice time and age in days).
fn disbursement_csv(report: &GetDisbursementReportResponse) -> String {
    const HEADER: &[&str] = &[
        "kind",
        "id",
        "time",
        "currency_code",
        "amount",
        "bank_trace_id",
        "invoice_ids",
        "age_days",
    ];
    let payouts = report.disbursements.iter().map(|d| {
        vec![
            "payout".to_owned(),
            d.billing_event_id.clone(),
            time(d.paid_time.as_ref()),
            d.currency_code.clone(),
            amount(d.amount_micros),
            d.bank_trace_id.clone(),
            d.invoice_ids.join(";"),
            String::new(),
        ]
    });
    let outstanding = report.outstanding.iter().map(|o| {
        vec![
            "outstanding".to_owned(),
            o.invoice_id.clone(),
            time(o.invoice_time.as_ref()),
            o.currency_code.clone(),
            amount(o.amount_micros),
            String::new(),
            String::new(),
            o.age_days.to_string(),
        ]
    });
    csv(HEADER, payouts.chain(outstanding))
}

/// `micros` of a currency as an exact decimal with two to six decimals.
pub use souk_core::money::decimal as amount;

/// The `--group-by` values as the service's groupings, each once, in the order of the table's
/// columns (month, product, customer, offer) whatever the order given.
fn groups(asked: &[RevenueGroupArg]) -> Vec<RevenueGrouping> {
    [
        (RevenueGroupArg::Month, RevenueGrouping::Month),
        (RevenueGroupArg::Product, RevenueGrouping::Product),
        (RevenueGroupArg::Customer, RevenueGrouping::Customer),
        (RevenueGroupArg::Offer, RevenueGrouping::Offer),
    ]
    .into_iter()
    .filter(|(arg, _)| asked.contains(arg))
    .map(|(_, grouping)| grouping)
    .collect()
}

fn feed_name(feed: &FeedIngestion) -> String {
    enum_name(feed.feed().as_str_name(), "DATA_FEED_")
}

/// Per feed: files, rows and rejected rows, then the totals.
fn feeds_table(answer: &IngestDataFeedsResponse) -> Table {
    let mut table = Table::new(vec!["FEED", "FILES", "ROWS", "REJECTED"]);
    for feed in &answer.feeds {
        table.row(vec![
            feed_name(feed),
            feed.files.to_string(),
            feed.rows.to_string(),
            feed.rejected_rows.to_string(),
        ]);
    }
    table.row(vec![
        "total".to_owned(),
        answer.files.to_string(),
        answer.rows.to_string(),
        answer.rejected_rows.to_string(),
    ]);
    table
}

/// What follows the feeds table: bytes and unchanged files, then the rejected rows, if any.
fn ingestion_summary(answer: &IngestDataFeedsResponse) -> String {
    let mut out = format!(
        "\n{} files, {} rows, {} bytes read; {} rejected rows; {} unchanged files\n",
        answer.files, answer.rows, answer.bytes, answer.rejected_rows, answer.unchanged_files
    );
    if !answer.rejected.is_empty() {
        let shown = answer.rejected.len();
        if i64::try_from(shown).is_ok_and(|shown| shown < answer.rejected_rows) {
            out.push_str(&format!(
                "\nrejected rows (the first {shown} of {}):\n",
                answer.rejected_rows
            ));
        } else {
            out.push_str("\nrejected rows:\n");
        }
        let mut table = Table::new(vec!["KEY", "LINE", "REASON"]);
        for rejected in &answer.rejected {
            table.row(vec![
                rejected.key.clone(),
                rejected.line.to_string(),
                rejected.reason.clone(),
            ]);
        }
        out.push_str(&table.render());
    }
    out
}

fn ingestion_json(answer: &IngestDataFeedsResponse) -> Value {
    json!({
        "files": answer.files,
        "rows": answer.rows,
        "bytes": answer.bytes,
        "rejected_rows": answer.rejected_rows,
        "unchanged_files": answer.unchanged_files,
        "feeds": answer.feeds.iter().map(|feed| json!({
            "feed": feed_name(feed),
            "files": feed.files,
            "rows": feed.rows,
            "rejected_rows": feed.rejected_rows,
        })).collect::<Vec<_>>(),
        "rejected": answer.rejected.iter().map(|rejected| json!({
            "key": rejected.key,
            "line": rejected.line,
            "reason": rejected.reason,
        })).collect::<Vec<_>>(),
    })
}

/// The product of a row: its product code, else its catalog product id.
fn product(row: &RevenueRow) -> String {
    if row.product_code.is_empty() {
        row.product_id.clone()
    } else {
        row.product_code.clone()
    }
}

/// One row per group and currency: a column per group asked, then the currency and amounts.
fn revenue_table(groups: &[RevenueGrouping], rows: &[RevenueRow]) -> Table {
    let mut header = Vec::new();
    for group in groups {
        header.push(match group {
            RevenueGrouping::Month => "PERIOD",
            RevenueGrouping::Product => "PRODUCT",
            RevenueGrouping::Customer => "CUSTOMER",
            RevenueGrouping::Offer | RevenueGrouping::Unspecified => "OFFER",
        });
    }
    header.extend([
        "CURRENCY",
        "GROSS",
        "LISTING FEE",
        "REFUNDS",
        "NET",
        "DISBURSED",
        "TAX",
    ]);
    let mut table = Table::new(header);
    for row in rows {
        let mut cells: Vec<String> = groups
            .iter()
            .map(|group| match group {
                RevenueGrouping::Month => row.period.clone(),
                RevenueGrouping::Product => product(row),
                RevenueGrouping::Customer => row.customer_aws_account_id.clone(),
                RevenueGrouping::Offer | RevenueGrouping::Unspecified => row.offer_id.clone(),
            })
            .collect();
        cells.push(row.currency_code.clone());
        cells.extend(amounts(row).into_iter().map(amount));
        table.row(cells);
    }
    table
}

/// Gross, listing fee, refunds, net, disbursed and tax, in micros.
fn amounts(row: &RevenueRow) -> [i64; 6] {
    [
        row.gross_amount_micros,
        row.listing_fee_micros,
        row.refund_amount_micros,
        row.net_amount_micros,
        row.disbursed_amount_micros,
        row.tax_amount_micros,
    ]
}

/// The report as RFC 4180 CSV (CRLF line ends, fields quoted when needed) with a header row;
/// every column whatever the groups, amounts as exact decimals.
fn revenue_csv(rows: &[RevenueRow]) -> String {
    const HEADER: &[&str] = &[
        "period",
        "product_code",
        "product_id",
        "customer_aws_account_id",
        "offer_id",
        "currency_code",
        "gross",
        "listing_fee",
        "refunds",
        "net",
        "disbursed",
        "tax",
    ];
    csv(
        HEADER,
        rows.iter().map(|row| {
            let mut fields = vec![
                row.period.clone(),
                row.product_code.clone(),
                row.product_id.clone(),
                row.customer_aws_account_id.clone(),
                row.offer_id.clone(),
                row.currency_code.clone(),
            ];
            fields.extend(amounts(row).into_iter().map(amount));
            fields
        }),
    )
}

fn revenue_json(report: &GetRevenueReportResponse) -> Value {
    json!({
        "rows": report.rows.iter().map(|row| json!({
            "period": row.period,
            "product_code": row.product_code,
            "product_id": row.product_id,
            "customer_aws_account_id": row.customer_aws_account_id,
            "offer_id": row.offer_id,
            "currency_code": row.currency_code,
            "gross_amount_micros": row.gross_amount_micros,
            "listing_fee_micros": row.listing_fee_micros,
            "refund_amount_micros": row.refund_amount_micros,
            "net_amount_micros": row.net_amount_micros,
            "disbursed_amount_micros": row.disbursed_amount_micros,
            "tax_amount_micros": row.tax_amount_micros,
        })).collect::<Vec<_>>(),
        "data_freshness_time": time_json(report.data_freshness_time.as_ref()),
    })
}

/// A disbursement report as JSON: amounts in integer micros, the contract's field names.
fn disbursement_json(report: &GetDisbursementReportResponse) -> Value {
    json!({
        "disbursements": report.disbursements.iter().map(|d| json!({
            "billing_event_id": d.billing_event_id,
            "paid_time": time_json(d.paid_time.as_ref()),
            "currency_code": d.currency_code,
            "amount_micros": d.amount_micros,
            "bank_trace_id": d.bank_trace_id,
            "invoice_ids": d.invoice_ids,
        })).collect::<Vec<_>>(),
        "outstanding": report.outstanding.iter().map(|o| json!({
            "invoice_id": o.invoice_id,
            "currency_code": o.currency_code,
            "amount_micros": o.amount_micros,
            "invoice_time": time_json(o.invoice_time.as_ref()),
            "age_days": o.age_days,
        })).collect::<Vec<_>>(),
        "totals": report.totals.iter().map(|t| json!({
            "currency_code": t.currency_code,
            "disbursed_micros": t.disbursed_micros,
            "outstanding_micros": t.outstanding_micros,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use souk_proto::reporting::{DataFeed, RejectedRow};

    use super::*;

    fn usd_row() -> RevenueRow {
        RevenueRow {
            period: "2026-11".into(),
            product_code: "prod-code-1".into(),
            product_id: "prod-abc".into(),
            customer_aws_account_id: "111122223333".into(),
            offer_id: "offer-1".into(),
            currency_code: "USD".into(),
            gross_amount_micros: 1_234_500_000,
            listing_fee_micros: 37_035_000,
            refund_amount_micros: 0,
            net_amount_micros: 1_197_465_000,
            disbursed_amount_micros: 1_000_000_001,
            tax_amount_micros: 1_000,
        }
    }

    #[test]
    fn amounts_are_exact_decimals() {
        assert_eq!(amount(1_234_500_000), "1234.50");
        assert_eq!(amount(0), "0.00");
        assert_eq!(amount(1), "0.000001");
        assert_eq!(amount(1_000), "0.001");
        assert_eq!(amount(-500_000), "-0.50");
        assert_eq!(amount(-1), "-0.000001");
        assert_eq!(amount(7_000_000), "7.00");
        assert_eq!(amount(123_456_789), "123.456789");
        assert_eq!(amount(i64::MAX), "9223372036854.775807");
        assert_eq!(amount(i64::MIN), "-9223372036854.775808");
    }

    #[test]
    fn groups_are_unique_and_in_column_order() {
        assert_eq!(
            groups(&[
                RevenueGroupArg::Offer,
                RevenueGroupArg::Month,
                RevenueGroupArg::Offer
            ]),
            [RevenueGrouping::Month, RevenueGrouping::Offer]
        );
        assert_eq!(groups(&[]), []);
    }

    #[test]
    fn the_table_has_a_column_per_group_asked() {
        let mut eur = usd_row();
        eur.currency_code = "EUR".into();
        eur.product_code = String::new();
        let rows = [usd_row(), eur];
        assert_eq!(
            revenue_table(&[RevenueGrouping::Month, RevenueGrouping::Product], &rows).render(),
            "PERIOD   PRODUCT      CURRENCY  GROSS    LISTING FEE  REFUNDS  NET       DISBURSED    TAX\n\
             2026-11  prod-code-1  USD       1234.50  37.035       0.00     1197.465  1000.000001  0.001\n\
             2026-11  prod-abc     EUR       1234.50  37.035       0.00     1197.465  1000.000001  0.001\n"
        );
        assert!(
            revenue_table(&[], &rows)
                .render()
                .starts_with("CURRENCY  GROSS ")
        );
    }

    #[test]
    fn csv_is_rfc_4180_with_exact_amounts() {
        let mut quoted = usd_row();
        quoted.product_code = "a,b \"c\"".into();
        quoted.refund_amount_micros = 2_500_000;
        assert_eq!(
            revenue_csv(&[usd_row(), quoted]),
            "period,product_code,product_id,customer_aws_account_id,offer_id,currency_code,gross,listing_fee,refunds,net,disbursed,tax\r\n\
             2026-11,prod-code-1,prod-abc,111122223333,offer-1,USD,1234.50,37.035,0.00,1197.465,1000.000001,0.001\r\n\
             2026-11,\"a,b \"\"c\"\"\",prod-abc,111122223333,offer-1,USD,1234.50,37.035,2.50,1197.465,1000.000001,0.001\r\n"
        );
        assert_eq!(
            revenue_csv(&[]),
            "period,product_code,product_id,customer_aws_account_id,offer_id,currency_code,gross,listing_fee,refunds,net,disbursed,tax\r\n"
        );
    }

    #[test]
    fn json_keeps_integer_micros_and_proto_names() {
        let json = revenue_json(&GetRevenueReportResponse {
            rows: vec![usd_row()],
            data_freshness_time: None,
        });
        assert_eq!(json["rows"][0]["gross_amount_micros"], 1_234_500_000);
        assert_eq!(json["rows"][0]["tax_amount_micros"], 1_000);
        assert_eq!(json["rows"][0]["customer_aws_account_id"], "111122223333");
        assert_eq!(json["data_freshness_time"], Value::Null);
    }

    #[test]
    fn ingestion_shows_feeds_totals_and_rejected_rows() {
        let answer = IngestDataFeedsResponse {
            files: 3,
            rows: 120,
            bytes: 52_311,
            rejected_rows: 2,
            unchanged_files: 4,
            feeds: vec![
                FeedIngestion {
                    feed: DataFeed::BillingEvent as i32,
                    files: 2,
                    rows: 118,
                    rejected_rows: 2,
                },
                FeedIngestion {
                    feed: DataFeed::Account as i32,
                    files: 1,
                    rows: 2,
                    rejected_rows: 0,
                },
            ],
            rejected: vec![RejectedRow {
                key: "billing-event/2026/11/30.csv".into(),
                line: 17,
                reason: "amount: \"12,5\" is not a decimal".into(),
            }],
        };
        assert_eq!(
            feeds_table(&answer).render(),
            "FEED           FILES  ROWS  REJECTED\n\
             billing_event  2      118   2\n\
             account        1      2     0\n\
             total          3      120   2\n"
        );
        assert_eq!(
            ingestion_summary(&answer),
            "\n3 files, 120 rows, 52311 bytes read; 2 rejected rows; 4 unchanged files\n\
             \nrejected rows (the first 1 of 2):\n\
             KEY                           LINE  REASON\n\
             billing-event/2026/11/30.csv  17    amount: \"12,5\" is not a decimal\n"
        );
        let json = ingestion_json(&answer);
        assert_eq!(json["feeds"][0]["feed"], "billing_event");
        assert_eq!(json["rejected"][0]["line"], 17);
        assert_eq!(json["unchanged_files"], 4);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod disbursement_tests {
    use souk_proto::reporting::{Disbursement, DisbursementTotal, OutstandingInvoice};

    use super::*;

    #[test]
    fn payouts_outstanding_invoices_and_totals_are_three_tables() {
        let at = prost_types::Timestamp {
            seconds: 1_801_440_000,
            nanos: 0,
        };
        let report = GetDisbursementReportResponse {
            disbursements: vec![Disbursement {
                billing_event_id: "b1".into(),
                paid_time: Some(at),
                currency_code: "USD".into(),
                amount_micros: 291_000_000,
                bank_trace_id: "souk-1".into(),
                invoice_ids: vec!["inv-1".into(), "inv-2".into()],
            }],
            outstanding: vec![OutstandingInvoice {
                invoice_id: "inv-3".into(),
                currency_code: "USD".into(),
                amount_micros: 11_969_800,
                invoice_time: Some(at),
                age_days: 10,
            }],
            totals: vec![DisbursementTotal {
                currency_code: "USD".into(),
                disbursed_micros: 291_000_000,
                outstanding_micros: 11_969_800,
            }],
        };
        let text = disbursement_tables(&report);
        assert!(text.contains("291.00"), "{text}");
        assert!(text.contains("inv-1 inv-2"), "{text}");
        assert!(text.contains("11.9698"), "{text}");
        assert!(text.contains("AGE (DAYS)"), "{text}");
        let json = disbursement_json(&report);
        assert_eq!(json["totals"][0]["outstanding_micros"], 11_969_800);
        assert_eq!(json["disbursements"][0]["invoice_ids"][1], "inv-2");
        assert_eq!(
            disbursement_csv(&report),
            "kind,id,time,currency_code,amount,bank_trace_id,invoice_ids,age_days\r\n\
             payout,b1,2027-02-01T00:00:00Z,USD,291.00,souk-1,inv-1;inv-2,\r\n\
             outstanding,inv-3,2027-02-01T00:00:00Z,USD,11.9698,,,10\r\n"
        );
    }
}
