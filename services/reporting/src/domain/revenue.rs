//! The revenue report: the integration's billing events summed the way sellers read the
//! `billing_event` feed (docs/reporting.md, revenue), over the rows of its seller account, per
//! currency and the groups asked for. Different currencies are never added.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use souk_core::SharedClock;
use time::OffsetDateTime;

use super::billing_event::BillingAction;
use super::error::Error;
use super::feed::Feed;
use super::filter::Filter;
use super::ingest::bucket_error;
use super::ports::{Acting, RevenueLine, SellerAccounts, Store};
use super::row::column;

/// What the rows of a revenue report are grouped by, besides the currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grouping {
    /// The month (`YYYY-MM`).
    Month,
    /// The product.
    Product,
    /// The buyer's AWS account.
    Customer,
    /// The offer.
    Offer,
}

/// One row of the revenue report: one group in one currency, amounts in its micros.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevenueRow {
    /// `YYYY-MM` when grouped by month.
    pub period: String,
    /// `prod-...` when grouped by product.
    pub product_id: String,
    /// The product's code when grouped by product (empty if the `product` feed lacks it).
    pub product_code: String,
    /// The buyer's AWS account id when grouped by customer.
    pub customer_aws_account_id: String,
    /// The offer when grouped by offer.
    pub offer_id: String,
    /// Currency of every amount.
    pub currency: String,
    /// INVOICED SELLER_REV_SHARE paid to the seller.
    pub gross_micros: i64,
    /// Minus the INVOICED AWS_REV_SHARE rows the seller pays.
    pub listing_fee_micros: i64,
    /// Minus the INVOICED SELLER_REV_SHARE_REFUND rows the seller pays.
    pub refund_micros: i64,
    /// Balance-impacting INVOICED and FORGIVEN rows of the seller.
    pub net_micros: i64,
    /// DISBURSED DISBURSEMENT rows paid to the seller.
    pub disbursed_micros: i64,
    /// INVOICED SELLER_TAX_SHARE paid to the seller.
    pub tax_micros: i64,
}

/// A revenue report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevenueReport {
    /// The rows, ordered by period, product, customer, offer, currency.
    pub rows: Vec<RevenueRow>,
    /// When the newest billing event was written, if any.
    pub freshness: Option<OffsetDateTime>,
}

/// The report use cases.
#[derive(Clone)]
pub struct Reports {
    store: Arc<dyn Store>,
    sellers: Arc<dyn SellerAccounts>,
    clock: SharedClock,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports").finish_non_exhaustive()
    }
}

impl Reports {
    /// Reports over `store`; `sellers` tells each integration's seller account, `clock` the
    /// time ages are counted to.
    pub fn new(
        store: Arc<dyn Store>,
        sellers: Arc<dyn SellerAccounts>,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            sellers,
            clock,
        }
    }

    /// The revenue of the integration's seller account in `[start, end)`, grouped by
    /// `group_by` and currency.
    pub async fn revenue(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        group_by: &[Grouping],
    ) -> Result<RevenueReport, Error> {
        self.filtered_revenue(acting, start, end, group_by, &Filter::default())
            .await
    }

    /// [`Reports::revenue`] over the billing events `filter` keeps (docs/reporting.md,
    /// filters).
    pub async fn filtered_revenue(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        group_by: &[Grouping],
        filter: &Filter,
    ) -> Result<RevenueReport, Error> {
        let names = self.names(acting).await?;
        let selection = self.selection(acting, filter, &names).await?;
        let lines = if selection.is_all() {
            self.store
                .revenue_lines(acting, start, end, group_by)
                .await?
        } else {
            self.store
                .selected_revenue_lines(acting, start, end, &selection, group_by)
                .await?
        };
        Ok(RevenueReport {
            rows: fold(&lines, &names, group_by),
            freshness: self.store.freshness(acting).await?,
        })
    }
}

impl Reports {
    /// The store the reports read.
    pub(super) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The current instant.
    pub(super) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The AWS account id of the integration's seller account (from its role); an integration
    /// without a role, or of another organisation, is [`Error::FailedPrecondition`].
    pub(super) async fn seller_account(&self, acting: &Acting) -> Result<String, Error> {
        self.sellers
            .seller_account_id(acting)
            .await
            .map_err(bucket_error)?
            .ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "integration {} has no AWS role, so its seller account is unknown",
                    acting.integration_id
                ))
            })
    }

    /// The integration's seller account and what the `account` and `product` feeds say.
    pub(super) async fn names(&self, acting: &Acting) -> Result<Names, Error> {
        let seller = self.seller_account(acting).await?;
        let accounts = self.store.current_rows(acting, Feed::Account).await?;
        let products = self.store.current_rows(acting, Feed::Product).await?;
        Ok(Names::new(&accounts, &products, &seller))
    }
}

/// What the `account` and `product` feeds say about the ids billing events hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// The `account_id`s of the seller's AWS account.
    pub seller: HashSet<String>,
    /// AWS account id by `account_id`.
    pub aws_accounts: HashMap<String, String>,
    /// Product code by product id.
    pub product_codes: HashMap<String, String>,
    /// AWS account id by the buyer's metering `CustomerIdentifier` (`encrypted_account_id`).
    pub aws_by_identifier: HashMap<String, String>,
    /// The manufacturer (`account` feed id) of each product, when the feed names it.
    pub manufacturers: HashMap<String, String>,
}

impl Names {
    /// From the current `account` and `product` rows; `seller` is the seller's AWS account id.
    pub fn new(
        accounts: &[BTreeMap<String, String>],
        products: &[BTreeMap<String, String>],
        seller: &str,
    ) -> Self {
        let mut names = Self::default();
        for row in accounts {
            let id = column(row, "account_id");
            let aws = column(row, "aws_account_id");
            if aws == seller {
                names.seller.insert(id.clone());
            }
            let identifier = column(row, "encrypted_account_id");
            if !identifier.is_empty() {
                names.aws_by_identifier.insert(identifier, aws.clone());
            }
            names.aws_accounts.insert(id, aws);
        }
        for row in products {
            let product_id = column(row, "product_id");
            let manufacturer = column(row, "manufacturer_account_id");
            if !manufacturer.is_empty() {
                names.manufacturers.insert(product_id.clone(), manufacturer);
            }
            names
                .product_codes
                .insert(product_id, column(row, "product_code"));
        }
        names
    }
}

/// `lines` summed into report rows by `group_by` and currency.
pub fn fold(lines: &[RevenueLine], names: &Names, group_by: &[Grouping]) -> Vec<RevenueRow> {
    let by = |g: Grouping| group_by.contains(&g);
    let mut rows: BTreeMap<(String, String, String, String, String), RevenueRow> = BTreeMap::new();
    for line in lines {
        let to_seller = names.seller.contains(&line.to_account_id);
        let from_seller = names.seller.contains(&line.from_account_id);
        if !to_seller && !from_seller {
            continue;
        }
        let customer = if by(Grouping::Customer) {
            names
                .aws_accounts
                .get(&line.end_user_account_id)
                .cloned()
                .unwrap_or_else(|| line.end_user_account_id.clone())
        } else {
            String::new()
        };
        let key = (
            if by(Grouping::Month) {
                line.month.clone()
            } else {
                String::new()
            },
            if by(Grouping::Product) {
                line.product_id.clone()
            } else {
                String::new()
            },
            customer,
            if by(Grouping::Offer) {
                line.offer_id.clone()
            } else {
                String::new()
            },
            line.currency.clone(),
        );
        let row = rows.entry(key.clone()).or_insert_with(|| RevenueRow {
            period: key.0.clone(),
            product_code: names.product_codes.get(&key.1).cloned().unwrap_or_default(),
            product_id: key.1.clone(),
            customer_aws_account_id: key.2.clone(),
            offer_id: key.3.clone(),
            currency: key.4.clone(),
            ..RevenueRow::default()
        });
        let amount = line.amount_micros;
        let invoiced = line.action == BillingAction::Invoiced;
        match line.transaction_type.as_str() {
            "SELLER_REV_SHARE" if invoiced && to_seller => row.gross_micros += amount,
            "AWS_REV_SHARE" if invoiced && from_seller => row.listing_fee_micros -= amount,
            "SELLER_REV_SHARE_REFUND" if invoiced && from_seller => row.refund_micros -= amount,
            "SELLER_TAX_SHARE" if invoiced && to_seller => row.tax_micros += amount,
            "DISBURSEMENT" if line.action == BillingAction::Disbursed && to_seller => {
                row.disbursed_micros += amount;
            }
            _ => {}
        }
        if line.balance_impacting && line.action != BillingAction::Disbursed {
            row.net_micros += amount;
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        action: BillingAction,
        kind: &str,
        from: &str,
        to: &str,
        currency: &str,
        amount: i64,
        balance_impacting: bool,
    ) -> RevenueLine {
        RevenueLine {
            month: "2026-11".into(),
            product_id: "prod-a".into(),
            end_user_account_id: "buyer".into(),
            offer_id: String::new(),
            currency: currency.into(),
            action,
            transaction_type: kind.into(),
            balance_impacting,
            from_account_id: from.into(),
            to_account_id: to.into(),
            amount_micros: amount,
        }
    }

    fn names() -> Names {
        Names {
            seller: HashSet::from(["reseller".to_owned()]),
            aws_accounts: HashMap::from([("buyer".to_owned(), "444455556666".to_owned())]),
            product_codes: HashMap::from([("prod-a".to_owned(), "code-a".to_owned())]),
            ..Names::default()
        }
    }

    #[test]
    fn a_channel_partners_cost_is_netted_not_billed_and_currencies_stay_apart() {
        use BillingAction::{Disbursed, Invoiced};
        let lines = [
            // The buyer pays the reseller 120; the reseller owes the ISV 80 and AWS 0.2.
            line(
                Invoiced,
                "SELLER_REV_SHARE",
                "buyer",
                "reseller",
                "USD",
                120_000_000,
                true,
            ),
            line(
                Invoiced,
                "SELLER_REV_SHARE",
                "reseller",
                "isv",
                "USD",
                -80_000_000,
                true,
            ),
            line(
                Invoiced,
                "AWS_REV_SHARE",
                "reseller",
                "aws",
                "USD",
                -200_000,
                true,
            ),
            line(
                Invoiced,
                "SELLER_REV_SHARE_REFUND",
                "reseller",
                "buyer",
                "USD",
                -10_000_000,
                true,
            ),
            line(
                Disbursed,
                "DISBURSEMENT",
                "aws",
                "reseller",
                "USD",
                29_800_000,
                false,
            ),
            // Another seller's row and another currency.
            line(
                Invoiced,
                "SELLER_REV_SHARE",
                "buyer",
                "isv",
                "USD",
                999,
                true,
            ),
            line(
                Invoiced,
                "SELLER_REV_SHARE",
                "buyer",
                "reseller",
                "EUR",
                50_000_000,
                true,
            ),
        ];
        let rows = fold(&lines, &names(), &[Grouping::Customer, Grouping::Product]);
        assert_eq!(rows.len(), 2);
        let eur = &rows[0];
        assert_eq!(
            (eur.currency.as_str(), eur.gross_micros, eur.net_micros),
            ("EUR", 50_000_000, 50_000_000)
        );
        let usd = &rows[1];
        assert_eq!(usd.currency, "USD");
        assert_eq!(usd.customer_aws_account_id, "444455556666");
        assert_eq!(usd.product_code, "code-a");
        assert_eq!(usd.gross_micros, 120_000_000);
        assert_eq!(usd.listing_fee_micros, 200_000);
        assert_eq!(usd.refund_micros, 10_000_000);
        assert_eq!(
            usd.net_micros,
            120_000_000 - 80_000_000 - 200_000 - 10_000_000
        );
        assert_eq!(usd.disbursed_micros, 29_800_000);
    }
}
