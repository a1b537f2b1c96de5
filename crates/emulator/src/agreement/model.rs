//! What the Agreement emulation stores: agreements and the invoice ledger.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::at::At;

/// Agreement status as AWS spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgreementStatus {
    /// In force.
    Active,
    /// Archived.
    Archived,
    /// Cancelled by buyer or seller.
    Cancelled,
    /// Reached its end date.
    Expired,
    /// Superseded by a renewal agreement.
    Renewed,
    /// Superseded by a replacement offer's agreement.
    Replaced,
    /// Rolled back.
    RolledBack,
    /// Superseded by an amendment.
    Superseded,
    /// Terminated.
    Terminated,
}

impl AgreementStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Archived => "ARCHIVED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Renewed => "RENEWED",
            Self::Replaced => "REPLACED",
            Self::RolledBack => "ROLLED_BACK",
            Self::Superseded => "SUPERSEDED",
            Self::Terminated => "TERMINATED",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(value: &str) -> Option<Self> {
        serde_json::from_value(Value::String(value.to_owned())).ok()
    }
}

/// A dimension quantity the buyer selected (configurable upfront pricing) or was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionQuantity {
    /// The dimension key.
    pub dimension_key: String,
    /// Units bought.
    pub quantity: i64,
}

/// A purchase agreement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agreement {
    /// `agmt-` + 25 lower-case alphanumerics.
    pub id: String,
    /// `NEW`, `RENEW`, `REPLACE` or `AMEND` (the intent of the event that created it).
    pub intent: String,
    /// Status.
    pub status: AgreementStatus,
    /// The buyer.
    pub acceptor_account_id: String,
    /// The seller (ISV, or channel partner for CPPO).
    pub proposer_account_id: String,
    /// The product's manufacturer.
    pub manufacturer_account_id: String,
    /// The accepted offer.
    pub offer_id: String,
    /// The offer set, if any.
    pub offer_set_id: Option<String>,
    /// The product.
    pub product_id: String,
    /// The product code (from the catalog product).
    pub product_code: String,
    /// CPPO: the resale authorization of the offer.
    pub resale_authorization_id: Option<String>,
    /// RENEW / REPLACE: the agreement this one follows.
    pub previous_agreement_id: Option<String>,
    /// When the buyer accepted.
    #[serde(with = "crate::at::rfc3339")]
    pub acceptance_time: At,
    /// When the agreement starts.
    #[serde(with = "crate::at::rfc3339")]
    pub start_time: At,
    /// When it ends (`None`: open-ended, e.g. pay-as-you-go public offers).
    #[serde(with = "crate::at::rfc3339::option")]
    pub end_time: Option<At>,
    /// The offer's terms as accepted (DetailsDocument form, PascalCase).
    pub terms: Vec<Value>,
    /// Selected configurable-upfront duration (rate card selector), if any.
    pub selector_value: Option<String>,
    /// Dimension quantities bought (contract entitlements).
    pub quantities: Vec<DimensionQuantity>,
    /// `estimatedCharges.currencyCode`.
    pub currency_code: String,
    /// `estimatedCharges.agreementValue`, in micros.
    pub agreement_value_micros: i64,
    /// Auto-renewal enabled.
    pub auto_renew: bool,
    /// Last change.
    #[serde(with = "crate::at::rfc3339")]
    pub updated_at: At,
}

/// What an invoice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceKind {
    /// Upfront contract price charged at acceptance (FixedUpfront / ConfigurableUpfront).
    Upfront,
    /// One flexible-payment-schedule installment, charged on its ChargeDate (00:00 UTC).
    Installment,
    /// A monthly recurring payment (RecurringPaymentTerm), first month at acceptance.
    Recurring,
}

/// One invoice line the emulator bills for an accepted offer. The data-feed engineer turns
/// each into `billing_event` rows once `invoice_date <= now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// `inv-` + 16 lower-case alphanumerics.
    pub invoice_id: String,
    /// The agreement billed.
    pub agreement_id: String,
    /// The offer accepted.
    pub offer_id: String,
    /// The product.
    pub product_id: String,
    /// The product code.
    pub product_code: String,
    /// The buyer (payer) account.
    pub buyer_account_id: String,
    /// The proposer (seller of record).
    pub seller_account_id: String,
    /// The manufacturer (ISV).
    pub manufacturer_account_id: String,
    /// CPPO: the resale authorization.
    pub resale_authorization_id: Option<String>,
    /// What the line is for.
    pub kind: InvoiceKind,
    /// Dimension key, for per-dimension upfront charges.
    pub dimension_key: Option<String>,
    /// Amount in micros (1e-6 of the currency unit); negative for credits.
    pub amount_micros: i64,
    /// CPPO: the amount before the reseller's markup (the ISV's wholesale price), exact
    /// micros; what the reseller owes the ISV. `None` for direct sales (and for CPPO lines of
    /// state saved before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wholesale_micros: Option<i64>,
    /// ISO 4217 currency code.
    pub currency_code: String,
    /// When AWS issues (or will issue) the invoice.
    #[serde(with = "crate::at::rfc3339")]
    pub invoice_date: At,
    /// `NetPaymentTerm.PaymentDuePeriod`, if the offer had one.
    pub payment_due_period: Option<String>,
}

/// Agreements and invoices.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AgreementState {
    /// Agreements by id.
    pub agreements: BTreeMap<String, Agreement>,
    /// The invoice ledger, in issue order.
    pub invoices: Vec<Invoice>,
}
