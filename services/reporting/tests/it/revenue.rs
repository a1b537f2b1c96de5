//! Seller Data Feeds ingested from the emulator's bucket and reported: every revenue figure
//! equals the emulator's own ledgers to the micro, per currency, after one ingestion, after
//! ingesting again (nothing changes), and after the feeds are regenerated with more rows.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use souk_proto::reporting as pb;
use tonic::Code;

use super::harness::{
    self, BUYER, Disbursed, Harness, PRODUCT, PRODUCT_CODE, authed, both, epoch_seconds,
    expect_code, figures, violations,
};

/// Per currency: gross, listing fee, refunds, net, disbursed, as the seller guide derives them
/// from the emulator's billing events, payouts counted whole.
async fn ledger(h: &Harness) -> BTreeMap<String, [i64; 5]> {
    harness::ledger(&h.billing_events().await, |_| true, Disbursed::Payouts)
}

/// The sum of the emulator's invoices per currency.
async fn invoiced(h: &Harness) -> BTreeMap<String, i64> {
    let invoices = h.emu.control("GET", "/_souk/invoices", Value::Null).await;
    let mut sums = BTreeMap::new();
    for i in invoices.as_array().expect("invoices") {
        *sums
            .entry(i["currency_code"].as_str().unwrap_or_default().to_owned())
            .or_default() += i["amount_micros"].as_i64().expect("amount");
    }
    sums
}

both!(
    revenue_equals_the_emulators_ledgers_per_currency_again_and_after_more_rows,
    |h| {
        let usd = h.sell("USD", "100.00", 3).await;
        h.sell("EUR", "80.50", 2).await;
        let invoices = h.emu.control("GET", "/_souk/invoices", Value::Null).await;
        let usd_invoice = invoices
            .as_array()
            .and_then(|all| all.iter().find(|i| i["agreement_id"] == usd["id"]))
            .and_then(|i| i["invoice_id"].as_str())
            .expect("the USD invoice")
            .to_owned();
        h.emu
            .control(
                "POST",
                "/_souk/feeds/refunds",
                json!({"invoice_id": usd_invoice, "amount": "25.00"}),
            )
            .await;
        h.disburse().await;
        let first = h.generate_and_ingest().await;
        assert!(first.files >= 10, "{first:?}");
        assert!(first.rows > 0, "{first:?}");
        assert!(first.bytes > 0, "{first:?}");
        assert_eq!(first.rejected_rows, 0, "{first:?}");

        let want = ledger(&h).await;
        assert_eq!(want.len(), 2, "two currencies: {want:?}");
        let rows = h.revenue(&h.reader, &[]).await.expect("report");
        assert_eq!(figures(&rows), want);
        // Gross is what was invoiced; 300.00 USD less a 25.00 refund; 161.00 EUR.
        let invoiced = invoiced(&h).await;
        for (currency, figures) in &want {
            assert_eq!(Some(&figures[0]), invoiced.get(currency), "{currency}");
        }
        assert_eq!(want["USD"][0], 300_000_000);
        assert_eq!(want["USD"][2], 25_000_000);
        assert_eq!(want["EUR"][0], 161_000_000);
        let disbursements = h
            .emu
            .control("GET", "/_souk/feeds/disbursements", Value::Null)
            .await;
        let paid: BTreeMap<String, i64> = disbursements["disbursements"]
            .as_array()
            .expect("disbursements")
            .iter()
            .map(|d| {
                (
                    d["currency"].as_str().unwrap_or_default().to_owned(),
                    d["amount_micros"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(paid.len(), 2, "one payout per currency: {disbursements}");
        for (currency, figures) in &want {
            assert_eq!(
                Some(&figures[4]),
                paid.get(currency),
                "{currency} disbursed"
            );
        }

        // Again: nothing new.
        let again = h.ingest(&h.key, false).await.expect("ingest again");
        assert_eq!((again.files, again.rows), (0, 0), "{again:?}");
        assert_eq!(again.unchanged_files, first.files);
        let resync = h.ingest(&h.key, true).await.expect("full resync");
        assert_eq!(resync.files, first.files, "{resync:?}");
        assert_eq!(resync.rows, 0, "the same rows change nothing: {resync:?}");
        assert_eq!(
            figures(&h.revenue(&h.reader, &[]).await.expect("report")),
            want
        );

        // More sales; the emulator regenerates its files with more rows.
        h.sell("USD", "12.34", 1).await;
        h.generate().await;
        let more = h.ingest(&h.key, false).await.expect("ingest more");
        assert!(more.files >= 1, "{more:?}");
        assert!(more.rows >= 2, "the sale and its fee at least: {more:?}");
        let want = ledger(&h).await;
        assert_eq!(want["USD"][0], 312_340_000);
        assert_eq!(
            figures(&h.revenue(&h.reader, &[]).await.expect("report")),
            want
        );
    }
);

both!(rows_are_grouped_by_month_product_and_customer, |h| {
    h.sell("USD", "100.00", 1).await;
    h.generate_and_ingest().await;
    let rows = h
        .revenue(
            &h.reader,
            &[
                pb::RevenueGrouping::Month,
                pb::RevenueGrouping::Product,
                pb::RevenueGrouping::Customer,
            ],
        )
        .await
        .expect("report");
    let now = h.now();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(
        row.period,
        format!("{:04}-{:02}", now.year(), u8::from(now.month()))
    );
    assert_eq!(row.product_id, PRODUCT);
    assert_eq!(row.product_code, PRODUCT_CODE);
    assert_eq!(row.customer_aws_account_id, BUYER);
    assert_eq!(row.currency_code, "USD");
    assert_eq!(row.gross_amount_micros, 100_000_000);
    assert_eq!(row.listing_fee_micros, 3_000_000, "3 % by default");
    assert_eq!(row.net_amount_micros, 97_000_000);
});

both!(
    a_malformed_row_is_parked_and_the_rest_of_its_file_read,
    |h| {
        h.sell("USD", "100.00", 1).await;
        h.generate().await;
        let (key, path) = h.billing_event_file();
        let text = std::fs::read_to_string(&path).expect("the file");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert!(lines.len() >= 3, "header and two rows: {text}");
        // The second row's amount no longer reads.
        lines[2] = lines[2].replacen(",\"-", ",\"minus ", 1);
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");

        let report = h.ingest(&h.key, false).await.expect("ingest");
        assert_eq!(report.rejected_rows, 1, "{report:?}");
        let rejected = &report.rejected[0];
        assert_eq!(rejected.key, key);
        assert_eq!(rejected.line, 3);
        assert!(rejected.reason.contains("amount"), "{}", rejected.reason);
        let rows = h.revenue(&h.reader, &[]).await.expect("report");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            rows[0].gross_amount_micros, 100_000_000,
            "the good row was read"
        );
    }
);

both!(
    bad_requests_are_invalid_and_other_organisations_see_nothing,
    |h| {
        h.sell("USD", "100.00", 1).await;
        h.generate().await;
        let bad = h
            .client()
            .ingest_data_feeds(authed(
                &h.key,
                pb::IngestDataFeedsRequest {
                    integration_id: "nope".into(),
                    full_resync: false,
                },
            ))
            .await;
        assert_eq!(
            violations(bad.map(|r| r.into_inner())),
            vec![(
                "integration_id".to_owned(),
                "must start with \"int_\"".to_owned()
            )]
        );
        let bad = h
            .revenue_report(
                &h.reader,
                pb::GetRevenueReportRequest {
                    group_by: vec![
                        0,
                        pb::RevenueGrouping::Month as i32,
                        pb::RevenueGrouping::Month as i32,
                    ],
                    start_time: Some(epoch_seconds(100)),
                    end_time: Some(epoch_seconds(50)),
                    ..h.revenue_request()
                },
            )
            .await;
        assert_eq!(
            violations(bad),
            vec![
                ("end_time".to_owned(), "must be after start_time".to_owned()),
                (
                    "group_by[0]".to_owned(),
                    "must be MONTH, PRODUCT, CUSTOMER or OFFER".to_owned()
                ),
                ("group_by[2]".to_owned(), "is named twice".to_owned()),
            ]
        );
        // A reader cannot ingest; another organisation finds no such integration.
        expect_code(h.ingest(&h.reader, false).await, Code::PermissionDenied);
        expect_code(
            h.ingest(&h.other_key, false).await,
            Code::FailedPrecondition,
        );
        h.ingest(&h.key, false).await.expect("ingest");
        expect_code(h.revenue(&h.other_key, &[]).await, Code::FailedPrecondition);
    }
);

both!(scheduled_passes_read_every_integration_with_a_bucket, |h| {
    h.sell("EUR", "40.00", 1).await;
    h.generate().await;
    let pass = h.app.ingest_all().await.expect("a pass");
    assert_eq!((pass.integrations, pass.failed), (1, 0), "{pass:?}");
    assert!(pass.rows > 0, "{pass:?}");
    let rows = h.revenue(&h.reader, &[]).await.expect("report");
    assert_eq!(figures(&rows), ledger(&h).await);
    let again = h.app.ingest_all().await.expect("another pass");
    assert_eq!((again.integrations, again.rows), (1, 0), "{again:?}");
});
