//! The revenue page's sections, made from what the report use cases answered: the totals per
//! currency, then per currency the revenue per month (gross and net), the disbursements per
//! month and the top customers by gross. Currencies are never added together.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::disbursement::DisbursementReport;
use crate::domain::revenue::{RevenueReport, RevenueRow};

use super::chart::{BarChart, Series};
use super::page::{Section, Table, amount, paragraph};

/// The colour of the gross bars (the e2e test looks for it in the screenshot).
pub const GROSS_COLOUR: &str = "#2563eb";
/// The colour of the net bars.
pub const NET_COLOUR: &str = "#16a34a";
/// The colour of the disbursement bars.
pub const DISBURSED_COLOUR: &str = "#d97706";

/// How many customers the top list shows per currency.
pub const TOP_CUSTOMERS: usize = 10;

/// Most months drawn with the empty ones between; beyond, only months with figures are drawn.
const MAX_FILLED_MONTHS: usize = 120;

/// What the page is made from.
#[derive(Debug, Clone, Copy)]
pub struct Reports<'a> {
    /// Revenue grouped by month.
    pub by_month: &'a RevenueReport,
    /// Revenue grouped by customer.
    pub by_customer: &'a RevenueReport,
    /// Payouts and what is outstanding.
    pub disbursements: &'a DisbursementReport,
}

/// Every section, in page order.
pub fn sections(reports: Reports<'_>) -> Vec<Section> {
    let currencies: BTreeSet<&str> = reports
        .by_month
        .rows
        .iter()
        .map(|r| r.currency.as_str())
        .chain(reports.by_customer.rows.iter().map(|r| r.currency.as_str()))
        .chain(
            reports
                .disbursements
                .payouts
                .iter()
                .map(|p| p.currency.as_str()),
        )
        .chain(reports.disbursements.totals.keys().map(String::as_str))
        .collect();
    if currencies.is_empty() {
        return vec![Section {
            id: "no-data".into(),
            title: "No data".into(),
            body: paragraph(
                "No billing events of this integration's seller account in this range. Have the \
                 data feeds been read? (souk report ingest --integration …)",
            ),
        }];
    }
    let mut out = vec![totals(reports, &currencies)];
    for currency in currencies {
        let months = month_axis(reports, currency);
        out.push(revenue_chart(reports, currency, &months));
        out.push(disbursement_chart(reports, currency, &months));
        out.push(top_customers(reports, currency));
    }
    out
}

fn section_id(kind: &str, currency: &str) -> String {
    let currency: String = currency
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{kind}-{}", currency.to_ascii_lowercase())
}

/// The totals table: revenue per currency over the range, and what is outstanding now.
fn totals(reports: Reports<'_>, currencies: &BTreeSet<&str>) -> Section {
    let mut sums: BTreeMap<&str, [i64; 6]> = BTreeMap::new();
    for row in &reports.by_month.rows {
        let sum = sums.entry(row.currency.as_str()).or_default();
        for (total, value) in sum.iter_mut().zip(figures(row)) {
            *total += value;
        }
    }
    let mut table = Table {
        columns: [
            "Currency",
            "Gross",
            "Listing fee",
            "Refunds",
            "Net",
            "Disbursed",
            "Tax",
            "Outstanding now",
        ]
        .map(String::from)
        .to_vec(),
        text_columns: 1,
        rows: Vec::new(),
    };
    for currency in currencies {
        let sum = sums.get(currency).copied().unwrap_or_default();
        let outstanding = reports
            .disbursements
            .totals
            .get(*currency)
            .map_or(0, |(_, outstanding)| *outstanding);
        let mut row = vec![(*currency).to_owned()];
        row.extend(sum.iter().map(|m| amount(*m)));
        row.push(amount(outstanding));
        table.rows.push(row);
    }
    Section {
        id: "totals".into(),
        title: "Totals".into(),
        body: table.html(),
    }
}

/// Gross, listing fee, refunds, net, disbursed, tax.
fn figures(row: &RevenueRow) -> [i64; 6] {
    [
        row.gross_micros,
        row.listing_fee_micros,
        row.refund_micros,
        row.net_micros,
        row.disbursed_micros,
        row.tax_micros,
    ]
}

/// `YYYY-MM` of the payout months and revenue months of `currency`, with the months between.
fn month_axis(reports: Reports<'_>, currency: &str) -> Vec<String> {
    let mut months: BTreeSet<String> = reports
        .by_month
        .rows
        .iter()
        .filter(|r| r.currency == currency)
        .map(|r| r.period.clone())
        .collect();
    months.extend(
        reports
            .disbursements
            .payouts
            .iter()
            .filter(|p| p.currency == currency)
            .map(|p| month_of(p.paid_at)),
    );
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Vec::new();
    };
    let (Some(mut at), Some(end)) = (parse_month(first), parse_month(last)) else {
        return months.into_iter().collect();
    };
    let mut filled = Vec::new();
    while at <= end && filled.len() <= MAX_FILLED_MONTHS {
        filled.push(format!("{:04}-{:02}", at.0, at.1));
        at = if at.1 == 12 {
            (at.0 + 1, 1)
        } else {
            (at.0, at.1 + 1)
        };
    }
    if filled.len() > MAX_FILLED_MONTHS {
        return months.into_iter().collect();
    }
    filled
}

fn parse_month(month: &str) -> Option<(i32, u8)> {
    let (year, month) = month.split_once('-')?;
    let month: u8 = month.parse().ok()?;
    (1..=12)
        .contains(&month)
        .then_some((year.parse().ok()?, month))
}

fn month_of(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}", at.year(), u8::from(at.month()))
}

fn revenue_chart(reports: Reports<'_>, currency: &str, months: &[String]) -> Section {
    let by_period: BTreeMap<&str, &RevenueRow> = reports
        .by_month
        .rows
        .iter()
        .filter(|r| r.currency == currency)
        .map(|r| (r.period.as_str(), r))
        .collect();
    let chart = BarChart {
        title: format!("Gross and net revenue per month in {currency}"),
        currency: currency.to_owned(),
        series: vec![
            Series {
                name: "gross".into(),
                colour: GROSS_COLOUR,
            },
            Series {
                name: "net".into(),
                colour: NET_COLOUR,
            },
        ],
        categories: months
            .iter()
            .map(|month| {
                let row = by_period.get(month.as_str());
                (
                    month.clone(),
                    vec![
                        row.map_or(0, |r| r.gross_micros),
                        row.map_or(0, |r| r.net_micros),
                    ],
                )
            })
            .collect(),
    };
    Section {
        id: section_id("revenue", currency),
        title: format!("Revenue per month ({currency})"),
        body: if chart.is_empty() {
            paragraph("No revenue in this range.")
        } else {
            chart.svg()
        },
    }
}

fn disbursement_chart(reports: Reports<'_>, currency: &str, months: &[String]) -> Section {
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    for payout in reports
        .disbursements
        .payouts
        .iter()
        .filter(|p| p.currency == currency)
    {
        *paid.entry(month_of(payout.paid_at)).or_default() += payout.amount_micros;
    }
    let chart = BarChart {
        title: format!("Disbursements per month in {currency}"),
        currency: currency.to_owned(),
        series: vec![Series {
            name: "disbursed".into(),
            colour: DISBURSED_COLOUR,
        }],
        categories: months
            .iter()
            .map(|month| (month.clone(), vec![paid.get(month).copied().unwrap_or(0)]))
            .collect(),
    };
    Section {
        id: section_id("disbursements", currency),
        title: format!("Disbursements per month ({currency})"),
        body: if chart.is_empty() {
            paragraph("No disbursements in this range.")
        } else {
            chart.svg()
        },
    }
}

fn top_customers(reports: Reports<'_>, currency: &str) -> Section {
    let mut rows: Vec<&RevenueRow> = reports
        .by_customer
        .rows
        .iter()
        .filter(|r| r.currency == currency)
        // The seller's own account (its payouts) and others without sales are no customers.
        .filter(|r| r.gross_micros != 0 || r.refund_micros != 0 || r.net_micros != 0)
        .collect();
    rows.sort_by(|a, b| {
        b.gross_micros
            .cmp(&a.gross_micros)
            .then_with(|| a.customer_aws_account_id.cmp(&b.customer_aws_account_id))
    });
    let shown = rows.len().min(TOP_CUSTOMERS);
    let table = Table {
        columns: ["Customer (AWS account)", "Gross", "Refunds", "Net"]
            .map(String::from)
            .to_vec(),
        text_columns: 1,
        rows: rows
            .iter()
            .take(TOP_CUSTOMERS)
            .map(|r| {
                vec![
                    if r.customer_aws_account_id.is_empty() {
                        "(none)".to_owned()
                    } else {
                        r.customer_aws_account_id.clone()
                    },
                    amount(r.gross_micros),
                    amount(r.refund_micros),
                    amount(r.net_micros),
                ]
            })
            .collect(),
    };
    Section {
        id: section_id("customers", currency),
        title: format!("Top customers by gross ({currency})"),
        body: if shown == 0 {
            paragraph("No customers in this range.")
        } else if rows.len() > shown {
            format!(
                "{}{}",
                table.html(),
                paragraph(&format!("{shown} of {} customers.", rows.len()))
            )
        } else {
            table.html()
        },
    }
}
