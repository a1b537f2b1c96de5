//! Sealing: freezing hours once no more usage can arrive for them, so they can be shipped.
//!
//! Every hour before `floor_hour(now - grace)` is sealed for everyone; a cancelling
//! subscriber's hours are sealed up to the end of the current hour (its final hour ships at
//! once). Meters with `zero_fill` get a zero record for each idle hour of their active and
//! cancelling subscribers, within AWS's six-hour window; the store inserts them only where the
//! hour has no record.
//!
//! A sealed record that no call ever carried and whose hour is about to leave AWS's window
//! (it started more than `AWS_WINDOW - SHIPPING_MARGIN` ago, see [`carry_before`]) is carried
//! into its customer's open hour by the same pass, so its usage is billed there rather than
//! lost. A record sent at least once is not (AWS may hold it already); AWS refuses it, and it
//! fails visibly.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use souk_core::Id;
use time::OffsetDateTime;

use super::error::Error;
use super::hours::{AWS_WINDOW, carry_before, floor_hour};
use super::model::{
    HourlyRecord, Meter, RecordKey, RecordStatus, Subscriber, SubscriberState, Tally,
};
use super::ports::{SealPlan, Store, Subscribers};

/// How long after an hour ends it stays open for late usage, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(300);

/// How often a pass runs the store's sealing even when no horizon moves, to carry records whose
/// hour is leaving AWS's window (the window's edge moves continuously; the margin is an hour).
pub const CARRY_EVERY: time::Duration = time::Duration::MINUTE;

/// What one sealing pass did (for metrics and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Records the store sealed (zero records included).
    pub sealed: u64,
    /// Zero records planned (the store skips hours that have a record).
    pub zero_records: u64,
    /// Cancelling customers whose hours were sealed early.
    pub cancelling: u64,
}

/// Plans and runs sealing passes.
#[derive(Clone)]
pub struct Sealer {
    store: Arc<dyn Store>,
    subscribers: Arc<dyn Subscribers>,
    grace: Duration,
    /// When this sealer last ran the store's pass (and so carried).
    last_pass: Arc<Mutex<Option<OffsetDateTime>>>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// Seals the hours of `store`, `grace` after each ends, knowing the customers from
    /// `subscribers`.
    pub fn new(store: Arc<dyn Store>, subscribers: Arc<dyn Subscribers>, grace: Duration) -> Self {
        Self {
            store,
            subscribers,
            grace,
            last_pass: Arc::new(Mutex::new(None)),
        }
    }

    /// One sealing pass at `now`.
    pub async fn seal_once(&self, now: OffsetDateTime) -> Result<SealReport, Error> {
        let (plan, previous) = self.prepare(now).await?;
        let cancelling = plan.customers.len() as u64;
        let zero_records = plan.zero_records.len() as u64;
        // Ingestion never opens a record below the horizon, so while the horizon stands and no
        // customer is cancelling there is nothing to seal: skip the exclusive lock, unless
        // carrying is due (once a minute).
        let carry_due = self
            .last_pass()
            .is_none_or(|last| now < last || now - last >= CARRY_EVERY);
        let idle = !carry_due
            && cancelling == 0
            && zero_records == 0
            && previous.is_some_and(|h| h >= plan.sealed_before);
        if idle {
            return Ok(SealReport::default());
        }
        let sealed = self.store.seal(&plan).await?;
        *self.last_pass.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        Ok(SealReport {
            sealed,
            zero_records,
            cancelling,
        })
    }

    fn last_pass(&self) -> Option<OffsetDateTime> {
        *self.last_pass.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a pass at `now` does.
    pub async fn plan(&self, now: OffsetDateTime) -> Result<SealPlan, Error> {
        Ok(self.prepare(now).await?.0)
    }

    /// The plan of a pass at `now`, with the global horizon it read (before the pass).
    async fn prepare(
        &self,
        now: OffsetDateTime,
    ) -> Result<(SealPlan, Option<OffsetDateTime>), Error> {
        let grace = time::Duration::try_from(self.grace)
            .map_err(|e| Error::Internal(format!("grace: {e}")))?;
        let sealed_before = floor_hour(now - grace);
        let final_hour_end = floor_hour(now) + time::Duration::HOUR;

        let cancelling = self.subscribers.cancelling();
        let mut seen = HashSet::new();
        let customers: Vec<(Id, Id, OffsetDateTime)> = cancelling
            .iter()
            .filter(|s| seen.insert((s.organization_id.clone(), s.customer_id.clone())))
            .map(|s| {
                (
                    s.organization_id.clone(),
                    s.customer_id.clone(),
                    final_hour_end,
                )
            })
            .collect();

        let previous = self.store.sealed_before().await?;
        // Idle hours appear when the global horizon moves (once an hour) or for cancelling
        // subscribers; otherwise the meters need not be read.
        let horizon_moves = previous.is_none_or(|p| p < sealed_before);
        let zero_records = if horizon_moves || !customers.is_empty() {
            let meters: Vec<Meter> = self
                .store
                .meters()
                .await?
                .into_iter()
                .filter(|m| m.zero_fill)
                .collect();
            let window = Window {
                now,
                previous,
                sealed_before,
                final_hour_end,
            };
            meters
                .iter()
                .flat_map(|meter| {
                    self.subscribers
                        .of_product(&meter.organization_id, &meter.product_code)
                        .into_iter()
                        .flat_map(|s| zero_records(meter, &s, &window))
                        .collect::<Vec<_>>()
                })
                .collect()
        } else {
            Vec::new()
        };

        let plan = SealPlan {
            now,
            sealed_before,
            customers,
            zero_records,
            carry_before: carry_before(now),
        };
        Ok((plan, previous))
    }
}

/// The hours a pass may zero-fill.
struct Window {
    now: OffsetDateTime,
    previous: Option<OffsetDateTime>,
    sealed_before: OffsetDateTime,
    final_hour_end: OffsetDateTime,
}

/// Start of the first UTC hour at or after `at`.
fn ceil_hour(at: OffsetDateTime) -> OffsetDateTime {
    let floor = floor_hour(at);
    if floor == at {
        floor
    } else {
        floor + time::Duration::HOUR
    }
}

/// The zero records of `subscriber` on `meter`: hours in `[max(previous horizon, hour of
/// activation, now - 6 h), horizon)` (the horizon being the end of the current hour for a
/// cancelling subscriber, and never past its deadline).
fn zero_records(meter: &Meter, subscriber: &Subscriber, window: &Window) -> Vec<HourlyRecord> {
    let (end, deadline) = match subscriber.state {
        SubscriberState::Active => (window.sealed_before, None),
        SubscriberState::CancelPending { deadline } => (window.final_hour_end, Some(deadline)),
        _ => return Vec::new(),
    };
    // A record AWS cannot attribute could never be sent.
    let Some(aws_customer) = subscriber.aws_customer.clone() else {
        return Vec::new();
    };
    let mut start = window.now - AWS_WINDOW;
    if let Some(previous) = window.previous {
        start = start.max(previous);
    }
    if let Some(activated) = subscriber.activated_at {
        start = start.max(floor_hour(activated));
    }
    let mut records = Vec::new();
    let mut hour = ceil_hour(start);
    while hour < end && deadline.is_none_or(|d| hour < d) {
        records.push(HourlyRecord {
            id: Id::generate("hrec"),
            key: RecordKey {
                organization_id: meter.organization_id.clone(),
                customer_id: subscriber.customer_id.clone(),
                dimension: meter.dimension.clone(),
                hour_start: hour,
            },
            integration_id: subscriber.integration_id.clone(),
            product_code: meter.product_code.clone(),
            aws_customer: Some(aws_customer.clone()),
            tally: Tally::empty(meter.aggregation),
            status: RecordStatus::Pending,
            metering_record_id: None,
            aws_status: None,
            attempts: 0,
            last_error: None,
            sealed_at: Some(window.now),
            sent_at: None,
            carried_to: None,
        });
        hour += time::Duration::HOUR;
    }
    records
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::domain::fakes::FakeStore;
    use crate::domain::model::{Aggregation, AwsCustomer};

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:03:00 UTC);

    struct FakeSubscribers(Vec<Subscriber>);

    impl Subscribers for FakeSubscribers {
        fn find(&self, _: &Id, _: &str) -> Vec<Subscriber> {
            Vec::new()
        }
        fn cancelling(&self) -> Vec<Subscriber> {
            self.0
                .iter()
                .filter(|s| matches!(s.state, SubscriberState::CancelPending { .. }))
                .cloned()
                .collect()
        }
        fn of_product(&self, organization_id: &Id, product_code: &str) -> Vec<Subscriber> {
            self.0
                .iter()
                .filter(|s| &s.organization_id == organization_id && s.product_code == product_code)
                .filter(|s| {
                    matches!(
                        s.state,
                        SubscriberState::Active | SubscriberState::CancelPending { .. }
                    )
                })
                .cloned()
                .collect()
        }
    }

    fn org() -> Id {
        Id::from_trusted("org_1".into())
    }

    fn meter(dimension: &str, zero_fill: bool) -> Meter {
        Meter {
            organization_id: org(),
            product_code: "prod".into(),
            dimension: dimension.into(),
            feature: None,
            aggregation: Aggregation::Max,
            attribute: None,
            zero_fill,
            updated_at: NOW,
        }
    }

    fn subscriber(n: u32, state: SubscriberState, activated_at: OffsetDateTime) -> Subscriber {
        Subscriber {
            organization_id: org(),
            customer_id: Id::from_trusted(format!("cus_{n}")),
            subscription_id: Id::from_trusted(format!("sub_{n}")),
            integration_id: Id::from_trusted("int_1".into()),
            product_code: "prod".into(),
            aws_customer: Some(AwsCustomer::Identifier(format!("c-{n}"))),
            state,
            activated_at: Some(activated_at),
        }
    }

    fn sealer(store: FakeStore, subscribers: Vec<Subscriber>) -> (Sealer, Arc<FakeStore>) {
        let store = Arc::new(store);
        let sealer = Sealer::new(
            store.clone(),
            Arc::new(FakeSubscribers(subscribers)),
            DEFAULT_GRACE,
        );
        (sealer, store)
    }

    fn hours(plan: &SealPlan, customer: &str) -> Vec<(String, OffsetDateTime)> {
        let mut hours: Vec<_> = plan
            .zero_records
            .iter()
            .filter(|r| r.key.customer_id.as_str() == customer)
            .map(|r| (r.key.dimension.clone(), r.key.hour_start))
            .collect();
        hours.sort();
        hours
    }

    #[tokio::test]
    async fn hours_seal_after_the_grace_and_cancelling_customers_at_once() {
        let deadline = datetime!(2026-03-01 13:00 UTC);
        let activated = datetime!(2026-02-01 00:00 UTC);
        let (sealer, _) = sealer(
            FakeStore {
                horizon: Some(datetime!(2026-03-01 12:00 UTC)),
                meters: Vec::new(),
                ..FakeStore::default()
            },
            vec![
                subscriber(1, SubscriberState::CancelPending { deadline }, activated),
                subscriber(2, SubscriberState::Active, activated),
            ],
        );
        let plan = sealer.plan(NOW).await.expect("plan");
        // 12:03 - 5 min = 11:58: hours before 11:00 are sealed.
        assert_eq!(plan.sealed_before, datetime!(2026-03-01 11:00 UTC));
        assert_eq!(
            plan.customers,
            vec![(
                org(),
                Id::from_trusted("cus_1".into()),
                datetime!(2026-03-01 13:00 UTC)
            )]
        );
        assert!(plan.zero_records.is_empty());
        let plan = sealer
            .plan(datetime!(2026-03-01 12:06 UTC))
            .await
            .expect("plan");
        assert_eq!(plan.sealed_before, datetime!(2026-03-01 12:00 UTC));
    }

    #[tokio::test]
    async fn zero_records_fill_idle_hours_since_the_last_horizon_within_the_aws_window() {
        let (sealer, store) = sealer(
            FakeStore {
                horizon: Some(datetime!(2026-03-01 09:00 UTC)),
                meters: vec![meter("seats", true), meter("calls", false)],
                ..FakeStore::default()
            },
            vec![
                // Active for long: from the previous horizon (09:00) to the new one (12:00).
                subscriber(1, SubscriberState::Active, datetime!(2026-01-01 00:00 UTC)),
                // Activated at 10:40: from 10:00.
                subscriber(2, SubscriberState::Active, datetime!(2026-03-01 10:40 UTC)),
                // Cancelling, deadline 13:00: up to the end of the current hour.
                subscriber(
                    3,
                    SubscriberState::CancelPending {
                        deadline: datetime!(2026-03-01 13:00 UTC),
                    },
                    datetime!(2026-01-01 00:00 UTC),
                ),
                subscriber(4, SubscriberState::Pending, datetime!(2026-01-01 00:00 UTC)),
            ],
        );
        let now = datetime!(2026-03-01 12:06 UTC);
        let report = sealer.seal_once(now).await.expect("pass");
        let plan = store.plans.lock().unwrap_or_else(|e| e.into_inner())[0].clone();
        assert_eq!(plan.sealed_before, datetime!(2026-03-01 12:00 UTC));
        let at = |h: u8| {
            (
                "seats".to_owned(),
                datetime!(2026-03-01 00:00 UTC) + time::Duration::hours(i64::from(h)),
            )
        };
        assert_eq!(hours(&plan, "cus_1"), vec![at(9), at(10), at(11)]);
        assert_eq!(hours(&plan, "cus_2"), vec![at(10), at(11)]);
        assert_eq!(hours(&plan, "cus_3"), vec![at(9), at(10), at(11), at(12)]);
        assert!(hours(&plan, "cus_4").is_empty());
        assert_eq!(report.zero_records, 9);
        assert_eq!(report.cancelling, 1);
        for record in &plan.zero_records {
            assert_eq!(record.tally.quantity, 0);
            assert_eq!(record.tally.aggregation, Aggregation::Max);
            assert_eq!(record.status, RecordStatus::Pending);
            assert_eq!(record.sealed_at, Some(now));
            assert!(record.id.as_str().starts_with("hrec_"));
        }
    }

    #[tokio::test]
    async fn the_first_pass_fills_at_most_the_aws_window() {
        let (sealer, _) = sealer(
            FakeStore {
                horizon: None,
                meters: vec![meter("seats", true)],
                ..FakeStore::default()
            },
            vec![subscriber(
                1,
                SubscriberState::Active,
                datetime!(2026-01-01 00:00 UTC),
            )],
        );
        let plan = sealer
            .plan(datetime!(2026-03-01 12:06 UTC))
            .await
            .expect("plan");
        // now - 6 h = 06:06: the first whole hour in the window is 07:00.
        let first = plan.zero_records.iter().map(|r| r.key.hour_start).min();
        assert_eq!(first, Some(datetime!(2026-03-01 07:00 UTC)));
        assert_eq!(plan.zero_records.len(), 5);
    }

    #[tokio::test]
    async fn an_idle_pass_still_runs_the_store_once_a_minute_to_carry() {
        let (sealer, store) = sealer(
            FakeStore {
                horizon: Some(datetime!(2026-03-01 11:00 UTC)),
                meters: Vec::new(),
                ..FakeStore::default()
            },
            Vec::new(),
        );
        let passes = || store.plans.lock().unwrap_or_else(|e| e.into_inner()).len();
        // The horizon stands (12:03 - 5 min: 11:00), but carrying is due on the first pass.
        sealer.seal_once(NOW).await.expect("pass");
        assert_eq!(passes(), 1);
        let plan = store.plans.lock().unwrap_or_else(|e| e.into_inner())[0].clone();
        // Records of hours starting before now - 5 h are carried.
        assert_eq!(plan.carry_before, datetime!(2026-03-01 07:03 UTC));
        sealer
            .seal_once(NOW + time::Duration::seconds(30))
            .await
            .expect("pass");
        assert_eq!(passes(), 1, "idle within the minute");
        sealer
            .seal_once(NOW + time::Duration::seconds(60))
            .await
            .expect("pass");
        assert_eq!(passes(), 2, "carrying again a minute later");
    }
}
