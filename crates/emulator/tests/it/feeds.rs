//! Seller data feeds generated from the emulator's ledger (a subscription from an accepted
//! offer, metered usage, a disbursement, a refund), read back through the S3-compatible API.

use std::collections::BTreeMap;

use aws_sdk_marketplacemetering::types::UsageRecord;
use serde_json::{Value, json};

use crate::support::catalog::{Cat, accept, contract_offer, released_offer, setup};
use crate::support::sqs::http;
use crate::support::{BUYER, PRODUCT, control_ok};

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, `\n` records).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, other) => field.push(other),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, other) => field.push(other),
        }
    }
    rows
}

/// `amount` as integer micros.
fn micros(amount: &str) -> i64 {
    let negative = amount.starts_with('-');
    let (whole, fraction) = amount
        .trim_start_matches('-')
        .split_once('.')
        .unwrap_or((amount, ""));
    let mut fraction = fraction.to_owned();
    while fraction.len() < 6 {
        fraction.push('0');
    }
    let value =
        whole.parse::<i64>().unwrap_or(0) * 1_000_000 + fraction.parse::<i64>().unwrap_or(0);
    if negative { -value } else { value }
}

/// Every row of a feed, read through ListObjectsV2 + GetObject, as column → value maps.
async fn feed_rows(url: &str, bucket: &str, feed: &str) -> Vec<BTreeMap<String, String>> {
    let listing = http(
        "GET",
        &format!("{url}/{bucket}?list-type=2&prefix={feed}_v1/"),
        &[],
        "",
    )
    .await;
    assert_eq!(listing.status, 200, "{}", listing.body);
    let keys: Vec<String> = listing
        .body
        .split("<Key>")
        .skip(1)
        .filter_map(|part| part.split("</Key>").next().map(str::to_owned))
        .collect();
    assert!(!keys.is_empty(), "no {feed} files: {}", listing.body);
    let mut rows = Vec::new();
    for key in keys {
        assert!(
            key.starts_with(&format!("{feed}_v1/year=")) && key.ends_with("/data.csv"),
            "{key}"
        );
        let object = http("GET", &format!("{url}/{bucket}/{key}"), &[], "").await;
        assert_eq!(object.status, 200, "{key}: {}", object.body);
        assert_eq!(object.header("content-type"), Some("text/csv"));
        let parsed = parse_csv(&object.body);
        let header = parsed[0].clone();
        for row in &parsed[1..] {
            assert_eq!(row.len(), header.len(), "{key}: {row:?}");
            rows.push(header.iter().cloned().zip(row.iter().cloned()).collect());
        }
    }
    rows
}

/// Points the feed output at a temporary directory removed when the test ends.
async fn temporary_output_dir(cat: &Cat) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = json!({ "output_dir": dir.path() });
    control_ok(cat.url(), "PUT", "/_souk/feeds/settings", settings).await;
    dir
}

async fn meter(cat: &Cat, dimension: &str, quantity: i32) {
    let now = cat.env.emu.emulator.clock().now();
    let record = UsageRecord::builder()
        .timestamp(aws_smithy_types::DateTime::from_secs(now.unix_timestamp()))
        .customer_aws_account_id(BUYER)
        .dimension(dimension)
        .quantity(quantity)
        .build()
        .expect("record");
    let out = cat
        .env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record)
        .send()
        .await
        .expect("meter");
    assert_eq!(out.results().len(), 1, "{out:?}");
}

/// Moves the emulator clock to one day into the next calendar month.
fn next_month(cat: &Cat) {
    let now = cat.env.emu.emulator.clock().now();
    let (year, month) = if now.month() == time::Month::December {
        (now.year() + 1, time::Month::January)
    } else {
        (now.year(), now.month().next())
    };
    let start = time::Date::from_calendar_date(year, month, 2)
        .expect("date")
        .with_time(time::Time::MIDNIGHT)
        .assume_utc();
    cat.advance((start - now).whole_seconds());
}

async fn subscribed_buyer_with_usage(cat: &Cat) -> Value {
    let offer = released_offer(cat, contract_offer(&cat.saas, &cat.date(30), true)).await;
    let agreement = accept(cat, &offer, json!({ "buyer_account_id": BUYER, "quantities": [{ "dimension_key": "seats", "quantity": 2 }] })).await;
    meter(cat, "users", 1000).await;
    agreement
}

#[tokio::test(flavor = "multi_thread")]
async fn billing_event_feed_has_invoices_fees_and_linked_disbursements() {
    let cat = setup().await;
    let _dir = temporary_output_dir(&cat).await;
    let url = cat.url().to_owned();
    let agreement = subscribed_buyer_with_usage(&cat).await;
    let invoices = control_ok(&url, "GET", "/_souk/invoices", Value::Null).await;
    let upfront: Vec<(String, i64)> = invoices
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["invoice_id"].as_str().unwrap_or_default().to_owned(),
                i["amount_micros"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert!(
        !upfront.is_empty(),
        "accepting the offer invoices the upfront price: {invoices}"
    );

    // Usage is invoiced when the month closes.
    next_month(&cat);
    let disbursed = control_ok(&url, "POST", "/_souk/feeds/disbursements", Value::Null).await;
    let generated = control_ok(&url, "POST", "/_souk/feeds/generate", Value::Null).await;
    let bucket = generated["bucket"].as_str().expect("bucket").to_owned();
    let rows = feed_rows(&url, &bucket, "billing_event").await;

    let invoiced = |kind: &str| {
        rows.iter()
            .filter(|r| r["action"] == "INVOICED" && r["transaction_type"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let seller = invoiced("SELLER_REV_SHARE");
    let fees = invoiced("AWS_REV_SHARE");
    assert_eq!(
        seller.len(),
        upfront.len() + 1,
        "upfront lines plus one usage line: {seller:#?}"
    );
    assert_eq!(fees.len(), seller.len());
    for (invoice_id, amount) in &upfront {
        let row = seller
            .iter()
            .find(|r| &r["invoice_id"] == invoice_id)
            .expect("upfront row");
        assert_eq!(micros(&row["amount"]), *amount);
        assert_eq!(
            row["agreement_id"],
            agreement["id"].as_str().unwrap_or_default()
        );
    }
    let usage = seller
        .iter()
        .find(|r| !r["usage_period_start_date"].is_empty())
        .expect("usage row");
    assert_eq!(usage["amount"], "15.00", "1000 users at 0.015");
    assert!(
        usage["usage_period_start_date"].ends_with("-01T00:00:00Z"),
        "{usage:?}"
    );
    for row in &seller {
        let fee = fees
            .iter()
            .find(|f| f["invoice_id"] == row["invoice_id"])
            .expect("fee row");
        let expected = (micros(&row["amount"]) * 3 + 50) / 100;
        assert_eq!(
            micros(&fee["amount"]),
            -expected,
            "3 % listing fee of {}",
            row["amount"]
        );
        assert_eq!(fee["currency"], "USD");
        assert_eq!(row["balance_impacting"], "1");
        assert_eq!(row["broker_id"], "AWS_INC");
        assert_eq!(row["billing_event_id"].len(), 40);
        assert_ne!(row["from_account_id"], row["to_account_id"]);
    }

    let payout = rows
        .iter()
        .filter(|r| r["transaction_type"] == "DISBURSEMENT")
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(payout.len(), 1, "{disbursed}");
    let payout = &payout[0];
    assert_eq!(payout["action"], "DISBURSED");
    let net: i64 = seller
        .iter()
        .chain(fees.iter())
        .map(|r| micros(&r["amount"]))
        .sum();
    assert_eq!(micros(&payout["amount"]), net);
    assert_eq!(disbursed["disbursements"][0]["amount"], payout["amount"]);
    let settled: Vec<_> = rows
        .iter()
        .filter(|r| r["action"] == "DISBURSED" && r["transaction_type"] != "DISBURSEMENT")
        .collect();
    assert_eq!(settled.len(), seller.len() + fees.len());
    for row in &settled {
        assert_eq!(
            row["disbursement_billing_event_id"],
            payout["billing_event_id"]
        );
        let parent = rows
            .iter()
            .find(|r| r["billing_event_id"] == row["parent_billing_event_id"])
            .expect("parent row");
        assert_eq!(parent["action"], "INVOICED");
        assert_eq!(micros(&row["amount"]), -micros(&parent["amount"]));
    }
    let balance: i64 = rows
        .iter()
        .filter(|r| r["balance_impacting"] == "1")
        .map(|r| micros(&r["amount"]))
        .sum();
    assert_eq!(balance, 0, "nothing left to disburse");

    // Related feeds exist in the documented layout.
    let accounts = feed_rows(&url, &bucket, "account").await;
    assert!(
        accounts.iter().any(
            |a| a["aws_account_id"] == BUYER && a["account_id"] == seller[0]["from_account_id"]
        )
    );
    let agreements = feed_rows(&url, &bucket, "agreement").await;
    assert!(
        agreements
            .iter()
            .any(|a| a["agreement_id"] == agreement["id"].as_str().unwrap_or_default())
    );
    let offers = feed_rows(&url, &bucket, "offer_product").await;
    assert!(offers.iter().any(|o| o["product_id"] == cat.saas));
    for feed in [
        "address",
        "product",
        "offer",
        "offer_target",
        "legacy_id_mapping",
        "tax_item",
    ] {
        feed_rows(&url, &bucket, feed).await;
    }

    // A second disbursement finds nothing new.
    let again = control_ok(&url, "POST", "/_souk/feeds/disbursements", Value::Null).await;
    assert_eq!(again["disbursements"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn refunds_reverse_the_revenue_and_the_fee() {
    let cat = setup().await;
    let _dir = temporary_output_dir(&cat).await;
    let url = cat.url().to_owned();
    subscribed_buyer_with_usage(&cat).await;
    let invoices = control_ok(&url, "GET", "/_souk/invoices", Value::Null).await;
    let invoice_id = invoices[0]["invoice_id"]
        .as_str()
        .expect("invoice")
        .to_owned();
    let refund = control_ok(
        &url,
        "POST",
        "/_souk/feeds/refunds",
        json!({ "invoice_id": invoice_id, "amount": "50.00" }),
    )
    .await;
    assert_eq!(refund["amount"], "50.00");
    let (status, _) = crate::support::control(
        &url,
        "POST",
        "/_souk/feeds/refunds",
        json!({ "invoice_id": invoice_id, "amount": "1000000.00" }),
    )
    .await;
    assert_eq!(status, 400, "more than invoiced");
    let (status, _) = crate::support::control(
        &url,
        "POST",
        "/_souk/feeds/refunds",
        json!({ "invoice_id": "inv-nope" }),
    )
    .await;
    assert_eq!(status, 400);
    let generated = control_ok(&url, "POST", "/_souk/feeds/generate", Value::Null).await;
    let rows = feed_rows(
        &url,
        generated["bucket"].as_str().expect("bucket"),
        "billing_event",
    )
    .await;
    let seller_refund = rows
        .iter()
        .find(|r| r["transaction_type"] == "SELLER_REV_SHARE_REFUND")
        .expect("refund row");
    let fee_refund = rows
        .iter()
        .find(|r| r["transaction_type"] == "AWS_REV_SHARE_REFUND")
        .expect("fee refund row");
    assert_eq!(seller_refund["amount"], "-50.00");
    assert_eq!(fee_refund["amount"], "1.50");
    let parent = rows
        .iter()
        .find(|r| r["billing_event_id"] == seller_refund["parent_billing_event_id"])
        .expect("parent");
    assert_eq!(parent["transaction_type"], "SELLER_REV_SHARE");
    assert_eq!(parent["invoice_id"], invoice_id);
    // Usage of the open month is not invoiced yet.
    assert!(rows.iter().all(|r| r["usage_period_start_date"].is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_endpoints_list_get_head_and_error_like_s3() {
    let cat = setup().await;
    let _dir = temporary_output_dir(&cat).await;
    let url = cat.url().to_owned();
    let generated = control_ok(&url, "POST", "/_souk/feeds/generate", Value::Null).await;
    let bucket = generated["bucket"].as_str().expect("bucket").to_owned();
    let key = generated["files"][0]["key"]
        .as_str()
        .expect("key")
        .to_owned();

    let listing = http(
        "GET",
        &format!("{url}/{bucket}?list-type=2&max-keys=2"),
        &[],
        "",
    )
    .await;
    assert!(
        listing.body.contains("<IsTruncated>true</IsTruncated>"),
        "{}",
        listing.body
    );
    assert!(
        listing.body.contains("<KeyCount>2</KeyCount>"),
        "{}",
        listing.body
    );
    let token = listing
        .body
        .split("<NextContinuationToken>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("token")
        .to_owned();
    let next = http(
        "GET",
        &format!(
            "{url}/{bucket}?list-type=2&continuation-token={}",
            token.replace('=', "%3D")
        ),
        &[],
        "",
    )
    .await;
    assert!(
        !next.body.contains(&format!("<Key>{token}</Key>")),
        "continuation starts after the token"
    );
    let folders = http(
        "GET",
        &format!("{url}/{bucket}?list-type=2&delimiter=/"),
        &[],
        "",
    )
    .await;
    assert!(
        folders
            .body
            .contains("<CommonPrefixes><Prefix>billing_event_v1/</Prefix></CommonPrefixes>"),
        "{}",
        folders.body
    );

    let object = http("GET", &format!("{url}/{bucket}/{key}"), &[], "").await;
    assert_eq!(object.status, 200);
    assert!(object.header("etag").is_some_and(|e| e.starts_with('"')));
    let head = http("HEAD", &format!("{url}/{bucket}/{key}"), &[], "").await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length").map(str::to_owned),
        Some(object.body.len().to_string())
    );

    let missing = http("GET", &format!("{url}/{bucket}/nope.csv"), &[], "").await;
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("<Code>NoSuchKey</Code>"),
        "{}",
        missing.body
    );
    let traversal = http(
        "GET",
        &format!("{url}/{bucket}/billing_event_v1/../../../etc/passwd"),
        &[],
        "",
    )
    .await;
    assert_eq!(traversal.status, 404);
    let encoded = http(
        "GET",
        &format!("{url}/{bucket}/%2e%2e/%2e%2e/etc/passwd"),
        &[],
        "",
    )
    .await;
    assert_eq!(encoded.status, 404);
    let no_bucket = http("GET", &format!("{url}/other-bucket?list-type=2"), &[], "").await;
    assert_eq!(no_bucket.status, 404);
    assert!(
        no_bucket.body.contains("<Code>NoSuchBucket</Code>"),
        "{}",
        no_bucket.body
    );
}
