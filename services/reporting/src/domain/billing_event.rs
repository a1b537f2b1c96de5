//! A row of the `billing_event` feed, typed: what the revenue and disbursement reports add up
//! (docs/aws/data-feeds.md, billing_event). Amounts are integer micros of `currency`.

use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::feed::Feed;
use super::parse::{micros, timestamp};
use super::row::{FeedRow, History};

/// What happened to the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillingAction {
    /// The buyer was invoiced.
    Invoiced,
    /// An invoice was forgiven (AWS recovered it or wrote it off).
    Forgiven,
    /// Money was paid out to the seller.
    Disbursed,
}

impl BillingAction {
    /// As the feed spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoiced => "INVOICED",
            Self::Forgiven => "FORGIVEN",
            Self::Disbursed => "DISBURSED",
        }
    }

    /// The action spelled `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Invoiced, Self::Forgiven, Self::Disbursed]
            .into_iter()
            .find(|a| a.as_str() == raw)
    }
}

/// One billing event (the current version of its row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEvent {
    /// AWS's id (40 characters).
    pub billing_event_id: String,
    /// Its history columns.
    pub history: History,
    /// What happened.
    pub action: BillingAction,
    /// `SELLER_REV_SHARE`, `AWS_REV_SHARE`, `SELLER_REV_SHARE_REFUND`, `DISBURSEMENT`, ...
    pub transaction_type: String,
    /// Signed amount in micros of `currency`.
    pub amount_micros: i64,
    /// ISO 4217 currency of `amount_micros`.
    pub currency: String,
    /// Whether the row changes the seller's balance.
    pub balance_impacting: bool,
    /// Account (the `account` feed's `account_id`) the money moves from.
    pub from_account_id: String,
    /// Account the money moves to.
    pub to_account_id: String,
    /// Account of the buyer using the product.
    pub end_user_account_id: String,
    /// Product (`prod-...`), empty for disbursements.
    pub product_id: String,
    /// Invoice, empty for disbursements.
    pub invoice_id: String,
    /// When the buyer was invoiced (for a disbursement: when it was paid).
    pub invoice_date: Option<OffsetDateTime>,
    /// When payment is due.
    pub payment_due_date: Option<OffsetDateTime>,
    /// First day of the usage the row charges, if any.
    pub usage_period_start: Option<Date>,
    /// Last day of that usage.
    pub usage_period_end: Option<Date>,
    /// The invoiced row a refund or disbursement row refers to.
    pub parent_billing_event_id: Option<String>,
    /// The DISBURSEMENT row that paid this one.
    pub disbursement_billing_event_id: Option<String>,
    /// Links the rows of one transaction.
    pub transaction_reference_id: String,
    /// Bank trace of a disbursement.
    pub bank_trace_id: String,
    /// The AWS entity that billed the buyer (`AWS_INC`, `AWS_EUROPE`, ...).
    pub broker_id: String,
    /// The agreement charged, when the feed says it (newer feed versions).
    pub agreement_id: Option<String>,
    /// The offer of that agreement, when the feed says it.
    pub offer_id: Option<String>,
    /// The metered quantity a usage charge bills, in millionths of a unit, when the feed says
    /// it (`usage_quantity`, a column the emulator adds).
    pub usage_quantity_micros: Option<i64>,
    /// The dimension of that quantity (`usage_dimension`, a column the emulator adds).
    pub usage_dimension: Option<String>,
}

impl BillingEvent {
    /// The billing event of `row`, a row of the `billing_event` feed. `Err` names the column and
    /// quotes the value that does not read, e.g. `action "REFUNDED" is not INVOICED, FORGIVEN or
    /// DISBURSED`. The `agreement_id`, `offer_id`, `usage_quantity` and `usage_dimension` columns
    /// are optional.
    pub fn from_row(row: &FeedRow) -> Result<Self, String> {
        if row.feed != Feed::BillingEvent {
            return Err(format!(
                "a row of the {} feed is not a billing_event row",
                row.feed.name()
            ));
        }
        let action_raw = required(row, "action")?;
        let action = BillingAction::parse(action_raw).ok_or_else(|| {
            format!("action {action_raw:?} is not INVOICED, FORGIVEN or DISBURSED")
        })?;
        let amount_micros = micros(required(row, "amount")?).map_err(|e| format!("amount {e}"))?;
        let currency = required(row, "currency")?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "currency {currency:?} is not an ISO 4217 code (3 uppercase letters)"
            ));
        }
        let balance_impacting = match required(row, "balance_impacting")? {
            "1" => true,
            "0" => false,
            other if other.eq_ignore_ascii_case("true") => true,
            other if other.eq_ignore_ascii_case("false") => false,
            other => {
                return Err(format!(
                    "balance_impacting {other:?} is not 0, 1, true or false"
                ));
            }
        };
        let usage_quantity_micros = optional(row, "usage_quantity")
            .map(|raw| micros(&raw).map_err(|e| format!("usage_quantity {e}")))
            .transpose()?;
        let usage_period_start = date(row, "usage_period_start_date")?;
        let usage_period_end = date(row, "usage_period_end_date")?;
        if let (Some(start), Some(end)) = (usage_period_start, usage_period_end)
            && end < start
        {
            return Err(format!(
                "usage_period_end_date {end} is before usage_period_start_date {start}"
            ));
        }
        Ok(Self {
            billing_event_id: required(row, "billing_event_id")?.to_owned(),
            history: row.history.clone(),
            action,
            transaction_type: required(row, "transaction_type")?.to_owned(),
            amount_micros,
            currency: currency.to_owned(),
            balance_impacting,
            from_account_id: row.get("from_account_id").to_owned(),
            to_account_id: row.get("to_account_id").to_owned(),
            end_user_account_id: row.get("end_user_account_id").to_owned(),
            product_id: row.get("product_id").to_owned(),
            invoice_id: row.get("invoice_id").to_owned(),
            invoice_date: instant(row, "invoice_date")?,
            payment_due_date: instant(row, "payment_due_date")?,
            usage_period_start,
            usage_period_end,
            parent_billing_event_id: optional(row, "parent_billing_event_id"),
            disbursement_billing_event_id: optional(row, "disbursement_billing_event_id"),
            transaction_reference_id: row.get("transaction_reference_id").to_owned(),
            bank_trace_id: row.get("bank_trace_id").to_owned(),
            broker_id: row.get("broker_id").to_owned(),
            agreement_id: optional(row, "agreement_id"),
            offer_id: optional(row, "offer_id"),
            usage_quantity_micros,
            usage_dimension: optional(row, "usage_dimension"),
        })
    }
}

/// Column `name`, trimmed; `Err` when it is blank or missing.
fn required<'r>(row: &'r FeedRow, name: &str) -> Result<&'r str, String> {
    let value = row.get(name).trim();
    if value.is_empty() {
        Err(format!("{name} is blank"))
    } else {
        Ok(value)
    }
}

/// Column `name`, `None` when it is blank or missing.
fn optional(row: &FeedRow, name: &str) -> Option<String> {
    let value = row.get(name).trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Column `name` as a timestamp, `None` when blank.
fn instant(row: &FeedRow, name: &str) -> Result<Option<OffsetDateTime>, String> {
    timestamp(row.get(name)).map_err(|e| format!("{name} {e}"))
}

/// Column `name` as a date: `YYYY-MM-DD` or the UTC date of a timestamp; `None` when blank.
fn date(row: &FeedRow, name: &str) -> Result<Option<Date>, String> {
    let raw = row.get(name);
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(day) = Date::parse(value, format_description!("[year]-[month]-[day]")) {
        return Ok(Some(day));
    }
    match timestamp(value) {
        Ok(at) => Ok(at.map(OffsetDateTime::date)),
        Err(_) => Err(format!(
            "{name} {raw:?} is not a date (YYYY-MM-DD) or an ISO-8601 UTC timestamp"
        )),
    }
}

#[cfg(test)]
#[path = "billing_event_tests.rs"]
mod tests;
