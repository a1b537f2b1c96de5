//! What the domain needs from the outside world: its store, the subscribers (owned by the
//! entitlement service), the integrations' AWS roles (owned by the integration service), and
//! AWS BatchMeterUsage. The clock is `souk_core::Clock`.

use std::collections::HashMap;

use async_trait::async_trait;
use souk_core::{Id, Idempotency, Page, PageRequest};
use time::OffsetDateTime;

use super::error::Error;
use super::model::{
    Allocation, AwsCustomer, HourlyRecord, Meter, RecordKey, RecordStatus, Subscriber,
};

/// A usage event as stored: what was acknowledged, and the hour it counts towards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Souk id (`use_...`).
    pub usage_id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// The client's key.
    pub idempotency_key: String,
    /// Hash of the event's content as sent (customer reference, dimension, quantity,
    /// timestamp, allocations, attributes): the same key with other content is a conflict.
    pub content_hash: String,
    /// The resolved customer.
    pub customer_id: Id,
    /// The resolved AWS dimension key.
    pub dimension: String,
    /// Quantity.
    pub quantity: i64,
    /// When the usage happened.
    pub occurred_at: OffsetDateTime,
    /// The hour it counts towards (its own, or a later open one when its own was sealed).
    pub hour_start: OffsetDateTime,
    /// Allocations, as sent.
    pub allocations: Vec<Allocation>,
    /// For UNIQUE_COUNT meters: the value of the counted attribute.
    pub unique_value: Option<String>,
    /// When it was recorded.
    pub recorded_at: OffsetDateTime,
}

/// Which records ListUsageRecords returns (AND of the set filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Any of these customers (empty: all).
    pub customer_ids: Vec<Id>,
    /// Any of these AWS dimension keys (empty: all).
    pub dimensions: Vec<String>,
    /// Any of these statuses (empty: all).
    pub statuses: Vec<RecordStatus>,
}

/// Counts of one integration and product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The integration.
    pub integration_id: Id,
    /// Product code.
    pub product_code: String,
    /// Records per status (absent: none).
    pub by_status: HashMap<RecordStatus, i64>,
    /// Oldest hour sealed and not sent yet.
    pub oldest_unsent_hour: Option<OffsetDateTime>,
}

/// The oldest sealed hour not sent yet, over several integrations and products.
pub fn oldest_unsent(counts: &[Counts]) -> Option<OffsetDateTime> {
    counts.iter().filter_map(|c| c.oldest_unsent_hour).min()
}

/// What one sealing pass does, in one transaction that no ingestion overlaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealPlan {
    /// The instant of the pass.
    pub now: OffsetDateTime,
    /// Every open hour before this one is sealed (never moves back).
    pub sealed_before: OffsetDateTime,
    /// Cancelling customers' own horizon (organisation, customer, hours before it are sealed).
    pub customers: Vec<(Id, Id, OffsetDateTime)>,
    /// Zero records for idle hours (inserted sealed unless the hour has a record).
    pub zero_records: Vec<HourlyRecord>,
    /// Pending records of hours starting before this instant that no call ever carried
    /// (never leased, no attempt) are carried into their customer's open hour (the later of
    /// the hour of `now` and the customer's seal horizon), merged by their aggregation; they
    /// become carried with `carried_to` naming that hour's record. A merge that would exceed
    /// [`MAX_QUANTITY`](super::model::MAX_QUANTITY) is not made.
    pub carry_before: OffsetDateTime,
}

/// The answer for one record after a BatchMeterUsage call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// AWS accepted it.
    Sent {
        /// The record.
        id: Id,
        /// AWS's MeteringRecordId.
        metering_record_id: String,
    },
    /// AWS answered CustomerNotSubscribed: held until RetryRecords.
    Held {
        /// The record.
        id: Id,
        /// AWS's status.
        reason: String,
    },
    /// Refused for good (DuplicateRecord, or a named validation error of this record).
    Failed {
        /// The record.
        id: Id,
        /// AWS's per-record status, if it gave one.
        aws_status: Option<String>,
        /// AWS's reason.
        reason: String,
    },
    /// Not answered (throttling, 5xx, transport error, UnprocessedRecords): sent again later
    /// with the identical payload.
    Retry {
        /// The record.
        id: Id,
        /// Not before.
        next_attempt_at: OffsetDateTime,
        /// What happened.
        error: String,
    },
}

/// The metering service's persistent state.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every meter of every organisation.
    async fn meters(&self) -> Result<Vec<Meter>, Error>;
    /// Creates or replaces a meter (by organisation, product and dimension).
    async fn put_meter(&self, meter: &Meter) -> Result<(), Error>;
    /// Begins an ingestion write of `organization_id`. While it is open no sealing pass runs,
    /// so an event is either in its hour's record before the record is sealed, or sees the seal
    /// and goes to a later hour.
    async fn begin_ingest(&self, organization_id: &Id) -> Result<Box<dyn Ingest>, Error>;
    /// The global seal horizon: hours before it are sealed for everyone.
    async fn sealed_before(&self) -> Result<Option<OffsetDateTime>, Error>;
    /// Runs one sealing pass (sealing, zero records, carrying); returns how many records it
    /// sealed (zero records included, carried ones not).
    async fn seal(&self, plan: &SealPlan) -> Result<u64, Error>;
    /// Leases up to `limit` pending records due at `now` (hour started, next attempt due, not
    /// leased by someone else) to `owner` until `until`, oldest hour first.
    async fn lease(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<HourlyRecord>, Error>;
    /// Records the answers (only for records still pending) with their events, in one
    /// transaction, and releases the leases; returns how many records changed.
    async fn settle(&self, now: OffsetDateTime, settlements: &[Settlement]) -> Result<u64, Error>;
    /// One page of records, newest hour first.
    async fn list_records(
        &self,
        organization_id: &Id,
        filter: &RecordFilter,
        page: &PageRequest,
    ) -> Result<Page<HourlyRecord>, Error>;
    /// Counts per integration and product.
    async fn counts(&self, organization_id: Option<&Id>) -> Result<Vec<Counts>, Error>;
    /// Makes held records pending again (all held records of the organisation when `ids` is
    /// empty); with `idempotency`, a retried request returns the first answer.
    async fn retry_held(
        &self,
        organization_id: &Id,
        ids: &[Id],
        now: OffsetDateTime,
        idempotency: Option<&Idempotency>,
    ) -> Result<i64, Error>;
}

/// One ingestion write. Dropped without a commit, nothing happens.
#[async_trait]
pub trait Ingest: Send {
    /// The seal horizon of each customer (the later of the global one and the customer's own;
    /// absent: nothing sealed yet).
    async fn sealed_before(
        &mut self,
        customers: &[Id],
    ) -> Result<HashMap<Id, OffsetDateTime>, Error>;
    /// The stored events with these keys.
    async fn existing(&mut self, keys: &[&str]) -> Result<Vec<StoredEvent>, Error>;
    /// Inserts the events whose keys are new; returns the keys that were stored already (by an
    /// earlier call or a concurrent one), which are not inserted. Each event's `usage_id` is
    /// new, generated for this call: a stored event with it is one this call inserted.
    async fn insert_events(&mut self, events: &[StoredEvent]) -> Result<Vec<String>, Error>;
    /// Adds UNIQUE_COUNT values to their records' sets; for each, whether it was new.
    async fn add_unique_values(
        &mut self,
        values: &[(RecordKey, String)],
    ) -> Result<Vec<bool>, Error>;
    /// The records with these keys, locked until the commit.
    async fn lock_records(&mut self, keys: &[RecordKey]) -> Result<Vec<HourlyRecord>, Error>;
    /// Inserts or updates these records.
    async fn write_records(&mut self, records: &[HourlyRecord]) -> Result<(), Error>;
    /// Adds each delta (an hour's new contributions, folded from nothing) to its open record
    /// in the database, creating the record when there is none, without reading it back.
    /// Deltas are SUM, COUNT, MAX or UNIQUE_COUNT without allocations. Returns the keys it
    /// left alone (a record with allocations, aggregating otherwise, sealed, or that the sum
    /// would overflow): the caller folds those with `lock_records` and `write_records`.
    async fn add_to_records(&mut self, deltas: &[HourlyRecord]) -> Result<Vec<RecordKey>, Error>;
    /// Makes everything durable.
    async fn commit(self: Box<Self>) -> Result<(), Error>;
}

/// The customers usage can belong to, as the entitlement service knows them (answered from
/// memory: this is on the ingestion path).
pub trait Subscribers: Send + Sync + 'static {
    /// The customers of `organization_id` that `reference` names: a `cus_` id, the seller's
    /// linked id, or an AWS account id (one buyer may hold several products).
    fn find(&self, organization_id: &Id, reference: &str) -> Vec<Subscriber>;
    /// Every cancelling subscriber (state cancel-pending), of every organisation.
    fn cancelling(&self) -> Vec<Subscriber>;
    /// Active and cancelling subscribers of a product.
    fn of_product(&self, organization_id: &Id, product_code: &str) -> Vec<Subscriber>;
}

/// One record of a BatchMeterUsage call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// Souk's record id (to match the answer).
    pub id: Id,
    /// The record's Timestamp: the start of its hour.
    pub timestamp: OffsetDateTime,
    /// The customer as AWS names it.
    pub customer: AwsCustomer,
    /// AWS dimension key.
    pub dimension: String,
    /// Quantity.
    pub quantity: i64,
    /// UsageAllocations (empty: none).
    pub allocations: Vec<Allocation>,
}

/// One BatchMeterUsage call: 1 to 25 records of one product (legacy customers) or of one
/// product's licences (concurrent-agreement customers, sent without ProductCode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterCall {
    /// The integration whose role makes the call.
    pub integration_id: Id,
    /// Organisation of the integration.
    pub organization_id: Id,
    /// Product code; sent only for legacy customers.
    pub product_code: String,
    /// The records.
    pub records: Vec<OutgoingRecord>,
}

/// AWS's answer for one record of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordAnswer {
    /// `Success`.
    Success {
        /// The record.
        id: Id,
        /// MeteringRecordId.
        metering_record_id: String,
    },
    /// `DuplicateRecord`: AWS holds another quantity for this customer, dimension and hour.
    Duplicate {
        /// The record.
        id: Id,
    },
    /// `CustomerNotSubscribed`.
    NotSubscribed {
        /// The record.
        id: Id,
    },
    /// In UnprocessedRecords: send again.
    Unprocessed {
        /// The record.
        id: Id,
    },
}

/// Why a BatchMeterUsage call got no per-record answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// ThrottlingException: slow down and send again.
    #[error("throttled: {0}")]
    Throttled(String),
    /// A 5xx, a timeout or a broken connection: AWS may or may not have applied the call; the
    /// identical payload is sent again (AWS answers Success with the original id).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// AWS refused the whole call for something a record carries (bad dimension, tag,
    /// allocation, timestamp, customer): splitting the call finds the record.
    #[error("{code}: {message}")]
    Rejected {
        /// AWS error code.
        code: String,
        /// AWS message.
        message: String,
    },
    /// The call cannot be made for a reason no record causes (no role, access denied,
    /// disabled region): retried later.
    #[error("{0}")]
    Denied(String),
}

/// AWS Marketplace Metering, acting as an integration's role.
#[async_trait]
pub trait Marketplace: Send + Sync + 'static {
    /// One BatchMeterUsage call.
    async fn batch_meter_usage(&self, call: &MeterCall) -> Result<Vec<RecordAnswer>, CallError>;
}
