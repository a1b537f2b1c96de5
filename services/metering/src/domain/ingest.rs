//! RecordUsage: resolve and check every event, then, in one store transaction, classify the
//! keys (new, duplicate, conflicting), place each new event in its hour (or a later open hour
//! when its own is sealed), fold it into that hour's record, and commit. Only then is the batch
//! acknowledged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use souk_core::Id;
use souk_core::error::Violations;
use time::OffsetDateTime;

use super::error::Error;
use super::hours::{carry_before, floor_hour, millis};
use super::meters::DimensionMatch;
use super::model::{
    Aggregation, EventAck, EventStatus, HourlyRecord, Meter, RecordKey, RecordStatus, Subscriber,
    SubscriberState, Tally, UsageEvent,
};
use super::ports::StoredEvent;
use super::service::Metering;
use super::tally::Contribution;
use super::validate;

/// An event that passed every check, with what it resolved to.
pub(super) struct Accepted {
    index: usize,
    event: UsageEvent,
    subscriber: Arc<Subscriber>,
    meter: Arc<Meter>,
    hash: String,
}

impl Accepted {
    /// The event's idempotency key.
    pub(super) fn key(&self) -> &str {
        &self.event.idempotency_key
    }
}

impl Metering {
    /// Records a batch of events, all or nothing; one acknowledgement per event, in order.
    pub async fn record(
        &self,
        organization_id: &Id,
        events: &[UsageEvent],
    ) -> Result<Vec<EventAck>, Error> {
        if events.is_empty() {
            return Err(Error::invalid("events", "must hold at least one event"));
        }
        if events.len() > self.limits.max_batch {
            return Err(Error::invalid(
                "events",
                format!(
                    "holds {} events; at most {} per call",
                    events.len(),
                    self.limits.max_batch
                ),
            ));
        }
        let permits = u32::try_from(events.len()).unwrap_or(u32::MAX);
        let Ok(_permit) = self.in_flight.try_acquire_many(permits) else {
            return Err(Error::ResourceExhausted(format!(
                "too much usage is being written ({} events in flight at most); retry after a short pause",
                self.limits.max_in_flight
            )));
        };
        let now = self.clock.now();
        let accepted = self.check(organization_id, events, now)?;
        self.write_grouped(organization_id, accepted).await
    }

    /// Every check that needs no store: shapes, customers, dimensions, subscription states.
    fn check(
        &self,
        organization_id: &Id,
        events: &[UsageEvent],
        now: OffsetDateTime,
    ) -> Result<Vec<Accepted>, Error> {
        let mut v = Violations::new();
        let mut preconditions = Vec::new();
        let mut keys = HashSet::new();
        let mut found: HashMap<&str, Vec<Subscriber>> = HashMap::new();
        // What each (customer, dimension) resolves to, once per batch: most batches name few.
        type Resolved = Result<(Arc<Subscriber>, Arc<Meter>), (&'static str, String)>;
        let mut resolved: HashMap<(&str, &str), Resolved> = HashMap::new();
        let mut accepted = Vec::with_capacity(events.len());
        let oldest = now - self.limits.max_age;
        let latest = now + self.limits.max_future_skew;
        for (i, event) in events.iter().enumerate() {
            // Field names are formatted only for a violation: most events have none.
            let field = |name: &str| format!("events[{i}].{name}");
            let before = v.len();
            let mut check = |name: &str, result: Result<(), String>| {
                if let Err(reason) = result {
                    v.add(field(name), reason);
                }
            };
            check(
                "idempotency_key",
                validate::event_key(&event.idempotency_key),
            );
            if !keys.insert(event.idempotency_key.as_str()) {
                check(
                    "idempotency_key",
                    Err(format!(
                        "{:?} appears twice in this batch",
                        event.idempotency_key
                    )),
                );
            }
            check("quantity", validate::quantity(event.quantity));
            if event.timestamp > latest {
                check(
                    "timestamp",
                    Err(format!(
                        "{} is in the future (now is {now})",
                        event.timestamp
                    )),
                );
            } else if event.timestamp < oldest {
                check(
                    "timestamp",
                    Err(format!(
                        "{} is older than {} days; such usage can no longer be billed",
                        event.timestamp,
                        self.limits.max_age.as_secs() / 86_400
                    )),
                );
            }
            for (suffix, reason) in validate::allocations(&event.allocations, event.quantity) {
                check(&suffix, Err(reason));
            }
            check("customer", validate::reference(&event.customer));
            check("dimension", validate::reference(&event.dimension));
            if v.len() > before {
                continue;
            }
            let pair = resolved
                .entry((event.customer.as_str(), event.dimension.as_str()))
                .or_insert_with(|| {
                    let candidates = found
                        .entry(event.customer.as_str())
                        .or_insert_with(|| self.subscribers.find(organization_id, &event.customer));
                    self.pick(organization_id, candidates, &event.dimension)
                        .map(|(subscriber, meter)| (Arc::new(subscriber), Arc::new(meter)))
                });
            let (subscriber, meter) = match pair {
                Ok((subscriber, meter)) => (Arc::clone(subscriber), Arc::clone(meter)),
                Err((name, reason)) => {
                    v.add(field(name), reason.clone());
                    continue;
                }
            };
            if !event.allocations.is_empty() && meter.aggregation != Aggregation::Sum {
                v.add(
                    field("allocations"),
                    format!(
                        "are only accepted by SUM meters; dimension {:?} is {}",
                        meter.dimension,
                        meter.aggregation.as_str().to_uppercase()
                    ),
                );
                continue;
            }
            if let (Aggregation::UniqueCount, Some(attribute)) =
                (meter.aggregation, &meter.attribute)
                && !event.attributes.contains_key(attribute)
            {
                v.add(
                    field("attributes"),
                    format!(
                        "must hold {attribute:?}: the meter of {:?} counts its distinct values",
                        meter.dimension
                    ),
                );
                continue;
            }
            if let Some(activated) = subscriber.activated_at
                && event.timestamp < floor_hour(activated)
            {
                v.add(
                    field("timestamp"),
                    format!(
                        "{} is before subscription {} started ({activated})",
                        event.timestamp, subscriber.subscription_id
                    ),
                );
                continue;
            }
            if let Some(problem) = state_problem(&subscriber, event, now) {
                preconditions.push(format!("events[{i}]: {problem}"));
                continue;
            }
            accepted.push(Accepted {
                index: i,
                event: event.clone(),
                hash: content_hash(event),
                subscriber,
                meter,
            });
        }
        v.finish().map_err(Error::from)?;
        if !preconditions.is_empty() {
            return Err(Error::FailedPrecondition(preconditions.join("; ")));
        }
        Ok(accepted)
    }

    /// The customer and meter an event names: among the customers the reference matches,
    /// the one whose product has the dimension.
    fn pick(
        &self,
        organization_id: &Id,
        candidates: &[Subscriber],
        dimension: &str,
    ) -> Result<(Subscriber, Meter), (&'static str, String)> {
        if candidates.is_empty() {
            return Err(("customer", "is not a known customer (a cus_ id, your linked account id, or the buyer's AWS account id)".into()));
        }
        let mut matches = Vec::new();
        let mut known = Vec::new();
        for subscriber in candidates {
            match self
                .meters
                .find(organization_id, &subscriber.product_code, dimension)
            {
                DimensionMatch::Meter(meter) => matches.push((subscriber.clone(), meter)),
                DimensionMatch::Unknown { known: names } => known.push(format!(
                    "{}: [{}]",
                    subscriber.product_code,
                    names.join(", ")
                )),
            }
        }
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err((
                "dimension",
                format!(
                    "{dimension:?} is not a metered dimension of the customer's product (meters: {}); add one with PutMeter",
                    known.join("; ")
                ),
            )),
            _ => Err((
                "customer",
                format!(
                    "names several customers with dimension {dimension:?} ({}); send the cus_ id",
                    matches
                        .iter()
                        .map(|(s, _)| s.customer_id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The transaction: keys, hours, records, commit.
    pub(super) async fn write(
        &self,
        organization_id: &Id,
        accepted: &[Accepted],
        now: OffsetDateTime,
    ) -> Result<Vec<EventAck>, Error> {
        let mut tx = self.store.begin_ingest(organization_id).await?;
        // Insert first and read back only the keys that were there already (a retry, or a
        // concurrent writer): on the common path, new keys, that saves a read per batch.
        let mut stored: HashMap<String, StoredEvent> = HashMap::new();
        let customers: Vec<Id> = {
            let mut ids: Vec<Id> = accepted
                .iter()
                .map(|a| a.subscriber.customer_id.clone())
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let horizons = tx.sealed_before(&customers).await?;
        let window_floor = floor_hour(carry_before(now));
        let current = floor_hour(now);

        let mut fresh = Vec::new();
        for a in accepted {
            let natural = floor_hour(a.event.timestamp);
            let horizon = horizons
                .get(&a.subscriber.customer_id)
                .copied()
                .map_or(window_floor, |h| h.max(window_floor));
            let hour_start = if natural < horizon {
                current.max(horizon)
            } else {
                natural
            };
            fresh.push(StoredEvent {
                usage_id: Id::generate("use"),
                organization_id: organization_id.clone(),
                idempotency_key: a.event.idempotency_key.clone(),
                content_hash: a.hash.clone(),
                customer_id: a.subscriber.customer_id.clone(),
                dimension: a.meter.dimension.clone(),
                quantity: a.event.quantity,
                occurred_at: a.event.timestamp,
                hour_start,
                allocations: a.event.allocations.clone(),
                unique_value: a
                    .meter
                    .attribute
                    .as_ref()
                    .and_then(|name| a.event.attributes.get(name).cloned()),
                recorded_at: now,
            });
        }
        let known: HashSet<String> = tx.insert_events(&fresh).await?.into_iter().collect();
        if !known.is_empty() {
            let known_keys: Vec<&str> = known.iter().map(String::as_str).collect();
            for event in tx.existing(&known_keys).await? {
                stored.insert(event.idempotency_key.clone(), event);
            }
            fresh.retain(|e| !known.contains(&e.idempotency_key));
        }
        let conflicts: Vec<&str> = accepted
            .iter()
            .filter(|a| {
                stored
                    .get(&a.event.idempotency_key)
                    .is_some_and(|s| s.content_hash != a.hash)
            })
            .map(|a| a.event.idempotency_key.as_str())
            .collect();
        if !conflicts.is_empty() {
            return Err(Error::Conflict(format!(
                "idempotency key {} was used before for an event with other content",
                conflicts
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.fold(&mut *tx, accepted, &fresh).await?;
        tx.commit().await?;

        let fresh_by_key: HashMap<&str, &StoredEvent> = fresh
            .iter()
            .map(|e| (e.idempotency_key.as_str(), e))
            .collect();
        Ok(accepted
            .iter()
            .filter_map(|a| {
                let key = a.event.idempotency_key.as_str();
                if let Some(event) = fresh_by_key.get(key) {
                    Some(ack(event, EventStatus::Recorded))
                } else {
                    stored
                        .get(key)
                        .map(|event| ack(event, EventStatus::Duplicate))
                }
            })
            .collect())
    }

    /// Folds the new events into their hours' records: in the database for the common
    /// aggregations (each hour's contributions folded from nothing here, added there), read,
    /// folded here and written back for the rest and for records the database left alone.
    async fn fold(
        &self,
        tx: &mut dyn super::ports::Ingest,
        accepted: &[Accepted],
        fresh: &[StoredEvent],
    ) -> Result<(), Error> {
        if fresh.is_empty() {
            return Ok(());
        }
        let by_key: HashMap<&str, &Accepted> = accepted
            .iter()
            .map(|a| (a.event.idempotency_key.as_str(), a))
            .collect();
        let key_of = |e: &StoredEvent| RecordKey {
            organization_id: e.organization_id.clone(),
            customer_id: e.customer_id.clone(),
            dimension: e.dimension.clone(),
            hour_start: e.hour_start,
        };
        let unique: Vec<(RecordKey, String)> = fresh
            .iter()
            .filter_map(|e| e.unique_value.clone().map(|v| (key_of(e), v)))
            .collect();
        let mut new_values = if unique.is_empty() {
            Vec::new()
        } else {
            tx.add_unique_values(&unique).await?
        }
        .into_iter();
        // Each fresh event with what it resolved to and whether its unique value is new.
        let mut events: Vec<(&StoredEvent, &Accepted, bool)> = Vec::with_capacity(fresh.len());
        for event in fresh {
            let Some(a) = by_key.get(event.idempotency_key.as_str()) else {
                continue;
            };
            let new_value = event.unique_value.is_some() && new_values.next().unwrap_or(false);
            events.push((event, a, new_value));
        }

        let mut deltas: BTreeMap<RecordKey, HourlyRecord> = BTreeMap::new();
        let mut slow: HashSet<RecordKey> = HashSet::new();
        for (event, a, new_value) in &events {
            let key = key_of(event);
            if slow.contains(&key) {
                continue;
            }
            let in_database =
                event.allocations.is_empty() && a.meter.aggregation != Aggregation::Latest;
            let delta = deltas
                .entry(key.clone())
                .or_insert_with(|| open_record(key.clone(), a));
            if !in_database || delta.tally.add(&contribution(event, *new_value)).is_err() {
                deltas.remove(&key);
                slow.insert(key);
            }
        }
        let deltas: Vec<HourlyRecord> = deltas.into_values().collect();
        slow.extend(tx.add_to_records(&deltas).await?);
        if slow.is_empty() {
            return Ok(());
        }

        let mut wanted: Vec<RecordKey> = slow.iter().cloned().collect();
        wanted.sort();
        let mut records: BTreeMap<RecordKey, HourlyRecord> = tx
            .lock_records(&wanted)
            .await?
            .into_iter()
            .map(|r| (r.key.clone(), r))
            .collect();
        for (event, a, new_value) in &events {
            let key = key_of(event);
            if !slow.contains(&key) {
                continue;
            }
            let record = records
                .entry(key.clone())
                .or_insert_with(|| open_record(key, a));
            if record.status != RecordStatus::Open {
                // The horizon was read under the same lock that sealing takes, so this means
                // another writer broke the protocol; refuse rather than bill a sealed hour.
                return Err(Error::Aborted(format!(
                    "record {} of hour {} is sealed; retry the call",
                    record.id, record.key.hour_start
                )));
            }
            record
                .tally
                .add(&contribution(event, *new_value))
                .map_err(|overflow| {
                    Error::invalid(
                        format!("events[{}].quantity", a.index),
                        format!(
                            "{overflow}: customer {} already has {} on {:?} in the hour starting {}",
                            event.customer_id, record.tally.quantity, event.dimension, event.hour_start
                        ),
                    )
                })?;
        }
        let changed: Vec<HourlyRecord> = records.into_values().collect();
        tx.write_records(&changed).await
    }
}

/// What `event` adds to its hour.
fn contribution(event: &StoredEvent, new_value: bool) -> Contribution<'_> {
    Contribution {
        quantity: event.quantity,
        at_ms: millis(event.occurred_at),
        key: &event.idempotency_key,
        allocations: &event.allocations,
        new_value,
    }
}

fn open_record(key: RecordKey, a: &Accepted) -> HourlyRecord {
    HourlyRecord::open(
        key,
        a.subscriber.integration_id.clone(),
        a.subscriber.product_code.clone(),
        a.subscriber.aws_customer.clone(),
        Tally::empty(a.meter.aggregation),
    )
}

fn ack(event: &StoredEvent, status: EventStatus) -> EventAck {
    EventAck {
        idempotency_key: event.idempotency_key.clone(),
        status,
        usage_id: event.usage_id.clone(),
        hour_start: event.hour_start,
    }
}

/// Why the subscription cannot take usage now, if it cannot.
fn state_problem(
    subscriber: &Subscriber,
    event: &UsageEvent,
    now: OffsetDateTime,
) -> Option<String> {
    let subscription = &subscriber.subscription_id;
    let customer = &subscriber.customer_id;
    match subscriber.state {
        SubscriberState::Active => None,
        SubscriberState::CancelPending { deadline } if now <= deadline => {
            (event.timestamp > deadline).then(|| {
                format!("subscription {subscription} of customer {customer} takes usage only until its final metering deadline {deadline}")
            })
        }
        SubscriberState::CancelPending { deadline } => Some(format!(
            "subscription {subscription} of customer {customer} is ending: its final metering deadline {deadline} has passed; usage after it cannot be billed"
        )),
        SubscriberState::Cancelled { at } => Some(match at {
            Some(at) => format!(
                "subscription {subscription} of customer {customer} ended at {at}; usage after that cannot be billed"
            ),
            None => format!(
                "subscription {subscription} of customer {customer} has ended; usage after that cannot be billed"
            ),
        }),
        SubscriberState::Pending => Some(format!(
            "subscription {subscription} of customer {customer} is not active yet (AWS has not confirmed it); retry once it is"
        )),
        SubscriberState::Failed => Some(format!(
            "subscription {subscription} of customer {customer} failed; it cannot be billed"
        )),
    }
    .or_else(|| {
        subscriber.aws_customer.is_none().then(|| {
            format!("AWS has not named customer {customer} yet (no customer identifier or licence); retry once the buyer's subscription is confirmed")
        })
    })
}

/// The hash of an event's content as sent: a key reused with another content is a conflict.
fn content_hash(event: &UsageEvent) -> String {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    field(event.customer.as_bytes());
    field(event.dimension.as_bytes());
    field(&event.quantity.to_be_bytes());
    field(&event.timestamp.unix_timestamp_nanos().to_be_bytes());
    for allocation in &event.allocations {
        field(&allocation.quantity.to_be_bytes());
        for tag in super::tally::sorted(&allocation.tags) {
            field(tag.key.as_bytes());
            field(tag.value.as_bytes());
        }
        field(b"|");
    }
    for (name, value) in &event.attributes {
        field(name.as_bytes());
        field(value.as_bytes());
    }
    hex::encode(hash.finalize())
}
