//! The metering use cases: one `Metering` value shared by the API and the background loops.

use std::sync::Arc;
use std::time::Duration;

use souk_core::{Id, Idempotency, Page, PageRequest, SharedClock};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::error::Error;
use super::meters::MeterCache;
use super::model::{Aggregation, HourlyRecord, Meter};
use super::ports::{Counts, RecordFilter, Store, Subscribers};
use super::validate;

/// Limits of the ingestion path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestLimits {
    /// Events per RecordUsage call or StreamUsage chunk.
    pub max_batch: usize,
    /// Events being written at once, over every call; beyond, RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
    /// How far in the future a timestamp may be (clock skew).
    pub max_future_skew: Duration,
    /// How old an event may be; older ones are refused (younger ones outside the AWS window
    /// are carried into the current hour).
    pub max_age: Duration,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_batch: 1000,
            max_in_flight: 50_000,
            max_future_skew: Duration::from_secs(60),
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The metering use cases.
#[derive(Clone)]
pub struct Metering {
    pub(super) store: Arc<dyn Store>,
    pub(super) subscribers: Arc<dyn Subscribers>,
    pub(super) meters: MeterCache,
    pub(super) clock: SharedClock,
    pub(super) limits: IngestLimits,
    pub(super) in_flight: Arc<Semaphore>,
    pub(super) groups: Arc<super::group::GroupCommit>,
}

impl std::fmt::Debug for Metering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metering")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A meter as PutMeter asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterSpec {
    /// Product code.
    pub product_code: String,
    /// AWS dimension key.
    pub dimension: String,
    /// Seller's name.
    pub feature: Option<String>,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// UNIQUE_COUNT attribute.
    pub attribute: Option<String>,
    /// Zero records for idle hours.
    pub zero_fill: bool,
}

impl Metering {
    /// The use cases over `store`, answering for customers through `subscribers`.
    pub fn new(
        store: Arc<dyn Store>,
        subscribers: Arc<dyn Subscribers>,
        clock: SharedClock,
        limits: IngestLimits,
    ) -> Self {
        let in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
        Self {
            store,
            subscribers,
            meters: MeterCache::default(),
            clock,
            limits,
            in_flight,
            groups: Arc::default(),
        }
    }

    /// The current instant.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The store (for the background loops).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The subscribers (for the background loops).
    pub fn subscribers(&self) -> &Arc<dyn Subscribers> {
        &self.subscribers
    }

    /// The meters in memory.
    pub fn meter_cache(&self) -> &MeterCache {
        &self.meters
    }

    /// Reloads the meters from the store (at start, and periodically for other replicas'
    /// changes).
    pub async fn reload_meters(&self) -> Result<(), Error> {
        let meters = self.store.meters().await?;
        self.meters.replace(meters);
        Ok(())
    }

    /// Creates or replaces a meter.
    pub async fn put_meter(&self, organization_id: &Id, spec: MeterSpec) -> Result<Meter, Error> {
        let mut v = souk_core::error::Violations::new();
        v.check(
            "meter.product_code",
            validate::reference(&spec.product_code),
        );
        v.check("meter.dimension", validate::reference(&spec.dimension));
        if let Some(feature) = &spec.feature {
            v.check("meter.feature", validate::reference(feature));
        }
        match (spec.aggregation, &spec.attribute) {
            (Aggregation::UniqueCount, None) => {
                v.add("meter.attribute", "is required by UNIQUE_COUNT")
            }
            (Aggregation::UniqueCount, Some(a)) => {
                v.check("meter.attribute", validate::reference(a))
            }
            (_, Some(_)) => v.add("meter.attribute", "is only used by UNIQUE_COUNT"),
            (_, None) => {}
        }
        if let Some(feature) = &spec.feature {
            let taken = self
                .meters
                .list(organization_id, Some(&spec.product_code))
                .into_iter()
                .any(|m| {
                    m.dimension != spec.dimension
                        && (m.feature.as_deref() == Some(feature.as_str())
                            || &m.dimension == feature)
                });
            if taken {
                v.add(
                    "meter.feature",
                    format!("{feature:?} already names another dimension of this product"),
                );
            }
        }
        v.finish()?;
        let meter = Meter {
            organization_id: organization_id.clone(),
            product_code: spec.product_code,
            dimension: spec.dimension,
            feature: spec.feature,
            aggregation: spec.aggregation,
            attribute: spec.attribute,
            zero_fill: spec.zero_fill,
            updated_at: self.clock.now(),
        };
        self.store.put_meter(&meter).await?;
        self.meters.put(meter.clone());
        Ok(meter)
    }

    /// The organisation's meters.
    pub fn list_meters(&self, organization_id: &Id, product_code: Option<&str>) -> Vec<Meter> {
        self.meters.list(organization_id, product_code)
    }

    /// One page of hourly records; `customer` and `dimension` take the forms events use.
    pub async fn list_records(
        &self,
        organization_id: &Id,
        customer: Option<&str>,
        dimension: Option<&str>,
        statuses: Vec<super::model::RecordStatus>,
        page: &PageRequest,
    ) -> Result<Page<HourlyRecord>, Error> {
        let mut filter = RecordFilter {
            statuses,
            ..RecordFilter::default()
        };
        if let Some(customer) = customer {
            let found = self.subscribers.find(organization_id, customer);
            if found.is_empty() {
                return Err(Error::NotFound(format!("customer {customer:?}")));
            }
            filter.customer_ids = found.into_iter().map(|s| s.customer_id).collect();
        }
        if let Some(dimension) = dimension {
            let mut keys: Vec<String> = self
                .meters
                .list(organization_id, None)
                .into_iter()
                .filter(|m| m.feature.as_deref() == Some(dimension))
                .map(|m| m.dimension)
                .collect();
            keys.push(dimension.to_owned());
            keys.dedup();
            filter.dimensions = keys;
        }
        self.store
            .list_records(organization_id, &filter, page)
            .await
    }

    /// Counts per integration and product.
    pub async fn summary(&self, organization_id: &Id) -> Result<Vec<Counts>, Error> {
        self.store.counts(Some(organization_id)).await
    }

    /// Queues held records again.
    pub async fn retry_held(
        &self,
        organization_id: &Id,
        ids: &[Id],
        idempotency: Option<&Idempotency>,
    ) -> Result<souk_core::Outcome<i64>, Error> {
        let retried = self
            .store
            .retry_held(organization_id, ids, self.clock.now(), idempotency)
            .await?;
        Ok(souk_core::Outcome::Done(retried))
    }
}
