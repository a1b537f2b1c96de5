//! The disbursement report: what AWS paid out to the integration's seller account (each
//! `DISBURSEMENT` row, with the invoices its `DISBURSED` rows settle) and what is invoiced but
//! not paid out yet (balance-impacting rows of the seller no `DISBURSED` row settles), with its
//! age. Per currency, never added across currencies.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::error::Error;
use super::filter::Filter;
use super::ports::Acting;
use super::revenue::Reports;

/// One payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    /// The DISBURSEMENT billing event.
    pub billing_event_id: String,
    /// When it was paid.
    pub paid_at: OffsetDateTime,
    /// Currency of the amount.
    pub currency: String,
    /// Paid to the seller's bank, micros.
    pub amount_micros: i64,
    /// Bank trace id.
    pub bank_trace_id: String,
    /// The invoices it settles, sorted.
    pub invoice_ids: Vec<String>,
}

/// The part of one invoice not paid out yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outstanding {
    /// The invoice.
    pub invoice_id: String,
    /// Currency of the amount.
    pub currency: String,
    /// The seller's net of the invoice not disbursed yet, micros.
    pub amount_micros: i64,
    /// When the buyer was invoiced.
    pub invoice_at: Option<OffsetDateTime>,
    /// Whole days since then.
    pub age_days: i64,
}

/// A disbursement report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisbursementReport {
    /// The payouts in the range, oldest first.
    pub payouts: Vec<Payout>,
    /// What is not paid out yet, oldest first.
    pub outstanding: Vec<Outstanding>,
    /// Per currency: (disbursed in the range, outstanding now).
    pub totals: BTreeMap<String, (i64, i64)>,
}

impl Reports {
    /// The payouts to the integration's seller account in `[start, end)` and what is
    /// outstanding now.
    pub async fn disbursements(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    ) -> Result<DisbursementReport, Error> {
        self.filtered_disbursements(acting, start, end, &Filter::default())
            .await
    }

    /// [`Reports::disbursements`] over the billing events `filter` keeps: the payouts that
    /// settle at least one of them, each for the part that settles them (minus their
    /// `DISBURSED` rows) with their invoices, and the outstanding invoices among them.
    pub async fn filtered_disbursements(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        filter: &Filter,
    ) -> Result<DisbursementReport, Error> {
        let now = self.now();
        let names = self.names(acting).await?;
        let selection = self.selection(acting, filter, &names).await?;
        let mut seller: Vec<String> = names.seller.iter().cloned().collect();
        seller.sort();
        let store = self.store();
        let mut payouts = store.payouts(acting, &seller, start, end).await?;
        if selection.is_all() {
            let settled = store.settled_invoices(acting).await?;
            for payout in &mut payouts {
                if let Some(invoices) = settled.get(&payout.billing_event_id) {
                    payout.invoice_ids.clone_from(invoices);
                }
            }
        } else {
            let mut parts: HashMap<String, (i64, Vec<String>)> = HashMap::new();
            for s in store.selected_settlements(acting, &selection).await? {
                let part = parts.entry(s.payout_id).or_default();
                part.0 -= s.amount_micros;
                if !s.invoice_id.is_empty() {
                    part.1.push(s.invoice_id);
                }
            }
            payouts.retain_mut(|payout| match parts.remove(&payout.billing_event_id) {
                Some((amount, mut invoices)) => {
                    invoices.sort();
                    invoices.dedup();
                    payout.amount_micros = amount;
                    payout.invoice_ids = invoices;
                    true
                }
                None => false,
            });
        }
        let mut outstanding = store.outstanding(acting, &seller, &selection).await?;
        for o in &mut outstanding {
            o.age_days = o.invoice_at.map_or(0, |at| (now - at).whole_days().max(0));
        }
        let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for p in &payouts {
            totals.entry(p.currency.clone()).or_default().0 += p.amount_micros;
        }
        for o in &outstanding {
            totals.entry(o.currency.clone()).or_default().1 += o.amount_micros;
        }
        Ok(DisbursementReport {
            payouts,
            outstanding,
            totals,
        })
    }
}
