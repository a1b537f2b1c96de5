//! Fractional usage: `QuantityAsDecimal` (BatchMeterUsage), `AllocatedUsageQuantityAsDecimal`
//! and `UsageQuantityAsDecimal` (MeterUsage) are billed exactly, in millionths, and show in the
//! ledger and the data feeds. The Rust SDK in use predates these members, so the calls are raw
//! awsJson (the boto3 harness sends them with boto3's own model).

use serde_json::{Value, json};

use crate::support::*;

async fn batch(env: &Env, records: Value) -> Raw {
    let body = json!({ "ProductCode": PRODUCT, "UsageRecords": records });
    aws_json(
        &env.emu.url,
        "AWSMPMeteringService.BatchMeterUsage",
        body.to_string().as_bytes(),
    )
    .await
}

fn record(env: &Env, extra: Value) -> Value {
    let mut record = json!({
        "Timestamp": a_moment_ago(env, 60), "CustomerAWSAccountId": BUYER, "Dimension": "users",
    });
    if let (Some(record), Some(extra)) = (record.as_object_mut(), extra.as_object()) {
        record.extend(extra.clone());
    }
    record
}

async fn ready() -> Env {
    let env = env().await;
    seed(&env.emu.url).await;
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    env
}

#[tokio::test]
async fn decimal_quantities_are_billed_exactly() {
    let env = ready().await;
    let response = batch(
        &env,
        json!([record(&env, json!({ "QuantityAsDecimal": "2.5" }))]),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["Results"][0]["Status"], "Success");
    // The same hour and quantity again: the original id; another quantity: DuplicateRecord.
    let again = batch(
        &env,
        json!([record(&env, json!({ "QuantityAsDecimal": "2.500000" }))]),
    )
    .await;
    assert_eq!(
        again.json()["Results"][0]["MeteringRecordId"],
        response.json()["Results"][0]["MeteringRecordId"]
    );
    let other = batch(
        &env,
        json!([record(&env, json!({ "QuantityAsDecimal": "2.4" }))]),
    )
    .await;
    assert_eq!(other.json()["Results"][0]["Status"], "DuplicateRecord");

    let ledger = metering_ledger(&env.emu.url).await;
    let entry = &ledger["records"][0];
    assert_eq!(entry["quantity_micros"], 2_500_000, "{ledger}");
    assert_eq!(entry["quantity_decimal"], "2.5");
    assert_eq!(ledger["total_quantity_decimal"], "2.5");
}

#[tokio::test]
async fn decimal_allocations_sum_exactly_and_match_the_record_kind() {
    let env = ready().await;
    let tags = |v: &str| json!([{ "Key": "team", "Value": v }]);
    let ok = batch(
        &env,
        json!([record(
            &env,
            json!({ "QuantityAsDecimal": "1.75", "UsageAllocations": [
                { "AllocatedUsageQuantityAsDecimal": "1.25", "Tags": tags("a") },
                { "AllocatedUsageQuantityAsDecimal": "0.5", "Tags": tags("b") },
            ]})
        )]),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let ledger = metering_ledger(&env.emu.url).await;
    assert_eq!(
        ledger["records"][0]["allocations"][1]["AllocatedUsageQuantityAsDecimal"],
        "0.5"
    );

    for (quantity, allocation, code) in [
        // Integer allocations of a decimal record, and the other way round.
        (
            json!({ "QuantityAsDecimal": "2" }),
            json!({ "AllocatedUsageQuantity": 2 }),
            "InvalidUsageAllocationsException",
        ),
        (
            json!({ "Quantity": 2 }),
            json!({ "AllocatedUsageQuantityAsDecimal": "2" }),
            "InvalidUsageAllocationsException",
        ),
        // A sum that is off by a millionth.
        (
            json!({ "QuantityAsDecimal": "2" }),
            json!({ "AllocatedUsageQuantityAsDecimal": "1.999999" }),
            "InvalidUsageAllocationsException",
        ),
        // Both members in one allocation.
        (
            json!({ "QuantityAsDecimal": "2" }),
            json!({ "AllocatedUsageQuantityAsDecimal": "2", "AllocatedUsageQuantity": 2 }),
            "ValidationException",
        ),
    ] {
        let mut with = quantity.clone();
        let mut allocation = allocation;
        allocation["Tags"] = tags("a");
        with["UsageAllocations"] = json!([allocation]);
        let response = batch(&env, json!([record(&env, with)])).await;
        assert_eq!(response.status, 400, "{quantity}: {}", response.text());
        assert_eq!(
            response.json()["__type"],
            code,
            "{quantity}: {}",
            response.text()
        );
    }
}

#[tokio::test]
async fn decimal_and_integer_members_are_exclusive_and_patterned() {
    let env = ready().await;
    for extra in [
        json!({ "Quantity": 1, "QuantityAsDecimal": "2.5" }),
        json!({ "QuantityAsDecimal": "1.1234567" }),
        json!({ "QuantityAsDecimal": "-1" }),
        json!({ "QuantityAsDecimal": "01.5" }),
        json!({ "QuantityAsDecimal": "12345678901" }),
    ] {
        let response = batch(&env, json!([record(&env, extra.clone())])).await;
        assert_eq!(response.status, 400, "{extra}: {}", response.text());
        assert_eq!(response.json()["__type"], "ValidationException", "{extra}");
    }
    let ledger = metering_ledger(&env.emu.url).await;
    assert_eq!(ledger["records"], json!([]), "nothing billed");
}

#[tokio::test]
async fn meter_usage_takes_decimal_quantities() {
    let env = env().await;
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/products",
        json!({
            "product_code": "prod-ami-dec", "kind": "ami",
            "dimensions": [{"name": "hosts", "type": "metered"}]
        }),
    )
    .await;
    subscribe(&env.emu.url, "prod-ami-dec", BUYER).await;
    let call = |extra: Value| {
        let mut body = json!({
            "ProductCode": "prod-ami-dec", "Timestamp": a_moment_ago(&env, 30), "UsageDimension": "hosts",
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let url = env.emu.url.clone();
        async move {
            aws_json(
                &url,
                "AWSMPMeteringService.MeterUsage",
                body.to_string().as_bytes(),
            )
            .await
        }
    };
    let both = call(json!({ "UsageQuantity": 1, "UsageQuantityAsDecimal": "0.5" })).await;
    assert_eq!(both.status, 400);
    assert_eq!(both.json()["__type"], "ValidationException");
    let ok = call(json!({ "UsageQuantityAsDecimal": "0.125" })).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let ledger = metering_ledger(&env.emu.url).await;
    assert_eq!(
        ledger["records"][0]["quantity_decimal"], "0.125",
        "{ledger}"
    );
    assert_eq!(ledger["records"][0]["quantity"], 0);
}

#[tokio::test]
async fn decimal_usage_is_priced_exactly_in_the_billing_feed() {
    let env = ready().await;
    control_ok(
        &env.emu.url,
        "PUT",
        "/_souk/feeds/settings",
        json!({ "usage_invoicing": "hourly", "usage_prices": { format!("{PRODUCT}/users"): "0.10" } }),
    )
    .await;
    let response = batch(
        &env,
        json!([record(&env, json!({ "QuantityAsDecimal": "2.5" }))]),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    advance(&env.emu.url, 2 * 3600).await;
    let events = control_ok(
        &env.emu.url,
        "GET",
        "/_souk/feeds/billing-events",
        Value::Null,
    )
    .await;
    let usage: Vec<&Value> = events["billing_events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["transaction_type"] == "SELLER_REV_SHARE" && !e["usage_quantity"].is_null())
        .collect();
    assert_eq!(usage.len(), 1, "{events}");
    assert_eq!(usage[0]["amount_micros"], 250_000, "2.5 × 0.10");
    assert_eq!(usage[0]["usage_quantity"], "2.5");
}
