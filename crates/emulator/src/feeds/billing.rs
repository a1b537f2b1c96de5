//! `billing_event` rows (docs/aws/data-feeds.md, billing_event) from charges, refunds and disbursements:
//!
//! * each invoice line: `INVOICED SELLER_REV_SHARE` (+price, buyer → seller) and
//!   `INVOICED AWS_REV_SHARE` (−listing fee, seller → AWS), both balance impacting;
//! * each refund: `INVOICED SELLER_REV_SHARE_REFUND` (−amount) and `AWS_REV_SHARE_REFUND`
//!   (+its share of the fee), parented to the refunded rows;
//! * each disbursement: one `DISBURSED` row per disbursed row with the amount negated
//!   (`parent_billing_event_id` = that row, `disbursement_billing_event_id` = the disbursement),
//!   and one `DISBURSED DISBURSEMENT` row carrying the amount paid (positive, not balance
//!   impacting), so `SUM(amount) WHERE balance_impacting = 1` is the pending balance.

use serde::Serialize;

pub use super::model::{Disbursement, Refund};

use super::ids::{account_id, event_id};
use super::ledger::Charge;
use super::money::share_micros;
use crate::at::At;

/// One billing event. The control API lists them as JSON, with times in `time`'s serde form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillingEvent {
    /// 40-character id.
    pub billing_event_id: String,
    /// AWS account ids (mapped to `account_id` join keys when rendered).
    pub from_account: String,
    /// Receiving account.
    pub to_account: String,
    /// End user account.
    pub end_user_account: String,
    /// Product id.
    pub product_id: String,
    /// `INVOICED` or `DISBURSED`.
    pub action: &'static str,
    /// Transaction type.
    pub transaction_type: &'static str,
    /// Parent event.
    pub parent_billing_event_id: Option<String>,
    /// Disbursement event.
    pub disbursement_billing_event_id: Option<String>,
    /// Currency.
    pub currency: String,
    /// Amount, micros.
    pub amount_micros: i64,
    /// Whether it counts towards the seller balance.
    pub balance_impacting: bool,
    /// Invoice date.
    #[serde(with = "crate::at::offset_datetime::option")]
    pub invoice_date: Option<At>,
    /// Payment due date.
    #[serde(with = "crate::at::offset_datetime::option")]
    pub payment_due_date: Option<At>,
    /// Usage period.
    #[serde(with = "crate::at::offset_datetime::option_pair")]
    pub usage_period: Option<(At, At)>,
    /// Invoice id.
    pub invoice_id: Option<String>,
    /// Groups the rows of one transaction.
    pub transaction_reference_id: String,
    /// Bank trace id (disbursements).
    pub bank_trace_id: Option<String>,
    /// Agreement id, when known.
    pub agreement_id: Option<String>,
    /// Offer id, when known.
    pub offer_id: Option<String>,
    /// When the row entered the feed.
    #[serde(with = "crate::at::offset_datetime")]
    pub inserted_at: At,
    /// Metered quantity invoiced, as a plain decimal (usage rows only; extra column, like
    /// `agreement_id` and `offer_id`).
    pub usage_quantity: Option<String>,
}

/// Parties and fee for building events.
#[derive(Debug, Clone)]
pub struct Parties {
    /// AWS's own account (receives the listing fee).
    pub aws_account: String,
    /// Listing fee in basis points.
    pub fee_bps: u32,
}

/// Every billing event, in insertion order.
pub fn events(
    charges: &[Charge],
    refunds: &[Refund],
    disbursements: &[Disbursement],
    parties: &Parties,
) -> Vec<BillingEvent> {
    let mut events = Vec::new();
    for charge in charges {
        let reference = event_id(&format!("txn|{}", charge.invoice_id));
        let base = BillingEvent {
            billing_event_id: event_id(&format!("INVOICED|SELLER_REV_SHARE|{}", charge.invoice_id)),
            from_account: charge.buyer_account_id.clone(),
            to_account: charge.seller_account_id.clone(),
            end_user_account: charge.buyer_account_id.clone(),
            product_id: charge.product_id.clone(),
            action: "INVOICED",
            transaction_type: "SELLER_REV_SHARE",
            parent_billing_event_id: None,
            disbursement_billing_event_id: None,
            currency: charge.currency.clone(),
            amount_micros: charge.amount_micros,
            balance_impacting: true,
            invoice_date: Some(charge.invoice_date),
            payment_due_date: Some(charge.payment_due_date),
            usage_period: charge.usage_period,
            invoice_id: Some(charge.invoice_id.clone()),
            transaction_reference_id: reference,
            bank_trace_id: None,
            agreement_id: charge.agreement_id.clone(),
            offer_id: charge.offer_id.clone(),
            inserted_at: charge.invoice_date,
            usage_quantity: charge
                .usage_quantity_micros
                .map(crate::metering::quantity::format_micros),
        };
        let fee = BillingEvent {
            billing_event_id: event_id(&format!("INVOICED|AWS_REV_SHARE|{}", charge.invoice_id)),
            from_account: charge.seller_account_id.clone(),
            to_account: parties.aws_account.clone(),
            transaction_type: "AWS_REV_SHARE",
            amount_micros: -share_micros(charge.amount_micros, parties.fee_bps),
            ..base.clone()
        };
        events.push(base);
        events.push(fee);
    }
    for refund in refunds {
        let Some(original) = events
            .iter()
            .find(|e| {
                e.invoice_id.as_deref() == Some(&refund.invoice_id)
                    && e.transaction_type == "SELLER_REV_SHARE"
            })
            .cloned()
        else {
            continue;
        };
        let original_fee = events
            .iter()
            .find(|e| {
                e.invoice_id.as_deref() == Some(&refund.invoice_id)
                    && e.transaction_type == "AWS_REV_SHARE"
            })
            .map(|e| e.billing_event_id.clone());
        let seller_refund = BillingEvent {
            billing_event_id: event_id(&format!("INVOICED|SELLER_REV_SHARE_REFUND|{}", refund.id)),
            from_account: original.to_account.clone(),
            to_account: original.from_account.clone(),
            transaction_type: "SELLER_REV_SHARE_REFUND",
            parent_billing_event_id: Some(original.billing_event_id.clone()),
            amount_micros: -refund.amount_micros,
            invoice_date: Some(refund.at),
            payment_due_date: Some(refund.at),
            invoice_id: Some(refund.id.clone()),
            transaction_reference_id: event_id(&format!("txn|{}", refund.id)),
            inserted_at: refund.at,
            ..original.clone()
        };
        let fee_refund = BillingEvent {
            billing_event_id: event_id(&format!("INVOICED|AWS_REV_SHARE_REFUND|{}", refund.id)),
            from_account: parties.aws_account.clone(),
            to_account: original.to_account.clone(),
            transaction_type: "AWS_REV_SHARE_REFUND",
            parent_billing_event_id: original_fee,
            amount_micros: share_micros(refund.amount_micros, parties.fee_bps),
            ..seller_refund.clone()
        };
        events.push(seller_refund);
        events.push(fee_refund);
    }
    for disbursement in disbursements {
        let disbursement_event_id = event_id(&format!("DISBURSEMENT|{}", disbursement.id));
        let mut seller = None;
        for covered in &disbursement.event_ids {
            let Some(original) = events
                .iter()
                .find(|e| &e.billing_event_id == covered)
                .cloned()
            else {
                continue;
            };
            seller.get_or_insert_with(|| {
                if original.transaction_type.starts_with("AWS_") {
                    original.from_account.clone()
                } else {
                    original.to_account.clone()
                }
            });
            events.push(BillingEvent {
                billing_event_id: event_id(&format!("DISBURSED|{}|{covered}", disbursement.id)),
                action: "DISBURSED",
                parent_billing_event_id: Some(covered.clone()),
                disbursement_billing_event_id: Some(disbursement_event_id.clone()),
                amount_micros: -original.amount_micros,
                inserted_at: disbursement.at,
                ..original
            });
        }
        let seller = seller.unwrap_or_default();
        events.push(BillingEvent {
            billing_event_id: disbursement_event_id.clone(),
            from_account: parties.aws_account.clone(),
            to_account: seller.clone(),
            end_user_account: seller,
            product_id: String::new(),
            action: "DISBURSED",
            transaction_type: "DISBURSEMENT",
            parent_billing_event_id: None,
            disbursement_billing_event_id: None,
            currency: disbursement.currency.clone(),
            amount_micros: disbursement.amount_micros,
            balance_impacting: false,
            invoice_date: None,
            payment_due_date: None,
            usage_period: None,
            invoice_id: None,
            transaction_reference_id: event_id(&format!("txn|{}", disbursement.id)),
            bank_trace_id: Some(format!("souk-{}", &disbursement_event_id[..20])),
            agreement_id: None,
            offer_id: None,
            inserted_at: disbursement.at,
            usage_quantity: None,
        });
    }
    events
}

/// The balance-impacting INVOICED events not yet disbursed, by currency, with their net.
pub fn disbursable(
    events: &[BillingEvent],
    disbursements: &[Disbursement],
) -> Vec<(String, i64, Vec<String>)> {
    let settled: std::collections::BTreeSet<&String> = disbursements
        .iter()
        .flat_map(|d| d.event_ids.iter())
        .collect();
    let mut by_currency: std::collections::BTreeMap<String, (i64, Vec<String>)> =
        std::collections::BTreeMap::new();
    for event in events.iter().filter(|e| {
        e.action == "INVOICED" && e.balance_impacting && !settled.contains(&e.billing_event_id)
    }) {
        let entry = by_currency.entry(event.currency.clone()).or_default();
        entry.0 += event.amount_micros;
        entry.1.push(event.billing_event_id.clone());
    }
    by_currency
        .into_iter()
        .map(|(currency, (net, ids))| (currency, net, ids))
        .collect()
}

/// The `billing_event` columns (history columns first, currency before amount).
pub const COLUMNS: &[&str] = &[
    "valid_from",
    "insert_date",
    "update_date",
    "delete_date",
    "billing_event_id",
    "from_account_id",
    "to_account_id",
    "end_user_account_id",
    "product_id",
    "action",
    "transaction_type",
    "parent_billing_event_id",
    "disbursement_billing_event_id",
    "currency",
    "amount",
    "balance_impacting",
    "invoice_date",
    "payment_due_date",
    "usage_period_start_date",
    "usage_period_end_date",
    "invoice_id",
    "billing_address_id",
    "transaction_reference_id",
    "bank_trace_id",
    "broker_id",
    "agreement_id",
    "offer_id",
    "usage_quantity",
];

/// The `billing_event` table.
pub fn table(events: &[BillingEvent], broker_id: &str) -> super::csv::Table {
    let mut table = super::csv::Table::new("billing_event", COLUMNS);
    let iso = |at: &At| super::iso(*at);
    for event in events {
        let inserted = iso(&event.inserted_at);
        table.push(&[
            ("valid_from", inserted.clone()),
            ("insert_date", inserted.clone()),
            ("update_date", inserted),
            ("billing_event_id", event.billing_event_id.clone()),
            ("from_account_id", account_id(&event.from_account)),
            ("to_account_id", account_id(&event.to_account)),
            ("end_user_account_id", account_id(&event.end_user_account)),
            ("product_id", event.product_id.clone()),
            ("action", event.action.to_owned()),
            ("transaction_type", event.transaction_type.to_owned()),
            (
                "parent_billing_event_id",
                event.parent_billing_event_id.clone().unwrap_or_default(),
            ),
            (
                "disbursement_billing_event_id",
                event
                    .disbursement_billing_event_id
                    .clone()
                    .unwrap_or_default(),
            ),
            ("currency", event.currency.clone()),
            ("amount", super::money::format_micros(event.amount_micros)),
            (
                "balance_impacting",
                if event.balance_impacting { "1" } else { "0" }.to_owned(),
            ),
            (
                "invoice_date",
                event.invoice_date.as_ref().map(iso).unwrap_or_default(),
            ),
            (
                "payment_due_date",
                event.payment_due_date.as_ref().map(iso).unwrap_or_default(),
            ),
            (
                "usage_period_start_date",
                event
                    .usage_period
                    .as_ref()
                    .map(|(s, _)| iso(s))
                    .unwrap_or_default(),
            ),
            (
                "usage_period_end_date",
                event
                    .usage_period
                    .as_ref()
                    .map(|(_, e)| iso(e))
                    .unwrap_or_default(),
            ),
            ("invoice_id", event.invoice_id.clone().unwrap_or_default()),
            (
                "transaction_reference_id",
                event.transaction_reference_id.clone(),
            ),
            (
                "bank_trace_id",
                event.bank_trace_id.clone().unwrap_or_default(),
            ),
            ("broker_id", broker_id.to_owned()),
            (
                "agreement_id",
                event.agreement_id.clone().unwrap_or_default(),
            ),
            ("offer_id", event.offer_id.clone().unwrap_or_default()),
            (
                "usage_quantity",
                event.usage_quantity.clone().unwrap_or_default(),
            ),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn charge(invoice_id: &str, amount_micros: i64) -> Charge {
        Charge {
            invoice_id: invoice_id.to_owned(),
            agreement_id: Some("agmt-1".to_owned()),
            offer_id: Some("offer-1".to_owned()),
            product_id: "prod-1".to_owned(),
            buyer_account_id: "210987654321".to_owned(),
            seller_account_id: "111122223333".to_owned(),
            amount_micros,
            currency: "USD".to_owned(),
            invoice_date: datetime!(2026-11-01 0:00 UTC).into(),
            payment_due_date: datetime!(2026-12-01 0:00 UTC).into(),
            usage_period: None,
            usage_quantity_micros: None,
        }
    }

    #[test]
    fn fees_refunds_and_disbursements_balance_out() {
        let parties = Parties {
            aws_account: "287250355862".to_owned(),
            fee_bps: 300,
        };
        let charges = [charge("inv-a", 100_000_000), charge("inv-b", 20_000_000)];
        let refunds = [Refund {
            id: "inv-r".to_owned(),
            invoice_id: "inv-a".to_owned(),
            amount_micros: 10_000_000,
            at: datetime!(2026-11-02 0:00 UTC).into(),
        }];
        let before = events(&charges, &refunds, &[], &parties);
        let pending = disbursable(&before, &[]);
        assert_eq!(pending.len(), 1);
        let (currency, net, ids) = pending[0].clone();
        assert_eq!(currency, "USD");
        // 120 - 3.60 fee - 10 refund + 0.30 fee refund
        assert_eq!(net, 106_700_000);
        assert_eq!(ids.len(), 6);
        let disbursement = Disbursement {
            id: "d1".to_owned(),
            at: datetime!(2026-11-03 0:00 UTC).into(),
            currency,
            amount_micros: net,
            event_ids: ids,
        };
        let after = events(
            &charges,
            &refunds,
            std::slice::from_ref(&disbursement),
            &parties,
        );
        let balance: i64 = after
            .iter()
            .filter(|e| e.balance_impacting)
            .map(|e| e.amount_micros)
            .sum();
        assert_eq!(balance, 0);
        let payout = after
            .iter()
            .find(|e| e.transaction_type == "DISBURSEMENT")
            .expect("payout");
        assert_eq!(payout.amount_micros, 106_700_000);
        assert!(disbursable(&after, &[disbursement]).is_empty());
        let ids: std::collections::BTreeSet<_> =
            after.iter().map(|e| e.billing_event_id.clone()).collect();
        assert_eq!(ids.len(), after.len(), "ids are unique");
        assert!(after.iter().all(|e| e.billing_event_id.len() == 40));
    }
}
