//! MeterUsage and RegisterUsage (AMI / container products).

use aws_sdk_marketplacemetering::error::ProvideErrorMetadata as _;
use aws_sdk_marketplacemetering::operation::meter_usage::MeterUsageError;
use aws_sdk_marketplacemetering::operation::register_usage::RegisterUsageError;
use aws_smithy_types::DateTime;
use serde_json::json;

use crate::support::*;
use crate::{assert_transient_faults, service_error};

const AMI: &str = "prod-ami-1";

async fn ami_env(subscribed: bool) -> Env {
    let env = env().await;
    control_ok(&env.emu.url, "POST", "/_souk/products", json!({
        "product_code": AMI, "kind": "container",
        "dimensions": [{"name": "hosts", "type": "metered"}, {"name": "plan", "type": "entitled"}]
    }))
    .await;
    if subscribed {
        subscribe(&env.emu.url, AMI, BUYER).await;
    }
    env
}

#[tokio::test]
async fn client_token_makes_meter_usage_idempotent() {
    let env = ami_env(true).await;
    let ts = DateTime::from_secs(a_moment_ago(&env, 30));
    let call = |token: &str, quantity: i32| {
        env.metering
            .meter_usage()
            .product_code(AMI)
            .usage_dimension("hosts")
            .usage_quantity(quantity)
            .timestamp(ts)
            .client_token(token)
            .send()
    };
    let first = call("token-1", 2).await.map_err(|e| format!("{e:?}"));
    let Ok(first) = first else {
        panic!("{first:?}")
    };
    let again = call("token-1", 2).await.map_err(|e| format!("{e:?}"));
    let Ok(again) = again else {
        panic!("{again:?}")
    };
    assert_eq!(first.metering_record_id(), again.metering_record_id());

    service_error!(
        call("token-1", 3).await,
        409,
        MeterUsageError::IdempotencyConflictException(_)
    );

    // Same hour and dimension, new token, same quantity: the same record.
    let same = call("token-2", 2).await.map_err(|e| format!("{e:?}"));
    let Ok(same) = same else { panic!("{same:?}") };
    assert_eq!(same.metering_record_id(), first.metering_record_id());
    service_error!(
        call("token-3", 5).await,
        400,
        MeterUsageError::DuplicateRequestException(_)
    );
}

#[tokio::test]
async fn meter_usage_errors() {
    let env = ami_env(false).await;
    let ts = DateTime::from_secs(a_moment_ago(&env, 30));
    let m = &env.metering;
    service_error!(
        m.meter_usage()
            .product_code(AMI)
            .usage_dimension("hosts")
            .timestamp(ts)
            .send()
            .await,
        400,
        MeterUsageError::CustomerNotEntitledException(_)
    );
    subscribe(&env.emu.url, AMI, BUYER).await;
    service_error!(
        m.meter_usage()
            .product_code("nope")
            .usage_dimension("hosts")
            .timestamp(ts)
            .send()
            .await,
        400,
        MeterUsageError::InvalidProductCodeException(_)
    );
    service_error!(
        m.meter_usage()
            .product_code(AMI)
            .usage_dimension("plan")
            .timestamp(ts)
            .send()
            .await,
        400,
        MeterUsageError::InvalidUsageDimensionException(_)
    );
    let old = DateTime::from_secs(now(&env) - 7 * 3600);
    service_error!(
        m.meter_usage()
            .product_code(AMI)
            .usage_dimension("hosts")
            .timestamp(old)
            .send()
            .await,
        400,
        MeterUsageError::TimestampOutOfBoundsException(_)
    );
    let err = service_error!(
        m.meter_usage()
            .product_code(AMI)
            .usage_dimension("hosts")
            .usage_quantity(-1)
            .timestamp(ts)
            .send()
            .await,
        400
    );
    assert_eq!(err.code(), Some("ValidationException"));
    let alloc = aws_sdk_marketplacemetering::types::UsageAllocation::builder()
        .allocated_usage_quantity(1)
        .build()
        .ok();
    service_error!(
        m.meter_usage()
            .product_code(AMI)
            .usage_dimension("hosts")
            .usage_quantity(2)
            .set_usage_allocations(alloc.map(|a| vec![a]))
            .timestamp(ts)
            .send()
            .await,
        400,
        MeterUsageError::InvalidUsageAllocationsException(_)
    );
    let err = service_error!(
        m.meter_usage()
            .product_code(AMI)
            .usage_dimension("hosts")
            .dry_run(true)
            .timestamp(ts)
            .send()
            .await,
        400
    );
    assert_eq!(err.code(), Some("DryRunOperation"));
    let ledger = metering_ledger(&env.emu.url).await;
    assert_eq!(
        ledger["records"].as_array().map(Vec::len),
        Some(0),
        "a dry run bills nothing"
    );
    assert_transient_faults!(
        &env.emu.url,
        "MeterUsage",
        m.meter_usage()
            .product_code(AMI)
            .usage_dimension("hosts")
            .timestamp(ts)
            .send()
            .await,
        MeterUsageError
    );
}

#[tokio::test]
async fn register_usage_checks_entitlement_and_key_version() {
    let env = ami_env(false).await;
    let m = &env.metering;
    service_error!(
        m.register_usage()
            .product_code(AMI)
            .public_key_version(1)
            .send()
            .await,
        400,
        RegisterUsageError::CustomerNotEntitledException(_)
    );
    subscribe(&env.emu.url, AMI, BUYER).await;
    let out = m
        .register_usage()
        .product_code(AMI)
        .public_key_version(1)
        .nonce("n-1")
        .send()
        .await
        .map_err(|e| format!("{e:?}"));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(out.signature().map(|s| s.split('.').count()), Some(3));
    service_error!(
        m.register_usage()
            .product_code(AMI)
            .public_key_version(2)
            .send()
            .await,
        400,
        RegisterUsageError::InvalidPublicKeyVersionException(_)
    );
    service_error!(
        m.register_usage()
            .product_code("nope")
            .public_key_version(1)
            .send()
            .await,
        400,
        RegisterUsageError::InvalidProductCodeException(_)
    );
}
