//! Installment reconciliation: each installment of the integration's accepted private offers
//! (their payment schedules, from the offer service) against the `INVOICED` `SELLER_REV_SHARE`
//! invoices of its agreement in the billing feed. Installments are paired with invoices in
//! schedule order, each invoice used once and only for an equal amount in the same currency.

use std::collections::{HashMap, HashSet};

use time::{Date, OffsetDateTime, Time};

use super::ports::{AgreementInvoice, ExpectedSchedule};

/// Where an installment stands against the invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallmentStatus {
    /// An invoice of the agreement bills it.
    Invoiced,
    /// Its charge day has not come.
    NotYetDue,
    /// Due, but the billing feed Souk holds was read before its charge day.
    NotYetInvoiced,
    /// Due before the billing feed was read, and no invoice bills it.
    Missing,
}

/// One installment against the invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallmentCheck {
    /// AWS agreement id.
    pub agreement_id: String,
    /// AWS offer id.
    pub aws_offer_id: String,
    /// Souk's offer id.
    pub offer_id: String,
    /// Charge day.
    pub charge_date: Date,
    /// Currency of the amounts.
    pub currency: String,
    /// The installment's amount, micros.
    pub expected_micros: i64,
    /// What the matching invoice bills, micros (0 when none).
    pub invoiced_micros: i64,
    /// The matching invoice (empty when none).
    pub invoice_id: String,
    /// Where it stands.
    pub status: InstallmentStatus,
}

/// Checks the installments of `schedules` charged on `[first, end)` against `invoices` (those
/// paid to an account of `seller`), as of `today`, the billing feed read at `read_at`.
pub fn check(
    schedules: &[ExpectedSchedule],
    invoices: &[AgreementInvoice],
    seller: &HashSet<String>,
    (first, end): (Date, Date),
    today: Date,
    read_at: Option<OffsetDateTime>,
) -> Vec<InstallmentCheck> {
    let mut by_agreement: HashMap<&str, Vec<&AgreementInvoice>> = HashMap::new();
    for invoice in invoices
        .iter()
        .filter(|i| seller.contains(&i.to_account_id))
    {
        by_agreement
            .entry(invoice.agreement_id.as_str())
            .or_default()
            .push(invoice);
    }
    for list in by_agreement.values_mut() {
        list.sort_by(|a, b| (a.invoice_at, &a.invoice_id).cmp(&(b.invoice_at, &b.invoice_id)));
    }
    let mut checks = Vec::new();
    for schedule in schedules {
        let candidates = by_agreement
            .get(schedule.agreement_id.as_str())
            .cloned()
            .unwrap_or_default();
        let mut used = vec![false; candidates.len()];
        let mut installments = schedule.installments.clone();
        installments.sort();
        for (charge_date, expected) in installments {
            let matched = candidates.iter().enumerate().position(|(i, invoice)| {
                !used[i]
                    && invoice.currency == schedule.currency
                    && invoice.amount_micros == expected
            });
            let (status, invoiced, invoice_id) = match matched {
                Some(i) => {
                    used[i] = true;
                    let invoice = candidates[i];
                    (
                        InstallmentStatus::Invoiced,
                        invoice.amount_micros,
                        invoice.invoice_id.clone(),
                    )
                }
                None if charge_date > today => (InstallmentStatus::NotYetDue, 0, String::new()),
                None if read_at.is_none_or(|read| {
                    read < charge_date.with_time(Time::MIDNIGHT).assume_utc()
                }) =>
                {
                    (InstallmentStatus::NotYetInvoiced, 0, String::new())
                }
                None => (InstallmentStatus::Missing, 0, String::new()),
            };
            if charge_date < first || charge_date >= end {
                continue;
            }
            checks.push(InstallmentCheck {
                agreement_id: schedule.agreement_id.clone(),
                aws_offer_id: schedule.aws_offer_id.clone(),
                offer_id: schedule.offer_id.clone(),
                charge_date,
                currency: schedule.currency.clone(),
                expected_micros: expected,
                invoiced_micros: invoiced,
                invoice_id,
                status,
            });
        }
    }
    checks.sort_by(|a, b| (a.charge_date, &a.agreement_id).cmp(&(b.charge_date, &b.agreement_id)));
    checks
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn schedule() -> ExpectedSchedule {
        ExpectedSchedule {
            offer_id: "ofr_1".to_owned(),
            aws_offer_id: "offer-1".to_owned(),
            agreement_id: "agmt-1".to_owned(),
            currency: "USD".to_owned(),
            installments: vec![
                (date!(2026 - 11 - 01), 500_000_000),
                (date!(2026 - 12 - 01), 250_000_000),
                (date!(2027 - 01 - 01), 250_000_000),
            ],
        }
    }

    fn invoice(id: &str, amount: i64, to: &str) -> AgreementInvoice {
        AgreementInvoice {
            agreement_id: "agmt-1".to_owned(),
            invoice_id: id.to_owned(),
            invoice_at: Some(datetime!(2026-11-01 0:00 UTC)),
            currency: "USD".to_owned(),
            amount_micros: amount,
            to_account_id: to.to_owned(),
        }
    }

    fn statuses(
        invoices: &[AgreementInvoice],
        read_at: OffsetDateTime,
    ) -> Vec<(Date, InstallmentStatus, String)> {
        check(
            &[schedule()],
            invoices,
            &HashSet::from(["seller".to_owned()]),
            (date!(2026 - 01 - 01), date!(2028 - 01 - 01)),
            date!(2026 - 12 - 15),
            Some(read_at),
        )
        .into_iter()
        .map(|c| (c.charge_date, c.status, c.invoice_id))
        .collect()
    }

    #[test]
    fn each_installment_takes_one_invoice_of_its_amount() {
        use InstallmentStatus::{Invoiced, Missing, NotYetDue, NotYetInvoiced};
        let read = datetime!(2026-12-10 0:00 UTC);
        assert_eq!(
            statuses(
                &[
                    invoice("inv-1", 500_000_000, "seller"),
                    invoice("inv-2", 250_000_000, "seller")
                ],
                read
            ),
            [
                (date!(2026 - 11 - 01), Invoiced, "inv-1".to_owned()),
                (date!(2026 - 12 - 01), Invoiced, "inv-2".to_owned()),
                (date!(2027 - 01 - 01), NotYetDue, String::new()),
            ]
        );
        // The December invoice is missing once the feed read after its day lacks it; before,
        // it is not invoiced yet; another account's invoice or another amount does not count.
        let december = |invoices: &[AgreementInvoice], read| statuses(invoices, read)[1].1;
        let first = invoice("inv-1", 500_000_000, "seller");
        assert_eq!(december(std::slice::from_ref(&first), read), Missing);
        assert_eq!(
            december(std::slice::from_ref(&first), datetime!(2026-11-20 0:00 UTC)),
            NotYetInvoiced
        );
        assert_eq!(
            december(
                &[first.clone(), invoice("inv-2", 250_000_000, "reseller")],
                read
            ),
            Missing
        );
        assert_eq!(
            december(&[first, invoice("inv-2", 240_000_000, "seller")], read),
            Missing
        );
    }
}
