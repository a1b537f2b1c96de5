//! Shipping sealed hourly records to AWS BatchMeterUsage, exactly once.
//!
//! One pass leases the due pending records, groups them by integration, product and customer
//! kind (legacy `CustomerIdentifier` or licence), sends each group in calls of at most 25 records
//! and settles every leased record, whatever happened. A payload is built only from the frozen
//! record, so a resend is identical and AWS answers `Success` with the original
//! `MeteringRecordId`: a record is billed once however often it is sent. A call that AWS rejects
//! for something a record carries is split in halves until the record is alone, and only that
//! record fails.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use souk_core::Id;
use time::OffsetDateTime;

use super::error::Error;
use super::model::{AwsCustomer, HourlyRecord};
use super::ports::{
    CallError, Marketplace, MeterCall, OutgoingRecord, RecordAnswer, Settlement, Store,
};

/// The most records one BatchMeterUsage call carries.
pub const MAX_RECORDS_PER_CALL: usize = 25;
/// The longest wait before a record is sent again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How far the jitter moves a backoff either way (a fraction of it).
pub const JITTER: f64 = 0.2;
/// Why a record whose customer AWS has not named cannot be sent.
pub const NO_AWS_CUSTOMER: &str = "AWS has not named this customer yet";

/// The randomness of the backoff (injected so tests are deterministic).
pub trait Jitter: Send + Sync + fmt::Debug + 'static {
    /// A value in `[-1, 1]`; a backoff `b` becomes `b × (1 + 0.2 × value)`.
    fn sample(&self) -> f64;
}

/// Uniform jitter from the thread's random generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn sample(&self) -> f64 {
        rand::random_range(-1.0..=1.0)
    }
}

/// The wait before the next attempt of a record that `attempts` calls have carried (this one
/// included): `min(2^attempts s, 300 s)`, moved by up to ±20 %.
pub fn backoff(attempts: i32, jitter: f64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    let base = Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF);
    base.mul_f64(1.0 + JITTER * jitter.clamp(-1.0, 1.0))
}

/// Tuning of the [`Shipper`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipOptions {
    /// Records leased per pass.
    pub batch: u32,
    /// How long a lease lasts; another process may send the records again after it (an
    /// identical payload, so nothing is billed twice).
    pub lease: Duration,
    /// Integrations served at once in one pass (calls of one integration are sequential and
    /// paced by the [`Marketplace`]).
    pub concurrency: usize,
}

impl Default for ShipOptions {
    fn default() -> Self {
        Self {
            batch: 500,
            lease: Duration::from_secs(60),
            concurrency: 8,
        }
    }
}

/// What one shipping pass did (for metrics and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipReport {
    /// Records leased.
    pub leased: u64,
    /// BatchMeterUsage calls made (bisecting included).
    pub calls: u64,
    /// Records AWS accepted.
    pub sent: u64,
    /// Records held (CustomerNotSubscribed).
    pub held: u64,
    /// Records refused for good.
    pub failed: u64,
    /// Records to send again later.
    pub retried: u64,
    /// Calls answered ThrottlingException.
    pub throttled: u64,
    /// Records the store changed (a record settled by another process meanwhile is not).
    pub settled: u64,
}

impl ShipReport {
    /// Adds the counts of `other` (another pass) to these.
    pub fn add(&mut self, other: &Self) {
        self.leased += other.leased;
        self.calls += other.calls;
        self.sent += other.sent;
        self.held += other.held;
        self.failed += other.failed;
        self.retried += other.retried;
        self.throttled += other.throttled;
        self.settled += other.settled;
    }

    fn count(&mut self, settlements: &[Settlement]) {
        for settlement in settlements {
            match settlement {
                Settlement::Sent { .. } => self.sent += 1,
                Settlement::Held { .. } => self.held += 1,
                Settlement::Failed { .. } => self.failed += 1,
                Settlement::Retry { .. } => self.retried += 1,
            }
        }
    }
}

/// Which records may share a call: one integration, one product, one kind of customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    organization_id: Id,
    integration_id: Id,
    product_code: String,
    licence: bool,
}

/// The records of one group, oldest hour first (as leased).
#[derive(Debug)]
struct Group {
    key: GroupKey,
    records: Vec<HourlyRecord>,
}

/// Sends sealed records to AWS and settles them.
#[derive(Clone)]
pub struct Shipper {
    store: Arc<dyn Store>,
    marketplace: Arc<dyn Marketplace>,
    jitter: Arc<dyn Jitter>,
    options: ShipOptions,
}

impl fmt::Debug for Shipper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shipper")
            .field("jitter", &self.jitter)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Shipper {
    /// Ships the records of `store` through `marketplace`, with random jitter.
    pub fn new(
        store: Arc<dyn Store>,
        marketplace: Arc<dyn Marketplace>,
        options: ShipOptions,
    ) -> Self {
        Self {
            store,
            marketplace,
            jitter: Arc::new(RandomJitter),
            options,
        }
    }

    /// The same with `jitter` as the source of the backoff's randomness.
    pub fn with_jitter(mut self, jitter: Arc<dyn Jitter>) -> Self {
        self.jitter = jitter;
        self
    }

    /// One pass: leases up to `batch` due records to `owner`, sends them and settles every one
    /// of them. A store failure ends the pass; the records not settled then are sent again
    /// once their lease expires.
    pub async fn ship_once(&self, owner: &str, now: OffsetDateTime) -> Result<ShipReport, Error> {
        let lease = time::Duration::try_from(self.options.lease)
            .map_err(|e| Error::Internal(format!("lease duration: {e}")))?;
        let records = self
            .store
            .lease(owner, now, now + lease, self.options.batch)
            .await?;
        let mut report = ShipReport {
            leased: records.len() as u64,
            ..ShipReport::default()
        };
        if records.is_empty() {
            return Ok(report);
        }

        let (unnamed, named): (Vec<_>, Vec<_>) =
            records.into_iter().partition(|r| r.aws_customer.is_none());
        if !unnamed.is_empty() {
            let settlements: Vec<Settlement> = unnamed
                .iter()
                .map(|r| self.retry(r, now, NO_AWS_CUSTOMER))
                .collect();
            report.count(&settlements);
            report.settled += self.store.settle(now, &settlements).await?;
        }

        let units = by_integration(group(named));
        let mut passes = futures::stream::iter(units)
            .map(|groups| self.ship_integration(groups, now))
            .buffer_unordered(self.options.concurrency.max(1));
        let mut first_error = None;
        while let Some((unit, result)) = passes.next().await {
            report.add(&unit);
            if let Err(error) = result
                && first_error.is_none()
            {
                first_error = Some(error);
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// The groups of one integration, call after call; settles after each call. Once AWS
    /// throttles the integration or refuses its role, the rest waits for the next attempt.
    async fn ship_integration(
        &self,
        groups: Vec<Group>,
        now: OffsetDateTime,
    ) -> (ShipReport, Result<(), Error>) {
        let mut report = ShipReport::default();
        let mut stopped: Option<String> = None;
        for group in groups {
            for chunk in group.records.chunks(MAX_RECORDS_PER_CALL) {
                let settlements = match &stopped {
                    Some(reason) => chunk.iter().map(|r| self.retry(r, now, reason)).collect(),
                    None => {
                        let (settlements, stop) =
                            self.ship_chunk(&group.key, chunk, now, &mut report).await;
                        stopped = stop;
                        settlements
                    }
                };
                report.count(&settlements);
                match self.store.settle(now, &settlements).await {
                    Ok(changed) => report.settled += changed,
                    Err(error) => return (report, Err(error)),
                }
            }
        }
        (report, Ok(()))
    }

    /// Sends one chunk, bisecting it while AWS rejects a part for something a record carries.
    /// Returns a settlement per record, and why the integration's other calls should wait.
    async fn ship_chunk(
        &self,
        key: &GroupKey,
        chunk: &[HourlyRecord],
        now: OffsetDateTime,
        report: &mut ShipReport,
    ) -> (Vec<Settlement>, Option<String>) {
        let mut settlements = Vec::with_capacity(chunk.len());
        let mut stopped: Option<String> = None;
        let mut parts: Vec<&[HourlyRecord]> = vec![chunk];
        while let Some(part) = parts.pop() {
            if let Some(reason) = &stopped {
                settlements.extend(part.iter().map(|r| self.retry(r, now, reason)));
                continue;
            }
            report.calls += 1;
            match self.marketplace.batch_meter_usage(&call(key, part)).await {
                Ok(answers) => settlements.extend(self.settle_answers(part, answers, now)),
                Err(CallError::Rejected { code, message }) if part.len() > 1 => {
                    tracing::debug!(%code, %message, records = part.len(), "call rejected; splitting it");
                    let (first, second) = part.split_at(part.len() / 2);
                    parts.push(second);
                    parts.push(first);
                }
                Err(CallError::Rejected { code, message }) => {
                    settlements.extend(part.iter().map(|r| Settlement::Failed {
                        id: r.id.clone(),
                        aws_status: None,
                        reason: format!("{code}: {message}"),
                    }));
                }
                Err(error) => {
                    let reason = error.to_string();
                    if matches!(error, CallError::Throttled(_)) {
                        report.throttled += 1;
                    }
                    if matches!(error, CallError::Throttled(_) | CallError::Denied(_)) {
                        stopped = Some(reason.clone());
                    }
                    settlements.extend(part.iter().map(|r| self.retry(r, now, &reason)));
                }
            }
        }
        (settlements, stopped)
    }

    /// A settlement per record of `part` from AWS's answers (a record without an answer is
    /// sent again).
    fn settle_answers(
        &self,
        part: &[HourlyRecord],
        answers: Vec<RecordAnswer>,
        now: OffsetDateTime,
    ) -> Vec<Settlement> {
        let mut by_id: HashMap<Id, RecordAnswer> = HashMap::with_capacity(answers.len());
        for answer in answers {
            let id = match &answer {
                RecordAnswer::Success { id, .. }
                | RecordAnswer::Duplicate { id }
                | RecordAnswer::NotSubscribed { id }
                | RecordAnswer::Unprocessed { id } => id.clone(),
            };
            by_id.entry(id).or_insert(answer);
        }
        part.iter()
            .map(|record| match by_id.remove(&record.id) {
                Some(RecordAnswer::Success {
                    metering_record_id, ..
                }) => Settlement::Sent {
                    id: record.id.clone(),
                    metering_record_id,
                },
                Some(RecordAnswer::Duplicate { .. }) => Settlement::Failed {
                    id: record.id.clone(),
                    aws_status: Some("DuplicateRecord".into()),
                    reason: "AWS holds another quantity for this customer, dimension and hour"
                        .into(),
                },
                Some(RecordAnswer::NotSubscribed { .. }) => Settlement::Held {
                    id: record.id.clone(),
                    reason: "CustomerNotSubscribed".into(),
                },
                Some(RecordAnswer::Unprocessed { .. }) => {
                    self.retry(record, now, "AWS left the record unprocessed")
                }
                None => self.retry(record, now, "AWS did not answer for the record"),
            })
            .collect()
    }

    fn retry(&self, record: &HourlyRecord, now: OffsetDateTime, error: &str) -> Settlement {
        let delay = backoff(record.attempts.saturating_add(1), self.jitter.sample());
        let delay = time::Duration::try_from(delay).unwrap_or(time::Duration::minutes(5));
        Settlement::Retry {
            id: record.id.clone(),
            next_attempt_at: now + delay,
            error: error.to_owned(),
        }
    }
}

fn is_licence(customer: Option<&AwsCustomer>) -> bool {
    matches!(customer, Some(AwsCustomer::Licence { .. }))
}

/// Groups records by integration, product and customer kind, keeping the lease order.
fn group(records: Vec<HourlyRecord>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    for record in records {
        let key = GroupKey {
            organization_id: record.key.organization_id.clone(),
            integration_id: record.integration_id.clone(),
            product_code: record.product_code.clone(),
            licence: is_licence(record.aws_customer.as_ref()),
        };
        let at = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(Group {
                key,
                records: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].records.push(record);
    }
    groups
}

/// The groups of each integration together (one integration's calls are sequential).
fn by_integration(groups: Vec<Group>) -> Vec<Vec<Group>> {
    let mut units: Vec<Vec<Group>> = Vec::new();
    let mut index: HashMap<Id, usize> = HashMap::new();
    for group in groups {
        match index.get(&group.key.integration_id) {
            Some(&at) => units[at].push(group),
            None => {
                index.insert(group.key.integration_id.clone(), units.len());
                units.push(vec![group]);
            }
        }
    }
    units
}

/// The BatchMeterUsage call of `records` (all with a known AWS customer).
fn call(key: &GroupKey, records: &[HourlyRecord]) -> MeterCall {
    MeterCall {
        integration_id: key.integration_id.clone(),
        organization_id: key.organization_id.clone(),
        product_code: key.product_code.clone(),
        records: records
            .iter()
            .filter_map(|r| {
                Some(OutgoingRecord {
                    id: r.id.clone(),
                    timestamp: r.key.hour_start,
                    customer: r.aws_customer.clone()?,
                    dimension: r.key.dimension.clone(),
                    quantity: r.tally.quantity,
                    allocations: r
                        .tally
                        .allocations
                        .iter()
                        .filter(|(_, quantity)| **quantity > 0)
                        .map(|(tags, quantity)| super::model::Allocation {
                            quantity: *quantity,
                            tags: tags.clone(),
                        })
                        .collect(),
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};
    use std::sync::Mutex;

    use async_trait::async_trait;
    use time::macros::datetime;

    use super::*;
    use crate::domain::fakes::FakeStore;
    use crate::domain::model::{Aggregation, RecordKey, RecordStatus, Tag, Tally};

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:30 UTC);

    type Script = Box<dyn Fn(&MeterCall) -> Result<Vec<RecordAnswer>, CallError> + Send + Sync>;

    /// Answers calls with a script and remembers them.
    struct FakeMarketplace {
        calls: Mutex<Vec<MeterCall>>,
        script: Script,
    }

    impl FakeMarketplace {
        fn new(
            script: impl Fn(&MeterCall) -> Result<Vec<RecordAnswer>, CallError> + Send + Sync + 'static,
        ) -> Arc<Self> {
            Arc::new(Self {
                calls: Mutex::new(Vec::new()),
                script: Box::new(script),
            })
        }

        fn calls(&self) -> Vec<MeterCall> {
            self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }

    #[async_trait]
    impl Marketplace for FakeMarketplace {
        async fn batch_meter_usage(
            &self,
            call: &MeterCall,
        ) -> Result<Vec<RecordAnswer>, CallError> {
            self.calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(call.clone());
            (self.script)(call)
        }
    }

    fn accept_all(call: &MeterCall) -> Result<Vec<RecordAnswer>, CallError> {
        Ok(call
            .records
            .iter()
            .map(|r| RecordAnswer::Success {
                id: r.id.clone(),
                metering_record_id: format!("mr-{}", r.id),
            })
            .collect())
    }

    #[derive(Debug)]
    struct FixedJitter(f64);

    impl Jitter for FixedJitter {
        fn sample(&self) -> f64 {
            self.0
        }
    }

    fn org() -> Id {
        Id::from_trusted("org_1".into())
    }

    fn record(
        n: usize,
        integration: &str,
        product: &str,
        customer: Option<AwsCustomer>,
    ) -> HourlyRecord {
        HourlyRecord {
            id: Id::from_trusted(format!("hrec_{n}")),
            key: RecordKey {
                organization_id: org(),
                customer_id: Id::from_trusted(format!("cus_{n}")),
                dimension: "users".into(),
                hour_start: datetime!(2026-03-01 11:00 UTC),
            },
            integration_id: Id::from_trusted(integration.into()),
            product_code: product.into(),
            aws_customer: customer,
            tally: Tally {
                aggregation: Aggregation::Sum,
                quantity: 5,
                allocations: BTreeMap::new(),
                latest: None,
            },
            status: RecordStatus::Pending,
            metering_record_id: None,
            aws_status: None,
            attempts: 0,
            last_error: None,
            sealed_at: Some(NOW),
            sent_at: None,
            carried_to: None,
        }
    }

    fn legacy(n: usize) -> Option<AwsCustomer> {
        Some(AwsCustomer::Identifier(format!("cust-{n}")))
    }

    fn licence(n: usize) -> Option<AwsCustomer> {
        Some(AwsCustomer::Licence {
            aws_account_id: format!("{:012}", n),
            license_arn: format!("arn:aws:license-manager::1:license:l-{n}"),
        })
    }

    fn shipper(store: &Arc<FakeStore>, marketplace: &Arc<FakeMarketplace>) -> Shipper {
        Shipper::new(store.clone(), marketplace.clone(), ShipOptions::default())
            .with_jitter(Arc::new(FixedJitter(0.0)))
    }

    fn store_with(records: Vec<HourlyRecord>) -> Arc<FakeStore> {
        Arc::new(FakeStore {
            due: Mutex::new(records),
            ..FakeStore::default()
        })
    }

    fn settled(store: &FakeStore) -> Vec<Settlement> {
        store
            .settled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    #[tokio::test]
    async fn groups_by_integration_product_and_kind_in_calls_of_25() {
        let mut records: Vec<HourlyRecord> = (0..60)
            .map(|n| record(n, "int_a", "prod-a", legacy(n)))
            .collect();
        records.extend((60..61).map(|n| record(n, "int_a", "prod-a", licence(n))));
        records.extend((61..87).map(|n| record(n, "int_b", "prod-b", legacy(n))));
        let store = store_with(records);
        let marketplace = FakeMarketplace::new(accept_all);
        let report = shipper(&store, &marketplace)
            .ship_once("me", NOW)
            .await
            .expect("pass");

        let calls = marketplace.calls();
        let sizes = |integration: &str, licence: bool| -> Vec<usize> {
            calls
                .iter()
                .filter(|c| c.integration_id.as_str() == integration)
                .filter(|c| licence == matches!(c.records[0].customer, AwsCustomer::Licence { .. }))
                .map(|c| c.records.len())
                .collect()
        };
        assert_eq!(sizes("int_a", false), vec![25, 25, 10]);
        assert_eq!(sizes("int_a", true), vec![1]);
        assert_eq!(sizes("int_b", false), vec![25, 1]);
        for call in &calls {
            let kinds: HashSet<bool> = call
                .records
                .iter()
                .map(|r| matches!(r.customer, AwsCustomer::Licence { .. }))
                .collect();
            assert_eq!(kinds.len(), 1, "one kind of customer per call");
        }
        assert_eq!(
            report,
            ShipReport {
                leased: 87,
                calls: 6,
                sent: 87,
                settled: 87,
                ..ShipReport::default()
            }
        );
        assert_eq!(settled(&store).len(), 87);
    }

    #[tokio::test]
    async fn a_rejected_record_is_isolated_by_bisecting() {
        let records: Vec<HourlyRecord> = (0..10)
            .map(|n| {
                let mut r = record(n, "int_a", "prod-a", legacy(n));
                if n == 7 {
                    r.key.dimension = "bogus".into();
                }
                r
            })
            .collect();
        let store = store_with(records);
        let marketplace = FakeMarketplace::new(|call| {
            if call.records.iter().any(|r| r.dimension == "bogus") {
                return Err(CallError::Rejected {
                    code: "InvalidUsageDimensionException".into(),
                    message: "no such dimension".into(),
                });
            }
            accept_all(call)
        });
        let report = shipper(&store, &marketplace)
            .ship_once("me", NOW)
            .await
            .expect("pass");
        assert_eq!((report.sent, report.failed), (9, 1));
        // 10 -> 5+5 -> (2+3) -> (1+2) -> (1+1): a handful of calls, not one per record.
        assert!(report.calls <= 8, "{report:?}");
        let failed: Vec<_> = settled(&store)
            .into_iter()
            .filter_map(|s| match s {
                Settlement::Failed {
                    id,
                    reason,
                    aws_status,
                } => Some((id, reason, aws_status)),
                _ => None,
            })
            .collect();
        assert_eq!(
            failed,
            vec![(
                Id::from_trusted("hrec_7".into()),
                "InvalidUsageDimensionException: no such dimension".into(),
                None
            )]
        );
    }

    #[tokio::test]
    async fn per_record_answers_become_settlements() {
        let records: Vec<HourlyRecord> = (0..4)
            .map(|n| record(n, "int_a", "prod-a", legacy(n)))
            .collect();
        let store = store_with(records);
        let marketplace = FakeMarketplace::new(|call| {
            let id = |n: usize| call.records[n].id.clone();
            // The fourth record gets no answer at all.
            Ok(vec![
                RecordAnswer::NotSubscribed { id: id(2) },
                RecordAnswer::Success {
                    id: id(0),
                    metering_record_id: "mr-0".into(),
                },
                RecordAnswer::Duplicate { id: id(1) },
            ])
        });
        let report = shipper(&store, &marketplace)
            .ship_once("me", NOW)
            .await
            .expect("pass");
        assert_eq!(
            (report.sent, report.failed, report.held, report.retried),
            (1, 1, 1, 1)
        );
        let all = settled(&store);
        assert!(all.contains(&Settlement::Sent {
            id: Id::from_trusted("hrec_0".into()),
            metering_record_id: "mr-0".into()
        }));
        assert!(all.iter().any(|s| matches!(s,
            Settlement::Failed { id, aws_status: Some(status), .. }
                if id.as_str() == "hrec_1" && status == "DuplicateRecord")));
        assert!(all.iter().any(|s| matches!(s,
            Settlement::Held { id, reason } if id.as_str() == "hrec_2" && reason == "CustomerNotSubscribed")));
        assert!(all.iter().any(|s| matches!(s,
            Settlement::Retry { id, .. } if id.as_str() == "hrec_3")));
    }

    #[tokio::test]
    async fn unanswered_records_are_retried_with_backoff_and_always_settled() {
        let mut records: Vec<HourlyRecord> = (0..30)
            .map(|n| record(n, "int_a", "prod-a", legacy(n)))
            .collect();
        records[0].attempts = 3;
        records.push(record(30, "int_a", "prod-a", None));
        records.extend((31..33).map(|n| record(n, "int_b", "prod-b", legacy(n))));
        let store = store_with(records);
        let marketplace = FakeMarketplace::new(|call| {
            if call.integration_id.as_str() == "int_a" {
                Err(CallError::Throttled(
                    "ThrottlingException: slow down".into(),
                ))
            } else {
                Err(CallError::Unavailable("connection reset".into()))
            }
        });
        let report = Shipper::new(store.clone(), marketplace.clone(), ShipOptions::default())
            .with_jitter(Arc::new(FixedJitter(1.0)))
            .ship_once("me", NOW)
            .await
            .expect("pass");
        // int_a: throttled once, its second chunk waits without a call.
        assert_eq!(report.calls, 2);
        assert_eq!(report.throttled, 1);
        assert_eq!(report.retried, 33);
        assert_eq!(report.settled, 33);
        let all = settled(&store);
        let retry_of = |id: &str| {
            all.iter()
                .find_map(|s| match s {
                    Settlement::Retry {
                        id: i,
                        next_attempt_at,
                        error,
                    } if i.as_str() == id => Some((*next_attempt_at - NOW, error.clone())),
                    _ => None,
                })
                .expect("settled")
        };
        // attempts 3 -> 4th call: 16 s, +20 %.
        assert_eq!(retry_of("hrec_0").0, time::Duration::milliseconds(19_200));
        assert_eq!(retry_of("hrec_1").0, time::Duration::milliseconds(2_400));
        assert!(retry_of("hrec_1").1.contains("ThrottlingException"));
        assert_eq!(retry_of("hrec_30").1, NO_AWS_CUSTOMER);
        assert!(retry_of("hrec_31").1.contains("connection reset"));
        assert_eq!(retry_of("hrec_29").0, time::Duration::milliseconds(2_400));
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes_within_twenty_percent() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 0.0), Duration::from_secs(32));
        assert_eq!(backoff(9, 0.0), Duration::from_secs(300));
        assert_eq!(backoff(60, 0.0), Duration::from_secs(300));
        assert_eq!(backoff(9, -1.0), Duration::from_secs(240));
        assert_eq!(backoff(9, 1.0), Duration::from_secs(360));
        assert_eq!(backoff(9, 7.0), Duration::from_secs(360));
        for _ in 0..100 {
            let b = backoff(3, RandomJitter.sample());
            assert!(b >= Duration::from_millis(6_400) && b <= Duration::from_millis(9_600));
        }
    }

    #[tokio::test]
    async fn allocations_are_sent_from_the_frozen_tally() {
        let mut r = record(0, "int_a", "prod-a", legacy(0));
        r.tally.allocations = BTreeMap::from([
            (Vec::new(), 2),
            (
                vec![Tag {
                    key: "team".into(),
                    value: "a".into(),
                }],
                3,
            ),
        ]);
        let store = store_with(vec![r]);
        let marketplace = FakeMarketplace::new(accept_all);
        shipper(&store, &marketplace)
            .ship_once("me", NOW)
            .await
            .expect("pass");
        let calls = marketplace.calls();
        let sent = &calls[0].records[0];
        assert_eq!(sent.timestamp, datetime!(2026-03-01 11:00 UTC));
        assert_eq!(sent.quantity, 5);
        assert_eq!(sent.allocations.len(), 2);
        assert_eq!(sent.allocations.iter().map(|a| a.quantity).sum::<i64>(), 5);
    }
}
