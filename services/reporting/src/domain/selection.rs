//! A report [`Filter`] resolved into the values the `billing_events` table holds, so the store
//! can apply it in SQL (docs/reporting.md, filters): product codes become product ids (the
//! `product` feed), buyers' AWS account ids become `account_id`s (the `account` feed), and a
//! reseller becomes the agreements it proposed (the `agreement` feed) and its `account_id`s.

use std::collections::{BTreeMap, BTreeSet};

use super::error::Error;
use super::feed::Feed;
use super::filter::Filter;
use super::ports::Acting;
use super::revenue::{Names, Reports};

/// A column of `billing_events` a selection compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `product_id`.
    ProductId,
    /// `end_user_account_id`.
    EndUserAccountId,
    /// `offer_id`.
    OfferId,
    /// `agreement_id`.
    AgreementId,
}

impl Column {
    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ProductId => "product_id",
            Self::EndUserAccountId => "end_user_account_id",
            Self::OfferId => "offer_id",
            Self::AgreementId => "agreement_id",
        }
    }
}

/// What ties a row to the resellers asked for: it charges one of their agreements, or its
/// transaction (`transaction_reference_id`) has a row moving money from or to one of their
/// accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resellers {
    /// The agreements they proposed, sorted.
    pub agreement_ids: Vec<String>,
    /// Their `account_id`s (and the AWS account ids themselves), sorted.
    pub account_ids: Vec<String>,
}

/// The rows a filter keeps, as conditions on stored columns; all must hold. A condition with
/// no values keeps nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Each: the column must hold one of the values.
    pub columns: Vec<(Column, Vec<String>)>,
    /// The resellers' rows only, when asked.
    pub resellers: Option<Resellers>,
}

impl Selection {
    /// True when it keeps every row.
    pub fn is_all(&self) -> bool {
        self.columns.is_empty() && self.resellers.is_none()
    }

    /// `filter` resolved with `names` (the `account` and `product` feeds) and `agreements`
    /// (the current `agreement` rows; read only when the filter names resellers).
    pub fn resolve(
        filter: &Filter,
        names: &Names,
        agreements: &[BTreeMap<String, String>],
    ) -> Self {
        let mut selection = Self::default();
        let mut push = |column: Column, values: BTreeSet<String>| {
            selection
                .columns
                .push((column, values.into_iter().collect()));
        };
        if !filter.product_ids.is_empty() {
            push(
                Column::ProductId,
                filter.product_ids.iter().cloned().collect(),
            );
        }
        if !filter.product_codes.is_empty() {
            let ids = names
                .product_codes
                .iter()
                .filter(|(_, code)| filter.product_codes.contains(code))
                .map(|(id, _)| id.clone())
                .collect();
            push(Column::ProductId, ids);
        }
        if !filter.customer_aws_account_ids.is_empty() {
            push(
                Column::EndUserAccountId,
                account_ids(names, &filter.customer_aws_account_ids),
            );
        }
        if !filter.offer_ids.is_empty() {
            push(Column::OfferId, filter.offer_ids.iter().cloned().collect());
        }
        if !filter.agreement_ids.is_empty() {
            push(
                Column::AgreementId,
                filter.agreement_ids.iter().cloned().collect(),
            );
        }
        if !filter.reseller_aws_account_ids.is_empty() {
            let accounts = account_ids(names, &filter.reseller_aws_account_ids);
            let agreement_ids = agreements
                .iter()
                .filter(|row| {
                    row.get("proposer_account_id")
                        .is_some_and(|p| accounts.contains(p))
                })
                .filter_map(|row| row.get("agreement_id").filter(|id| !id.is_empty()))
                .cloned()
                .collect::<BTreeSet<_>>();
            selection.resellers = Some(Resellers {
                agreement_ids: agreement_ids.into_iter().collect(),
                account_ids: accounts.into_iter().collect(),
            });
        }
        selection
    }
}

impl Reports {
    /// `filter` resolved for the integration (the `agreement` feed read only when it names
    /// resellers).
    pub(super) async fn selection(
        &self,
        acting: &Acting,
        filter: &Filter,
        names: &Names,
    ) -> Result<Selection, Error> {
        let agreements = if filter.reseller_aws_account_ids.is_empty() {
            Vec::new()
        } else {
            self.store().current_rows(acting, Feed::Agreement).await?
        };
        Ok(Selection::resolve(filter, names, &agreements))
    }
}

/// The `account_id`s of `aws_ids` (12-digit AWS account ids) in the `account` feed, and the
/// AWS ids themselves (a feed that holds them directly).
fn account_ids(names: &Names, aws_ids: &[String]) -> BTreeSet<String> {
    names
        .aws_accounts
        .iter()
        .filter(|(_, aws)| aws_ids.contains(aws))
        .map(|(id, _)| id.clone())
        .chain(aws_ids.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn names() -> Names {
        Names {
            seller: HashSet::from(["acc-seller".to_owned()]),
            aws_accounts: HashMap::from([
                ("acc-buyer".to_owned(), "444455556666".to_owned()),
                ("acc-partner".to_owned(), "777788889999".to_owned()),
            ]),
            product_codes: HashMap::from([
                ("prod-a".to_owned(), "code-a".to_owned()),
                ("prod-b".to_owned(), "code-b".to_owned()),
            ]),
            ..Names::default()
        }
    }

    #[test]
    fn an_empty_filter_keeps_everything() {
        assert!(Selection::resolve(&Filter::default(), &names(), &[]).is_all());
    }

    #[test]
    fn codes_accounts_and_resellers_become_stored_values() {
        let filter = Filter {
            product_codes: vec!["code-b".into(), "code-x".into()],
            customer_aws_account_ids: vec!["444455556666".into()],
            reseller_aws_account_ids: vec!["777788889999".into()],
            ..Filter::default()
        };
        let agreements = vec![
            BTreeMap::from([
                ("agreement_id".to_owned(), "agmt-cppo".to_owned()),
                ("proposer_account_id".to_owned(), "acc-partner".to_owned()),
            ]),
            BTreeMap::from([
                ("agreement_id".to_owned(), "agmt-direct".to_owned()),
                ("proposer_account_id".to_owned(), "acc-seller".to_owned()),
            ]),
        ];
        let selection = Selection::resolve(&filter, &names(), &agreements);
        assert_eq!(
            selection.columns,
            vec![
                (Column::ProductId, vec!["prod-b".to_owned()]),
                (
                    Column::EndUserAccountId,
                    vec!["444455556666".to_owned(), "acc-buyer".to_owned()]
                ),
            ]
        );
        assert_eq!(
            selection.resellers,
            Some(Resellers {
                agreement_ids: vec!["agmt-cppo".to_owned()],
                account_ids: vec!["777788889999".to_owned(), "acc-partner".to_owned()],
            })
        );
    }

    #[test]
    fn an_unknown_product_code_keeps_nothing() {
        let filter = Filter {
            product_codes: vec!["code-x".into()],
            ..Filter::default()
        };
        let selection = Selection::resolve(&filter, &names(), &[]);
        assert_eq!(selection.columns, vec![(Column::ProductId, Vec::new())]);
    }
}
