//! MeterUsage (AMI / container): one record per call, signed by the buyer. `ClientToken`
//! idempotency (same token + same parameters → same `MeteringRecordId`; different parameters →
//! `IdempotencyConflictException`, 409), one record per product/customer/dimension/hour (same
//! quantity → same id; different → `DuplicateRequestException`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::allocations;
use super::ledger::Allocation;
use super::quantity;
use super::{ClientTokenUse, LedgerEntry, MeteringState, check_window, required};
use crate::Emulator;
use crate::market::DimensionKind;
use crate::wire::ApiError;
use crate::wire::json::parse_body;

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "ProductCode")]
    product_code: Option<String>,
    #[serde(rename = "Timestamp")]
    timestamp: Option<Value>,
    #[serde(rename = "UsageDimension")]
    usage_dimension: Option<String>,
    #[serde(rename = "UsageQuantity")]
    usage_quantity: Option<i64>,
    #[serde(rename = "UsageQuantityAsDecimal")]
    usage_quantity_as_decimal: Option<String>,
    #[serde(rename = "DryRun")]
    dry_run: Option<bool>,
    #[serde(rename = "UsageAllocations")]
    usage_allocations: Option<Vec<Allocation>>,
    #[serde(rename = "ClientToken")]
    client_token: Option<String>,
}

pub(super) fn meter_usage(
    emulator: &Emulator,
    body: &[u8],
    access_key_id: Option<&str>,
) -> Result<Value, ApiError> {
    let request: Request = parse_body(body)?;
    let product_code = required(request.product_code.clone(), "productCode")?;
    let timestamp_value = required(request.timestamp.clone(), "timestamp")?;
    let timestamp = super::timestamp(&timestamp_value)
        .ok_or_else(|| ApiError::serialization("timestamp must be epoch seconds"))?;
    let dimension = required(request.usage_dimension.clone(), "usageDimension")?;
    let quantity = quantity::resolve(
        request.usage_quantity,
        request.usage_quantity_as_decimal.as_deref(),
        "usageQuantity",
        "usageQuantityAsDecimal",
    )?;
    if let Some(token) = &request.client_token
        && !(1..=64).contains(&token.chars().count())
    {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must have length between 1 and 64",
        ));
    }
    allocations::validate_quantity(
        request.usage_allocations.as_deref(),
        quantity,
        "usageAllocations",
    )?;
    let fingerprint = json!({
        "ProductCode": product_code, "Timestamp": timestamp.sent, "UsageDimension": dimension,
        "UsageQuantity": quantity.micros, "Decimal": quantity.decimal, "DryRun": request.dry_run.unwrap_or(false),
        "UsageAllocations": request.usage_allocations,
    })
    .to_string();

    let now = emulator.clock().now_at();
    let mut world = emulator.world();

    if let Some(token) = &request.client_token
        && let Some(used) = world.metering.client_tokens.get(token)
    {
        if used.fingerprint == fingerprint {
            return Ok(json!({ "MeteringRecordId": used.metering_record_id }));
        }
        return Err(ApiError::with_status(
            http::StatusCode::CONFLICT,
            "IdempotencyConflictException",
            "The ClientToken was already used with different request parameters",
        ));
    }
    let product = world
        .market
        .product(&product_code)
        .cloned()
        .ok_or_else(|| super::invalid_product(&product_code))?;
    if !matches!(product.dimension(&dimension), Some(d) if d.kind == DimensionKind::Metered) {
        return Err(super::invalid_dimension(&dimension, &product_code));
    }
    check_window(emulator, timestamp, now)?;
    let known = access_key_id.and_then(|key| world.sts.known_account(key, now));
    let subscription = match known {
        Some(account) => world
            .market
            .subscription(&product_code, &account)
            .filter(|s| s.accepts_metering(now)),
        None => world.market.active_subscribers(&product_code, now).next(),
    }
    .cloned()
    .ok_or_else(|| {
        ApiError::client(
            "CustomerNotEntitledException",
            format!("The customer is not subscribed to product {product_code}"),
        )
    })?;
    if request.dry_run == Some(true) {
        return Err(ApiError::client(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }

    let hour = timestamp.at.floor_hour();
    let key = MeteringState::key(
        &product_code,
        None,
        &subscription.aws_account_id,
        &dimension,
        hour,
    );
    let id = match world.metering.ledger.get(&key) {
        Some(existing) if existing.micros() == quantity.micros => {
            existing.metering_record_id.clone()
        }
        Some(_) => {
            return Err(ApiError::client(
                "DuplicateRequestException",
                format!(
                    "Usage for dimension {dimension} in this hour was already metered with a different quantity"
                ),
            ));
        }
        None => {
            let id = super::new_record_id();
            world.metering.ledger.insert(
                key,
                LedgerEntry {
                    metering_record_id: id.clone(),
                    source: "MeterUsage".to_owned(),
                    product_code: product_code.clone(),
                    license_arn: None,
                    customer_aws_account_id: subscription.aws_account_id.clone(),
                    customer_identifier: subscription.customer_identifier.clone(),
                    dimension,
                    hour: hour.seconds(),
                    timestamp: timestamp.at.seconds(),
                    quantity: quantity.micros / quantity::MICROS,
                    quantity_micros: Some(quantity.micros),
                    allocations: request.usage_allocations.unwrap_or_default(),
                    recorded_at: now.seconds(),
                },
            );
            id
        }
    };
    if let Some(token) = request.client_token {
        world.metering.client_tokens.insert(
            token,
            ClientTokenUse {
                fingerprint,
                metering_record_id: id.clone(),
            },
        );
    }
    Ok(json!({ "MeteringRecordId": id }))
}
