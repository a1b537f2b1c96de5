//! `souk report reconcile`: per month, buyer, product and dimension, the usage Souk shipped
//! against the usage AWS billed, each difference with its likely cause and what to do; and the
//! accepted offers' installments against their invoices.

use serde_json::{Value, json};
use souk_proto::reporting::{
    GetReconciliationReportRequest, GetReconciliationReportResponse, InstallmentCheck,
    ReconciliationRow, ReportFilter,
};

use super::call;
use super::output::{Table, csv, enum_name, time};
use super::reports::{amount, range, reporting_client};
use crate::args::{ReconcileArgs, RevenueFormat};

/// Asks for the reconciliation and prints it.
pub async fn run(request: ReconcileArgs) -> anyhow::Result<()> {
    let client = &request.client;
    let (start_time, end_time) = range(request.from, request.to)?;
    let mut reporting = reporting_client(client).await?;
    let filter = ReportFilter {
        product_codes: request.product_codes,
        customer_aws_account_ids: request.customers,
        ..ReportFilter::default()
    };
    let report = call(
        reporting.get_reconciliation_report(GetReconciliationReportRequest {
            integration_id: request.integration,
            start_time,
            end_time,
            filter: (filter != ReportFilter::default()).then_some(filter),
            include_matched: request.all,
        }),
    )
    .await?;
    match client.output {
        RevenueFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&report)).unwrap_or_default()
        ),
        RevenueFormat::Csv => print!("{}", rows_csv(&report.rows)),
        RevenueFormat::Table => print!("{}", tables(&report)),
    }
    Ok(())
}

/// The usage rows, the installments (when any) and a summary line.
fn tables(report: &GetReconciliationReportResponse) -> String {
    let mut out = table(&report.rows).render();
    if !report.installments.is_empty() {
        out.push('\n');
        out.push_str(&installments_table(&report.installments).render());
    }
    let freshness = match time(report.data_freshness_time.as_ref()) {
        t if t.is_empty() => "never read".to_owned(),
        t => t,
    };
    out.push_str(&format!(
        "{} matched, {} with a difference (billing events as of {freshness})\n",
        report.matched, report.discrepancies
    ));
    out
}

fn cause(row: &ReconciliationRow) -> String {
    enum_name(row.cause().as_str_name(), "RECONCILIATION_CAUSE_")
}

fn table(rows: &[ReconciliationRow]) -> Table {
    let mut table = Table::new(vec![
        "MONTH",
        "CUSTOMER",
        "PRODUCT",
        "DIMENSION",
        "SHIPPED",
        "BILLED",
        "DIFF",
        "REJECTED",
        "PENDING",
        "CAUSE",
    ]);
    for row in rows {
        table.row(vec![
            row.period.clone(),
            if row.customer_aws_account_id.is_empty() {
                row.customer_id.clone()
            } else {
                row.customer_aws_account_id.clone()
            },
            row.product_code.clone(),
            row.dimension.clone(),
            row.shipped_quantity.to_string(),
            row.billed_quantity.to_string(),
            row.difference.to_string(),
            row.rejected_quantity.to_string(),
            row.pending_quantity.to_string(),
            cause(row),
        ]);
    }
    table
}

fn installment_status(check: &InstallmentCheck) -> String {
    enum_name(check.status().as_str_name(), "INSTALLMENT_STATUS_")
}

fn charge_day(check: &InstallmentCheck) -> String {
    check
        .charge_date
        .as_ref()
        .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default()
}

fn installments_table(checks: &[InstallmentCheck]) -> Table {
    let mut table = Table::new(vec![
        "CHARGE DAY",
        "AGREEMENT",
        "OFFER",
        "CURRENCY",
        "EXPECTED",
        "INVOICED",
        "INVOICE",
        "STATUS",
    ]);
    for check in checks {
        table.row(vec![
            charge_day(check),
            check.agreement_id.clone(),
            check.offer_id.clone(),
            check.currency_code.clone(),
            amount(check.expected_micros),
            amount(check.invoiced_micros),
            check.invoice_id.clone(),
            installment_status(check),
        ]);
    }
    table
}

fn report_json(report: &GetReconciliationReportResponse) -> Value {
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|row| {
            json!({
                "period": row.period,
                "customer_aws_account_id": row.customer_aws_account_id,
                "customer_id": row.customer_id,
                "product_code": row.product_code,
                "dimension": row.dimension,
                "shipped_quantity": row.shipped_quantity,
                "billed_quantity": row.billed_quantity,
                "rejected_quantity": row.rejected_quantity,
                "pending_quantity": row.pending_quantity,
                "difference": row.difference,
                "cause": cause(row),
                "explanation": row.explanation,
            })
        })
        .collect();
    let installments: Vec<Value> = report
        .installments
        .iter()
        .map(|check| {
            json!({
                "charge_date": charge_day(check),
                "agreement_id": check.agreement_id,
                "offer_id": check.offer_id,
                "souk_offer_id": check.souk_offer_id,
                "currency_code": check.currency_code,
                "expected_micros": check.expected_micros,
                "invoiced_micros": check.invoiced_micros,
                "invoice_id": check.invoice_id,
                "status": installment_status(check),
            })
        })
        .collect();
    json!({
        "rows": rows,
        "installments": installments,
        "matched": report.matched,
        "discrepancies": report.discrepancies,
        "data_freshness_time": super::output::time_json(report.data_freshness_time.as_ref()),
    })
}

/// The usage rows as CSV (the installments are in the table and JSON outputs).
fn rows_csv(rows: &[ReconciliationRow]) -> String {
    const HEADER: &[&str] = &[
        "period",
        "customer_aws_account_id",
        "customer_id",
        "product_code",
        "dimension",
        "shipped_quantity",
        "billed_quantity",
        "difference",
        "rejected_quantity",
        "pending_quantity",
        "cause",
    ];
    csv(
        HEADER,
        rows.iter().map(|row| {
            vec![
                row.period.clone(),
                row.customer_aws_account_id.clone(),
                row.customer_id.clone(),
                row.product_code.clone(),
                row.dimension.clone(),
                row.shipped_quantity.to_string(),
                row.billed_quantity.to_string(),
                row.difference.to_string(),
                row.rejected_quantity.to_string(),
                row.pending_quantity.to_string(),
                cause(row),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use souk_proto::common::Date;
    use souk_proto::reporting::{InstallmentStatus, ReconciliationCause};

    use super::*;

    fn report() -> GetReconciliationReportResponse {
        GetReconciliationReportResponse {
            rows: vec![ReconciliationRow {
                period: "2026-12".into(),
                customer_aws_account_id: "555566667777".into(),
                customer_id: "cus_1".into(),
                product_code: "souk-demo-saas".into(),
                dimension: "users".into(),
                shipped_quantity: 40,
                billed_quantity: 45,
                difference: -5,
                cause: ReconciliationCause::NotShippedBySouk as i32,
                explanation: "AWS billed more".into(),
                ..ReconciliationRow::default()
            }],
            installments: vec![InstallmentCheck {
                agreement_id: "agmt-1".into(),
                charge_date: Some(Date {
                    year: 2026,
                    month: 12,
                    day: 3,
                }),
                currency_code: "USD".into(),
                expected_micros: 1_200_000_000,
                status: InstallmentStatus::Missing as i32,
                ..InstallmentCheck::default()
            }],
            matched: 1,
            discrepancies: 1,
            data_freshness_time: None,
        }
    }

    #[test]
    fn reconciliation_prints_as_tables_csv_and_json() {
        let text = tables(&report());
        assert!(text.contains("not_shipped_by_souk"), "{text}");
        assert!(text.contains("2026-12-03"), "{text}");
        assert!(text.contains("1200.00"), "{text}");
        assert!(text.contains("missing"), "{text}");
        assert!(
            text.ends_with("1 matched, 1 with a difference (billing events as of never read)\n"),
            "{text}"
        );
        assert_eq!(
            rows_csv(&report().rows),
            "period,customer_aws_account_id,customer_id,product_code,dimension,shipped_quantity,\
             billed_quantity,difference,rejected_quantity,pending_quantity,cause\r\n\
             2026-12,555566667777,cus_1,souk-demo-saas,users,40,45,-5,0,0,not_shipped_by_souk\r\n"
        );
        let json = report_json(&report());
        assert_eq!(json["rows"][0]["cause"], "not_shipped_by_souk");
        assert_eq!(json["installments"][0]["status"], "missing");
        assert_eq!(json["installments"][0]["charge_date"], "2026-12-03");
    }
}
