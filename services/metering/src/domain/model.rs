//! The metering vocabulary: meters, usage events, hourly records and the subscribers usage
//! belongs to.

use std::collections::BTreeMap;

use souk_core::Id;
use time::OffsetDateTime;

/// The largest quantity of one event, one allocation or one hourly record (AWS's `Integer`).
pub const MAX_QUANTITY: i64 = 2_147_483_647;

/// How a meter turns an hour's events into the hour's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregation {
    /// Sum of the quantities.
    Sum,
    /// Number of events.
    Count,
    /// Largest quantity.
    Max,
    /// Quantity of the latest event (by timestamp, then idempotency key).
    Latest,
    /// Number of distinct values of the meter's attribute.
    UniqueCount,
}

impl Aggregation {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Count => "count",
            Self::Max => "max",
            Self::Latest => "latest",
            Self::UniqueCount => "unique_count",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "sum" => Self::Sum,
            "count" => Self::Count,
            "max" => Self::Max,
            "latest" => Self::Latest,
            "unique_count" => Self::UniqueCount,
            _ => return None,
        })
    }
}

/// The meter of one product dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter {
    /// Owning organisation.
    pub organization_id: Id,
    /// Marketplace product code.
    pub product_code: String,
    /// The AWS dimension key.
    pub dimension: String,
    /// The seller's name for the dimension, accepted in place of the key.
    pub feature: Option<String>,
    /// How events become the hourly quantity.
    pub aggregation: Aggregation,
    /// For [`Aggregation::UniqueCount`]: the event attribute counted.
    pub attribute: Option<String>,
    /// Zero records for idle hours of active subscribers.
    pub zero_fill: bool,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A cost-allocation tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A part of a quantity attributed to a set of tags (sorted by key; empty: untagged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Quantity.
    pub quantity: i64,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
}

/// One measurement of usage, as the seller sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    /// Client-chosen key, unique per event in the organisation.
    pub idempotency_key: String,
    /// Customer reference: `cus_` id, linked seller id or AWS account id.
    pub customer: String,
    /// AWS dimension key or the meter's feature name.
    pub dimension: String,
    /// Quantity.
    pub quantity: i64,
    /// When the usage happened.
    pub timestamp: OffsetDateTime,
    /// Tag allocations (SUM meters only).
    pub allocations: Vec<Allocation>,
    /// Attributes (UNIQUE_COUNT counts one of them).
    pub attributes: BTreeMap<String, String>,
}

/// Whether an event was stored by this call or before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Stored now.
    Recorded,
    /// Stored before with the same content.
    Duplicate,
}

/// The acknowledgement of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAck {
    /// The event's key.
    pub idempotency_key: String,
    /// Recorded or duplicate.
    pub status: EventStatus,
    /// Souk id of the stored event (`use_...`).
    pub usage_id: Id,
    /// The hour it counts towards.
    pub hour_start: OffsetDateTime,
}

/// The state of a customer's subscription, as far as metering cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberState {
    /// Known but not confirmed by AWS: no metering yet.
    Pending,
    /// Metered.
    Active,
    /// Cancelling: usage is accepted until `deadline`, and shipped at once.
    CancelPending {
        /// Last instant AWS accepts usage.
        deadline: OffsetDateTime,
    },
    /// Ended (at that instant, when known).
    Cancelled {
        /// When it ended.
        at: Option<OffsetDateTime>,
    },
    /// AWS reported a failed subscription.
    Failed,
}

/// How AWS names the customer in a usage record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AwsCustomer {
    /// Legacy products: `ProductCode` + `CustomerIdentifier`.
    Identifier(String),
    /// Concurrent-agreement products: `CustomerAWSAccountId` + `LicenseArn` (no `ProductCode`).
    Licence {
        /// Buyer's AWS account id.
        aws_account_id: String,
        /// Licence ARN.
        license_arn: String,
    },
}

/// A customer usage can belong to, as the entitlement service knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Owning organisation.
    pub organization_id: Id,
    /// The customer (`cus_...`).
    pub customer_id: Id,
    /// Its subscription (`sub_...`).
    pub subscription_id: Id,
    /// The integration (seller account) it buys through.
    pub integration_id: Id,
    /// Product code.
    pub product_code: String,
    /// How AWS names it; `None` while AWS has not told (no usage can be shipped yet).
    pub aws_customer: Option<AwsCustomer>,
    /// Subscription state.
    pub state: SubscriberState,
    /// When the subscription became active.
    pub activated_at: Option<OffsetDateTime>,
}

/// Status of an hourly record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// The hour is open.
    Open,
    /// Sealed and frozen; to send, or being retried.
    Pending,
    /// AWS accepted it.
    Sent,
    /// AWS answered CustomerNotSubscribed.
    Held,
    /// Refused for good.
    Failed,
    /// Carried into a later hour before it was sent.
    Carried,
}

impl RecordStatus {
    /// Every status, in display order.
    pub const ALL: [Self; 6] = [
        Self::Open,
        Self::Pending,
        Self::Sent,
        Self::Held,
        Self::Failed,
        Self::Carried,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Held => "held",
            Self::Failed => "failed",
            Self::Carried => "carried",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Identity of an hourly record: one per customer, dimension and hour.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    /// Owning organisation.
    pub organization_id: Id,
    /// The customer.
    pub customer_id: Id,
    /// AWS dimension key.
    pub dimension: String,
    /// Start of the UTC hour.
    pub hour_start: OffsetDateTime,
}

/// Usage of one customer on one dimension in one UTC hour: one AWS UsageRecord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyRecord {
    /// Souk id (`hrec_...`).
    pub id: Id,
    /// Identity.
    pub key: RecordKey,
    /// The integration it ships through.
    pub integration_id: Id,
    /// Product code.
    pub product_code: String,
    /// How AWS names the customer (frozen at seal time with the quantity).
    pub aws_customer: Option<AwsCustomer>,
    /// The running aggregate.
    pub tally: Tally,
    /// Status.
    pub status: RecordStatus,
    /// AWS MeteringRecordId once sent.
    pub metering_record_id: Option<String>,
    /// AWS per-record status once answered.
    pub aws_status: Option<String>,
    /// BatchMeterUsage calls that carried it.
    pub attempts: i32,
    /// Last error.
    pub last_error: Option<String>,
    /// When it was sealed.
    pub sealed_at: Option<OffsetDateTime>,
    /// When AWS answered.
    pub sent_at: Option<OffsetDateTime>,
    /// The record it was carried into.
    pub carried_to: Option<Id>,
}

impl HourlyRecord {
    /// A new open record of `key` (a fresh id) holding `tally`: never sealed, sent or carried.
    pub fn open(
        key: RecordKey,
        integration_id: Id,
        product_code: String,
        aws_customer: Option<AwsCustomer>,
        tally: Tally,
    ) -> Self {
        Self {
            id: Id::generate("hrec"),
            key,
            integration_id,
            product_code,
            aws_customer,
            tally,
            status: RecordStatus::Open,
            metering_record_id: None,
            aws_status: None,
            attempts: 0,
            last_error: None,
            sealed_at: None,
            sent_at: None,
            carried_to: None,
        }
    }
}

/// The running aggregate of an hourly record. The quantity is what AWS is sent; the other
/// members let later events merge in whatever order they arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// How the hour aggregates.
    pub aggregation: Aggregation,
    /// The hour's quantity so far.
    pub quantity: i64,
    /// Per tag set (tags sorted by key; the empty set is the untagged part), SUM only; empty
    /// when no event carried allocations.
    pub allocations: BTreeMap<Vec<Tag>, i64>,
    /// For LATEST: the (timestamp in ms, key) of the event that set the quantity.
    pub latest: Option<(i64, String)>,
}
