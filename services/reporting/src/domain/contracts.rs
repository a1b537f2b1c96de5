//! The contract report: the agreements of the `agreement` feed with a contract (a start and an
//! end; pay-as-you-go agreements have no end), their total contract value (the feed's
//! `estimated_agreement_value`), renewal date, and the annual and monthly recurring revenue
//! derived from them (docs/reporting.md, contracts). Per currency, never added across
//! currencies.
//!
//! * TCV: `estimated_agreement_value`, a decimal in the agreement's `currency_code`, in
//!   integer micros (a blank or unreadable value counts as 0).
//! * ARR: `TCV × 365 days / the contract's length` (the length counted in seconds, so a
//!   contract of whole days divides by its days), in `i128`, rounded half away from zero.
//! * MRR: `ARR / 12`, rounded half away from zero.
//! * Active at an instant `t`: `start ≤ t < end` and the status is not `Rolled back` (an
//!   agreement rolled back never was in force). An agreement ended early (cancelled,
//!   terminated, replaced) carries the instant it ended as its end, so the window holds for
//!   every other status.
//! * Renewal: the end, while the contract is active at `t`.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::error::Error;
use super::feed::Feed;
use super::filter::{Filter, accepts};
use super::parse;
use super::ports::Acting;
use super::revenue::{Names, Reports};
use super::row::column;

/// One agreement with a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// The agreement.
    pub agreement_id: String,
    /// The offer it accepted.
    pub offer_id: String,
    /// The product (empty if the `offer_product` feed does not say).
    pub product_id: String,
    /// Its code (empty if unknown).
    pub product_code: String,
    /// The buyer's AWS account id (empty if unknown).
    pub customer_aws_account_id: String,
    /// The reseller's AWS account id for a channel-partner agreement, else empty.
    pub reseller_aws_account_id: String,
    /// The status as the feed gives it.
    pub status: String,
    /// Start of the contract.
    pub start: OffsetDateTime,
    /// End of the contract.
    pub end: OffsetDateTime,
    /// Whether it is in force at the report's instant.
    pub active: bool,
    /// The currency of the amounts.
    pub currency: String,
    /// Total contract value, micros.
    pub tcv_micros: i64,
    /// Annual recurring revenue, micros.
    pub arr_micros: i64,
    /// Monthly recurring revenue, micros.
    pub mrr_micros: i64,
}

impl Contract {
    /// When the contract is up for renewal: its end, while it is active.
    pub fn renewal(&self) -> Option<OffsetDateTime> {
        self.active.then_some(self.end)
    }
}

/// The contracts of one currency, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractTotal {
    /// The currency.
    pub currency: String,
    /// How many contracts.
    pub contracts: i64,
    /// Their total contract values, micros.
    pub tcv_micros: i64,
    /// Their ARR, micros.
    pub arr_micros: i64,
    /// Their MRR, micros.
    pub mrr_micros: i64,
}

/// A contract report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractReport {
    /// The contracts, by end, then agreement id.
    pub contracts: Vec<Contract>,
    /// One total per currency, by currency.
    pub totals: Vec<ContractTotal>,
}

const YEAR_SECONDS: i128 = 365 * 86_400;

/// `numerator / denominator` rounded half away from zero (`denominator > 0`).
fn round_div(numerator: i128, denominator: i128) -> i128 {
    let half = denominator / 2;
    if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        (numerator - half) / denominator
    }
}

fn clamp(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// ARR and MRR of `tcv_micros` over `[start, end)`: 0 for a contract of no length.
pub fn recurring(tcv_micros: i64, start: OffsetDateTime, end: OffsetDateTime) -> (i64, i64) {
    let seconds = i128::from((end - start).whole_seconds());
    if seconds <= 0 {
        return (0, 0);
    }
    let arr = round_div(i128::from(tcv_micros) * YEAR_SECONDS, seconds);
    (clamp(arr), clamp(round_div(arr, 12)))
}

/// Whether `status` voids the agreement (`Rolled back`, however spelled).
fn voided(status: &str) -> bool {
    let squashed: String = status
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    squashed == "rolledback"
}

/// What the `product`, `offer_product` and `account` feeds say, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractFacts {
    /// AWS account ids, product codes and manufacturers.
    pub names: Names,
    /// The product of each offer revision, `(offer_id, revision)`.
    pub offer_products: HashMap<(String, String), String>,
}

impl ContractFacts {
    /// From the current `offer_product` rows.
    pub fn new(names: Names, offer_products: &[BTreeMap<String, String>]) -> Self {
        let mut facts = Self {
            names,
            ..Self::default()
        };
        for row in offer_products {
            facts.offer_products.insert(
                (column(row, "offer_id"), column(row, "offer_revision")),
                column(row, "product_id"),
            );
        }
        facts
    }

    /// The product of `offer_id` at `revision`, else of its latest revision.
    fn product(&self, offer_id: &str, revision: &str) -> String {
        if let Some(product) = self
            .offer_products
            .get(&(offer_id.to_owned(), revision.to_owned()))
        {
            return product.clone();
        }
        self.offer_products
            .iter()
            .filter(|((offer, _), _)| offer == offer_id)
            .max_by_key(|((_, revision), _)| revision.parse::<i64>().unwrap_or(i64::MIN))
            .map(|(_, product)| product.clone())
            .unwrap_or_default()
    }

    fn aws(&self, account_id: &str) -> String {
        self.names
            .aws_accounts
            .get(account_id)
            .cloned()
            .unwrap_or_default()
    }
}

/// The contract of an `agreement` row, if it has one (a readable start and end).
pub fn contract(
    row: &BTreeMap<String, String>,
    facts: &ContractFacts,
    at: OffsetDateTime,
) -> Option<Contract> {
    let start = parse::timestamp(&column(row, "start_time")).ok()??;
    let end = parse::timestamp(&column(row, "end_time")).ok()??;
    let offer_id = column(row, "offer_id");
    let product_id = facts.product(&offer_id, &column(row, "offer_revision_at_acceptance"));
    let proposer = column(row, "proposer_account_id");
    let reseller = match facts.names.manufacturers.get(&product_id) {
        Some(manufacturer) if !proposer.is_empty() && &proposer != manufacturer => {
            facts.aws(&proposer)
        }
        _ => String::new(),
    };
    let status = column(row, "status");
    let tcv = parse::micros(&column(row, "estimated_agreement_value")).unwrap_or(0);
    let (arr, mrr) = recurring(tcv, start, end);
    Some(Contract {
        agreement_id: column(row, "agreement_id"),
        product_code: facts
            .names
            .product_codes
            .get(&product_id)
            .cloned()
            .unwrap_or_default(),
        offer_id,
        product_id,
        customer_aws_account_id: facts.aws(&column(row, "acceptor_account_id")),
        reseller_aws_account_id: reseller,
        active: start <= at && at < end && !voided(&status),
        status,
        start,
        end,
        currency: column(row, "currency_code"),
        tcv_micros: tcv,
        arr_micros: arr,
        mrr_micros: mrr,
    })
}

/// The contracts of `agreements` at `at` (the inactive ones too with `include_inactive`) that
/// `filter` keeps, with their totals per currency.
pub fn report(
    agreements: &[BTreeMap<String, String>],
    facts: &ContractFacts,
    at: OffsetDateTime,
    include_inactive: bool,
    filter: &Filter,
) -> ContractReport {
    let mut contracts: Vec<Contract> = agreements
        .iter()
        .filter_map(|row| contract(row, facts, at))
        .filter(|c| include_inactive || c.active)
        .filter(|c| kept(c, filter))
        .collect();
    contracts.sort_by(|a, b| (a.end, &a.agreement_id).cmp(&(b.end, &b.agreement_id)));
    let mut totals: BTreeMap<String, ContractTotal> = BTreeMap::new();
    for c in &contracts {
        let total = totals
            .entry(c.currency.clone())
            .or_insert_with(|| ContractTotal {
                currency: c.currency.clone(),
                ..ContractTotal::default()
            });
        total.contracts += 1;
        total.tcv_micros = total.tcv_micros.saturating_add(c.tcv_micros);
        total.arr_micros = total.arr_micros.saturating_add(c.arr_micros);
        total.mrr_micros = total.mrr_micros.saturating_add(c.mrr_micros);
    }
    ContractReport {
        contracts,
        totals: totals.into_values().collect(),
    }
}

fn kept(c: &Contract, filter: &Filter) -> bool {
    accepts(&filter.product_ids, &c.product_id)
        && accepts(&filter.product_codes, &c.product_code)
        && accepts(&filter.customer_aws_account_ids, &c.customer_aws_account_id)
        && accepts(&filter.offer_ids, &c.offer_id)
        && accepts(&filter.agreement_ids, &c.agreement_id)
        && accepts(&filter.reseller_aws_account_ids, &c.reseller_aws_account_id)
}

impl Reports {
    /// The integration's contracts active at `at` (now when `None`; every contract with
    /// `include_inactive`) that `filter` keeps. An integration the caller's organisation does
    /// not have (or without an AWS role) is [`Error::NotFound`].
    pub async fn contracts(
        &self,
        acting: &Acting,
        at: Option<OffsetDateTime>,
        include_inactive: bool,
        filter: &Filter,
    ) -> Result<ContractReport, Error> {
        let at = at.unwrap_or_else(|| self.now());
        let names = self.known_names(acting).await?;
        let store = self.store();
        let offer_products = store.current_rows(acting, Feed::OfferProduct).await?;
        let agreements = store.current_rows(acting, Feed::Agreement).await?;
        let facts = ContractFacts::new(names, &offer_products);
        Ok(report(&agreements, &facts, at, include_inactive, filter))
    }
}

#[cfg(test)]
#[path = "contracts_tests.rs"]
mod tests;
