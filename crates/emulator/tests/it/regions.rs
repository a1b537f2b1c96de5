//! Region-bound errors (signing region from the SigV4 scope), the remaining modelled errors of
//! RegisterUsage / ResolveCustomer / STS, and expired session credentials.

use aws_sdk_marketplacemetering::operation::batch_meter_usage::BatchMeterUsageError;
use aws_sdk_marketplacemetering::operation::meter_usage::MeterUsageError;
use aws_sdk_marketplacemetering::operation::register_usage::RegisterUsageError;
use aws_sdk_marketplacemetering::operation::resolve_customer::ResolveCustomerError;
use aws_sdk_marketplacemetering::types::UsageRecord;
use aws_sdk_sts::error::ProvideErrorMetadata as _;
use aws_smithy_types::DateTime;
use serde_json::json;

use crate::support::*;
use crate::{assert_transient_faults, service_error};

const CONTAINER: &str = "prod-container-1";
const AMI: &str = "prod-ami-2";

async fn setup() -> Env {
    let env = env().await;
    seed(&env.emu.url).await;
    for (code, kind) in [(CONTAINER, "container"), (AMI, "ami")] {
        control_ok(&env.emu.url, "POST", "/_souk/products", json!({
            "product_code": code, "kind": kind, "dimensions": [{"name": "hosts", "type": "metered"}]
        }))
        .await;
        subscribe(&env.emu.url, code, BUYER).await;
    }
    env
}

#[tokio::test]
async fn disabled_regions_and_wrong_regions() {
    let env = setup().await;
    let url = env.emu.url.clone();
    control_ok(
        &url,
        "POST",
        "/_souk/regions/disable",
        json!({"region": "ap-east-1"}),
    )
    .await;
    let disabled = metering_in(&url, "ap-east-1");
    let record = UsageRecord::builder()
        .customer_aws_account_id(BUYER)
        .dimension("users")
        .timestamp(DateTime::from_secs(now(&env)))
        .build();
    let Ok(record) = record else {
        panic!("builder")
    };
    service_error!(
        disabled
            .batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(record)
            .send()
            .await,
        400,
        BatchMeterUsageError::DisabledApiException(_)
    );
    service_error!(
        disabled
            .resolve_customer()
            .registration_token("t")
            .send()
            .await,
        400,
        ResolveCustomerError::DisabledApiException(_)
    );
    service_error!(
        disabled
            .register_usage()
            .product_code(CONTAINER)
            .public_key_version(1)
            .send()
            .await,
        400,
        RegisterUsageError::InvalidRegionException(_)
    );

    let elsewhere = metering_in(&url, "eu-west-1");
    let ts = DateTime::from_secs(a_moment_ago(&env, 5));
    service_error!(
        elsewhere
            .meter_usage()
            .product_code(CONTAINER)
            .usage_dimension("hosts")
            .timestamp(ts)
            .send()
            .await,
        400,
        MeterUsageError::InvalidEndpointRegionException(_)
    );
    service_error!(
        elsewhere
            .register_usage()
            .product_code(CONTAINER)
            .public_key_version(1)
            .send()
            .await,
        400,
        RegisterUsageError::InvalidRegionException(_)
    );

    let sts = sts_in(&url, "ap-east-1", creds("AKIDTEST"));
    let err = service_error!(sts.get_caller_identity().send().await, 403);
    assert_eq!(err.code(), Some("RegionDisabledException"));

    control_ok(
        &url,
        "POST",
        "/_souk/regions/enable",
        json!({"region": "ap-east-1"}),
    )
    .await;
    service_error!(
        disabled
            .resolve_customer()
            .registration_token("t")
            .send()
            .await,
        400,
        ResolveCustomerError::InvalidTokenException(_)
    );
}

#[tokio::test]
async fn register_usage_and_resolve_customer_faults_and_platforms() {
    let env = setup().await;
    let url = env.emu.url.clone();
    let m = &env.metering;
    service_error!(
        m.register_usage()
            .product_code(AMI)
            .public_key_version(1)
            .send()
            .await,
        400,
        RegisterUsageError::PlatformNotSupportedException(_)
    );
    assert_transient_faults!(
        &url,
        "RegisterUsage",
        m.register_usage()
            .product_code(CONTAINER)
            .public_key_version(1)
            .send()
            .await,
        RegisterUsageError
    );
    assert_transient_faults!(
        &url,
        "ResolveCustomer",
        m.resolve_customer().registration_token("t").send().await,
        ResolveCustomerError
    );

    let tags: Vec<_> = (0..6)
        .filter_map(|i| {
            aws_sdk_marketplacemetering::types::Tag::builder()
                .key(format!("k{i}"))
                .value("v")
                .build()
                .ok()
        })
        .collect();
    let allocation = aws_sdk_marketplacemetering::types::UsageAllocation::builder()
        .allocated_usage_quantity(1)
        .set_tags(Some(tags))
        .build()
        .ok();
    let ts = DateTime::from_secs(a_moment_ago(&env, 5));
    service_error!(
        m.meter_usage()
            .product_code(CONTAINER)
            .usage_dimension("hosts")
            .usage_quantity(1)
            .set_usage_allocations(allocation.map(|a| vec![a]))
            .timestamp(ts)
            .send()
            .await,
        400,
        MeterUsageError::InvalidTagException(_)
    );
}

#[tokio::test]
async fn assume_role_policy_errors_and_expired_sessions() {
    let config = souk_emulator::EmulatorConfig {
        enforce_session_expiry: true,
        ..souk_emulator::EmulatorConfig::default()
    };
    let env = env_with(config).await;
    let role = "arn:aws:iam::111122223333:role/Policy";
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/sts/roles",
        json!({"role_arn": role}),
    )
    .await;
    let err = service_error!(
        env.sts
            .assume_role()
            .role_arn(role)
            .role_session_name("s1")
            .policy("{not json")
            .send()
            .await,
        400
    );
    assert_eq!(err.code(), Some("MalformedPolicyDocument"));
    let big = format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[],\"Pad\":\"{}\"}}",
        "x".repeat(3000)
    );
    let err = service_error!(
        env.sts
            .assume_role()
            .role_arn(role)
            .role_session_name("s1")
            .policy(big)
            .send()
            .await,
        400
    );
    assert_eq!(err.code(), Some("PackedPolicyTooLarge"));

    let out = env
        .sts
        .assume_role()
        .role_arn(role)
        .role_session_name("s1")
        .send()
        .await;
    let Ok(out) = out else { panic!("{out:?}") };
    let Some(c) = out.credentials() else {
        panic!("no credentials")
    };
    let assumed = session_credentials(c);
    let chained = sts_client(&env.emu.url, assumed);
    assert!(chained.get_caller_identity().send().await.is_ok());
    advance(&env.emu.url, 3601).await;
    let err = service_error!(chained.get_caller_identity().send().await, 400);
    assert_eq!(err.code(), Some("ExpiredTokenException"));
}
