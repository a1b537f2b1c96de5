//! What the reporting domain needs from the outside: the integration's data feed bucket (read
//! as the integration's AWS role), its seller account, and the store. The clock is
//! `souk_core::Clock`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use souk_core::Id;
use time::OffsetDateTime;

use super::billing_event::{BillingAction, BillingEvent};
use super::disbursement::{Outstanding, Payout};
use super::error::Error;
use super::feed::Feed;
use super::ingest::IngestReport;
use super::row::{FeedRow, RejectedRow};

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
    /// [`RevenueLine`]'s columns.
    async fn revenue_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
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
    /// Per invoice and currency, the seller's balance-impacting `INVOICED` and `FORGIVEN` rows
    /// that no `DISBURSED` row settles yet, summed, oldest invoice first (ages left at 0).
    async fn outstanding(
        &self,
        acting: &Acting,
        seller: &[String],
    ) -> Result<Vec<Outstanding>, Error>;
    /// When the newest billing event of the integration was written, if any.
    async fn freshness(&self, acting: &Acting) -> Result<Option<OffsetDateTime>, Error>;
}
