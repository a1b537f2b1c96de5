//! The revenue page's reconciliation section: how many usage rows match and how many differ,
//! by cause, the differences themselves, and where the installments stand. When the
//! reconciliation cannot be made (this process does not read the metering records), the
//! section says why instead of failing the page.

use std::collections::BTreeMap;

use crate::domain::Error;
use crate::domain::installments::InstallmentStatus;
use crate::domain::reconciliation::{Cause, MICROS_PER_UNIT, ReconciliationReport};

use super::page::{Section, Table, amount, paragraph};

/// Most differences listed; the counts cover them all.
const LISTED: usize = 50;

/// The section for `report`.
pub fn section(report: Result<&ReconciliationReport, &Error>) -> Section {
    let body = match report {
        Ok(report) => body(report),
        Err(Error::FailedPrecondition(reason)) => paragraph(reason),
        Err(_) => paragraph("The reconciliation cannot be read right now; reload in a moment."),
    };
    Section {
        id: "reconciliation".into(),
        title: "Reconciliation: shipped against billed usage".into(),
        body,
    }
}

fn body(report: &ReconciliationReport) -> String {
    let mut by_cause: BTreeMap<Cause, u64> = BTreeMap::new();
    for row in &report.rows {
        *by_cause.entry(row.cause).or_default() += 1;
    }
    by_cause.insert(Cause::Matched, report.matched);
    let mut counts = Table {
        columns: ["Status", "Explanation", "Rows"].map(String::from).to_vec(),
        text_columns: 2,
        rows: Vec::new(),
    };
    for (cause, n) in &by_cause {
        counts.rows.push(vec![
            cause.as_str().replace('_', " "),
            cause.explanation().to_owned(),
            n.to_string(),
        ]);
    }
    let mut out = counts.html();
    let differences: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.cause != Cause::Matched)
        .collect();
    if differences.is_empty() {
        out.push_str(&paragraph(
            "Every month's shipped usage matches what AWS billed.",
        ));
    } else {
        let mut table = Table {
            columns: [
                "Month",
                "Customer",
                "Product",
                "Dimension",
                "Status",
                "Shipped",
                "Billed",
                "Difference",
            ]
            .map(String::from)
            .to_vec(),
            text_columns: 5,
            rows: Vec::new(),
        };
        for row in differences.iter().take(LISTED) {
            table.rows.push(vec![
                row.key.month.clone(),
                row.key.customer.clone(),
                row.key.product_code.clone(),
                row.key.dimension.clone(),
                row.cause.as_str().replace('_', " "),
                row.shipped.to_string(),
                (row.billed_micros / MICROS_PER_UNIT).to_string(),
                (row.difference_micros() / MICROS_PER_UNIT).to_string(),
            ]);
        }
        out.push_str(&table.html());
        if differences.len() > LISTED {
            out.push_str(&paragraph(&format!(
                "The first {LISTED} of {} differences; souk report reconcile lists them all.",
                differences.len()
            )));
        }
    }
    if !report.installments.is_empty() {
        let mut table = Table {
            columns: [
                "Charge day",
                "Agreement",
                "Status",
                "Currency",
                "Expected",
                "Invoiced",
            ]
            .map(String::from)
            .to_vec(),
            text_columns: 4,
            rows: Vec::new(),
        };
        for check in &report.installments {
            table.rows.push(vec![
                check.charge_date.to_string(),
                check.agreement_id.clone(),
                match check.status {
                    InstallmentStatus::Invoiced => "invoiced",
                    InstallmentStatus::NotYetDue => "not yet due",
                    InstallmentStatus::NotYetInvoiced => "not yet invoiced",
                    InstallmentStatus::Missing => "missing",
                }
                .to_owned(),
                check.currency.clone(),
                amount(check.expected_micros),
                amount(check.invoiced_micros),
            ]);
        }
        out.push_str(&table.html());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reconciliation::{DiscrepancyKey, ReconciledUsage};

    fn row(customer: &str, shipped: i64, billed: i64, cause: Cause) -> ReconciledUsage {
        ReconciledUsage {
            key: DiscrepancyKey {
                month: "2026-12".to_owned(),
                customer: customer.to_owned(),
                product_code: "code<a>".to_owned(),
                dimension: "users".to_owned(),
            },
            customer_aws_account_id: customer.to_owned(),
            customer_id: "cus_1".to_owned(),
            shipped,
            billed_micros: billed * MICROS_PER_UNIT,
            rejected: 0,
            pending: 0,
            cause,
        }
    }

    #[test]
    fn counts_by_cause_and_lists_the_differences_escaped() {
        let report = ReconciliationReport {
            rows: vec![row("555566667777", 40, 45, Cause::NotShippedBySouk)],
            matched: 3,
            discrepancies: 1,
            ..ReconciliationReport::default()
        };
        let html = section(Ok(&report)).body;
        assert!(html.contains("<td>matched</td>"), "{html}");
        assert!(html.contains("<td class=\"num\">3</td>"), "{html}");
        assert!(html.contains("<td>not shipped by souk</td>"), "{html}");
        assert!(html.contains("<td>code&lt;a&gt;</td>"), "{html}");
        assert!(html.contains("<td class=\"num\">-5</td>"), "{html}");
    }

    #[test]
    fn a_reconciliation_that_cannot_be_made_says_why() {
        let error = Error::FailedPrecondition("no metering records here".to_owned());
        assert!(
            section(Err(&error))
                .body
                .contains("no metering records here")
        );
        let html = section(Ok(&ReconciliationReport::default())).body;
        assert!(html.contains("matches what AWS billed"), "{html}");
    }
}
