//! BatchMeterUsage (SaaS): up to 25 records, request-level validation rejects the whole batch,
//! then per-record results (Success / CustomerNotSubscribed / DuplicateRecord) or
//! `UnprocessedRecords` under injected faults.

use serde::Deserialize;
use serde_json::{Value, json};

use super::allocations;
use super::ledger::Allocation;
use super::quantity::{self, Quantity};
use super::{LedgerEntry, MeteringState, Timestamp, check_window, required};
use crate::Emulator;
use crate::at::At;
use crate::market::{MarketState, Product, Subscription};
use crate::wire::ApiError;
use crate::wire::json::parse_body;

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "ProductCode")]
    product_code: Option<String>,
    #[serde(rename = "UsageRecords")]
    usage_records: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "Timestamp")]
    timestamp: Option<Value>,
    #[serde(rename = "CustomerIdentifier")]
    customer_identifier: Option<String>,
    #[serde(rename = "CustomerAWSAccountId")]
    customer_aws_account_id: Option<String>,
    #[serde(rename = "LicenseArn")]
    license_arn: Option<String>,
    #[serde(rename = "Dimension")]
    dimension: Option<String>,
    #[serde(rename = "Quantity")]
    quantity: Option<i64>,
    #[serde(rename = "QuantityAsDecimal")]
    quantity_as_decimal: Option<String>,
    #[serde(rename = "UsageAllocations")]
    usage_allocations: Option<Vec<Allocation>>,
}

/// A record after validation.
struct Checked {
    raw: Value,
    timestamp: Timestamp,
    customer: Customer,
    license_arn: Option<String>,
    dimension: String,
    quantity: Quantity,
    allocations: Vec<Allocation>,
}

enum Customer {
    Identifier(String),
    Account(String),
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn invalid_license(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidLicenseException", message)
}

pub(super) fn batch_meter_usage(emulator: &Emulator, body: &[u8]) -> Result<Value, ApiError> {
    let request: Request = parse_body(body)?;
    let raw_records = required(request.usage_records, "usageRecords")?;
    if raw_records.len() > 25 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'usageRecords' failed to satisfy constraint: Member must have length less than or equal to 25 (got {})",
            raw_records.len()
        )));
    }
    let mut records = Vec::with_capacity(raw_records.len());
    for (index, raw) in raw_records.into_iter().enumerate() {
        records.push(parse_record(raw, index + 1)?);
    }

    let now = emulator.clock().now_at();
    let mut world = emulator.world();

    let product = resolve_product(&world.market, non_empty(request.product_code), &records)?;
    for record in &records {
        check_record(&world.market, &product, record)?;
    }
    for record in &records {
        check_window(emulator, record.timestamp, now)?;
    }

    let mut results = Vec::new();
    let mut unprocessed = Vec::new();
    for record in records {
        if !world.faults.rules.is_empty() && world.faults.record_unprocessed("BatchMeterUsage") {
            unprocessed.push(record.raw);
            continue;
        }
        let subscription = find_subscription(&world.market, &product, &record).cloned();
        let (status, id) = match subscription {
            Some(s)
                if s.accepts_metering(now)
                    && record.timestamp.at >= s.subscribed_at.floor_hour() =>
            {
                record_usage(&mut world.metering, &product, &s, &record, now)
            }
            _ => ("CustomerNotSubscribed", None),
        };
        let mut result = json!({ "UsageRecord": record.raw, "Status": status });
        if let Some(id) = id {
            result["MeteringRecordId"] = json!(id);
        }
        results.push(result);
    }
    Ok(json!({ "Results": results, "UnprocessedRecords": unprocessed }))
}

fn parse_record(raw: Value, position: usize) -> Result<Checked, ApiError> {
    let member = format!("usageRecords.{position}.member");
    let record = Record::deserialize(&raw)
        .map_err(|err| ApiError::serialization(format!("could not parse {member}: {err}")))?;
    let timestamp_value = required(record.timestamp, &format!("{member}.timestamp"))?;
    let timestamp = super::timestamp(&timestamp_value).ok_or_else(|| {
        ApiError::serialization(format!("{member}.timestamp must be epoch seconds"))
    })?;
    let dimension = required(record.dimension, &format!("{member}.dimension"))?;
    if dimension.is_empty() || dimension.chars().count() > 255 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{dimension}' at '{member}.dimension' failed to satisfy constraint: Member must have length between 1 and 255"
        )));
    }
    let quantity = quantity::resolve(
        record.quantity,
        record.quantity_as_decimal.as_deref(),
        &format!("{member}.quantity"),
        &format!("{member}.quantityAsDecimal"),
    )?;
    let customer = match (
        non_empty(record.customer_identifier),
        non_empty(record.customer_aws_account_id),
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::client(
                "InvalidCustomerIdentifierException",
                "CustomerIdentifier and CustomerAWSAccountId are mutually exclusive: use one or the other",
            ));
        }
        (None, None) => {
            return Err(ApiError::client(
                "InvalidCustomerIdentifierException",
                "Each usage record needs a CustomerIdentifier or a CustomerAWSAccountId",
            ));
        }
        (Some(identifier), None) => Customer::Identifier(identifier),
        (None, Some(account)) => {
            if account.len() > 255 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{account}' at '{member}.customerAWSAccountId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9]+$"
                )));
            }
            Customer::Account(account)
        }
    };
    let allocations = record.usage_allocations;
    allocations::validate_quantity(
        allocations.as_deref(),
        quantity,
        &format!("{member}.usageAllocations"),
    )?;
    Ok(Checked {
        raw,
        timestamp,
        customer,
        license_arn: non_empty(record.license_arn),
        dimension,
        quantity,
        allocations: allocations.unwrap_or_default(),
    })
}

/// The one product of the call: `ProductCode`, or the product of the records' licences.
fn resolve_product(
    market: &MarketState,
    product_code: Option<String>,
    records: &[Checked],
) -> Result<Product, ApiError> {
    if let Some(code) = product_code {
        return market
            .product(&code)
            .cloned()
            .ok_or_else(|| super::invalid_product(&code));
    }
    let mut product: Option<Product> = None;
    for record in records {
        let Some(arn) = record.license_arn.as_deref() else {
            return Err(ApiError::client(
                "InvalidProductCodeException",
                "ProductCode is required when a usage record has no LicenseArn",
            ));
        };
        let subscription = market
            .subscription_by_license(arn)
            .ok_or_else(|| invalid_license(format!("License {arn} is not valid")))?;
        match &product {
            Some(p) if p.product_code != subscription.product_code => {
                return Err(invalid_license(
                    "All usage records of one call must belong to the same product",
                ));
            }
            Some(_) => {}
            None => product = market.product(&subscription.product_code).cloned(),
        }
    }
    product
        .ok_or_else(|| ApiError::client("InvalidProductCodeException", "ProductCode is required"))
}

fn check_record(market: &MarketState, product: &Product, record: &Checked) -> Result<(), ApiError> {
    match product.dimension(&record.dimension) {
        Some(d) if d.kind == crate::market::DimensionKind::Metered => {}
        _ => {
            return Err(super::invalid_dimension(
                &record.dimension,
                &product.product_code,
            ));
        }
    }
    let Some(arn) = record.license_arn.as_deref() else {
        return Ok(());
    };
    let subscription = market
        .subscription_by_license(arn)
        .ok_or_else(|| invalid_license(format!("License {arn} is not valid")))?;
    let customer_matches = match &record.customer {
        Customer::Account(account) => &subscription.aws_account_id == account,
        Customer::Identifier(identifier) => &subscription.customer_identifier == identifier,
    };
    if subscription.product_code != product.product_code || !customer_matches {
        return Err(invalid_license(format!(
            "License {arn} does not match the customer and product of the usage record"
        )));
    }
    if record.timestamp.at < subscription.subscribed_at.floor_hour() {
        return Err(invalid_license(format!(
            "Usage is outside the activation period of license {arn}"
        )));
    }
    Ok(())
}

fn find_subscription<'m>(
    market: &'m MarketState,
    product: &Product,
    record: &Checked,
) -> Option<&'m Subscription> {
    if let Some(arn) = record.license_arn.as_deref() {
        return market.subscription_by_license(arn);
    }
    let account = match &record.customer {
        Customer::Account(account) => account.clone(),
        Customer::Identifier(identifier) => market
            .customer_by_identifier(identifier)?
            .aws_account_id
            .clone(),
    };
    market.subscription(&product.product_code, &account)
}

/// First write wins per key: same quantity → the original id; different → DuplicateRecord.
fn record_usage(
    metering: &mut MeteringState,
    product: &Product,
    subscription: &Subscription,
    record: &Checked,
    now: At,
) -> (&'static str, Option<String>) {
    let hour = record.timestamp.at.floor_hour();
    let license = product
        .concurrent_agreements
        .then_some(subscription.license_arn.as_str());
    let key = MeteringState::key(
        &product.product_code,
        license,
        &subscription.aws_account_id,
        &record.dimension,
        hour,
    );
    if let Some(existing) = metering.ledger.get(&key) {
        return if existing.micros() == record.quantity.micros {
            ("Success", Some(existing.metering_record_id.clone()))
        } else {
            ("DuplicateRecord", None)
        };
    }
    let id = super::new_record_id();
    metering.ledger.insert(
        key,
        LedgerEntry {
            metering_record_id: id.clone(),
            source: "BatchMeterUsage".to_owned(),
            product_code: product.product_code.clone(),
            license_arn: license.map(str::to_owned),
            customer_aws_account_id: subscription.aws_account_id.clone(),
            customer_identifier: subscription.customer_identifier.clone(),
            dimension: record.dimension.clone(),
            hour: hour.seconds(),
            timestamp: record.timestamp.at.seconds(),
            quantity: record.quantity.micros / quantity::MICROS,
            quantity_micros: Some(record.quantity.micros),
            allocations: record.allocations.clone(),
            recorded_at: now.seconds(),
        },
    );
    ("Success", Some(id))
}
