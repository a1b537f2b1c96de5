//! Usage reconciliation, as a seller runs it: in `souk dev --emulate-aws`, two buyers of the
//! demo product subscribe and use it, Souk ships their usage, the emulator invoices it (hourly,
//! at a fallback price) and writes its data feeds, and `souk report reconcile` finds every
//! quantity matched. Then usage is planted that Souk never sent (BatchMeterUsage straight to the
//! emulator) and a record Souk sent is lost from AWS's ledger: after the next feeds, the
//! reconciliation names both, with their causes. `souk report usage` shows what was recorded.
//! Last, a private contract paid in two installments is accepted: the first, charged, is
//! found on its invoice; the second is not due yet.

use std::time::Duration;

use aws_sdk_marketplacemetering::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_marketplacemetering::primitives::DateTime;
use aws_sdk_marketplacemetering::types::UsageRecord;
use serde_json::{Value, json};
use souk_e2e::{http_request, souk};

use crate::common::{Dev, control};
use crate::fulfilment::{send, subscribe};

const PRODUCT: &str = "souk-demo-saas";
const HEAVY: &str = "555566667777";
const LIGHT: &str = "666677778888";
/// The buyer of a private contract paid in installments.
const CONTRACT_BUYER: &str = "777788889999";

impl Dev {
    /// The buyer `account` subscribes and its browser posts the fulfilment form.
    async fn buyer(&self, account: &str) {
        let form = subscribe(self.emulator(), account).await;
        let fields: Vec<(String, String)> = form["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("{form}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let body = serde_urlencoded::to_string(&fields).unwrap();
        let answer = send("POST", form["url"].as_str().unwrap(), &body).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }

    /// Records `quantity` users of the buyer `account`, once its subscription is active (AWS's
    /// confirmation reaches Souk a moment after the sign-up).
    async fn record(&self, account: &str, quantity: &str) {
        let env = self.env();
        let args = [
            "usage",
            "record",
            "--customer",
            account,
            "--dimension",
            "users",
            "--quantity",
            quantity,
            "--output",
            "json",
        ];
        let mut last = None;
        for _ in 0..120 {
            let output = souk(&args, &env).await.unwrap();
            if output.success {
                let recorded = output.json().unwrap();
                assert_eq!(recorded["status"], "recorded", "{recorded}");
                return;
            }
            assert!(output.stdout.contains("is not active yet"), "{output:?}");
            last = Some(output);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the subscription of {account} never became active: {last:?}");
    }

    /// The hourly records, once every one of them is `sent`.
    async fn all_sent(&self, expected: usize) -> Vec<Value> {
        for _ in 0..120 {
            let records = self.cli(&["usage", "list"]).await["records"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if records.len() == expected && records.iter().all(|r| r["status"] == "sent") {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "the records were not all sent: {}",
            self.cli(&["usage", "list"]).await
        );
    }

    /// Writes the feeds and has Souk read them.
    async fn feeds_read(&self, integration: &str) {
        control(
            self.emulator(),
            "POST",
            "/_souk/feeds/generate",
            Value::Null,
        )
        .await;
        let read = self
            .cli(&["report", "ingest", "--integration", integration])
            .await;
        assert!(read["rows"].as_i64().unwrap() > 0, "{read}");
    }

    async fn advance(&self, by: &str) {
        self.cli(&["sandbox", "advance-clock", by]).await;
    }
}

/// The reconciliation row of `account`.
fn row_of<'a>(report: &'a Value, account: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["customer_aws_account_id"] == account)
        .unwrap_or_else(|| panic!("no row of {account}: {report}"))
}

#[tokio::test]
async fn reconciliation_matches_what_was_billed_and_names_what_was_not() {
    let sandbox = Dev::start(&crate::reporting::FAST).await;
    let emulator = sandbox.emulator().to_owned();
    let integration = sandbox.cli(&["integration", "list"]).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sandbox
        .cli(&[
            "integration",
            "update",
            &integration,
            "--data-feed-bucket",
            "souk-seller-data-feeds",
        ])
        .await;
    // The emulator invoices usage every hour at 0.25 USD a user.
    let (_, settings) = http_request("GET", &emulator, "/_souk/feeds/settings", "")
        .await
        .unwrap();
    let mut settings: Value = serde_json::from_str(&settings).unwrap();
    settings["usage_invoicing"] = json!("hourly");
    settings["usage_prices"] = json!({ format!("{PRODUCT}/users"): "0.25" });
    control(&emulator, "PUT", "/_souk/feeds/settings", settings).await;

    // Every hour of the test in one month (the report is monthly).
    let clock = control(&emulator, "GET", "/_souk/clock", Value::Null).await;
    let now = time::OffsetDateTime::from_unix_timestamp(clock["epoch_seconds"].as_i64().unwrap())
        .unwrap();
    if now.month() != (now + time::Duration::hours(12)).month() {
        sandbox.advance("13h").await;
    }
    for account in [HEAVY, LIGHT] {
        sandbox.buyer(account).await;
    }
    for (account, quantity) in [(HEAVY, "40"), (LIGHT, "7")] {
        sandbox.record(account, quantity).await;
    }
    sandbox.advance("2h").await;
    let records = sandbox.all_sent(2).await;

    // Everything shipped is billed: nothing to report but two matched rows.
    sandbox.feeds_read(&integration).await;
    let report = sandbox
        .cli(&[
            "report",
            "reconcile",
            "--integration",
            &integration,
            "--all",
        ])
        .await;
    assert_eq!(report["discrepancies"], 0, "{report}");
    assert_eq!(report["matched"], 2, "{report}");
    for (account, quantity) in [(HEAVY, 40), (LIGHT, 7)] {
        let row = row_of(&report, account);
        assert_eq!(row["shipped_quantity"], quantity, "{row}");
        assert_eq!(row["billed_quantity"], quantity, "{row}");
        assert_eq!(row["cause"], "matched", "{row}");
    }
    let plain = sandbox
        .cli(&["report", "reconcile", "--integration", &integration])
        .await;
    assert_eq!(
        plain["rows"],
        json!([]),
        "matched rows only with --all: {plain}"
    );

    // The usage report: recorded and shipped per buyer on the day.
    let hour = records[0]["hour_start"].as_str().unwrap().to_owned();
    let day = &hour[..10];
    let next = time::Date::parse(
        day,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap()
    .next_day()
    .unwrap()
    .to_string();
    let usage = sandbox
        .cli(&[
            "report", "usage", "--from", day, "--to", &next, "--by", "day",
        ])
        .await;
    let rows = usage["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{usage}");
    let mut shipped: Vec<i64> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["recorded_quantity"], r["shipped_quantity"], "{r}");
            assert_eq!(r["from"], day, "{r}");
            r["shipped_quantity"].as_i64().unwrap()
        })
        .collect();
    shipped.sort_unstable();
    assert_eq!(shipped, [7, 40], "{usage}");

    // Plant: the light buyer's next usage is shipped by Souk but lost from AWS's ledger; the
    // heavy buyer gets 5 users that another client sent straight to AWS.
    sandbox
        .cli(&[
            "usage",
            "record",
            "--customer",
            LIGHT,
            "--dimension",
            "users",
            "--quantity",
            "3",
        ])
        .await;
    sandbox.advance("2h").await;
    let records = sandbox.all_sent(3).await;
    let lost = records
        .iter()
        .find(|r| r["quantity"] == 3)
        .unwrap_or_else(|| panic!("{records:?}"));
    let lost_id = lost["metering_record_id"].as_str().unwrap();
    let (status, body) = http_request(
        "DELETE",
        &emulator,
        &format!("/_souk/metering/ledger/{lost_id}"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let ledger = control(&emulator, "GET", "/_souk/metering/ledger", Value::Null).await;
    let heavy = ledger["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["customer_aws_account_id"] == HEAVY)
        .unwrap_or_else(|| panic!("{ledger}"))
        .clone();
    send_outside_souk(&emulator, &heavy, 5).await;
    sandbox.advance("2h").await;
    sandbox.feeds_read(&integration).await;

    let report = sandbox
        .cli(&["report", "reconcile", "--integration", &integration])
        .await;
    assert_eq!(report["discrepancies"], 2, "{report}");
    assert_eq!(report["matched"], 0, "{report}");
    let heavy = row_of(&report, HEAVY);
    assert_eq!(heavy["shipped_quantity"], 40, "{heavy}");
    assert_eq!(heavy["billed_quantity"], 45, "{heavy}");
    assert_eq!(heavy["difference"], -5, "{heavy}");
    assert_eq!(heavy["cause"], "not_shipped_by_souk", "{heavy}");
    let light = row_of(&report, LIGHT);
    assert_eq!(light["shipped_quantity"], 10, "{light}");
    assert_eq!(light["billed_quantity"], 7, "{light}");
    assert_eq!(light["difference"], 3, "{light}");
    assert_eq!(light["cause"], "missing_from_feed", "{light}");
    assert!(
        light["explanation"]
            .as_str()
            .unwrap()
            .contains("no billing event bills it"),
        "{light}"
    );

    installments_are_checked_against_their_invoices(&sandbox, &integration).await;
    sandbox.process.terminate().await.unwrap();
}

/// A contract paid in two installments is accepted; once the first is charged the
/// reconciliation finds its invoice, and the second is not due yet.
async fn installments_are_checked_against_their_invoices(sandbox: &Dev, integration: &str) {
    let emulator = sandbox.emulator();
    let clock = control(emulator, "GET", "/_souk/clock", Value::Null).await;
    let today = time::OffsetDateTime::from_unix_timestamp(clock["epoch_seconds"].as_i64().unwrap())
        .unwrap()
        .date();
    let day = |days: i64| (today + time::Duration::days(days)).to_string();
    let offer = format!(
        "kind: contract\n\
         integration_id: {integration}\n\
         product_id: prod-soukdemo00001\n\
         name: Reconciled contract\n\
         description: two installments\n\
         currency: USD\n\
         buyers: [\"{CONTRACT_BUYER}\"]\n\
         expiry_date: {}\n\
         eula:\n  standard: \"2022-07-14\"\n\
         duration_months: 12\n\
         dimensions:\n  - {{ key: seats, unit_price: \"100.00\", quantity: 20 }}\n\
         payment_schedule:\n\
         \x20 - {{ date: {}, amount: \"1200.00\" }}\n\
         \x20 - {{ date: {}, amount: \"800.00\" }}\n",
        day(30),
        day(2),
        day(200),
    );
    let file = sandbox.dir().join("contract.yaml");
    std::fs::write(&file, offer).unwrap();
    let created = sandbox
        .cli(&["offer", "create", "-f", file.to_str().unwrap(), "--wait"])
        .await;
    assert_eq!(created["state"], "released", "{created}");
    let agreement = control(
        emulator,
        "POST",
        &format!(
            "/_souk/offers/{}/accept",
            created["aws_offer_id"].as_str().unwrap()
        ),
        json!({"buyer_account_id": CONTRACT_BUYER, "quantities": []}),
    )
    .await;
    let agreement_id = agreement["id"].as_str().unwrap().to_owned();
    let offer_id = created["id"].as_str().unwrap();
    let mut accepted = false;
    for _ in 0..120 {
        if sandbox.cli(&["offer", "get", offer_id]).await["state"] == "accepted" {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        accepted,
        "{}",
        sandbox.cli(&["offer", "get", offer_id]).await
    );
    sandbox.advance("3d").await;
    sandbox.feeds_read(integration).await;

    let report = sandbox
        .cli(&[
            "report",
            "reconcile",
            "--integration",
            integration,
            "--from",
            &day(-3),
            "--to",
            &day(400),
            "--all",
        ])
        .await;
    let installments: Vec<(String, String, i64, i64, String)> = report["installments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["agreement_id"], agreement_id.as_str(), "{i}");
            (
                i["charge_date"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
                i["expected_micros"].as_i64().unwrap(),
                i["invoiced_micros"].as_i64().unwrap(),
                i["invoice_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(installments.len(), 2, "{report}");
    assert_eq!(
        (
            installments[0].0.as_str(),
            installments[0].1.as_str(),
            installments[0].2,
            installments[0].3
        ),
        (day(2).as_str(), "invoiced", 1_200_000_000, 1_200_000_000),
        "{report}"
    );
    assert!(!installments[0].4.is_empty(), "{report}");
    assert_eq!(
        (
            installments[1].0.as_str(),
            installments[1].1.as_str(),
            installments[1].2,
            installments[1].3
        ),
        (day(200).as_str(), "not_yet_due", 800_000_000, 0),
        "{report}"
    );
    // Revenue over every kind sold here (hourly usage, the contract's installment), to the
    // micro of the emulator's billing events.
    let events = control(emulator, "GET", "/_souk/feeds/billing-events", Value::Null).await;
    let revenue = sandbox
        .cli(&["report", "revenue", "--integration", integration])
        .await;
    assert_eq!(
        crate::reporting::reported_figures(&revenue),
        crate::reporting::derived(&events),
        "[gross, listing fee, refunds, net, disbursed, tax] per currency: reported (left) against the billing events (right)"
    );

    // Without --all only what needs attention is listed: nothing here.
    let plain = sandbox
        .cli(&[
            "report",
            "reconcile",
            "--integration",
            integration,
            "--to",
            &day(400),
        ])
        .await;
    assert_eq!(plain["installments"], json!([]), "{plain}");
}

/// Sends `quantity` users for the customer of ledger `entry` an hour after its hour, straight to
/// the emulator's BatchMeterUsage (another metering client of the seller).
async fn send_outside_souk(emulator: &str, entry: &Value, quantity: i32) {
    let config = aws_sdk_marketplacemetering::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(emulator)
        .credentials_provider(Credentials::new(
            "AKIDSOUKDEV",
            "souk-dev-secret",
            None,
            None,
            "e2e",
        ))
        .build();
    let client = aws_sdk_marketplacemetering::Client::from_conf(config);
    let hour = entry["hour"].as_i64().unwrap() + 3600;
    let mut record = UsageRecord::builder()
        .timestamp(DateTime::from_secs(hour))
        .dimension("users")
        .quantity(quantity);
    let mut call = client.batch_meter_usage();
    match entry["license_arn"].as_str() {
        Some(licence) => {
            record = record
                .customer_aws_account_id(entry["customer_aws_account_id"].as_str().unwrap())
                .license_arn(licence);
        }
        None => {
            record = record.customer_identifier(entry["customer_identifier"].as_str().unwrap());
            call = call.product_code(PRODUCT);
        }
    }
    let answer = call
        .usage_records(record.build().unwrap())
        .send()
        .await
        .unwrap();
    let results = answer.results();
    assert_eq!(results.len(), 1, "{answer:?}");
    assert_eq!(
        results[0].status().map(|s| s.as_str()),
        Some("Success"),
        "{answer:?}"
    );
}
