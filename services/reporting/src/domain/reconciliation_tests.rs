use std::collections::{HashMap, HashSet};

use time::macros::datetime;

use super::*;
use crate::domain::usage::months;

const BUYER: &str = "444455556666";

fn names() -> Names {
    Names {
        seller: HashSet::from(["seller".to_owned()]),
        aws_accounts: HashMap::from([("buyer".to_owned(), BUYER.to_owned())]),
        product_codes: HashMap::from([("prod-a".to_owned(), "code-a".to_owned())]),
        aws_by_identifier: HashMap::from([("ident-1".to_owned(), BUYER.to_owned())]),
        ..Names::default()
    }
}

fn november() -> Vec<Month> {
    months(
        Some(datetime!(2026-11-01 0:00 UTC)),
        datetime!(2026-12-01 0:00 UTC),
        DEFAULT_MONTHS,
    )
}

fn metered(state: MeteredState, quantity: i64, sent_at: Option<OffsetDateTime>) -> MeteredTotal {
    MeteredTotal {
        period: 0,
        customer_id: "cus_1".to_owned(),
        aws_customer: MeteredCustomer::Identifier("ident-1".to_owned()),
        product_code: "code-a".to_owned(),
        dimension: "users".to_owned(),
        state,
        quantity,
        last_sent_at: sent_at,
    }
}

fn billed(quantity: i64, to: &str) -> BilledUsage {
    BilledUsage {
        month: "2026-11".to_owned(),
        end_user_account_id: "buyer".to_owned(),
        product_id: "prod-a".to_owned(),
        dimension: "users".to_owned(),
        to_account_id: to.to_owned(),
        quantity_micros: quantity * MICROS_PER_UNIT,
    }
}

const SENT: Option<OffsetDateTime> = Some(datetime!(2026-11-10 1:05 UTC));
const READ: Option<OffsetDateTime> = Some(datetime!(2026-12-02 0:00 UTC));

fn one(
    metered: &[MeteredTotal],
    billed: &[BilledUsage],
    read_at: Option<OffsetDateTime>,
) -> ReconciledUsage {
    let rows = reconcile(
        &november(),
        metered,
        billed,
        read_at,
        &names(),
        &Filter::default(),
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap_or_else(|| unreachable!())
}

#[test]
fn equal_quantities_match_and_legacy_customers_are_named_by_their_account() {
    let row = one(
        &[metered(MeteredState::Shipped, 40, SENT)],
        &[billed(40, "seller")],
        READ,
    );
    assert_eq!(row.cause, Cause::Matched);
    assert_eq!(row.customer_aws_account_id, BUYER);
    assert_eq!(row.customer_id, "cus_1");
    assert_eq!(row.key.month, "2026-11");
    assert_eq!(row.difference_micros(), 0);
}

#[test]
fn more_billed_than_shipped_was_not_shipped_by_souk() {
    let row = one(
        &[metered(MeteredState::Shipped, 40, SENT)],
        &[billed(45, "seller")],
        READ,
    );
    assert_eq!(row.cause, Cause::NotShippedBySouk);
    assert_eq!(row.difference_micros(), -5 * MICROS_PER_UNIT);
}

#[test]
fn shipped_usage_an_invoiced_month_does_not_bill_is_missing_from_the_feed() {
    // The month is invoiced (another line of it is billed), this usage is not.
    let mut other = billed(3, "seller");
    other.dimension = "seats".to_owned();
    let rows = reconcile(
        &november(),
        &[metered(MeteredState::Shipped, 7, SENT)],
        &[other],
        READ,
        &names(),
        &Filter::default(),
    );
    let users = rows
        .iter()
        .find(|r| r.key.dimension == "users")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(users.cause, Cause::MissingFromFeed);
    assert!(Cause::MissingFromFeed.worth_announcing());
}

#[test]
fn shipped_usage_of_a_month_never_invoiced_is_not_yet_invoiced() {
    let row = one(&[metered(MeteredState::Shipped, 7, SENT)], &[], READ);
    assert_eq!(row.cause, Cause::NotYetInvoiced);
    assert!(!Cause::NotYetInvoiced.worth_announcing());
}

#[test]
fn usage_accepted_after_the_feed_was_read_is_shipped_after_invoicing() {
    let mut other = billed(3, "seller");
    other.dimension = "seats".to_owned();
    let late = Some(datetime!(2026-12-03 0:00 UTC));
    let rows = reconcile(
        &november(),
        &[metered(MeteredState::Shipped, 7, late)],
        &[other],
        READ,
        &names(),
        &Filter::default(),
    );
    let users = rows.iter().find(|r| r.key.dimension == "users");
    assert_eq!(users.map(|r| r.cause), Some(Cause::ShippedAfterInvoicing));
}

#[test]
fn rejected_and_pending_usage_are_named_when_the_rest_matches() {
    let row = one(
        &[
            metered(MeteredState::Shipped, 40, SENT),
            metered(MeteredState::Rejected, 2, None),
        ],
        &[billed(40, "seller")],
        READ,
    );
    assert_eq!((row.cause, row.rejected), (Cause::Rejected, 2));
    let row = one(
        &[
            metered(MeteredState::Shipped, 40, SENT),
            metered(MeteredState::Pending, 1, None),
        ],
        &[billed(40, "seller")],
        READ,
    );
    assert_eq!((row.cause, row.pending), (Cause::Pending, 1));
}

#[test]
fn rows_paid_to_another_account_and_filtered_products_are_left_out() {
    let row = one(
        &[metered(MeteredState::Shipped, 40, SENT)],
        &[billed(40, "reseller")],
        READ,
    );
    assert_eq!(
        row.cause,
        Cause::NotYetInvoiced,
        "the reseller's row is not the seller's"
    );
    let filter = Filter {
        product_codes: vec!["code-b".to_owned()],
        ..Filter::default()
    };
    let rows = reconcile(
        &november(),
        &[metered(MeteredState::Shipped, 40, SENT)],
        &[billed(40, "seller")],
        READ,
        &names(),
        &filter,
    );
    assert_eq!(rows, []);
}
