//! The channel-partner (CPPO) report: per agreement and currency, what the buyer was invoiced
//! and how it was shared between the reseller (the seller of record), the software vendor
//! (ISV, the product's manufacturer) and AWS, from the `INVOICED` revenue rows of the
//! `billing_event` feed (docs/reporting.md, channel partners).
//!
//! A sale is a channel-partner sale when the agreement's proposer (`agreement` feed) is not
//! the product's manufacturer (`product` feed), or, for rows whose agreement the feeds do not
//! describe, when the rows show a leg between two sellers (a `SELLER_REV_SHARE` row neither of
//! whose accounts is the buyer) or the buyer pays an account that is not the manufacturer.
//!
//! The rows, by leg (amounts signed from the point of view of the feed's owner):
//!
//! * the buyer leg: `SELLER_REV_SHARE` (and its `_REFUND` / `_CREDIT`) between the buyer and
//!   the reseller: the buyer price, as written;
//! * the partner leg: `SELLER_REV_SHARE` rows between the reseller and the ISV: the ISV's price
//!   (wholesale), negative in the reseller's feed (its cost), positive in the ISV's;
//! * the fees: `AWS_REV_SHARE` rows (and their refunds and credits), negative: AWS's share is
//!   minus their sum, the ISV's fee the part the ISV pays.
//!
//! Then `isv = wholesale − ISV's fees`, `aws = all fees`, and
//! `reseller = buyer price − isv − aws` (= buyer price − wholesale − the reseller's fees). A
//! feed shows only its owner's legs: the reseller's shows the buyer and partner legs and its
//! own fees (the ISV's share is then the wholesale before the ISV's fee, AWS's share the
//! reseller's fees); the ISV's shows the partner leg and its own fees, not the buyer price,
//! so the buyer price and the reseller's share stay 0 there.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::error::Error;
use super::feed::Feed;
use super::filter::{Filter, accepts};
use super::ports::Acting;
use super::revenue::{Names, Reports};
use super::row::column;

/// The `INVOICED` revenue rows of one agreement, offer, product, buyer, currency, type and
/// pair of accounts, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerLine {
    /// The agreement, empty when the feed does not name it.
    pub agreement_id: String,
    /// The offer, empty when the feed does not name it.
    pub offer_id: String,
    /// The product (`prod-...`).
    pub product_id: String,
    /// The buyer (`account` feed id).
    pub end_user_account_id: String,
    /// Currency of the amount.
    pub currency: String,
    /// `SELLER_REV_SHARE`, `AWS_REV_SHARE_REFUND`, ...
    pub transaction_type: String,
    /// Account the money moves from.
    pub from_account_id: String,
    /// Account the money moves to.
    pub to_account_id: String,
    /// The sum, micros.
    pub amount_micros: i64,
}

/// The transaction types the report reads.
pub const PARTNER_TYPES: [&str; 6] = [
    "SELLER_REV_SHARE",
    "SELLER_REV_SHARE_REFUND",
    "SELLER_REV_SHARE_CREDIT",
    "AWS_REV_SHARE",
    "AWS_REV_SHARE_REFUND",
    "AWS_REV_SHARE_CREDIT",
];

/// The shares of one channel-partner agreement in one currency, micros.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerShare {
    /// The agreement (empty when the feed does not name it).
    pub agreement_id: String,
    /// The offer (empty when unknown).
    pub offer_id: String,
    /// The product.
    pub product_id: String,
    /// Its code (empty if unknown).
    pub product_code: String,
    /// The reseller's AWS account id (empty if unknown).
    pub reseller_aws_account_id: String,
    /// The buyer's AWS account id (empty if unknown).
    pub customer_aws_account_id: String,
    /// Currency of every amount.
    pub currency: String,
    /// What the buyer was invoiced (0 when the feed does not show it).
    pub buyer_price_micros: i64,
    /// What the reseller keeps (0 when the buyer price is not shown).
    pub reseller_share_micros: i64,
    /// What the ISV receives after its fees.
    pub isv_share_micros: i64,
    /// AWS's listing fees.
    pub aws_share_micros: i64,
}

/// What an agreement row of the `agreement` feed says about its parties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgreementParties {
    /// The seller of record (`account` feed id).
    pub proposer_account_id: String,
    /// The buyer (`account` feed id).
    pub acceptor_account_id: String,
    /// The offer accepted.
    pub offer_id: String,
}

/// What the feeds other than `billing_event` say, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerFacts {
    /// The integration's accounts, AWS account ids, product codes and manufacturers.
    pub names: Names,
    /// The parties of each agreement.
    pub agreements: HashMap<String, AgreementParties>,
}

impl PartnerFacts {
    /// From the current `agreement` rows.
    pub fn new(names: Names, agreements: &[BTreeMap<String, String>]) -> Self {
        let mut facts = Self {
            names,
            ..Self::default()
        };
        for row in agreements {
            facts.agreements.insert(
                column(row, "agreement_id"),
                AgreementParties {
                    proposer_account_id: column(row, "proposer_account_id"),
                    acceptor_account_id: column(row, "acceptor_account_id"),
                    offer_id: column(row, "offer_id"),
                },
            );
        }
        facts
    }

    fn aws(&self, account_id: &str) -> String {
        self.names
            .aws_accounts
            .get(account_id)
            .cloned()
            .unwrap_or_default()
    }
}

fn is_seller_share(kind: &str) -> bool {
    kind.starts_with("SELLER_REV_SHARE")
}

fn is_fee(kind: &str) -> bool {
    kind.starts_with("AWS_REV_SHARE")
}

/// The rows of one sale: lines sharing agreement, offer, product, buyer and currency.
type SaleKey = (String, String, String, String, String);

fn sale_key(line: &PartnerLine) -> SaleKey {
    (
        line.agreement_id.clone(),
        line.offer_id.clone(),
        line.product_id.clone(),
        line.end_user_account_id.clone(),
        line.currency.clone(),
    )
}

/// The reseller and the ISV (`account` feed ids) of a sale, when it is a channel-partner sale.
fn parties(lines: &[&PartnerLine], facts: &PartnerFacts) -> Option<(String, String)> {
    let first = lines.first()?;
    let buyer = first.end_user_account_id.as_str();
    // The partner leg names both sellers: from the reseller to the ISV (a refund the other way).
    if let Some(leg) = lines.iter().find(|l| {
        is_seller_share(&l.transaction_type)
            && l.from_account_id != buyer
            && l.to_account_id != buyer
    }) {
        return Some(if leg.transaction_type == "SELLER_REV_SHARE" {
            (leg.from_account_id.clone(), leg.to_account_id.clone())
        } else {
            (leg.to_account_id.clone(), leg.from_account_id.clone())
        });
    }
    let manufacturer = facts.names.manufacturers.get(&first.product_id)?;
    let proposer = match facts.agreements.get(&first.agreement_id) {
        Some(agreement) => agreement.proposer_account_id.clone(),
        // The account the buyer pays is the seller of record.
        None => lines
            .iter()
            .find(|l| l.transaction_type == "SELLER_REV_SHARE" && l.from_account_id == buyer)
            .map(|l| l.to_account_id.clone())?,
    };
    (!proposer.is_empty() && &proposer != manufacturer).then(|| (proposer, manufacturer.clone()))
}

/// `lines` as channel-partner shares, one row per sale (agreement and currency), ordered by
/// agreement, currency, then offer, product and buyer; direct sales are left out.
pub fn shares(lines: &[PartnerLine], facts: &PartnerFacts, filter: &Filter) -> Vec<PartnerShare> {
    let mut sales: BTreeMap<SaleKey, Vec<&PartnerLine>> = BTreeMap::new();
    for line in lines {
        sales.entry(sale_key(line)).or_default().push(line);
    }
    let mut rows = Vec::new();
    for ((agreement_id, offer_id, product_id, buyer, currency), sale) in sales {
        let Some((reseller, isv)) = parties(&sale, facts) else {
            continue;
        };
        // Whose feed this is: the reseller's writes the partner leg as its cost.
        let reseller_side = facts.names.seller.contains(&reseller);
        let (mut buyer_price, mut buyer_seen, mut wholesale, mut isv_fees, mut fees) =
            (0_i64, false, 0_i64, 0_i64, 0_i64);
        for line in &sale {
            let amount = line.amount_micros;
            if is_seller_share(&line.transaction_type) {
                if line.from_account_id == buyer || line.to_account_id == buyer {
                    buyer_price += amount;
                    buyer_seen = true;
                } else if reseller_side {
                    wholesale -= amount;
                } else {
                    wholesale += amount;
                }
            } else if is_fee(&line.transaction_type) {
                fees -= amount;
                if line.from_account_id == isv || line.to_account_id == isv {
                    isv_fees -= amount;
                }
            }
        }
        let isv_share = wholesale - isv_fees;
        let offer_id = if offer_id.is_empty() {
            facts
                .agreements
                .get(&agreement_id)
                .map(|a| a.offer_id.clone())
                .unwrap_or_default()
        } else {
            offer_id
        };
        let row = PartnerShare {
            product_code: facts
                .names
                .product_codes
                .get(&product_id)
                .cloned()
                .unwrap_or_default(),
            reseller_aws_account_id: facts.aws(&reseller),
            customer_aws_account_id: facts.aws(&buyer),
            agreement_id,
            offer_id,
            product_id,
            currency,
            buyer_price_micros: buyer_price,
            reseller_share_micros: if buyer_seen {
                buyer_price - isv_share - fees
            } else {
                0
            },
            isv_share_micros: isv_share,
            aws_share_micros: fees,
        };
        if kept(&row, filter) {
            rows.push(row);
        }
    }
    rows
}

fn kept(row: &PartnerShare, filter: &Filter) -> bool {
    accepts(&filter.product_ids, &row.product_id)
        && accepts(&filter.product_codes, &row.product_code)
        && accepts(
            &filter.customer_aws_account_ids,
            &row.customer_aws_account_id,
        )
        && accepts(&filter.offer_ids, &row.offer_id)
        && accepts(&filter.agreement_ids, &row.agreement_id)
        && accepts(
            &filter.reseller_aws_account_ids,
            &row.reseller_aws_account_id,
        )
}

impl Reports {
    /// The channel-partner shares of the integration's invoices in `[start, end)` that
    /// `filter` keeps. An integration the caller's organisation does not have (or without an
    /// AWS role) is [`Error::NotFound`].
    pub async fn channel_partner_shares(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        filter: &Filter,
    ) -> Result<Vec<PartnerShare>, Error> {
        let names = self.known_names(acting).await?;
        let store = self.store();
        let agreements = store.current_rows(acting, Feed::Agreement).await?;
        let facts = PartnerFacts::new(names, &agreements);
        let lines = store.partner_lines(acting, start, end).await?;
        Ok(shares(&lines, &facts, filter))
    }

    /// [`Reports::names`], an unknown integration being [`Error::NotFound`].
    pub(super) async fn known_names(&self, acting: &Acting) -> Result<Names, Error> {
        match self.names(acting).await {
            Err(Error::FailedPrecondition(_)) => Err(Error::NotFound(format!(
                "integration {} not found (or it has no AWS role and data feed bucket)",
                acting.integration_id
            ))),
            other => other,
        }
    }
}

#[cfg(test)]
#[path = "channel_partner_tests.rs"]
mod tests;
