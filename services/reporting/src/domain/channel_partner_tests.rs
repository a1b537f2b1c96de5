use std::collections::{HashMap, HashSet};

use super::*;

const BUYER: &str = "acc-buyer";
const RESELLER: &str = "acc-reseller";
const ISV: &str = "acc-isv";
const AWS: &str = "acc-aws";

fn line(agreement: &str, kind: &str, from: &str, to: &str, amount: i64) -> PartnerLine {
    PartnerLine {
        agreement_id: agreement.into(),
        offer_id: String::new(),
        product_id: "prod-a".into(),
        end_user_account_id: BUYER.into(),
        currency: "USD".into(),
        transaction_type: kind.into(),
        from_account_id: from.into(),
        to_account_id: to.into(),
        amount_micros: amount,
    }
}

/// The feeds of `seller`'s integration: the product made by the ISV, agreement `agmt-cp` the
/// reseller's and `agmt-direct` the ISV's.
fn facts(seller: &str) -> PartnerFacts {
    let names = Names {
        seller: HashSet::from([seller.to_owned()]),
        aws_accounts: HashMap::from([
            (BUYER.to_owned(), "444455556666".to_owned()),
            (RESELLER.to_owned(), "777788889999".to_owned()),
            (ISV.to_owned(), "111122223333".to_owned()),
        ]),
        product_codes: HashMap::from([("prod-a".to_owned(), "code-a".to_owned())]),
        manufacturers: HashMap::from([("prod-a".to_owned(), ISV.to_owned())]),
        ..Names::default()
    };
    let row = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    PartnerFacts::new(
        names,
        &[
            row(&[
                ("agreement_id", "agmt-cp"),
                ("proposer_account_id", RESELLER),
                ("acceptor_account_id", BUYER),
                ("offer_id", "offer-cp"),
            ]),
            row(&[
                ("agreement_id", "agmt-direct"),
                ("proposer_account_id", ISV),
                ("acceptor_account_id", BUYER),
                ("offer_id", "offer-direct"),
            ]),
        ],
    )
}

fn figures(row: &PartnerShare) -> [i64; 4] {
    [
        row.buyer_price_micros,
        row.reseller_share_micros,
        row.isv_share_micros,
        row.aws_share_micros,
    ]
}

#[test]
fn the_resellers_feed_gives_every_share_and_a_direct_sale_is_left_out() {
    // The buyer pays 110; the reseller owes the ISV 100 and pays AWS 3.30, refunds 11 (0.33
    // of the fee back).
    let lines = [
        line("agmt-cp", "SELLER_REV_SHARE", BUYER, RESELLER, 110_000_000),
        line("agmt-cp", "SELLER_REV_SHARE", RESELLER, ISV, -100_000_000),
        line("agmt-cp", "AWS_REV_SHARE", RESELLER, AWS, -3_300_000),
        line(
            "agmt-cp",
            "SELLER_REV_SHARE_REFUND",
            RESELLER,
            BUYER,
            -11_000_000,
        ),
        line("agmt-cp", "AWS_REV_SHARE_REFUND", AWS, RESELLER, 330_000),
        line("agmt-direct", "SELLER_REV_SHARE", BUYER, ISV, 50_000_000),
        line("agmt-direct", "AWS_REV_SHARE", ISV, AWS, -1_500_000),
    ];
    let rows = shares(&lines, &facts(RESELLER), &Filter::default());
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.agreement_id, "agmt-cp");
    assert_eq!(row.offer_id, "offer-cp", "from the agreement feed");
    assert_eq!(row.product_code, "code-a");
    assert_eq!(row.reseller_aws_account_id, "777788889999");
    assert_eq!(row.customer_aws_account_id, "444455556666");
    assert_eq!(
        figures(row),
        [
            99_000_000,
            99_000_000 - 100_000_000 - 2_970_000,
            100_000_000,
            2_970_000
        ]
    );
}

#[test]
fn the_isvs_feed_shows_its_share_after_its_fee_but_not_the_buyer_price() {
    let lines = [
        line("agmt-cp", "SELLER_REV_SHARE", RESELLER, ISV, 100_000_000),
        line("agmt-cp", "AWS_REV_SHARE", ISV, AWS, -3_000_000),
    ];
    let rows = shares(&lines, &facts(ISV), &Filter::default());
    assert_eq!(rows.len(), 1);
    assert_eq!(figures(&rows[0]), [0, 0, 97_000_000, 3_000_000]);
    assert_eq!(rows[0].reseller_aws_account_id, "777788889999");
}

#[test]
fn buyer_rows_of_a_partners_sale_give_the_buyer_price_and_the_resellers_share() {
    // What the emulator writes into the ISV's bucket: the buyer pays the reseller, the
    // reseller pays the fee, no partner leg.
    let lines = [
        line(
            "agmt-cp",
            "SELLER_REV_SHARE",
            BUYER,
            RESELLER,
            2_200_000_000,
        ),
        line("agmt-cp", "AWS_REV_SHARE", RESELLER, AWS, -66_000_000),
    ];
    let rows = shares(&lines, &facts(ISV), &Filter::default());
    assert_eq!(
        figures(&rows[0]),
        [2_200_000_000, 2_134_000_000, 0, 66_000_000]
    );
}

#[test]
fn without_an_agreement_the_rows_tell_the_reseller_and_filters_apply() {
    let lines = [
        line("", "SELLER_REV_SHARE", BUYER, RESELLER, 10_000_000),
        line("", "AWS_REV_SHARE", RESELLER, AWS, -300_000),
        line("", "SELLER_REV_SHARE", BUYER, ISV, 7_000_000),
    ];
    let mut other = lines[2].clone();
    other.currency = "EUR".into();
    let lines = [lines[0].clone(), lines[1].clone(), other];
    let rows = shares(&lines, &facts(ISV), &Filter::default());
    assert_eq!(rows.len(), 1, "the EUR sale is the ISV's own: {rows:?}");
    assert_eq!(rows[0].agreement_id, "");
    assert_eq!(figures(&rows[0]), [10_000_000, 9_700_000, 0, 300_000]);

    let filter = |f: Filter| shares(&lines, &facts(ISV), &f).len();
    let list = |v: &str| vec![v.to_owned()];
    assert_eq!(
        filter(Filter {
            reseller_aws_account_ids: list("777788889999"),
            ..Filter::default()
        }),
        1
    );
    assert_eq!(
        filter(Filter {
            reseller_aws_account_ids: list("000000000000"),
            ..Filter::default()
        }),
        0
    );
    assert_eq!(
        filter(Filter {
            product_codes: list("code-a"),
            customer_aws_account_ids: list("444455556666"),
            ..Filter::default()
        }),
        1
    );
    assert_eq!(
        filter(Filter {
            agreement_ids: list("agmt-cp"),
            ..Filter::default()
        }),
        0
    );
}
