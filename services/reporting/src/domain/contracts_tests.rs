use std::collections::{HashMap, HashSet};

use time::macros::datetime;

use super::*;

fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn agreement(
    id: &str,
    start: &str,
    end: &str,
    status: &str,
    currency: &str,
    value: &str,
) -> BTreeMap<String, String> {
    row(&[
        ("agreement_id", id),
        ("proposer_account_id", "acc-isv"),
        ("acceptor_account_id", "acc-buyer"),
        ("offer_id", "offer-1"),
        ("offer_revision_at_acceptance", "2"),
        ("start_time", start),
        ("end_time", end),
        ("status", status),
        ("currency_code", currency),
        ("estimated_agreement_value", value),
    ])
}

fn facts() -> ContractFacts {
    ContractFacts::new(
        Names {
            seller: HashSet::from(["acc-isv".to_owned()]),
            aws_accounts: HashMap::from([
                ("acc-buyer".to_owned(), "444455556666".to_owned()),
                ("acc-partner".to_owned(), "777788889999".to_owned()),
            ]),
            product_codes: HashMap::from([("prod-a".to_owned(), "code-a".to_owned())]),
            manufacturers: HashMap::from([("prod-a".to_owned(), "acc-isv".to_owned())]),
            ..Names::default()
        },
        &[
            row(&[
                ("offer_id", "offer-1"),
                ("offer_revision", "1"),
                ("product_id", "prod-old"),
            ]),
            row(&[
                ("offer_id", "offer-1"),
                ("offer_revision", "2"),
                ("product_id", "prod-a"),
            ]),
        ],
    )
}

#[test]
fn arr_spreads_the_value_over_the_contracts_days_and_mrr_is_a_twelfth() {
    let start = datetime!(2026-11-01 0:00 UTC);
    // 365 days: ARR is the value.
    assert_eq!(
        recurring(12_000_000_000, start, datetime!(2027-11-01 0:00 UTC)),
        (12_000_000_000, 1_000_000_000)
    );
    // 36 months with a leap day (1096 days): 30,000 × 365 / 1096 = 9990.875912408759...
    assert_eq!(
        recurring(30_000_000_000, start, datetime!(2029-11-01 0:00 UTC)),
        (9_990_875_912, 832_572_993)
    );
    // Half a micro rounds away from zero.
    assert_eq!(
        recurring(1, start, start + time::Duration::days(730)),
        (1, 0)
    );
    assert_eq!(
        recurring(-1, start, start + time::Duration::days(730)),
        (-1, 0)
    );
    assert_eq!(recurring(5, start, start), (0, 0), "no length");
}

#[test]
fn only_agreements_with_an_end_are_contracts_and_the_instant_decides_active() {
    let rows = [
        agreement(
            "agmt-a",
            "2026-11-01T00:00:00Z",
            "2027-11-01T00:00:00Z",
            "ACTIVE",
            "USD",
            "1200.00",
        ),
        agreement("agmt-b", "2026-11-01T00:00:00Z", "", "Active", "USD", "0"),
        agreement(
            "agmt-c",
            "2025-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "Expired",
            "EUR",
            "365.5",
        ),
        agreement(
            "agmt-d",
            "2026-11-01T00:00:00Z",
            "2027-11-01T00:00:00Z",
            "Rolled back",
            "USD",
            "10",
        ),
    ];
    let at = datetime!(2026-12-01 0:00 UTC);
    let active = report(&rows, &facts(), at, false, &Filter::default());
    assert_eq!(active.contracts.len(), 1, "{active:?}");
    let a = &active.contracts[0];
    assert_eq!(a.agreement_id, "agmt-a");
    assert_eq!(a.product_id, "prod-a", "the revision accepted");
    assert_eq!(a.product_code, "code-a");
    assert_eq!(a.customer_aws_account_id, "444455556666");
    assert_eq!(a.reseller_aws_account_id, "", "a direct sale");
    assert_eq!(a.renewal(), Some(datetime!(2027-11-01 0:00 UTC)));
    assert_eq!(
        (a.tcv_micros, a.arr_micros, a.mrr_micros),
        (1_200_000_000, 1_200_000_000, 100_000_000)
    );
    assert_eq!(active.totals.len(), 1);

    let all = report(&rows, &facts(), at, true, &Filter::default());
    let ids: Vec<&str> = all
        .contracts
        .iter()
        .map(|c| c.agreement_id.as_str())
        .collect();
    assert_eq!(ids, ["agmt-c", "agmt-a", "agmt-d"], "by end, then id");
    assert_eq!(all.contracts[0].renewal(), None);
    assert_eq!(all.contracts[0].status, "Expired");
    let currencies: Vec<(&str, i64)> = all
        .totals
        .iter()
        .map(|t| (t.currency.as_str(), t.contracts))
        .collect();
    assert_eq!(currencies, [("EUR", 1), ("USD", 2)]);
    assert!(!all.contracts[2].active, "rolled back");

    // The day it ends it is no longer active; the day it starts it is.
    let ends = report(
        &rows,
        &facts(),
        datetime!(2027-11-01 0:00 UTC),
        false,
        &Filter::default(),
    );
    assert!(ends.contracts.is_empty());
    let starts = report(
        &rows,
        &facts(),
        datetime!(2026-11-01 0:00 UTC),
        false,
        &Filter::default(),
    );
    assert_eq!(starts.contracts.len(), 1);
}

#[test]
fn a_partners_agreement_names_the_reseller_and_filters_apply() {
    let mut partner = agreement(
        "agmt-p",
        "2026-11-01T00:00:00Z",
        "2027-11-01T00:00:00Z",
        "ACTIVE",
        "USD",
        "100",
    );
    partner.insert("proposer_account_id".into(), "acc-partner".into());
    let rows = [
        partner,
        agreement(
            "agmt-a",
            "2026-11-01T00:00:00Z",
            "2027-11-01T00:00:00Z",
            "ACTIVE",
            "USD",
            "1",
        ),
    ];
    let at = datetime!(2026-12-01 0:00 UTC);
    let list = |v: &str| vec![v.to_owned()];
    let only = |filter: Filter| -> Vec<String> {
        report(&rows, &facts(), at, false, &filter)
            .contracts
            .into_iter()
            .map(|c| c.agreement_id)
            .collect()
    };
    assert_eq!(
        only(Filter {
            reseller_aws_account_ids: list("777788889999"),
            ..Filter::default()
        }),
        ["agmt-p"]
    );
    assert_eq!(
        only(Filter {
            agreement_ids: list("agmt-a"),
            product_codes: list("code-a"),
            ..Filter::default()
        }),
        ["agmt-a"]
    );
    assert!(
        only(Filter {
            customer_aws_account_ids: list("000000000000"),
            ..Filter::default()
        })
        .is_empty()
    );
}
