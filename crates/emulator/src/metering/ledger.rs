//! The metering ledger (data only; `World.metering`): what AWS bills per product, licence,
//! customer, dimension and hour, and the MeterUsage client tokens.

use serde::{Deserialize, Serialize};

use crate::at::At;
use crate::tracked::TrackedMap;

/// Millionths per unit: quantities are held exactly in millionths.
pub const MICROS: i64 = 1_000_000;

/// One billed usage record: what AWS will bill for a customer, dimension and hour.
///
/// Its times stay whole epoch seconds rather than [`At`]: the struct is public and built
/// field by field by callers (a test planting ledger entries), and the seconds are what the
/// ledger key, the state file and the control API show. Rules read them through
/// [`LedgerEntry::hour_start`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The id returned to the caller.
    pub metering_record_id: String,
    /// Operation that recorded it (`BatchMeterUsage` or `MeterUsage`).
    pub source: String,
    /// The product code.
    pub product_code: String,
    /// Licence ARN (concurrent-agreement products, or when the record carried one).
    pub license_arn: Option<String>,
    /// The buyer account.
    pub customer_aws_account_id: String,
    /// The buyer's legacy identifier.
    pub customer_identifier: String,
    /// The dimension.
    pub dimension: String,
    /// Start of the hour (epoch seconds).
    pub hour: i64,
    /// The record's own timestamp (whole epoch seconds, like every other time the control API
    /// shows; state files written when this was a float still load).
    #[serde(deserialize_with = "whole_seconds")]
    pub timestamp: i64,
    /// Quantity billed, in whole units (rounded down when sent as a decimal).
    pub quantity: i64,
    /// The exact quantity in millionths of a unit (absent from state files written before
    /// decimal quantities: then `quantity` units); see [`LedgerEntry::micros`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_micros: Option<i64>,
    /// Usage allocations as submitted.
    pub allocations: Vec<Allocation>,
    /// Emulator time of recording (epoch seconds).
    pub recorded_at: i64,
}

impl LedgerEntry {
    /// The start of the hour billed.
    pub fn hour_start(&self) -> At {
        At::from_seconds(self.hour)
    }

    /// The exact quantity in millionths of a unit.
    pub fn micros(&self) -> i64 {
        self.quantity_micros
            .unwrap_or_else(|| self.quantity.saturating_mul(MICROS))
    }
}

/// Epoch seconds from an integer or (older state files) a float, rounded down.
fn whole_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if !value.is_finite() {
        return Err(serde::de::Error::custom("timestamp must be finite"));
    }
    Ok(value.floor() as i64)
}

/// A remembered MeterUsage `ClientToken`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTokenUse {
    /// Canonical JSON of the request without its token.
    pub fingerprint: String,
    /// The id returned.
    pub metering_record_id: String,
}

/// State of the metering emulation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MeteringState {
    /// The ledger, keyed by `product|licence|account|dimension|hour`.
    pub ledger: TrackedMap<LedgerEntry>,
    /// MeterUsage client tokens.
    pub client_tokens: TrackedMap<ClientTokenUse>,
}

impl MeteringState {
    /// The ledger key of one customer/dimension/hour.
    pub fn key(
        product_code: &str,
        license_arn: Option<&str>,
        account: &str,
        dimension: &str,
        hour: At,
    ) -> String {
        format!(
            "{product_code}|{}|{account}|{dimension}|{}",
            license_arn.unwrap_or("-"),
            hour.seconds()
        )
    }
}

/// A tag on an allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tag {
    /// `Key` (1..100 characters).
    #[serde(rename = "Key")]
    pub key: Option<String>,
    /// `Value` (1..256 characters).
    #[serde(rename = "Value")]
    pub value: Option<String>,
}

/// One `UsageAllocation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// `AllocatedUsageQuantity` (required, 0..=2^31-1).
    #[serde(
        rename = "AllocatedUsageQuantity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allocated_usage_quantity: Option<i64>,
    /// `AllocatedUsageQuantityAsDecimal`: the same as a decimal string (records whose quantity
    /// is a decimal allocate in decimals).
    #[serde(
        rename = "AllocatedUsageQuantityAsDecimal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allocated_usage_quantity_as_decimal: Option<String>,
    /// `Tags` (1..5).
    #[serde(rename = "Tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}
