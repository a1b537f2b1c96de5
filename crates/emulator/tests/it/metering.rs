//! ResolveCustomer and BatchMeterUsage through the official metering client.

use aws_sdk_marketplacemetering::error::ProvideErrorMetadata as _;
use aws_sdk_marketplacemetering::operation::batch_meter_usage::BatchMeterUsageError;
use aws_sdk_marketplacemetering::operation::resolve_customer::ResolveCustomerError;
use aws_sdk_marketplacemetering::types::{
    Tag, UsageAllocation, UsageRecord, UsageRecordResultStatus,
};
use aws_smithy_types::DateTime;
use aws_smithy_types::retry::RetryConfig;
use serde_json::json;

use crate::support::*;
use crate::{assert_transient_faults, service_error};

fn record(account: &str, dimension: &str, quantity: i32, ts: i64) -> UsageRecord {
    match UsageRecord::builder()
        .customer_aws_account_id(account)
        .dimension(dimension)
        .quantity(quantity)
        .timestamp(DateTime::from_secs(ts))
        .build()
    {
        Ok(r) => r,
        Err(err) => panic!("record: {err}"),
    }
}

async fn ready() -> Env {
    let env = env().await;
    seed(&env.emu.url).await;
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    env
}

#[tokio::test]
async fn resolve_customer_returns_the_buyer_and_rejects_bad_or_expired_tokens() {
    let env = env().await;
    seed(&env.emu.url).await;
    let sub = subscribe(&env.emu.url, PRODUCT, BUYER).await;
    assert_eq!(sub["fulfillment"]["url"], "https://seller.example/fulfil");
    assert_eq!(sub["fulfillment"]["method"], "POST");
    let token = sub["fulfillment"]["fields"]["x-amzn-marketplace-token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        token,
        sub["registration_token"].as_str().unwrap_or_default()
    );

    let out = env
        .metering
        .resolve_customer()
        .registration_token(&token)
        .send()
        .await;
    let out = out.map_err(|e| format!("{e:?}"));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(out.product_code(), Some(PRODUCT));
    assert_eq!(out.customer_aws_account_id(), Some(BUYER));
    assert_eq!(
        out.customer_identifier(),
        sub["subscription"]["customer_identifier"].as_str()
    );

    // The same token keeps answering until it expires.
    assert!(
        env.metering
            .resolve_customer()
            .registration_token(&token)
            .send()
            .await
            .is_ok()
    );

    service_error!(
        env.metering
            .resolve_customer()
            .registration_token("garbage")
            .send()
            .await,
        400,
        ResolveCustomerError::InvalidTokenException(_)
    );

    advance(&env.emu.url, 4 * 3600).await;
    service_error!(
        env.metering
            .resolve_customer()
            .registration_token(&token)
            .send()
            .await,
        400,
        ResolveCustomerError::ExpiredTokenException(_)
    );
}

#[tokio::test]
async fn concurrent_agreement_products_resolve_to_account_and_licence() {
    let env = env().await;
    seed(&env.emu.url).await;
    let sub = subscribe(&env.emu.url, LICENSED, BUYER).await;
    let token = sub["registration_token"].as_str().unwrap_or_default();
    let out = env
        .metering
        .resolve_customer()
        .registration_token(token)
        .send()
        .await
        .map_err(|e| format!("{e:?}"));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(out.customer_identifier(), None);
    assert_eq!(out.customer_aws_account_id(), Some(BUYER));
    assert_eq!(
        out.license_arn(),
        sub["subscription"]["license_arn"].as_str()
    );
}

#[tokio::test]
async fn first_write_wins_per_customer_dimension_hour() {
    let env = ready().await;
    let ts = a_moment_ago(&env, 60);
    let first = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 3, ts))
        .send()
        .await;
    let first = first.map_err(|e| format!("{e:?}"));
    let Ok(first) = first else {
        panic!("{first:?}")
    };
    let result = &first.results()[0];
    assert_eq!(result.status(), Some(&UsageRecordResultStatus::Success));
    let id = result.metering_record_id().map(str::to_owned);
    assert!(id.is_some());
    assert!(first.unprocessed_records().is_empty());

    // Same quantity in the same hour: Success with the original id (idempotent retry). A
    // second later, not earlier: `ts` may be the hour's first second.
    let again = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 3, ts + 1))
        .send()
        .await;
    let again = again.map_err(|e| format!("{e:?}"));
    let Ok(again) = again else {
        panic!("{again:?}")
    };
    assert_eq!(
        again.results()[0].status(),
        Some(&UsageRecordResultStatus::Success)
    );
    assert_eq!(
        again.results()[0].metering_record_id().map(str::to_owned),
        id
    );

    // Different quantity: DuplicateRecord, not billed.
    let dup = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 4, ts))
        .send()
        .await;
    let dup = dup.map_err(|e| format!("{e:?}"));
    let Ok(dup) = dup else { panic!("{dup:?}") };
    assert_eq!(
        dup.results()[0].status(),
        Some(&UsageRecordResultStatus::DuplicateRecord)
    );

    let ledger = control_ok(
        &env.emu.url,
        "GET",
        &format!("/_souk/metering/ledger?customer_aws_account_id={BUYER}"),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(ledger["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(ledger["total_quantity"], 3);
}

#[tokio::test]
async fn unknown_and_unsubscribed_customers_are_not_subscribed_but_the_final_hour_is_billed() {
    let env = ready().await;
    let url = env.emu.url.clone();
    let send = |account: &'static str, dimension: &'static str| {
        let client = env.metering.clone();
        let ts = a_moment_ago(&env, 1);
        async move {
            let out = client
                .batch_meter_usage()
                .product_code(PRODUCT)
                .usage_records(record(account, dimension, 1, ts))
                .send()
                .await;
            match out {
                Ok(out) => out.results()[0].status().cloned(),
                Err(err) => panic!("{err:?}"),
            }
        }
    };
    assert_eq!(
        send(OTHER_BUYER, "users").await,
        Some(UsageRecordResultStatus::CustomerNotSubscribed)
    );

    unsubscribe(&url, PRODUCT, BUYER).await;
    advance(&url, 30 * 60).await;
    assert_eq!(
        send(BUYER, "users").await,
        Some(UsageRecordResultStatus::Success),
        "final hour accepted"
    );
    advance(&url, 31 * 60).await;
    assert_eq!(
        send(BUYER, "gb").await,
        Some(UsageRecordResultStatus::CustomerNotSubscribed)
    );
    let subs = control_ok(&url, "GET", "/_souk/subscriptions", serde_json::Value::Null).await;
    assert_eq!(subs["subscriptions"][0]["status"]["state"], "unsubscribed");
}

#[tokio::test]
async fn request_level_errors_reject_the_whole_batch() {
    let env = ready().await;
    let ts = a_moment_ago(&env, 10);
    let m = &env.metering;

    service_error!(
        m.batch_meter_usage()
            .product_code("nope")
            .usage_records(record(BUYER, "users", 1, ts))
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidProductCodeException(_)
    );

    service_error!(
        m.batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(record(BUYER, "seats", 1, ts))
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidUsageDimensionException(_)
    );

    let both = UsageRecord::builder()
        .customer_aws_account_id(BUYER)
        .customer_identifier("CABC")
        .dimension("users")
        .timestamp(DateTime::from_secs(ts))
        .build();
    let Ok(both) = both else { panic!("builder") };
    service_error!(
        m.batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(both)
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidCustomerIdentifierException(_)
    );

    // One stale record among good ones rejects everything.
    let stale = record(BUYER, "gb", 1, ts - 6 * 3600);
    service_error!(
        m.batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(record(BUYER, "users", 1, ts))
            .usage_records(stale)
            .send()
            .await,
        400,
        BatchMeterUsageError::TimestampOutOfBoundsException(_)
    );
    let future = record(BUYER, "users", 1, ts + 3600);
    service_error!(
        m.batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(future)
            .send()
            .await,
        400,
        BatchMeterUsageError::TimestampOutOfBoundsException(_)
    );
    let ledger = metering_ledger(&env.emu.url).await;
    assert_eq!(
        ledger["records"].as_array().map(Vec::len),
        Some(0),
        "nothing billed"
    );

    // Allocations must add up; tags must be valid and at most five.
    let alloc = |q: i32, tags: &[(&str, &str)]| {
        let tags: Vec<Tag> = tags
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(*k).value(*v).build().ok())
            .collect();
        UsageAllocation::builder()
            .allocated_usage_quantity(q)
            .set_tags((!tags.is_empty()).then_some(tags))
            .build()
            .ok()
    };
    let rec = |allocs: Vec<Option<UsageAllocation>>| {
        UsageRecord::builder()
            .customer_aws_account_id(BUYER)
            .dimension("users")
            .quantity(5)
            .timestamp(DateTime::from_secs(ts))
            .set_usage_allocations(Some(allocs.into_iter().flatten().collect()))
            .build()
            .ok()
    };
    let Some(bad_sum) = rec(vec![alloc(2, &[("team", "a")]), alloc(2, &[("team", "b")])]) else {
        panic!("builder")
    };
    service_error!(
        m.batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(bad_sum)
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidUsageAllocationsException(_)
    );
    let six = [
        ("a", "1"),
        ("b", "1"),
        ("c", "1"),
        ("d", "1"),
        ("e", "1"),
        ("f", "1"),
    ];
    let Some(too_many) = rec(vec![alloc(5, &six)]) else {
        panic!("builder")
    };
    service_error!(
        m.batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(too_many)
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidTagException(_)
    );
    let Some(good) = rec(vec![alloc(3, &[("team", "a")]), alloc(2, &[])]) else {
        panic!("builder")
    };
    let ok = m
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(good)
        .send()
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn more_than_25_records_is_a_validation_error() {
    let env = ready().await;
    let ts = a_moment_ago(&env, 10);
    let records: Vec<UsageRecord> = (0..26).map(|i| record(BUYER, "users", i, ts)).collect();
    let result = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .set_usage_records(Some(records))
        .send()
        .await;
    let err = service_error!(result, 400);
    assert_eq!(err.code(), Some("ValidationException"));
}

#[tokio::test]
async fn licence_arn_records_need_no_product_code_and_must_match_the_customer() {
    let env = env().await;
    seed(&env.emu.url).await;
    let sub = subscribe(&env.emu.url, LICENSED, BUYER).await;
    subscribe(&env.emu.url, LICENSED, OTHER_BUYER).await;
    let arn = sub["subscription"]["license_arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ts = a_moment_ago(&env, 5);
    let with_licence = |account: &str, arn: &str| {
        UsageRecord::builder()
            .customer_aws_account_id(account)
            .license_arn(arn)
            .dimension("users")
            .quantity(2)
            .timestamp(DateTime::from_secs(ts))
            .build()
            .ok()
    };
    let Some(good) = with_licence(BUYER, &arn) else {
        panic!("builder")
    };
    let out = env
        .metering
        .batch_meter_usage()
        .usage_records(good)
        .send()
        .await
        .map_err(|e| format!("{e:?}"));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(
        out.results()[0].status(),
        Some(&UsageRecordResultStatus::Success)
    );

    let Some(wrong_customer) = with_licence(OTHER_BUYER, &arn) else {
        panic!("builder")
    };
    service_error!(
        env.metering
            .batch_meter_usage()
            .usage_records(wrong_customer)
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidLicenseException(_)
    );

    let Some(unknown) = with_licence(
        BUYER,
        "arn:aws:license-manager::210987654321:license:l-0000",
    ) else {
        panic!("builder")
    };
    service_error!(
        env.metering
            .batch_meter_usage()
            .usage_records(unknown)
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidLicenseException(_)
    );

    let no_product_no_licence = record(BUYER, "users", 1, ts);
    service_error!(
        env.metering
            .batch_meter_usage()
            .usage_records(no_product_no_licence)
            .send()
            .await,
        400,
        BatchMeterUsageError::InvalidProductCodeException(_)
    );
}

#[tokio::test]
async fn injected_faults_throttle_fail_and_leave_records_unprocessed() {
    let env = ready().await;
    let url = env.emu.url.clone();
    let ts = a_moment_ago(&env, 5);

    assert_transient_faults!(
        &url,
        "BatchMeterUsage",
        env.metering
            .batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(record(BUYER, "users", 1, ts))
            .send()
            .await,
        BatchMeterUsageError
    );

    fault_once(&url, "BatchMeterUsage", "unprocessed").await;
    let out = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 1, ts))
        .usage_records(record(BUYER, "gb", 7, ts))
        .send()
        .await
        .map_err(|e| format!("{e:?}"));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(out.unprocessed_records().len(), 1);
    assert_eq!(out.unprocessed_records()[0].dimension(), "users");
    assert_eq!(out.results().len(), 1);

    // A retrying client gets through a transient throttle.
    fault_once(&url, "BatchMeterUsage", "throttle").await;
    let retrying = crate::sdk_client!(
        aws_sdk_marketplacemetering,
        &url,
        "us-east-1",
        creds("AKIDTEST"),
        RetryConfig::standard().with_max_attempts(3)
    );
    let ok = retrying
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 1, ts))
        .send()
        .await;
    assert!(ok.is_ok(), "{ok:?}");

    // Latency delays, a dropped response still records the usage.
    fault(
        &url,
        json!({"operation": "BatchMeterUsage", "kind": "latency", "latency_ms": 300, "count": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    let ok = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 1, ts))
        .send()
        .await;
    assert!(ok.is_ok() && started.elapsed() >= std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn dropped_responses_still_bill() {
    let env = ready().await;
    let ts = a_moment_ago(&env, 5);
    fault_once(&env.emu.url, "BatchMeterUsage", "drop").await;
    let dropped = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 4, ts))
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    let ledger = metering_ledger(&env.emu.url).await;
    assert_eq!(ledger["total_quantity"], 4);
    // The retry is idempotent.
    let retry = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record(BUYER, "users", 4, ts))
        .send()
        .await;
    let Ok(retry) = retry else {
        panic!("{retry:?}")
    };
    assert_eq!(
        retry.results()[0].status(),
        Some(&UsageRecordResultStatus::Success)
    );
    assert_eq!(
        retry.results()[0].metering_record_id(),
        ledger["records"][0]["metering_record_id"].as_str()
    );
}
