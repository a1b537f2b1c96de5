//! The feeds' state: settings, refunds and disbursements (data only; `World.feeds`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::at::At;

/// Feed settings (control API `PUT /_souk/feeds/settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedSettings {
    /// Where feeds are written; a per-emulator directory under the system temp dir when unset.
    pub output_dir: Option<PathBuf>,
    /// The bucket name the S3 endpoints serve the feeds under.
    pub bucket: String,
    /// Listing fee in basis points (300 = 3 %).
    pub listing_fee_bps: u32,
    /// `monthly` (AWS: usage invoiced on the 1st of the next month) or `hourly`.
    pub usage_invoicing: String,
    /// Fallback usage prices, `"<product code>/<dimension>" → "0.10"`, for usage without an
    /// agreement rate card.
    pub usage_prices: BTreeMap<String, String>,
    /// The AWS account that receives the listing fee.
    pub aws_account_id: String,
    /// `broker_id` of every billing event.
    pub broker_id: String,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            output_dir: None,
            bucket: "souk-seller-data-feeds".to_owned(),
            listing_fee_bps: 300,
            usage_invoicing: "monthly".to_owned(),
            usage_prices: BTreeMap::new(),
            aws_account_id: "287250355862".to_owned(),
            broker_id: "AWS_INC".to_owned(),
        }
    }
}

/// Feed settings, refunds and disbursements.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedsState {
    /// Settings.
    pub settings: FeedSettings,
    /// Refunds issued.
    pub refunds: Vec<Refund>,
    /// Disbursements paid.
    pub disbursements: Vec<Disbursement>,
    /// The default output directory of this emulator (chosen on first use).
    pub default_dir: Option<PathBuf>,
}

/// A refund issued through the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Refund (credit memo) id.
    pub id: String,
    /// The refunded invoice.
    pub invoice_id: String,
    /// Refunded amount in micros (positive).
    pub amount_micros: i64,
    /// When it was issued (emulator clock).
    #[serde(with = "crate::at::offset_datetime")]
    pub at: At,
}

/// A disbursement issued through the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disbursement {
    /// Disbursement id.
    pub id: String,
    /// When it was paid (emulator clock).
    #[serde(with = "crate::at::offset_datetime")]
    pub at: At,
    /// Currency.
    pub currency: String,
    /// Net amount paid, micros.
    pub amount_micros: i64,
    /// The billing events it settles.
    pub event_ids: Vec<String>,
}
