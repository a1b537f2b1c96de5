//! Revenue from the Seller Data Feeds, as processes: an integration of the emulator's seller
//! account with the emulator's data feed bucket sells two private contract offers (one in USD,
//! one in EUR) that the buyer accepts; part of the USD invoice is refunded, the balance is
//! disbursed and the emulator writes its feeds. Souk then reads the bucket (`IngestDataFeeds`)
//! and reports revenue (`GetRevenueReport`): every figure per currency equals the one derived
//! from the emulator's own billing events (docs/reporting.md, revenue), and the gross equals the
//! invoices. In standalone mode (`souk dev --emulate-aws`, SQLite) through `souk report ingest`
//! and `souk report revenue` (JSON and CSV); in distributed mode (`souk serve integration`,
//! `offer` and `reporting` on PostgreSQL and NATS beside a separate `souk emulator`) over gRPC.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use souk_e2e::auth;
use souk_proto::common::Money;
use souk_proto::integration as ipb;
use souk_proto::integration::integration_service_client::IntegrationServiceClient;
use souk_proto::offer as pb;
use souk_proto::offer::offer_service_client::OfferServiceClient;
use souk_proto::reporting as rpb;
use souk_proto::reporting::reporting_service_client::ReportingServiceClient;

use crate::common::{Dev, Distributed, channel, control, day, souk_ok, wait_for};

/// The emulator's seller account, the integration's.
const SELLER: &str = "111122223333";
const BUYER: &str = "444455556666";
/// The emulator's data feed bucket.
const BUCKET: &str = "souk-seller-data-feeds";
const PRODUCT_ID: &str = "prod-soukreporte2e1";

/// Tracker pacing for a test (as in offers.rs), and no scheduled ingestion: the test reads.
pub(crate) const FAST: [(&str, &str); 4] = [
    ("SOUK_OFFER__FIRST_POLL", "500ms"),
    ("SOUK_OFFER__MAX_POLL", "1s"),
    ("SOUK_OFFER__ACCEPTANCE_POLL", "1s"),
    ("SOUK_REPORTING__INGEST", "false"),
];

/// The CSV header of `souk report revenue -o csv` (docs/reporting.md).
const CSV_HEADER: &str = "period,product_code,product_id,customer_aws_account_id,offer_id,currency_code,gross,listing_fee,refunds,net,disbursed,tax";

/// A revenue row's amounts in micros: gross, listing fee, refunds, net, disbursed, tax.
pub(crate) type Figures = [i64; 6];

/// A 12-month contract of `seats` seats at `price_micros` each in `currency`, for the buyer.
async fn contract(
    emulator: &str,
    integration_id: &str,
    currency: &str,
    price_micros: i64,
    seats: i64,
) -> pb::CreatePrivateOfferRequest {
    pb::CreatePrivateOfferRequest {
        integration_id: integration_id.to_owned(),
        product_id: PRODUCT_ID.into(),
        name: format!("e2e report {currency}"),
        description: "e2e reporting offer".into(),
        kind: pb::OfferKind::Contract as i32,
        terms: Some(pb::OfferTerms {
            kind: Some(pb::offer_terms::Kind::Contract(pb::ContractTerms {
                duration_months: 12,
                dimensions: vec![pb::ContractDimension {
                    dimension_key: "seats".into(),
                    unit_price: Some(Money {
                        amount_micros: price_micros,
                        currency_code: currency.into(),
                    }),
                    quantity: seats,
                }],
                ..pb::ContractTerms::default()
            })),
        }),
        currency_code: currency.into(),
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(day(emulator, 30).await),
        idempotency_key: format!("e2e-report-{currency}"),
        ..Default::default()
    }
}

/// Registers an integration of the seller account with the emulator's data feed bucket (its
/// role trusted in the emulator), lists the product, sells a contract in USD (10 seats at 100)
/// and one in EUR (5 seats at 80), both accepted by the buyer; refunds 150 USD of the USD
/// invoice, disburses the balance and writes the feeds. The integration's id, and the figures
/// per currency derived from the emulator's billing events.
pub(crate) async fn sell_and_settle(
    integration_grpc: &str,
    offer_grpc: &str,
    emulator: &str,
    key: &str,
) -> (String, BTreeMap<String, Figures>) {
    let mut integrations =
        IntegrationServiceClient::with_interceptor(channel(integration_grpc).await, auth(key));
    let integration = integrations
        .create_integration(ipb::CreateIntegrationRequest {
            name: format!("reporting-{}", rand::random::<u32>()),
            role_arn: format!("arn:aws:iam::{SELLER}:role/SoukReporting"),
            region: "us-east-1".into(),
            data_feed_bucket: BUCKET.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap();
    assert_eq!(integration.data_feed_bucket, BUCKET, "{integration:?}");
    control(
        emulator,
        "POST",
        "/_souk/sts/roles",
        json!({"role_arn": integration.role_arn, "trusted_account": "*", "external_id": integration.external_id}),
    )
    .await;
    control(
        emulator,
        "POST",
        "/_souk/products",
        json!({"product_id": PRODUCT_ID, "product_code": "soukreporte2e", "kind": "saas",
               "dimensions": [{"name": "seats", "type": "entitled"}]}),
    )
    .await;

    let mut offers = OfferServiceClient::with_interceptor(channel(offer_grpc).await, auth(key));
    let mut created = Vec::new();
    for (currency, price, seats) in [("USD", 100_000_000, 10), ("EUR", 80_000_000, 5)] {
        let request = contract(emulator, &integration.id, currency, price, seats).await;
        let offer = offers
            .create_private_offer(request)
            .await
            .unwrap_or_else(|e| panic!("{currency}: {e:?}"))
            .into_inner()
            .offer
            .unwrap();
        created.push((offer.id, currency, seats));
    }
    let mut usd_offer = String::new();
    for (id, currency, seats) in created {
        let released = wait_for(&mut offers, &id, pb::OfferState::Released).await;
        let agreement = control(
            emulator,
            "POST",
            &format!("/_souk/offers/{}/accept", released.aws_offer_id),
            json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": seats}]}),
        )
        .await;
        assert_eq!(agreement["currency_code"], currency, "{agreement}");
        wait_for(&mut offers, &id, pb::OfferState::Accepted).await;
        if currency == "USD" {
            usd_offer = released.aws_offer_id;
        }
    }

    // Invoiced at acceptance: 1000 USD and 400 EUR.
    let invoices = control(emulator, "GET", "/_souk/invoices", Value::Null).await;
    let invoices = invoices.as_array().unwrap_or_else(|| panic!("{invoices}"));
    let mut invoiced: BTreeMap<String, i64> = BTreeMap::new();
    for invoice in invoices {
        *invoiced
            .entry(invoice["currency_code"].as_str().unwrap().to_owned())
            .or_default() += invoice["amount_micros"].as_i64().unwrap();
    }
    assert_eq!(
        invoiced,
        BTreeMap::from([
            ("EUR".to_owned(), 400_000_000),
            ("USD".to_owned(), 1_000_000_000)
        ]),
        "{invoices:?}"
    );
    let usd_invoice = invoices
        .iter()
        .find(|i| i["offer_id"] == usd_offer.as_str())
        .unwrap_or_else(|| panic!("no invoice of {usd_offer}: {invoices:?}"));
    let refund = control(
        emulator,
        "POST",
        "/_souk/feeds/refunds",
        json!({"invoice_id": usd_invoice["invoice_id"], "amount": "150.00"}),
    )
    .await;
    assert_eq!(refund["amount"], "150.00", "{refund}");
    let paid = control(emulator, "POST", "/_souk/feeds/disbursements", Value::Null).await;
    assert_eq!(
        paid["disbursements"].as_array().map(Vec::len),
        Some(2),
        "one disbursement per currency: {paid}"
    );
    let generated = control(emulator, "POST", "/_souk/feeds/generate", Value::Null).await;
    assert_eq!(generated["bucket"], BUCKET, "{generated}");

    let events = control(emulator, "GET", "/_souk/feeds/billing-events", Value::Null).await;
    let expected = derived(&events);
    // The gross is what was invoiced.
    let gross: BTreeMap<String, i64> = expected
        .iter()
        .map(|(currency, figures)| (currency.clone(), figures[0]))
        .collect();
    assert_eq!(gross, invoiced, "gross against the invoices");
    // 3 % listing fee; the refund takes back its share of the fee (4.50 USD); all disbursed.
    assert_eq!(
        expected,
        BTreeMap::from([
            (
                "EUR".to_owned(),
                [400_000_000, 12_000_000, 0, 388_000_000, 388_000_000, 0]
            ),
            (
                "USD".to_owned(),
                [
                    1_000_000_000,
                    30_000_000,
                    150_000_000,
                    824_500_000,
                    824_500_000,
                    0
                ]
            ),
        ]),
        "[gross, listing fee, refunds, net, disbursed, tax] from the billing events"
    );
    (integration.id, expected)
}

/// The revenue figures per currency derived from the emulator's billing events with the seller
/// guide's derivations (docs/reporting.md): over the rows the seller pays or is paid, gross =
/// INVOICED SELLER_REV_SHARE to the seller; listing fee = minus INVOICED AWS_REV_SHARE;
/// refunds = minus INVOICED SELLER_REV_SHARE_REFUND; net = balance-impacting INVOICED and
/// FORGIVEN rows; disbursed = DISBURSED DISBURSEMENT to the seller; tax = INVOICED
/// SELLER_TAX_SHARE to the seller.
pub(crate) fn derived(events: &Value) -> BTreeMap<String, Figures> {
    let events = events["billing_events"]
        .as_array()
        .unwrap_or_else(|| panic!("{events}"));
    let mut figures: BTreeMap<String, Figures> = BTreeMap::new();
    for event in events {
        let (from, to) = (&event["from_account"], &event["to_account"]);
        if from != SELLER && to != SELLER {
            continue;
        }
        let amount = event["amount_micros"].as_i64().unwrap();
        let row = figures
            .entry(event["currency"].as_str().unwrap().to_owned())
            .or_default();
        let action = event["action"].as_str().unwrap();
        match (action, event["transaction_type"].as_str().unwrap()) {
            ("INVOICED", "SELLER_REV_SHARE") if to == SELLER => row[0] += amount,
            ("INVOICED", "AWS_REV_SHARE") => row[1] -= amount,
            ("INVOICED", "SELLER_REV_SHARE_REFUND") => row[2] -= amount,
            ("DISBURSED", "DISBURSEMENT") if to == SELLER => row[4] += amount,
            ("INVOICED", "SELLER_TAX_SHARE") if to == SELLER => row[5] += amount,
            _ => {}
        }
        if matches!(action, "INVOICED" | "FORGIVEN") && event["balance_impacting"] == true {
            row[3] += amount;
        }
    }
    figures
}

/// `souk report <command> --integration <integration> <extra> -o json` against `grpc` with
/// `key`, which must succeed: its JSON.
async fn report_json(
    grpc: &str,
    key: &str,
    command: &str,
    integration: &str,
    extra: &[&str],
) -> Value {
    let mut args = vec!["report", command, "--integration", integration];
    args.extend_from_slice(extra);
    args.extend(["-o", "json"]);
    souk_ok(&args, grpc, key).await.json().unwrap()
}

/// The figures of `souk report revenue -o json` (one row per currency) by currency.
pub(crate) fn reported_figures(report: &Value) -> BTreeMap<String, Figures> {
    let rows = report["rows"].as_array().unwrap();
    let reported: BTreeMap<String, Figures> = rows
        .iter()
        .map(|row| {
            let micros = |field: &str| row[field].as_i64().unwrap_or_else(|| panic!("{row}"));
            (
                row["currency_code"].as_str().unwrap().to_owned(),
                [
                    micros("gross_amount_micros"),
                    micros("listing_fee_micros"),
                    micros("refund_amount_micros"),
                    micros("net_amount_micros"),
                    micros("disbursed_amount_micros"),
                    micros("tax_amount_micros"),
                ],
            )
        })
        .collect();
    assert_eq!(rows.len(), reported.len(), "one row per currency: {report}");
    reported
}

/// `micros` as the CLI prints an amount: two to six decimals (docs/reporting.md).
pub(crate) use souk_core::money::decimal;

#[tokio::test]
async fn revenue_from_the_data_feeds_in_standalone_mode() {
    let dev = Dev::start(&FAST).await;
    let (grpc, key) = (dev.grpc(), dev.key());
    let (integration, expected) = sell_and_settle(grpc, grpc, dev.emulator(), &key).await;
    let souk_report = |command: &'static str, extra: &'static [&'static str]| {
        report_json(grpc, &key, command, &integration, extra)
    };

    let read = souk_report("ingest", &[]).await;
    assert!(read["files"].as_i64().unwrap() > 0, "{read}");
    assert!(read["rows"].as_i64().unwrap() > 0, "{read}");
    assert_eq!(read["rejected_rows"], 0, "{read}");
    let billing = read["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feed"] == "billing_event")
        .unwrap_or_else(|| panic!("no billing_event feed: {read}"));
    assert!(billing["rows"].as_i64().unwrap() > 0, "{read}");
    let again = souk_report("ingest", &[]).await;
    assert_eq!(
        (&again["files"], &again["rows"]),
        (&json!(0), &json!(0)),
        "{again}"
    );
    assert_eq!(again["unchanged_files"], read["files"], "{again}");

    let report = souk_report("revenue", &[]).await;
    let reported = reported_figures(&report);
    assert_eq!(
        reported, expected,
        "[gross, listing fee, refunds, net, disbursed, tax] per currency: reported (left) against the billing events (right)"
    );
    assert!(report["data_freshness_time"].is_string(), "{report}");

    let csv = souk_ok(
        &[
            "report",
            "revenue",
            "--integration",
            integration.as_str(),
            "-o",
            "csv",
        ],
        grpc,
        &key,
    )
    .await
    .stdout;
    let lines: Vec<&str> = csv.lines().collect();
    let mut wanted = vec![CSV_HEADER.to_owned()];
    for (currency, figures) in &expected {
        let amounts: Vec<String> = figures.iter().map(|m| decimal(*m)).collect();
        wanted.push(format!(",,,,,{currency},{}", amounts.join(",")));
    }
    assert_eq!(lines, wanted, "{csv}");

    // Filtered: every sale is of the one product, so its filter keeps every figure; a buyer
    // who bought nothing keeps none.
    let by_product = souk_report("revenue", &["--product", PRODUCT_ID]).await;
    assert_eq!(by_product["rows"], report["rows"], "{by_product}");
    let nobody = souk_report("revenue", &["--customer", "999999999999"]).await;
    assert_eq!(nobody["rows"], json!([]), "{nobody}");

    // The payouts among the billing events add up to what the report says was disbursed.
    let payouts = souk_report(
        "billing-events",
        &["--type", "DISBURSEMENT", "--limit", "0"],
    )
    .await;
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    for event in payouts["billing_events"].as_array().unwrap() {
        *paid
            .entry(event["currency_code"].as_str().unwrap().to_owned())
            .or_default() += event["amount_micros"].as_i64().unwrap();
    }
    let disbursed: BTreeMap<String, i64> = expected
        .iter()
        .filter(|(_, figures)| figures[4] != 0)
        .map(|(currency, figures)| (currency.clone(), figures[4]))
        .collect();
    assert!(!disbursed.is_empty(), "{expected:?}");
    assert_eq!(paid, disbursed, "{payouts}");
}

#[tokio::test]
async fn revenue_from_the_data_feeds_in_distributed_mode() {
    let deployment = Distributed::start("reporting", &FAST).await;
    let (emulator_url, key) = (deployment.emulator_url.clone(), deployment.key.clone());
    let serve = |service: &'static str| deployment.serve(service);
    let (integration_process, offer_process, reporting_process) =
        tokio::join!(serve("integration"), serve("offer"), serve("reporting"));
    let (integration, expected) = sell_and_settle(
        integration_process.endpoint("grpc"),
        offer_process.endpoint("grpc"),
        &emulator_url,
        &key,
    )
    .await;

    let mut reporting = ReportingServiceClient::with_interceptor(
        channel(reporting_process.endpoint("grpc")).await,
        auth(&key),
    );
    let ingest = rpb::IngestDataFeedsRequest {
        integration_id: integration.clone(),
        full_resync: false,
    };
    let read = reporting
        .ingest_data_feeds(ingest.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(read.files > 0 && read.rows > 0, "{read:?}");
    assert_eq!(read.rejected_rows, 0, "{read:?}");
    let again = reporting
        .ingest_data_feeds(ingest)
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.files, again.rows), (0, 0), "{again:?}");
    assert_eq!(again.unchanged_files, read.files, "{again:?}");

    let report = reporting
        .get_revenue_report(rpb::GetRevenueReportRequest {
            integration_id: integration.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let reported: BTreeMap<String, Figures> = report
        .rows
        .iter()
        .map(|row| {
            (
                row.currency_code.clone(),
                [
                    row.gross_amount_micros,
                    row.listing_fee_micros,
                    row.refund_amount_micros,
                    row.net_amount_micros,
                    row.disbursed_amount_micros,
                    row.tax_amount_micros,
                ],
            )
        })
        .collect();
    assert_eq!(report.rows.len(), reported.len(), "{report:?}");
    assert_eq!(
        reported, expected,
        "[gross, listing fee, refunds, net, disbursed, tax] per currency: reported (left) against the billing events (right)"
    );
    assert!(report.data_freshness_time.is_some(), "{report:?}");

    // The reconciliation reads the metering and offer stores from this reporting-only process:
    // no usage was metered and the contracts have no payment schedule, so nothing differs.
    let reconciled = reporting
        .get_reconciliation_report(rpb::GetReconciliationReportRequest {
            integration_id: integration,
            include_matched: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reconciled.matched, reconciled.discrepancies),
        (0, 0),
        "{reconciled:?}"
    );
    assert!(
        reconciled.rows.is_empty() && reconciled.installments.is_empty(),
        "{reconciled:?}"
    );
}
