//! `souk report usage`: what the metering service recorded per period, customer, product and
//! dimension, and how much of it AWS accepted, refused or is still to receive, fetched page by
//! page, as a table or JSON.

use serde_json::{Value, json};
use souk_proto::reporting::{GetUsageReportRequest, Granularity, UsagePeriod};

use super::billing_events::period;
use super::call;
use super::offers::usage;
use super::output::{Table, csv};
use super::reports::reporting_client;
use crate::args::{GranularityArg, RevenueFormat, UsageReportArgs};

/// Largest page the server gives.
const MAX_PAGE: i32 = 1000;

/// Fetches every page and prints the rows.
pub async fn run(request: UsageReportArgs) -> anyhow::Result<()> {
    let client = &request.client;
    let period = period(Some(&request.from), Some(&request.to)).map_err(usage)?;
    let mut reporting = reporting_client(client).await?;
    let mut rows = Vec::new();
    let mut token = String::new();
    loop {
        let page = call(reporting.get_usage_report(GetUsageReportRequest {
            page_size: MAX_PAGE,
            page_token: token,
            period,
            granularity: match request.by {
                GranularityArg::Day => Granularity::Day,
                GranularityArg::Month => Granularity::Month,
            } as i32,
            integration_id: request.integration.clone().unwrap_or_default(),
            customer_id: request.customer.clone().unwrap_or_default(),
            product_code: request.product_code.clone().unwrap_or_default(),
            dimension: request.dimension.clone().unwrap_or_default(),
        }))
        .await?;
        rows.extend(page.rows);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    match client.output {
        RevenueFormat::Table => print!("{}", table(&rows).render()),
        RevenueFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "rows": rows_json(&rows) })).unwrap_or_default()
        ),
        RevenueFormat::Csv => print!("{}", rows_csv(&rows)),
    }
    Ok(())
}

fn day(row: &UsagePeriod, end: bool) -> String {
    let range = row.period.as_ref();
    let date = if end {
        range.and_then(|r| r.end_date.as_ref())
    } else {
        range.and_then(|r| r.start_date.as_ref())
    };
    date.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default()
}

fn table(rows: &[UsagePeriod]) -> Table {
    let mut table = Table::new(vec![
        "FROM",
        "TO",
        "CUSTOMER",
        "PRODUCT",
        "DIMENSION",
        "RECORDED",
        "SHIPPED",
        "REJECTED",
        "PENDING",
    ]);
    for row in rows {
        table.row(cells(row));
    }
    table
}

/// A row's cells, in the table's and the CSV's column order.
fn cells(row: &UsagePeriod) -> Vec<String> {
    vec![
        day(row, false),
        day(row, true),
        row.customer_id.clone(),
        row.product_code.clone(),
        row.dimension.clone(),
        row.recorded_quantity.to_string(),
        row.shipped_quantity.to_string(),
        row.rejected_quantity.to_string(),
        row.pending_quantity.to_string(),
    ]
}

fn rows_json(rows: &[UsagePeriod]) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            json!({
                "from": day(row, false),
                "to": day(row, true),
                "customer_id": row.customer_id,
                "product_code": row.product_code,
                "dimension": row.dimension,
                "recorded_quantity": row.recorded_quantity,
                "shipped_quantity": row.shipped_quantity,
                "rejected_quantity": row.rejected_quantity,
                "pending_quantity": row.pending_quantity,
            })
        })
        .collect()
}

/// The rows as CSV: the JSON's fields, in its order.
fn rows_csv(rows: &[UsagePeriod]) -> String {
    const HEADER: &[&str] = &[
        "from",
        "to",
        "customer_id",
        "product_code",
        "dimension",
        "recorded_quantity",
        "shipped_quantity",
        "rejected_quantity",
        "pending_quantity",
    ];
    csv(HEADER, rows.iter().map(cells))
}

#[cfg(test)]
mod tests {
    use souk_proto::common::{Date, DateRange};

    use super::*;

    #[test]
    fn usage_prints_as_a_table_csv_and_json() {
        let rows = [UsagePeriod {
            period: Some(DateRange {
                start_date: Some(Date {
                    year: 2026,
                    month: 12,
                    day: 1,
                }),
                end_date: Some(Date {
                    year: 2026,
                    month: 12,
                    day: 2,
                }),
            }),
            customer_id: "cus_1".into(),
            product_code: "souk-demo-saas".into(),
            dimension: "users".into(),
            recorded_quantity: 47,
            shipped_quantity: 40,
            rejected_quantity: 0,
            pending_quantity: 7,
        }];
        assert_eq!(
            rows_csv(&rows),
            "from,to,customer_id,product_code,dimension,recorded_quantity,shipped_quantity,\
             rejected_quantity,pending_quantity\r\n\
             2026-12-01,2026-12-02,cus_1,souk-demo-saas,users,47,40,0,7\r\n"
        );
        let text = table(&rows).render();
        assert!(text.contains("RECORDED"), "{text}");
        assert!(text.contains("2026-12-01"), "{text}");
        assert_eq!(rows_json(&rows)[0]["pending_quantity"], 7);
    }
}
