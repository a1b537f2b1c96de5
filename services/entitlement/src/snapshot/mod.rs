//! The check path: every replica keeps every customer's check view in memory and answers
//! CheckEntitlement from it, with no database or AWS call. The [`follower`] keeps it current
//! from the store, woken by the service's events; when it loses touch, answers say so
//! (`Source::Stale`) for a bounded time and then fall back to each feature's configured default
//! (`Source::Default`).

pub mod follower;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use souk_core::{Id, SharedClock};

use crate::domain::check::{CheckOutcome, CheckReason, CustomerView, check};

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Confirmed current within `fresh_within`.
    Live,
    /// The last known state, older than `fresh_within`, within `max_staleness`.
    Stale,
    /// The feature's default: the snapshot is older than `max_staleness` (or never loaded).
    Default,
}

/// How stale a snapshot may get, and what to answer then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staleness {
    /// Answers are `Live` while the snapshot was confirmed this recently.
    pub fresh_within: Duration,
    /// Answers come from the last known state up to this age, then from the defaults.
    pub max_staleness: Duration,
    /// Features allowed when the snapshot is too old (every other feature is refused).
    pub fail_open_features: Vec<String>,
}

impl Default for Staleness {
    fn default() -> Self {
        Self {
            fresh_within: Duration::from_secs(10),
            max_staleness: Duration::from_secs(300),
            fail_open_features: Vec::new(),
        }
    }
}

/// A checked answer and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The answer.
    pub outcome: CheckOutcome,
    /// Its source.
    pub source: Source,
}

#[derive(Default)]
struct Index {
    by_id: HashMap<Id, Arc<CustomerView>>,
    /// (organisation, AWS account or linked id) -> customers.
    by_alias: HashMap<(Id, String), Vec<Id>>,
    confirmed_at: Option<Instant>,
}

impl Index {
    fn aliases(view: &CustomerView) -> impl Iterator<Item = (Id, String)> + '_ {
        [&view.aws_account_id, &view.external_id]
            .into_iter()
            .flatten()
            .map(|alias| (view.organization_id.clone(), alias.clone()))
    }

    fn remove(&mut self, id: &Id) {
        if let Some(old) = self.by_id.remove(id) {
            for alias in Self::aliases(&old) {
                if let Some(ids) = self.by_alias.get_mut(&alias) {
                    ids.retain(|x| x != id);
                    if ids.is_empty() {
                        self.by_alias.remove(&alias);
                    }
                }
            }
        }
    }

    fn put(&mut self, view: CustomerView) {
        self.remove(&view.customer_id);
        for alias in Self::aliases(&view) {
            self.by_alias
                .entry(alias)
                .or_default()
                .push(view.customer_id.clone());
        }
        self.by_id.insert(view.customer_id.clone(), Arc::new(view));
    }
}

/// The in-memory check views of one replica. Cheap to clone; clones share the views.
#[derive(Clone)]
pub struct Snapshot {
    index: Arc<RwLock<Index>>,
    staleness: Arc<Staleness>,
    clock: SharedClock,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("customers", &self.len())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// An empty snapshot (every answer is `Default` until the follower loads it).
    pub fn new(staleness: Staleness, clock: SharedClock) -> Self {
        Self {
            index: Arc::new(RwLock::new(Index::default())),
            staleness: Arc::new(staleness),
            clock,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A panic while holding the lock leaves consistent maps (each write is one insert).
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Customers held.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// Whether no customer is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces or adds `views`, and records that the snapshot is current as of `read_at`.
    pub fn apply(&self, views: Vec<CustomerView>, read_at: Instant) {
        let mut index = self.write();
        for view in views {
            index.put(view);
        }
        index.confirmed_at = Some(read_at);
    }

    /// Replaces every view (a full reload).
    pub fn replace_all(&self, views: Vec<CustomerView>, read_at: Instant) {
        let mut fresh = Index::default();
        for view in views {
            fresh.put(view);
        }
        fresh.confirmed_at = Some(read_at);
        *self.write() = fresh;
    }

    /// How old the snapshot is (`None`: never loaded).
    pub fn age(&self) -> Option<Duration> {
        self.read().confirmed_at.map(|at| at.elapsed())
    }

    /// Checks `feature` for `customer` (a `cus_` id, an AWS account id or a linked id) of
    /// `organization_id`.
    pub fn check(
        &self,
        organization_id: &Id,
        customer: &str,
        feature: &str,
        quantity: Option<i64>,
    ) -> Checked {
        let index = self.read();
        let source = match index.confirmed_at.map(|at| at.elapsed()) {
            Some(age) if age <= self.staleness.fresh_within => Source::Live,
            Some(age) if age <= self.staleness.max_staleness => Source::Stale,
            _ => Source::Default,
        };
        if source == Source::Default {
            let open = self
                .staleness
                .fail_open_features
                .iter()
                .any(|f| f == feature);
            return Checked {
                outcome: CheckOutcome {
                    allowed: open,
                    limit: None,
                    unlimited: false,
                    expires_at: None,
                    reason: CheckReason::StaleDefault,
                    state: None,
                    customer_id: None,
                },
                source,
            };
        }
        let views: Vec<&CustomerView> = if customer.starts_with("cus_") {
            index
                .by_id
                .get(&Id::from_trusted(customer.to_owned()))
                .filter(|v| &v.organization_id == organization_id)
                .map(|v| vec![v.as_ref()])
                .unwrap_or_default()
        } else {
            index
                .by_alias
                .get(&(organization_id.clone(), customer.to_owned()))
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| index.by_id.get(id).map(AsRef::as_ref))
                        .collect()
                })
                .unwrap_or_default()
        };
        Checked {
            outcome: check(&views, feature, quantity, self.clock.now()),
            source,
        }
    }
}
