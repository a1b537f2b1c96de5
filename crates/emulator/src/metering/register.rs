//! RegisterUsage (paid hourly containers): entitlement check, returns a signed-token-shaped
//! `Signature` (a JWT whose signature is not verifiable: the emulator has no AWS key).

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::required;
use crate::Emulator;
use crate::wire::ApiError;
use crate::wire::json::parse_body;

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "ProductCode")]
    product_code: Option<String>,
    #[serde(rename = "PublicKeyVersion")]
    public_key_version: Option<i64>,
    #[serde(rename = "Nonce")]
    nonce: Option<String>,
}

pub(super) fn register_usage(
    emulator: &Emulator,
    body: &[u8],
    access_key_id: Option<&str>,
) -> Result<Value, ApiError> {
    let request: Request = parse_body(body)?;
    let product_code = required(request.product_code, "productCode")?;
    let version = required(request.public_key_version, "publicKeyVersion")?;
    if version < 1 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{version}' at 'publicKeyVersion' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )));
    }
    if request
        .nonce
        .as_ref()
        .is_some_and(|n| n.chars().count() > 255)
    {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'nonce' failed to satisfy constraint: Member must have length less than or equal to 255",
        ));
    }
    if version != 1 {
        return Err(ApiError::client(
            "InvalidPublicKeyVersionException",
            format!("Public key version {version} is not valid"),
        ));
    }
    let now = emulator.clock().now_at();
    let world = emulator.world();
    let product = world
        .market
        .product(&product_code)
        .ok_or_else(|| super::invalid_product(&product_code))?;
    if product.kind != crate::market::ProductKind::Container {
        return Err(ApiError::client(
            "PlatformNotSupportedException",
            "RegisterUsage is supported for container products running on Amazon ECS, Amazon EKS and AWS Fargate",
        ));
    }
    let known = access_key_id.and_then(|key| world.sts.known_account(key, now));
    let subscription = match known {
        Some(account) => world
            .market
            .subscription(&product_code, &account)
            .filter(|s| s.accepts_metering(now)),
        None => world.market.active_subscribers(&product_code, now).next(),
    }
    .ok_or_else(|| {
        ApiError::client(
            "CustomerNotEntitledException",
            format!("The customer is not subscribed to product {product_code}"),
        )
    })?;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(json!({ "alg": "PS256", "typ": "JWT" }).to_string());
    let payload = engine.encode(
        json!({
            "productCode": product_code,
            "publicKeyVersion": version,
            "customerIdentifier": subscription.customer_identifier,
            "customerAWSAccountId": subscription.aws_account_id,
            "nonce": request.nonce,
            "iat": now.seconds(),
        })
        .to_string(),
    );
    let signature = engine.encode(uuid::Uuid::new_v4().as_bytes());
    Ok(json!({ "Signature": format!("{header}.{payload}.{signature}") }))
}
