//! GetEntitlements over rpcv2Cbor (the Rust SDK) and awsJson1_1 (boto3's protocol, raw HTTP).

use aws_sdk_marketplaceentitlement::error::ProvideErrorMetadata as _;
use aws_sdk_marketplaceentitlement::operation::get_entitlements::GetEntitlementsError;
use aws_sdk_marketplaceentitlement::types::GetEntitlementFilterName as F;
use serde_json::{Value, json};

use crate::support::*;
use crate::{assert_transient_faults, service_error};

async fn contracts() -> Env {
    let env = env().await;
    let url = env.emu.url.clone();
    seed(&url).await;
    for (account, seats) in [(BUYER, 10), (OTHER_BUYER, 25)] {
        subscribe(&url, PRODUCT, account).await;
        control_ok(
            &url,
            "POST",
            "/_souk/entitlements",
            json!({
                "product_code": PRODUCT, "customer_aws_account_id": account,
                "values": {"seats": seats, "tier": "gold", "sso": true},
                "expiration": "2027-01-01T00:00:00Z"
            }),
        )
        .await;
    }
    env
}

/// The SDK's entitlements as comparable JSON.
fn sdk_json(items: &[aws_sdk_marketplaceentitlement::types::Entitlement]) -> Vec<Value> {
    items
        .iter()
        .map(|e| {
            let value = e.value().map(|v| {
                json!({
                    "IntegerValue": v.integer_value(), "BooleanValue": v.boolean_value(),
                    "StringValue": v.string_value(), "DoubleValue": v.double_value(),
                })
            });
            json!({
                "ProductCode": e.product_code(), "Dimension": e.dimension(),
                "CustomerIdentifier": e.customer_identifier(), "CustomerAWSAccountId": e.customer_aws_account_id(),
                "LicenseArn": e.license_arn(), "Value": value,
                "ExpirationDate": e.expiration_date().map(|d| d.secs()),
            })
        })
        .collect()
}

/// boto3-shaped entitlements as the same comparable JSON.
fn wire_json(items: &Value) -> Vec<Value> {
    items
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let v = &e["Value"];
            json!({
                "ProductCode": e["ProductCode"], "Dimension": e["Dimension"],
                "CustomerIdentifier": e["CustomerIdentifier"], "CustomerAWSAccountId": e["CustomerAWSAccountId"],
                "LicenseArn": e["LicenseArn"],
                "Value": {"IntegerValue": v["IntegerValue"], "BooleanValue": v["BooleanValue"],
                          "StringValue": v["StringValue"], "DoubleValue": v["DoubleValue"]},
                "ExpirationDate": e["ExpirationDate"].as_f64().map(|f| f as i64),
            })
        })
        .collect()
}

#[tokio::test]
async fn cbor_and_json_return_the_same_entitlements() {
    let env = contracts().await;
    let sdk = env
        .entitlement
        .get_entitlements()
        .product_code(PRODUCT)
        .send()
        .await
        .map_err(|e| format!("{e:?}"));
    let Ok(sdk) = sdk else { panic!("{sdk:?}") };
    assert_eq!(sdk.entitlements().len(), 6);
    let body = json!({"ProductCode": PRODUCT}).to_string();
    let raw = aws_json(
        &env.emu.url,
        "AWSMPEntitlementService.GetEntitlements",
        body.as_bytes(),
    )
    .await;
    assert_eq!(raw.status, 200);
    assert_eq!(
        raw.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert_eq!(
        sdk_json(sdk.entitlements()),
        wire_json(&raw.json()["Entitlements"])
    );
    let seats = sdk
        .entitlements()
        .iter()
        .find(|e| e.dimension() == Some("seats") && e.customer_aws_account_id() == Some(BUYER));
    assert_eq!(
        seats
            .and_then(|e| e.value())
            .and_then(|v| v.integer_value()),
        Some(10)
    );
    assert_eq!(
        seats.and_then(|e| e.expiration_date()).map(|d| d.secs()),
        Some(1_798_761_600)
    );
}

#[tokio::test]
async fn cbor_responses_carry_the_protocol_header() {
    let env = contracts().await;
    // Minimal CBOR request: {"ProductCode": PRODUCT}, indefinite-length map.
    let mut body = vec![0xbf, 0x6b];
    body.extend_from_slice(b"ProductCode");
    body.push(0x60 + u8::try_from(PRODUCT.len()).unwrap_or(0));
    body.extend_from_slice(PRODUCT.as_bytes());
    body.push(0xff);
    let raw = raw(
        &env.emu.url,
        "POST",
        "/service/AWSMPEntitlementService/operation/GetEntitlements",
        &[
            ("content-type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
        ],
        &body,
    )
    .await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("smithy-protocol"), Some("rpc-v2-cbor"));
    assert_eq!(raw.header("content-type"), Some("application/cbor"));
}

#[tokio::test]
async fn filters_union_values_and_intersect_keys() {
    let env = contracts().await;
    let get = |filter: Vec<(F, Vec<&str>)>| {
        let mut request = env.entitlement.get_entitlements().product_code(PRODUCT);
        for (key, values) in filter {
            request = request.filter(key, values.into_iter().map(str::to_owned).collect());
        }
        request.send()
    };
    let count = |r: Result<
        aws_sdk_marketplaceentitlement::operation::get_entitlements::GetEntitlementsOutput,
        _,
    >| match r {
        Ok(out) => out.entitlements().len(),
        Err(err) => panic!("{err:?}"),
    };
    assert_eq!(
        count(get(vec![(F::CustomerAwsAccountId, vec![BUYER])]).await),
        3
    );
    assert_eq!(
        count(get(vec![(F::CustomerAwsAccountId, vec![BUYER, OTHER_BUYER])]).await),
        6
    );
    assert_eq!(
        count(
            get(vec![
                (F::CustomerAwsAccountId, vec![BUYER]),
                (F::Dimension, vec!["seats", "tier"])
            ])
            .await
        ),
        2
    );
    assert_eq!(count(get(vec![(F::Dimension, vec!["nothing"])]).await), 0);

    service_error!(
        get(vec![
            (F::CustomerAwsAccountId, vec![BUYER]),
            (F::CustomerIdentifier, vec!["x"])
        ])
        .await,
        400,
        GetEntitlementsError::InvalidParameterException(_)
    );
}

#[tokio::test]
async fn pages_of_at_most_max_results_with_opaque_tokens() {
    let env = contracts().await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = env
            .entitlement
            .get_entitlements()
            .product_code(PRODUCT)
            .max_results(4)
            .set_next_token(token.clone())
            .send()
            .await;
        let Ok(out) = out else { panic!("{out:?}") };
        assert!(out.entitlements().len() <= 4);
        seen.extend(sdk_json(out.entitlements()));
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);

    // A page size over 25, a forged token and an unknown product are each invalid parameters.
    let entitlements = |product: &str| env.entitlement.get_entitlements().product_code(product);
    for invalid in [
        entitlements(PRODUCT).max_results(26),
        entitlements(PRODUCT).next_token("forged"),
        entitlements("unknown"),
    ] {
        service_error!(
            invalid.send().await,
            400,
            GetEntitlementsError::InvalidParameterException(_)
        );
    }

    let err = assert_transient_faults!(
        &env.emu.url,
        "GetEntitlements",
        env.entitlement
            .get_entitlements()
            .product_code(PRODUCT)
            .send()
            .await,
        GetEntitlementsError
    );
    assert_eq!(err.code(), Some("InternalServiceErrorException"));
}

#[tokio::test]
async fn concurrent_products_expose_licences_not_identifiers() {
    let env = env().await;
    seed(&env.emu.url).await;
    let sub = subscribe(&env.emu.url, LICENSED, BUYER).await;
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/entitlements",
        json!({
            "product_code": LICENSED, "customer_aws_account_id": BUYER, "values": {"seats": 5}
        }),
    )
    .await;
    let arn = sub["subscription"]["license_arn"]
        .as_str()
        .unwrap_or_default();
    let out = env
        .entitlement
        .get_entitlements()
        .product_code(LICENSED)
        .filter(F::LicenseArn, vec![arn.to_owned()])
        .send()
        .await;
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(out.entitlements().len(), 1);
    assert_eq!(out.entitlements()[0].license_arn(), Some(arn));
    assert_eq!(out.entitlements()[0].customer_identifier(), None);
}
