//! Report filters (by product, product code, customer, offer, agreement and reseller) on the
//! revenue and disbursement reports: each filtered figure equals the emulator's ledger over
//! the matching billing events, to the micro.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use souk_proto::reporting as pb;

use super::harness::{
    BUYER, Disbursed, Harness, PRODUCT, PRODUCT_CODE, both, figures, ledger, totals, violations,
};

/// A second buyer.
pub const BUYER2: &str = "555566667777";
/// A second product and its code.
pub const PRODUCT2: &str = "prod-soukreports02";
const PRODUCT2_CODE: &str = "soukreports2";
/// A channel partner.
const RESELLER: &str = "777788889999";

/// Registers [`PRODUCT2`] in the emulator.
pub async fn second_product(h: &Harness) {
    h.emu
        .control(
            "POST",
            "/_souk/products",
            json!({"product_id": PRODUCT2, "product_code": PRODUCT2_CODE, "kind": "saas",
                   "dimensions": [{"name": "seats", "type": "entitled"}]}),
        )
        .await;
}

/// Per currency: gross, listing fee, refunds, net, disbursed over the events `keep` keeps,
/// payouts counted for the part that settles kept events (docs/reporting.md, filters).
fn expected(events: &[Value], keep: impl Fn(&Value) -> bool) -> BTreeMap<String, [i64; 5]> {
    ledger(events, keep, Disbursed::Settled)
}

/// The revenue report's figures per currency, `filter`ed, read with the READ key.
async fn revenue(h: &Harness, filter: pb::ReportFilter) -> BTreeMap<String, [i64; 5]> {
    let request = pb::GetRevenueReportRequest {
        filter: Some(filter),
        ..h.revenue_request()
    };
    figures(&h.revenue_report(&h.reader, request).await.expect("report"))
}

/// The disbursement report, `filter`ed, read with the READ key.
async fn disbursements(h: &Harness, filter: pb::ReportFilter) -> pb::GetDisbursementReportResponse {
    h.disbursements(Some(filter)).await.expect("report")
}

fn customers(ids: &[&str]) -> pb::ReportFilter {
    pb::ReportFilter {
        customer_aws_account_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

fn is(e: &Value, field: &str, value: &str) -> bool {
    e[field].as_str() == Some(value)
}

both!(each_filter_keeps_exactly_the_matching_billing_events, |h| {
    second_product(&h).await;
    let a = h.sell_to(BUYER, PRODUCT, "USD", "100.00", 3).await;
    let b = h.sell_to(BUYER2, PRODUCT2, "USD", "40.00", 1).await;
    let c = h.sell_to(BUYER2, PRODUCT, "EUR", "80.50", 2).await;
    h.disburse().await;
    let d = h.sell_to(BUYER, PRODUCT2, "USD", "12.34", 1).await;
    h.generate_and_ingest().await;
    let all = h.billing_events().await;
    let everything = expected(&all, |_| true);

    // One customer: exactly its own figures; the two customers add up to everything.
    let buyer2 = expected(&all, |e| is(e, "end_user_account", BUYER2));
    assert_eq!(revenue(&h, customers(&[BUYER2])).await, buyer2);
    assert_eq!(buyer2["USD"][0], 40_000_000);
    assert_eq!(buyer2["EUR"][0], 161_000_000);
    assert_eq!(
        buyer2["USD"][4], buyer2["USD"][3],
        "B's sale is paid out in full"
    );
    let buyer1 = expected(&all, |e| is(e, "end_user_account", BUYER));
    assert_eq!(revenue(&h, customers(&[BUYER])).await, buyer1);
    assert_eq!(buyer1["USD"][0], 312_340_000);
    for (currency, total) in &everything {
        let sum: Vec<i64> = (0..4)
            .map(|i| {
                buyer1.get(currency).map_or(0, |r| r[i]) + buyer2.get(currency).map_or(0, |r| r[i])
            })
            .collect();
        assert_eq!(sum, total[..4].to_vec(), "{currency}");
    }
    assert_eq!(
        revenue(&h, customers(&[BUYER, BUYER2])).await,
        expected(&all, |e| !is(e, "transaction_type", "DISBURSEMENT")),
    );
    assert!(revenue(&h, customers(&["999999999999"])).await.is_empty());

    // Product id, product code, offer, agreement, and two lists at once (AND).
    let product2 = expected(&all, |e| is(e, "product_id", PRODUCT2));
    assert_eq!(
        revenue(
            &h,
            pb::ReportFilter {
                product_ids: vec![PRODUCT2.into()],
                ..Default::default()
            }
        )
        .await,
        product2
    );
    assert_eq!(product2["USD"][0], 52_340_000);
    assert_eq!(
        revenue(
            &h,
            pb::ReportFilter {
                product_codes: vec![PRODUCT2_CODE.into()],
                ..Default::default()
            }
        )
        .await,
        product2
    );
    let offer_a = a["offer_id"].as_str().expect("offer id").to_owned();
    let by_offer = expected(&all, |e| is(e, "offer_id", &offer_a));
    assert_eq!(by_offer["USD"][0], 300_000_000);
    assert_eq!(
        revenue(
            &h,
            pb::ReportFilter {
                offer_ids: vec![offer_a.clone()],
                ..Default::default()
            }
        )
        .await,
        by_offer
    );
    let agreement_c = c["id"].as_str().expect("agreement id").to_owned();
    let by_agreement = expected(&all, |e| is(e, "agreement_id", &agreement_c));
    assert_eq!(by_agreement.keys().collect::<Vec<_>>(), ["EUR"]);
    assert_eq!(
        revenue(
            &h,
            pb::ReportFilter {
                agreement_ids: vec![agreement_c.clone()],
                ..Default::default()
            }
        )
        .await,
        by_agreement
    );
    let both_lists = expected(&all, |e| {
        is(e, "end_user_account", BUYER) && is(e, "product_id", PRODUCT2)
    });
    assert_eq!(both_lists["USD"][0], 12_340_000);
    assert_eq!(
        revenue(
            &h,
            pb::ReportFilter {
                product_codes: vec![PRODUCT2_CODE.into()],
                customer_aws_account_ids: vec![BUYER.into()],
                ..Default::default()
            }
        )
        .await,
        both_lists
    );

    // Disbursements of one customer: the part of each payout that settles its invoices,
    // and its outstanding invoices only.
    let invoice_of = |agreement: &Value| -> Vec<String> {
        let mut ids: Vec<String> = all
            .iter()
            .filter(|e| e["agreement_id"] == agreement["id"])
            .filter(|e| is(e, "action", "INVOICED"))
            .filter_map(|e| e["invoice_id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let report = disbursements(&h, customers(&[BUYER2])).await;
    let paid: BTreeMap<String, (i64, Vec<String>)> = report
        .disbursements
        .iter()
        .map(|p| {
            (
                p.currency_code.clone(),
                (p.amount_micros, p.invoice_ids.clone()),
            )
        })
        .collect();
    assert_eq!(paid.len(), 2, "{report:?}");
    assert_eq!(paid["USD"], (buyer2["USD"][3], invoice_of(&b)));
    assert_eq!(paid["EUR"], (buyer2["EUR"][3], invoice_of(&c)));
    assert!(report.outstanding.is_empty(), "{report:?}");
    let totals = totals(&report);
    assert_eq!(totals["USD"], (buyer2["USD"][3], 0));
    assert_eq!(totals["EUR"], (buyer2["EUR"][3], 0));

    let report = disbursements(&h, customers(&[BUYER])).await;
    assert_eq!(report.disbursements.len(), 1, "{report:?}");
    let usd = &report.disbursements[0];
    let a_net = expected(&all, |e| e["agreement_id"] == a["id"])["USD"][3];
    assert_eq!(
        (usd.currency_code.as_str(), usd.amount_micros),
        ("USD", a_net)
    );
    assert_eq!(usd.invoice_ids, invoice_of(&a));
    assert_eq!(report.outstanding.len(), 1, "{report:?}");
    let open = &report.outstanding[0];
    let d_net = expected(&all, |e| e["agreement_id"] == d["id"])["USD"][3];
    assert_eq!(vec![open.invoice_id.clone()], invoice_of(&d));
    assert_eq!(open.amount_micros, d_net);
    assert_eq!(report.totals.len(), 1);
    assert_eq!(
        (
            report.totals[0].disbursed_micros,
            report.totals[0].outstanding_micros
        ),
        (a_net, d_net)
    );
    // A filter nothing matches lists nothing.
    let none = disbursements(&h, customers(&["999999999999"])).await;
    assert!(none.disbursements.is_empty() && none.outstanding.is_empty() && none.totals.is_empty());
});

/// Appends `rows` (column → value) to the billing_event file of the emulator's bucket.
fn append_billing_rows(h: &Harness, rows: &[BTreeMap<&str, String>]) -> BTreeMap<String, String> {
    let (_, path) = h.billing_event_file();
    let text = std::fs::read_to_string(&path).expect("the file");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let first: BTreeMap<String, String> = reader
        .records()
        .next()
        .expect("a row")
        .expect("a record")
        .iter()
        .zip(&header)
        .map(|(v, k)| (k.clone(), v.to_owned()))
        .collect();
    let mut out = text.trim_end_matches('\n').to_owned();
    for row in rows {
        let line: Vec<String> = header
            .iter()
            .map(|column| {
                let value = row.get(column.as_str()).cloned().unwrap_or_default();
                format!("\"{}\"", value.replace('"', "\"\""))
            })
            .collect();
        out.push('\n');
        out.push_str(&line.join(","));
    }
    out.push('\n');
    std::fs::write(&path, out).expect("write");
    first
}

both!(
    a_resellers_filter_keeps_the_transactions_with_its_account,
    |h| {
        h.sell("USD", "100.00", 1).await;
        h.generate().await;
        // A channel-partner sale as the software vendor's feed shows it: the partner pays the
        // vendor 50.00 (the wholesale price), and the vendor pays AWS its fee on it; only the
        // first row names the partner, both share the transaction.
        let now = h
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("now");
        let row = |id: &str, kind: &str, amount: &str| -> BTreeMap<&str, String> {
            BTreeMap::from([
                ("valid_from", now.clone()),
                ("insert_date", now.clone()),
                ("update_date", now.clone()),
                ("billing_event_id", format!("{id:0<40}")),
                ("product_id", PRODUCT.to_owned()),
                ("action", "INVOICED".to_owned()),
                ("transaction_type", kind.to_owned()),
                ("currency", "USD".to_owned()),
                ("amount", amount.to_owned()),
                ("balance_impacting", "1".to_owned()),
                ("invoice_date", now.clone()),
                ("invoice_id", "inv-cppo-1".to_owned()),
                ("transaction_reference_id", "txn-cppo-1".to_owned()),
                ("broker_id", "AWS_INC".to_owned()),
            ])
        };
        // The seller's and AWS's `account_id`s and the buyer's, from the sale already there.
        let first = append_billing_rows(&h, &[]);
        let seller = first["to_account_id"].clone();
        let buyer = first["end_user_account_id"].clone();
        let mut partner_row = row("cppopartner", "SELLER_REV_SHARE", "50.00");
        partner_row.insert("from_account_id", RESELLER.to_owned());
        partner_row.insert("to_account_id", seller.clone());
        partner_row.insert("end_user_account_id", buyer.clone());
        let mut fee_row = row("cppofee", "AWS_REV_SHARE", "-1.50");
        fee_row.insert("from_account_id", seller);
        fee_row.insert("to_account_id", "aws".to_owned());
        fee_row.insert("end_user_account_id", buyer);
        append_billing_rows(&h, &[partner_row, fee_row]);
        let read = h.ingest(&h.key, false).await.expect("ingest");
        assert_eq!(read.rejected_rows, 0, "{read:?}");

        let resellers = |ids: &[&str]| pb::ReportFilter {
            reseller_aws_account_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        let got = revenue(&h, resellers(&[RESELLER])).await;
        assert_eq!(
            got,
            BTreeMap::from([("USD".to_owned(), [50_000_000, 1_500_000, 0, 48_500_000, 0])])
        );
        assert!(revenue(&h, resellers(&["999999999999"])).await.is_empty());
        // Without the filter the direct sale counts too.
        let all = revenue(&h, pb::ReportFilter::default()).await;
        assert_eq!(all["USD"][0], 150_000_000);
        let open = disbursements(&h, resellers(&[RESELLER])).await;
        assert_eq!(open.outstanding.len(), 1, "{open:?}");
        assert_eq!(open.outstanding[0].invoice_id, "inv-cppo-1");
        assert_eq!(open.outstanding[0].amount_micros, 48_500_000);
    }
);

both!(bad_filters_are_invalid_arguments, |h| {
    let bad = h
        .revenue_report(
            &h.reader,
            pb::GetRevenueReportRequest {
                filter: Some(pb::ReportFilter {
                    customer_aws_account_ids: vec!["4444".into()],
                    product_ids: vec![" ".into()],
                    ..Default::default()
                }),
                ..h.revenue_request()
            },
        )
        .await;
    assert_eq!(
        violations(bad),
        vec![
            (
                "filter.product_ids[0]".to_owned(),
                "must not be empty".to_owned()
            ),
            (
                "filter.customer_aws_account_ids[0]".to_owned(),
                "must be a 12-digit AWS account id".to_owned()
            ),
        ]
    );
    let bad = h
        .disbursements(Some(pb::ReportFilter {
            reseller_aws_account_ids: vec!["reseller".into()],
            ..Default::default()
        }))
        .await;
    assert_eq!(
        violations(bad),
        vec![(
            "filter.reseller_aws_account_ids[0]".to_owned(),
            "must be a 12-digit AWS account id".to_owned()
        )]
    );
    let _ = PRODUCT_CODE;
});
