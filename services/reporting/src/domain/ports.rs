//! What the reporting domain needs from the outside: the integration's data feed bucket (read
//! as the integration's AWS role), its seller account, and the store. The clock is
//! `souk_core::Clock`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use souk_core::Id;
use time::OffsetDateTime;

use super::billing_event::{BillingAction, BillingEvent};
use super::billing_events::{EventCursor, EventQuery, ListedEvent};
use super::disbursement::{Outstanding, Payout};
use super::error::Error;
use super::feed::Feed;
use super::ingest::IngestReport;
use super::reconciliation::{Announced, DiscrepancyKey, ReconciledUsage};
use super::revenue::Grouping;
use super::row::{FeedRow, RejectedRow};
use super::selection::Selection;

/// Who a bucket call acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    /// The organisation.
    pub organization_id: Id,
    /// The integration whose role is assumed and whose bucket is read.
    pub integration_id: Id,
}

/// One object of the bucket, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedObject {
    /// Its key (`billing_event_v1/year=2026/month=11/data.csv`).
    pub key: String,
    /// Its ETag: a new one means new content.
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: Option<OffsetDateTime>,
}

/// A failed bucket call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Throttling, a 5xx, a timeout, a transport error or a truncated object: worth another
    /// try later.
    #[error("{0}")]
    Retry(String),
    /// Refused for good: no bucket configured, no such bucket, access denied.
    #[error("{code}: {message}")]
    Refused {
        /// What went wrong, e.g. `NoSuchBucket`, `AccessDenied`, `NoDataFeedBucket`.
        code: String,
        /// The detail.
        message: String,
    },
}

/// The integration's data feed bucket.
#[async_trait]
pub trait FeedBucket: Send + Sync + 'static {
    /// Every object of the bucket (all pages).
    async fn list(&self, acting: &Acting) -> Result<Vec<FeedObject>, CallError>;
    /// The whole content of `object`; a body shorter or longer than its listed size is
    /// [`CallError::Retry`], never half a file.
    async fn get(&self, acting: &Acting, object: &FeedObject) -> Result<Vec<u8>, CallError>;
}

/// The integration's seller account, which the revenue rows are "paid to".
#[async_trait]
pub trait SellerAccounts: Send + Sync + 'static {
    /// The AWS account id of the integration's seller account (from its role); `None` when
    /// the integration has no role.
    async fn seller_account_id(&self, acting: &Acting) -> Result<Option<String>, CallError>;
}

/// A file read, to store in one transaction with the record that it was read.
#[derive(Debug, Clone, Copy)]
pub struct FileRows<'a> {
    /// The object read.
    pub object: &'a FeedObject,
    /// Its feed.
    pub feed: Feed,
    /// The rows that read (of any feed).
    pub rows: &'a [FeedRow],
    /// The rows of a `billing_event` file, typed (empty for other feeds).
    pub billing_events: &'a [BillingEvent],
    /// The rows that did not read.
    pub rejected: &'a [RejectedRow],
}

/// The summed amounts of billing events that share every column but the amount, in one month
/// (UTC, of the invoice; of the payment for disbursements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueLine {
    /// `YYYY-MM`.
    pub month: String,
    /// Product (`prod-...`), empty for disbursements.
    pub product_id: String,
    /// The buyer's account (`account` feed id).
    pub end_user_account_id: String,
    /// The offer, when the feed names it.
    pub offer_id: String,
    /// Currency of `amount_micros`.
    pub currency: String,
    /// What happened.
    pub action: BillingAction,
    /// `SELLER_REV_SHARE`, ...
    pub transaction_type: String,
    /// Whether the rows change the seller's balance.
    pub balance_impacting: bool,
    /// Account the money moves from.
    pub from_account_id: String,
    /// Account the money moves to.
    pub to_account_id: String,
    /// The sum.
    pub amount_micros: i64,
}

/// The reporting service's persistent state.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The ETag of every file of the integration already read, by key.
    async fn read_files(&self, acting: &Acting) -> Result<HashMap<String, String>, Error>;
    /// Stores `file`'s rows (a row already stored is replaced only by a newer version),
    /// parks its rejected rows and records it as read with its ETag, in one transaction: a
    /// file is read whole or not at all. How many rows were inserted or updated.
    async fn store_file(
        &self,
        acting: &Acting,
        file: FileRows<'_>,
        read_at: OffsetDateTime,
    ) -> Result<u64, Error>;
    /// Records that an ingestion read new rows (`report.ingested`).
    async fn record_ingestion(&self, acting: &Acting, report: &IngestReport) -> Result<(), Error>;
    /// The integration's current billing events in `[start, end)`, summed by
    /// [`RevenueLine`]'s columns; the month, product, buyer and offer only when `group_by`
    /// names them (empty otherwise).
    async fn revenue_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        group_by: &[Grouping],
    ) -> Result<Vec<RevenueLine>, Error>;
    /// The integration's current rows of `feed` (retired rows left out): key and columns.
    async fn current_rows(
        &self,
        acting: &Acting,
        feed: Feed,
    ) -> Result<Vec<BTreeMap<String, String>>, Error>;
    /// The DISBURSEMENT rows paid to `seller` (its `account_id`s) in `[start, end)`, oldest
    /// first, without their invoices.
    async fn payouts(
        &self,
        acting: &Acting,
        seller: &[String],
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    ) -> Result<Vec<Payout>, Error>;
    /// The invoices each disbursement settles (its `DISBURSED` rows' invoices), sorted, by the
    /// disbursement's billing event id.
    async fn settled_invoices(
        &self,
        acting: &Acting,
    ) -> Result<HashMap<String, Vec<String>>, Error>;
    /// When the newest billing event of the integration was written, if any.
    async fn freshness(&self, acting: &Acting) -> Result<Option<OffsetDateTime>, Error>;
    /// The integration's current `INVOICED` revenue rows (the types of
    /// [`PARTNER_TYPES`](super::channel_partner::PARTNER_TYPES)) invoiced in `[start, end)`,
    /// summed by [`PartnerLine`](super::channel_partner::PartnerLine)'s columns.
    async fn partner_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    ) -> Result<Vec<super::channel_partner::PartnerLine>, Error>;
    /// The usage the integration's current `INVOICED` `SELLER_REV_SHARE` rows bill (those that
    /// name a quantity and a dimension), summed per month of their usage period (`YYYY-MM`, from
    /// `first_month` to `last_month` inclusive), buyer, product, dimension and receiving account.
    async fn billed_usage(
        &self,
        acting: &Acting,
        first_month: &str,
        last_month: &str,
    ) -> Result<Vec<BilledUsage>, Error>;
    /// The `INVOICED` `SELLER_REV_SHARE` rows of `agreement_ids`, summed per invoice.
    async fn agreement_invoices(
        &self,
        acting: &Acting,
        agreement_ids: &[String],
    ) -> Result<Vec<AgreementInvoice>, Error>;
    /// When Souk last read a `billing_event` file of the integration: usage AWS accepted
    /// after that cannot be in the billing events Souk holds.
    async fn billing_read_at(&self, acting: &Acting) -> Result<Option<OffsetDateTime>, Error>;
    /// The discrepancies last announced for the integration, by key.
    async fn announced_discrepancies(
        &self,
        acting: &Acting,
    ) -> Result<HashMap<DiscrepancyKey, Announced>, Error>;
    /// Records `announce` as announced (each with its `report.discrepancy` event) and forgets
    /// `resolved`, in one transaction.
    async fn announce_discrepancies(
        &self,
        acting: &Acting,
        announce: &[ReconciledUsage],
        resolved: &[DiscrepancyKey],
    ) -> Result<(), Error>;
    /// Like [`Store::revenue_lines`], over the rows `selection` keeps. Payouts name no
    /// product, buyer, offer or agreement: each counts for the part that settles kept rows
    /// (minus its kept `DISBURSED` rows), as a `DISBURSED` `DISBURSEMENT` line of the payout's
    /// month, accounts and date (which `[start, end)` applies to).
    async fn selected_revenue_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        selection: &Selection,
        group_by: &[Grouping],
    ) -> Result<Vec<RevenueLine>, Error>;
    /// Per payout and invoice, the summed `DISBURSED` rows (other than the `DISBURSEMENT` row
    /// itself) that `selection` keeps, sorted by payout and invoice.
    async fn selected_settlements(
        &self,
        acting: &Acting,
        selection: &Selection,
    ) -> Result<Vec<Settlement>, Error>;
    /// Per invoice and currency, the seller's balance-impacting `INVOICED` and `FORGIVEN` rows
    /// that `selection` keeps and no `DISBURSED` row settles yet, summed, oldest invoice first
    /// (ages left at 0).
    async fn outstanding(
        &self,
        acting: &Acting,
        seller: &[String],
        selection: &Selection,
    ) -> Result<Vec<Outstanding>, Error>;
    /// The integration's current billing events `query` keeps, newest first (by when they
    /// count, then by id, both descending), after `after`, at most `limit`.
    async fn billing_events(
        &self,
        acting: &Acting,
        query: &EventQuery,
        after: Option<&EventCursor>,
        limit: i64,
    ) -> Result<Vec<ListedEvent>, Error>;
}

/// The `DISBURSED` rows of one payout that settle one invoice, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The payout (its `DISBURSEMENT` billing event).
    pub payout_id: String,
    /// The invoice settled (empty when the rows name none).
    pub invoice_id: String,
    /// The sum of the `DISBURSED` rows (negative for what the payout pays), micros.
    pub amount_micros: i64,
}

/// Usage billed in the `billing_event` feed for one month, buyer, product and dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BilledUsage {
    /// `YYYY-MM` of the usage period's start.
    pub month: String,
    /// The buyer (`account` feed id).
    pub end_user_account_id: String,
    /// The product (`prod-...`).
    pub product_id: String,
    /// The dimension.
    pub dimension: String,
    /// Who the rows pay (`account` feed id): only the seller's count.
    pub to_account_id: String,
    /// The quantity billed, in millionths of a unit.
    pub quantity_micros: i64,
}

/// How the metering service names a customer to AWS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MeteredCustomer {
    /// By AWS account id (concurrent-agreement products).
    Account(String),
    /// By `CustomerIdentifier` (legacy products).
    Identifier(String),
    /// Not known yet (nothing of it was shipped).
    Unknown,
}

/// Where metered usage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeteredState {
    /// AWS accepted it (it has a MeteringRecordId).
    Shipped,
    /// AWS refused it, for now (customer not subscribed) or for good.
    Rejected,
    /// Not shipped yet: open hour, sealed and waiting, or retrying.
    Pending,
}

/// Metered usage of one period, customer, product, dimension and state, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteredTotal {
    /// Index of the period in the periods asked for.
    pub period: usize,
    /// The Souk customer (`cus_...`).
    pub customer_id: String,
    /// How AWS knows the customer.
    pub aws_customer: MeteredCustomer,
    /// Product code.
    pub product_code: String,
    /// AWS dimension key.
    pub dimension: String,
    /// Where it stands.
    pub state: MeteredState,
    /// Its quantity.
    pub quantity: i64,
    /// When AWS last answered for it.
    pub last_sent_at: Option<OffsetDateTime>,
}

/// Which metered usage to sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeteredQuery {
    /// Only usage shipping through this integration.
    pub integration_id: Option<Id>,
    /// Only this customer (`cus_...`).
    pub customer_id: Option<String>,
    /// Only these product codes (empty for all).
    pub product_codes: Vec<String>,
    /// Only this dimension.
    pub dimension: Option<String>,
    /// The periods `[start, end)` to sum apart.
    pub periods: Vec<(OffsetDateTime, OffsetDateTime)>,
}

/// The usage the metering service recorded and shipped (the binary reads its store).
#[async_trait]
pub trait MeteredUsage: Send + Sync + 'static {
    /// The organisation's metered usage `query` selects, summed per period.
    async fn totals(
        &self,
        organization_id: &Id,
        query: &MeteredQuery,
    ) -> Result<Vec<MeteredTotal>, Error>;
}

/// What one invoice bills to an agreement (its `SELLER_REV_SHARE` rows, summed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementInvoice {
    /// The agreement.
    pub agreement_id: String,
    /// The invoice.
    pub invoice_id: String,
    /// When it was invoiced.
    pub invoice_at: Option<OffsetDateTime>,
    /// Currency of the amount.
    pub currency: String,
    /// The amount, micros.
    pub amount_micros: i64,
    /// Who the rows pay (`account` feed id): only the seller's count.
    pub to_account_id: String,
}

/// The payment schedule of one accepted private offer, as the offer service holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedSchedule {
    /// Souk's offer id.
    pub offer_id: String,
    /// AWS offer id.
    pub aws_offer_id: String,
    /// The agreement it became.
    pub agreement_id: String,
    /// Currency of the amounts.
    pub currency: String,
    /// Charge day and amount (micros).
    pub installments: Vec<(time::Date, i64)>,
}

/// The accepted private offers with a payment schedule (the binary reads the offer store).
#[async_trait]
pub trait OfferSchedules: Send + Sync + 'static {
    /// The integration's accepted offers with a payment schedule.
    async fn accepted(&self, acting: &Acting) -> Result<Vec<ExpectedSchedule>, Error>;
}
