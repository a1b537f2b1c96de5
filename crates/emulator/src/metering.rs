//! Marketplace Metering Service (awsJson1_1, `X-Amz-Target: AWSMPMeteringService.<Op>`):
//! ResolveCustomer, BatchMeterUsage, MeterUsage, RegisterUsage, and the metering ledger.
//!
//! Rules (docs/aws/metering.md, rules Souk relies on): ≤ 25 records, `""` is absent,
//! `CustomerIdentifier` xor `CustomerAWSAccountId`, `ProductCode` or per-record `LicenseArn`,
//! quantity 0..=2^31-1, ≤ 5 tags, allocations summing to the quantity with distinct tag sets,
//! the metering window (default 6 h; future timestamps rejected; one bad timestamp rejects the
//! batch), first write wins per product/licence/customer/dimension/hour, `CustomerNotSubscribed`
//! for unknown, unsubscribed or ended subscriptions, `UnprocessedRecords` under injected
//! `unprocessed` faults.
//!
//! Constraint violations the service front end catches before the operation runs (missing
//! required members, lengths, ranges, patterns) are `ValidationException` (400); bodies that are
//! not JSON or have wrong member types are `SerializationException` (400).

mod allocations;
mod batch;
pub mod ledger;
mod meter_usage;
pub mod quantity;
mod register;
mod resolve;

use axum::response::Response;

use crate::Emulator;
use crate::at::At;
use crate::wire::json::{CONTENT_TYPE_1_1, ok_response};
use crate::wire::{ApiError, Protocol};

pub use ledger::{Allocation, ClientTokenUse, LedgerEntry, MeteringState, Tag};

/// The awsJson target prefix of the service.
pub const TARGET_PREFIX: &str = "AWSMPMeteringService";

/// Handles one metering operation. `access_key_id` and `region` come from the SigV4
/// `Authorization` header: the key identifies the buyer for MeterUsage/RegisterUsage, the region
/// is checked against disabled regions and, for MeterUsage/RegisterUsage, against the region the
/// buyer's resources run in ([`crate::EmulatorConfig::region`]).
pub fn handle(
    emulator: &Emulator,
    operation: &str,
    body: &[u8],
    access_key_id: Option<&str>,
    region: Option<&str>,
) -> Response {
    let result = check_region(emulator, operation, region).and_then(|()| match operation {
        "BatchMeterUsage" => batch::batch_meter_usage(emulator, body),
        "MeterUsage" => meter_usage::meter_usage(emulator, body, access_key_id),
        "RegisterUsage" => register::register_usage(emulator, body, access_key_id),
        "ResolveCustomer" => resolve::resolve_customer(emulator, body),
        other => Err(ApiError::unknown_operation(other)),
    });
    match result {
        Ok(value) => ok_response(&value, CONTENT_TYPE_1_1),
        Err(err) => err.into_response(Protocol::AwsJson1_1),
    }
}

fn check_region(
    emulator: &Emulator,
    operation: &str,
    region: Option<&str>,
) -> Result<(), ApiError> {
    let Some(region) = region else { return Ok(()) };
    let disabled = emulator.world().faults.disabled_regions.contains(region);
    let home = emulator.config().region.as_str();
    match operation {
        "MeterUsage" if region != home => Err(ApiError::client(
            "InvalidEndpointRegionException",
            format!(
                "MeterUsage must be called in {home}, the region the resource runs in, not {region}"
            ),
        )),
        "RegisterUsage" if region != home => Err(ApiError::client(
            "InvalidRegionException",
            format!(
                "RegisterUsage must be called in {home}, the region the task runs in, not {region}"
            ),
        )),
        "BatchMeterUsage" | "RegisterUsage" | "ResolveCustomer" if disabled => {
            Err(ApiError::client(
                "DisabledApiException",
                format!("The API is not available in {region}"),
            ))
        }
        _ => Ok(()),
    }
}

/// A fresh `MeteringRecordId` (a UUID v4 from the thread-local RNG: no syscall per record).
pub(crate) fn new_record_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// A usage record's `Timestamp`: the number sent (echoed in errors and in MeterUsage
/// idempotency fingerprints, so it stays as sent) and the instant it names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timestamp {
    pub(crate) sent: f64,
    pub(crate) at: At,
}

/// The epoch seconds of a JSON timestamp (a finite number, fractions allowed).
pub(crate) fn timestamp(value: &serde_json::Value) -> Option<Timestamp> {
    let sent = value.as_f64()?;
    let at = At::from_seconds_f64(sent)?;
    Some(Timestamp { sent, at })
}

/// Checks the metering window: not `window` or more in the past, not in the future.
pub(crate) fn check_window(
    emulator: &Emulator,
    timestamp: Timestamp,
    now: At,
) -> Result<(), ApiError> {
    let window = emulator.config().metering_window;
    let too_old = time::Duration::try_from(window).is_ok_and(|w| now - timestamp.at >= w);
    if too_old || timestamp.at > now + time::Duration::SECOND {
        return Err(ApiError::client(
            "TimestampOutOfBoundsException",
            format!(
                "Timestamp {} is out of bounds: usage must be reported within {} hours of the event and not in the future",
                timestamp.sent,
                window.as_secs_f64() / 3600.0
            ),
        ));
    }
    Ok(())
}

pub(crate) fn required<T>(value: Option<T>, member: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

pub(crate) fn check_quantity(value: i64, member: &str) -> Result<(), ApiError> {
    if !(0..=i64::from(i32::MAX)).contains(&value) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value between 0 and 2147483647"
        )));
    }
    Ok(())
}

pub(crate) fn invalid_product(code: &str) -> ApiError {
    ApiError::client(
        "InvalidProductCodeException",
        format!("Product code {code} is invalid"),
    )
}

pub(crate) fn invalid_dimension(dimension: &str, product_code: &str) -> ApiError {
    ApiError::client(
        "InvalidUsageDimensionException",
        format!("Dimension {dimension} is not a metered dimension of product {product_code}"),
    )
}
