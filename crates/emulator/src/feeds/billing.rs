//! `billing_event` rows (docs/aws/data-feeds.md, billing_event) from charges, refunds and disbursements:
//!
//! * each invoice line: `INVOICED SELLER_REV_SHARE` (+price, buyer → seller) and
//!   `INVOICED AWS_REV_SHARE` (−listing fee, seller → AWS), both balance impacting;
//! * a channel-partner (CPPO) line adds the partner leg: `INVOICED SELLER_REV_SHARE` from the
//!   reseller (the seller of record) to the ISV of the wholesale price, signed from the feed
//!   owner's (the emulator's seller account's) point of view — −wholesale when the owner is the
//!   reseller (its cost), +wholesale otherwise (the ISV's revenue) — and, unless the owner is
//!   the reseller, the ISV's `INVOICED AWS_REV_SHARE` (−listing fee on the wholesale, ISV →
//!   AWS);
//! * each refund: `INVOICED SELLER_REV_SHARE_REFUND` (−amount) and `AWS_REV_SHARE_REFUND`
//!   (+its share of the fee), parented to the refunded rows;
//! * each disbursement: one `DISBURSED` row per disbursed row with the amount negated
//!   (`parent_billing_event_id` = that row, `disbursement_billing_event_id` = the disbursement),
//!   and one `DISBURSED DISBURSEMENT` row carrying the amount paid (positive, not balance
//!   impacting), so `SUM(amount) WHERE balance_impacting = 1` is the pending balance. Each
//!   seller account is paid its own rows (see [`payee`]), one disbursement per account and
//!   currency.

use serde::Serialize;

pub use super::model::{Disbursement, Refund};

use super::ids::{account_id, event_id};
use super::ledger::{Charge, PartnerLeg};
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
    /// The dimension of that quantity (usage rows only; an emulator column that AWS's feed
    /// lacks, so that usage can be reconciled per dimension).
    pub usage_dimension: Option<String>,
}

/// Parties and fee for building events.
#[derive(Debug, Clone)]
pub struct Parties {
    /// The feed's owner: the emulator's seller account, from whose point of view amounts are
    /// signed.
    pub seller_account: String,
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
            usage_dimension: charge.usage_dimension.clone(),
        };
        let fee = BillingEvent {
            billing_event_id: event_id(&format!("INVOICED|AWS_REV_SHARE|{}", charge.invoice_id)),
            from_account: charge.seller_account_id.clone(),
            to_account: parties.aws_account.clone(),
            transaction_type: "AWS_REV_SHARE",
            amount_micros: -share_micros(charge.amount_micros, parties.fee_bps),
            ..base.clone()
        };
        let partner_leg = charge
            .partner
            .as_ref()
            .map(|partner| partner_rows(charge, partner, &base, parties))
            .unwrap_or_default();
        events.push(base);
        events.push(fee);
        events.extend(partner_leg);
    }
    for refund in refunds {
        let Some(original) = events
            .iter()
            .find(|e| {
                e.invoice_id.as_deref() == Some(&refund.invoice_id)
                    && e.transaction_type == "SELLER_REV_SHARE"
                    && e.from_account == e.end_user_account
            })
            .cloned()
        else {
            continue;
        };
        // The buyer leg is refunded (a CPPO sale's partner leg is left as it was).
        let original_fee = events
            .iter()
            .find(|e| {
                e.invoice_id.as_deref() == Some(&refund.invoice_id)
                    && e.transaction_type == "AWS_REV_SHARE"
                    && e.from_account == original.to_account
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
            seller.get_or_insert_with(|| payee(&original, &parties.aws_account).to_owned());
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
            usage_dimension: None,
        });
    }
    events
}

/// The partner leg of a CPPO invoice line `charge` (whose buyer leg is `base`): the
/// reseller's payment of the wholesale price to the ISV, signed for the feed's owner, and the
/// ISV's listing fee on it (left out of the reseller's feed, which shows its own fee only).
fn partner_rows(
    charge: &Charge,
    partner: &PartnerLeg,
    base: &BillingEvent,
    parties: &Parties,
) -> Vec<BillingEvent> {
    let reseller_view = charge.seller_account_id == parties.seller_account;
    let wholesale = partner.wholesale_micros;
    let leg = BillingEvent {
        billing_event_id: event_id(&format!(
            "INVOICED|SELLER_REV_SHARE|PARTNER|{}",
            charge.invoice_id
        )),
        from_account: charge.seller_account_id.clone(),
        to_account: partner.isv_account_id.clone(),
        transaction_type: "SELLER_REV_SHARE",
        amount_micros: if reseller_view { -wholesale } else { wholesale },
        ..base.clone()
    };
    if reseller_view {
        return vec![leg];
    }
    let isv_fee = BillingEvent {
        billing_event_id: event_id(&format!(
            "INVOICED|AWS_REV_SHARE|PARTNER|{}",
            charge.invoice_id
        )),
        from_account: partner.isv_account_id.clone(),
        to_account: parties.aws_account.clone(),
        transaction_type: "AWS_REV_SHARE",
        amount_micros: -share_micros(wholesale, parties.fee_bps),
        ..base.clone()
    };
    vec![leg, isv_fee]
}

/// The seller account whose balance `event` moves (and which a disbursement of it pays): the
/// party that is neither AWS nor the buyer; for the partner leg between two sellers, the one
/// its signed amount is for (the ISV when positive, the reseller when negative).
pub fn payee<'a>(event: &'a BillingEvent, aws_account: &str) -> &'a str {
    let (from, to) = (event.from_account.as_str(), event.to_account.as_str());
    if event.transaction_type.starts_with("AWS_") {
        return if from == aws_account { to } else { from };
    }
    if from == event.end_user_account {
        to
    } else if to == event.end_user_account || event.amount_micros < 0 {
        from
    } else {
        to
    }
}

/// What one seller account is owed in one currency and not yet paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The seller account paid.
    pub seller_account: String,
    /// Currency.
    pub currency: String,
    /// The net of the events, micros.
    pub net_micros: i64,
    /// The events, in feed order.
    pub event_ids: Vec<String>,
}

/// The balance-impacting INVOICED events not yet disbursed, by seller account ([`payee`]) and
/// currency, with their net.
pub fn disbursable(
    events: &[BillingEvent],
    disbursements: &[Disbursement],
    aws_account: &str,
) -> Vec<Pending> {
    let settled: std::collections::BTreeSet<&String> = disbursements
        .iter()
        .flat_map(|d| d.event_ids.iter())
        .collect();
    let mut by_payee: std::collections::BTreeMap<(String, String), (i64, Vec<String>)> =
        std::collections::BTreeMap::new();
    for event in events.iter().filter(|e| {
        e.action == "INVOICED" && e.balance_impacting && !settled.contains(&e.billing_event_id)
    }) {
        let key = (payee(event, aws_account).to_owned(), event.currency.clone());
        let entry = by_payee.entry(key).or_default();
        entry.0 += event.amount_micros;
        entry.1.push(event.billing_event_id.clone());
    }
    by_payee
        .into_iter()
        .map(
            |((seller_account, currency), (net_micros, event_ids))| Pending {
                seller_account,
                currency,
                net_micros,
                event_ids,
            },
        )
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
    "usage_dimension",
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
            (
                "usage_dimension",
                event.usage_dimension.clone().unwrap_or_default(),
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
            usage_dimension: None,
            partner: None,
        }
    }

    const AWS: &str = "287250355862";
    const ISV: &str = "111122223333";
    const RESELLER: &str = "777788889999";
    const BUYER: &str = "210987654321";

    fn parties(owner: &str) -> Parties {
        Parties {
            seller_account: owner.to_owned(),
            aws_account: AWS.to_owned(),
            fee_bps: 300,
        }
    }

    #[test]
    fn fees_refunds_and_disbursements_balance_out() {
        let parties = parties(ISV);
        let charges = [charge("inv-a", 100_000_000), charge("inv-b", 20_000_000)];
        let refunds = [Refund {
            id: "inv-r".to_owned(),
            invoice_id: "inv-a".to_owned(),
            amount_micros: 10_000_000,
            at: datetime!(2026-11-02 0:00 UTC).into(),
        }];
        let before = events(&charges, &refunds, &[], &parties);
        let pending = disbursable(&before, &[], AWS);
        assert_eq!(pending.len(), 1);
        let Pending {
            seller_account,
            currency,
            net_micros: net,
            event_ids: ids,
        } = pending[0].clone();
        assert_eq!(seller_account, ISV);
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
        assert_eq!(payout.to_account, ISV);
        assert!(disbursable(&after, &[disbursement], AWS).is_empty());
        let ids: std::collections::BTreeSet<_> =
            after.iter().map(|e| e.billing_event_id.clone()).collect();
        assert_eq!(ids.len(), after.len(), "ids are unique");
        assert!(after.iter().all(|e| e.billing_event_id.len() == 40));
    }

    /// A CPPO invoice line: `wholesale` before the reseller's markup, `amount` after it.
    fn resold(invoice_id: &str, amount_micros: i64, wholesale_micros: i64) -> Charge {
        Charge {
            seller_account_id: RESELLER.to_owned(),
            currency: "EUR".to_owned(),
            partner: Some(PartnerLeg {
                isv_account_id: ISV.to_owned(),
                wholesale_micros,
            }),
            ..charge(invoice_id, amount_micros)
        }
    }

    /// (type, from, to, amount) of the INVOICED rows of `invoice_id`.
    fn legs(events: &[BillingEvent], invoice_id: &str) -> Vec<(&'static str, String, String, i64)> {
        events
            .iter()
            .filter(|e| e.action == "INVOICED" && e.invoice_id.as_deref() == Some(invoice_id))
            .map(|e| {
                (
                    e.transaction_type,
                    e.from_account.clone(),
                    e.to_account.clone(),
                    e.amount_micros,
                )
            })
            .collect()
    }

    /// The CPPO shares as Souk's report derives them (services/reporting, channel_partner):
    /// [buyer price, reseller, ISV, AWS].
    fn shares(events: &[BillingEvent], owner: &str) -> [i64; 4] {
        let (mut buyer, mut wholesale, mut isv_fees, mut fees) = (0, 0, 0, 0);
        for e in events.iter().filter(|e| e.action == "INVOICED") {
            let parties = [e.from_account.as_str(), e.to_account.as_str()];
            if e.transaction_type.starts_with("SELLER_REV_SHARE") {
                if parties.contains(&BUYER) {
                    buyer += e.amount_micros;
                } else if owner == RESELLER {
                    wholesale -= e.amount_micros;
                } else {
                    wholesale += e.amount_micros;
                }
            } else if e.transaction_type.starts_with("AWS_REV_SHARE") {
                fees -= e.amount_micros;
                if parties.contains(&ISV) {
                    isv_fees -= e.amount_micros;
                }
            }
        }
        let isv = wholesale - isv_fees;
        [buyer, buyer - isv - fees, isv, fees]
    }

    fn balance(events: &[BillingEvent]) -> i64 {
        events
            .iter()
            .filter(|e| e.balance_impacting)
            .map(|e| e.amount_micros)
            .sum()
    }

    #[test]
    fn a_channel_partner_sale_pays_the_isv_its_wholesale_in_the_isvs_feed() {
        // 20 seats at 100.00 EUR with a 10 % markup, a 3 % listing fee on each leg.
        let parties = parties(ISV);
        let direct = Charge {
            currency: "EUR".to_owned(),
            seller_account_id: ISV.to_owned(),
            ..charge("inv-direct", 300_000_000)
        };
        let charges = [
            direct.clone(),
            resold("inv-cppo", 2_200_000_000, 2_000_000_000),
        ];
        let before = events(&charges, &[], &[], &parties);
        let (buyer, reseller, isv, aws) = (
            BUYER.to_owned(),
            RESELLER.to_owned(),
            ISV.to_owned(),
            AWS.to_owned(),
        );
        assert_eq!(
            legs(&before, "inv-cppo"),
            vec![
                (
                    "SELLER_REV_SHARE",
                    buyer.clone(),
                    reseller.clone(),
                    2_200_000_000
                ),
                ("AWS_REV_SHARE", reseller.clone(), aws.clone(), -66_000_000),
                (
                    "SELLER_REV_SHARE",
                    reseller.clone(),
                    isv.clone(),
                    2_000_000_000
                ),
                ("AWS_REV_SHARE", isv.clone(), aws.clone(), -60_000_000),
            ]
        );
        // The direct sale's rows are as they always were.
        assert_eq!(before[..2], events(&[direct], &[], &[], &parties)[..]);
        let cppo: Vec<BillingEvent> = before
            .iter()
            .filter(|e| e.invoice_id.as_deref() == Some("inv-cppo"))
            .cloned()
            .collect();
        assert!(cppo.iter().all(|e| e.transaction_reference_id
            == cppo[0].transaction_reference_id
            && e.balance_impacting
            && e.end_user_account == BUYER
            && e.agreement_id.as_deref() == Some("agmt-1")));
        assert_eq!(
            shares(&cppo, ISV),
            [2_200_000_000, 134_000_000, 1_940_000_000, 126_000_000]
        );

        // Each seller is paid its own rows: the ISV its direct sale and the partner leg net
        // of its fee, the reseller the buyer price net of its fee (the ISV's feed does not
        // show the reseller's cost).
        let pending = disbursable(&before, &[], AWS);
        let nets: Vec<(&str, &str, i64, usize)> = pending
            .iter()
            .map(|p| {
                (
                    p.seller_account.as_str(),
                    p.currency.as_str(),
                    p.net_micros,
                    p.event_ids.len(),
                )
            })
            .collect();
        assert_eq!(
            nets,
            vec![
                (ISV, "EUR", 291_000_000 + 1_940_000_000, 4),
                (RESELLER, "EUR", 2_134_000_000, 2),
            ]
        );
        assert_eq!(
            balance(&before),
            pending.iter().map(|p| p.net_micros).sum::<i64>()
        );
        let paid: Vec<Disbursement> = pending
            .into_iter()
            .enumerate()
            .map(|(i, p)| Disbursement {
                id: format!("d{i}"),
                at: datetime!(2026-11-03 0:00 UTC).into(),
                currency: p.currency,
                amount_micros: p.net_micros,
                event_ids: p.event_ids,
            })
            .collect();
        let after = events(&charges, &[], &paid, &parties);
        assert_eq!(balance(&after), 0);
        let payouts: Vec<(String, i64)> = after
            .iter()
            .filter(|e| e.transaction_type == "DISBURSEMENT")
            .map(|e| (e.to_account.clone(), e.amount_micros))
            .collect();
        assert_eq!(
            payouts,
            vec![(isv, 2_231_000_000), (reseller, 2_134_000_000)]
        );
        assert!(disbursable(&after, &paid, AWS).is_empty());
        let ids: std::collections::BTreeSet<_> =
            after.iter().map(|e| e.billing_event_id.clone()).collect();
        assert_eq!(ids.len(), after.len(), "ids are unique");
    }

    #[test]
    fn the_resellers_feed_shows_the_wholesale_as_its_cost() {
        let parties = parties(RESELLER);
        let charges = [resold("inv-cppo", 2_200_000_000, 2_000_000_000)];
        let before = events(&charges, &[], &[], &parties);
        assert_eq!(
            legs(&before, "inv-cppo"),
            vec![
                (
                    "SELLER_REV_SHARE",
                    BUYER.to_owned(),
                    RESELLER.to_owned(),
                    2_200_000_000
                ),
                (
                    "AWS_REV_SHARE",
                    RESELLER.to_owned(),
                    AWS.to_owned(),
                    -66_000_000
                ),
                (
                    "SELLER_REV_SHARE",
                    RESELLER.to_owned(),
                    ISV.to_owned(),
                    -2_000_000_000
                ),
            ]
        );
        // The ISV's fee is the ISV's: its share reads as the wholesale here.
        assert_eq!(
            shares(&before, RESELLER),
            [2_200_000_000, 134_000_000, 2_000_000_000, 66_000_000]
        );
        let pending = disbursable(&before, &[], AWS);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].seller_account, RESELLER);
        assert_eq!(pending[0].net_micros, 134_000_000);
        assert_eq!(balance(&before), 134_000_000);
    }

    #[test]
    fn the_partner_legs_fee_rounds_half_away_from_zero() {
        // 11.00055 with the markup, 10.0005 wholesale: fees of 0.3300165 and 0.300015.
        let before = events(
            &[resold("inv-r", 11_000_550, 10_000_500)],
            &[],
            &[],
            &parties(ISV),
        );
        let fees: Vec<i64> = legs(&before, "inv-r")
            .into_iter()
            .filter(|(kind, ..)| *kind == "AWS_REV_SHARE")
            .map(|(.., amount)| amount)
            .collect();
        assert_eq!(fees, vec![-330_017, -300_015]);
        // Exactly half a micro: 1.00005 × 3 % = 0.0300015 → 0.030002.
        let half = events(
            &[resold("inv-h", 1_100_055, 1_000_050)],
            &[],
            &[],
            &parties(ISV),
        );
        assert_eq!(
            legs(&half, "inv-h").last().map(|(.., amount)| *amount),
            Some(-30_002)
        );
    }

    #[test]
    fn a_refund_of_a_channel_partner_sale_reverses_the_buyer_leg() {
        let refunds = [Refund {
            id: "inv-r".to_owned(),
            invoice_id: "inv-cppo".to_owned(),
            amount_micros: 220_000_000,
            at: datetime!(2026-11-02 0:00 UTC).into(),
        }];
        let all = events(
            &[resold("inv-cppo", 2_200_000_000, 2_000_000_000)],
            &refunds,
            &[],
            &parties(ISV),
        );
        let buyer_leg = &all[0];
        let reseller_fee = &all[1];
        let refund: Vec<&BillingEvent> = all
            .iter()
            .filter(|e| e.invoice_id.as_deref() == Some("inv-r"))
            .collect();
        assert_eq!(refund.len(), 2);
        assert_eq!(refund[0].transaction_type, "SELLER_REV_SHARE_REFUND");
        assert_eq!(refund[0].amount_micros, -220_000_000);
        assert_eq!(
            refund[0].parent_billing_event_id.as_ref(),
            Some(&buyer_leg.billing_event_id)
        );
        assert_eq!(refund[1].transaction_type, "AWS_REV_SHARE_REFUND");
        assert_eq!(refund[1].amount_micros, 6_600_000);
        assert_eq!(
            refund[1].parent_billing_event_id.as_ref(),
            Some(&reseller_fee.billing_event_id)
        );
        assert_eq!(payee(refund[0], AWS), RESELLER);
        assert_eq!(payee(refund[1], AWS), RESELLER);
    }
}
