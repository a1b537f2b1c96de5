//! The check path: every replica keeps every customer's check view in memory and answers
//! CheckEntitlement from it, with no database or AWS call. The [`follower`] keeps it current
//! from the store, woken by the service's events; when it loses touch, answers say so
//! (`Source::Stale`) for a bounded time and then fall back to each feature's configured default
//! (`Source::Default`).

pub mod follower;
pub mod reader;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use souk_core::{Id, SharedClock};

use crate::config::EntitlementConfig;
use crate::domain::check::{CheckOutcome, CheckReason, CustomerView, check};
use crate::domain::model::SubscriptionState;

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

impl Staleness {
    /// The staleness `config` sets (`check_*`).
    pub(crate) fn of(config: &EntitlementConfig) -> Self {
        Self {
            fresh_within: config.check_fresh_within,
            max_staleness: config.check_max_staleness,
            fail_open_features: config.check_fail_open_features.clone(),
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
    /// (organisation, product code) -> customers whose subscription grants access (active or
    /// cancel-pending).
    by_product: HashMap<(Id, String), HashSet<Id>>,
    /// Customers whose subscription is cancel-pending.
    cancelling: HashSet<Id>,
    confirmed_at: Option<Instant>,
}

impl Index {
    fn aliases(view: &CustomerView) -> impl Iterator<Item = (Id, String)> + '_ {
        [&view.aws_account_id, &view.external_id]
            .into_iter()
            .flatten()
            .map(|alias| (view.organization_id.clone(), alias.clone()))
    }

    /// The product key of a customer whose subscription grants access.
    fn live_product(view: &CustomerView) -> Option<(Id, String)> {
        let subscription = view.subscription.as_ref()?;
        view.state
            .is_some_and(SubscriptionState::grants_access)
            .then(|| {
                (
                    view.organization_id.clone(),
                    subscription.product_code.clone(),
                )
            })
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
            if let Some(product) = Self::live_product(&old)
                && let Some(ids) = self.by_product.get_mut(&product)
            {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_product.remove(&product);
                }
            }
            self.cancelling.remove(id);
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
        if let Some(product) = Self::live_product(&view) {
            self.by_product
                .entry(product)
                .or_default()
                .insert(view.customer_id.clone());
        }
        if view.state == Some(SubscriptionState::CancelPending) {
            self.cancelling.insert(view.customer_id.clone());
        }
        self.by_id.insert(view.customer_id.clone(), Arc::new(view));
    }

    /// The customers of `organization_id` that `reference` names (a `cus_` id, an AWS account
    /// id or a linked id).
    fn named(&self, organization_id: &Id, reference: &str) -> Vec<&Arc<CustomerView>> {
        if reference.starts_with("cus_") {
            self.by_id
                .get(&Id::from_trusted(reference.to_owned()))
                .filter(|v| &v.organization_id == organization_id)
                .map(|v| vec![v])
                .unwrap_or_default()
        } else {
            self.by_alias
                .get(&(organization_id.clone(), reference.to_owned()))
                .map(|ids| self.views(ids))
                .unwrap_or_default()
        }
    }

    fn views<'a>(&'a self, ids: impl IntoIterator<Item = &'a Id>) -> Vec<&'a Arc<CustomerView>> {
        ids.into_iter()
            .filter_map(|id| self.by_id.get(id))
            .collect()
    }
}

/// Shared views, by customer id (the order of a hash set is arbitrary).
fn sorted(views: Vec<&Arc<CustomerView>>) -> Vec<Arc<CustomerView>> {
    let mut views: Vec<Arc<CustomerView>> = views.into_iter().map(Arc::clone).collect();
    views.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    views
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

    /// The customers of `organization_id` that `reference` names: a `cus_` id, an AWS account
    /// id or a linked id (an AWS account may be several customers, one per product), shared
    /// (no copy of the views). Answered from the last known state, however old (see
    /// [`Snapshot::age`]).
    pub fn find(&self, organization_id: &Id, reference: &str) -> Vec<Arc<CustomerView>> {
        sorted(self.read().named(organization_id, reference))
    }

    /// Every customer whose subscription is cancel-pending, of every organisation.
    pub fn cancelling(&self) -> Vec<Arc<CustomerView>> {
        let index = self.read();
        sorted(index.views(&index.cancelling))
    }

    /// The customers of `organization_id` subscribed to `product_code` whose subscription grants
    /// access (active or cancel-pending).
    pub fn of_product(&self, organization_id: &Id, product_code: &str) -> Vec<Arc<CustomerView>> {
        let index = self.read();
        let key = (organization_id.clone(), product_code.to_owned());
        sorted(
            index
                .by_product
                .get(&key)
                .map(|ids| index.views(ids))
                .unwrap_or_default(),
        )
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
        let views: Vec<&CustomerView> = index
            .named(organization_id, customer)
            .into_iter()
            .map(AsRef::as_ref)
            .collect();
        Checked {
            outcome: check(&views, feature, quantity, self.clock.now()),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use souk_core::SystemClock;
    use time::macros::datetime;

    use super::*;
    use crate::domain::check::SubscriptionView;

    fn id(raw: &str) -> Id {
        Id::from_trusted(raw.to_owned())
    }

    fn view(
        customer: &str,
        org: &str,
        account: &str,
        product: &str,
        state: Option<SubscriptionState>,
    ) -> CustomerView {
        CustomerView {
            customer_id: id(customer),
            organization_id: id(org),
            aws_account_id: Some(account.to_owned()),
            external_id: Some(format!("ext-{customer}")),
            state,
            features: HashMap::new(),
            has_plans: false,
            subscription: state.map(|_| SubscriptionView {
                subscription_id: id(&format!("sub_{customer}")),
                integration_id: id("int_1"),
                product_code: product.to_owned(),
                customer_identifier: None,
                license_arn: None,
                activated_at: None,
                cancel_pending_at: None,
                final_metering_deadline: Some(datetime!(2026-06-01 01:00 UTC)),
                cancelled_at: None,
            }),
        }
    }

    fn ids(views: &[Arc<CustomerView>]) -> Vec<&str> {
        views.iter().map(|v| v.customer_id.as_str()).collect()
    }

    fn snapshot() -> Snapshot {
        let snapshot = Snapshot::new(Staleness::default(), Arc::new(SystemClock));
        let active = Some(SubscriptionState::Active);
        snapshot.replace_all(
            vec![
                view("cus_a", "org_1", "111122223333", "prod", active),
                view(
                    "cus_b",
                    "org_1",
                    "111122223333",
                    "other",
                    Some(SubscriptionState::CancelPending),
                ),
                view(
                    "cus_c",
                    "org_1",
                    "444455556666",
                    "prod",
                    Some(SubscriptionState::Cancelled),
                ),
                view("cus_d", "org_1", "777788889999", "prod", None),
                view("cus_e", "org_2", "111122223333", "prod", active),
            ],
            Instant::now(),
        );
        snapshot
    }

    #[test]
    fn find_matches_ids_accounts_and_linked_ids_within_the_organisation() {
        let snapshot = snapshot();
        let org = id("org_1");
        assert_eq!(ids(&snapshot.find(&org, "cus_a")), ["cus_a"]);
        assert!(snapshot.find(&org, "cus_e").is_empty(), "another tenant's");
        assert!(snapshot.find(&org, "cus_zzz").is_empty());
        assert_eq!(
            ids(&snapshot.find(&org, "111122223333")),
            ["cus_a", "cus_b"]
        );
        assert_eq!(ids(&snapshot.find(&id("org_2"), "111122223333")), ["cus_e"]);
        assert_eq!(ids(&snapshot.find(&org, "ext-cus_c")), ["cus_c"]);
        assert!(snapshot.find(&org, "nobody").is_empty());
    }

    #[test]
    fn cancelling_and_product_indexes_follow_changes() {
        let snapshot = snapshot();
        let org = id("org_1");
        assert_eq!(ids(&snapshot.cancelling()), ["cus_b"]);
        assert_eq!(ids(&snapshot.of_product(&org, "prod")), ["cus_a"]);
        assert_eq!(ids(&snapshot.of_product(&org, "other")), ["cus_b"]);
        assert_eq!(ids(&snapshot.of_product(&id("org_2"), "prod")), ["cus_e"]);
        assert!(snapshot.of_product(&org, "none").is_empty());

        // a cancels, b ends, c comes back, d subscribes to another product.
        snapshot.apply(
            vec![
                view(
                    "cus_a",
                    "org_1",
                    "111122223333",
                    "prod",
                    Some(SubscriptionState::CancelPending),
                ),
                view(
                    "cus_b",
                    "org_1",
                    "111122223333",
                    "other",
                    Some(SubscriptionState::Cancelled),
                ),
                view(
                    "cus_c",
                    "org_1",
                    "444455556666",
                    "prod",
                    Some(SubscriptionState::Active),
                ),
                view(
                    "cus_d",
                    "org_1",
                    "777788889999",
                    "other",
                    Some(SubscriptionState::Pending),
                ),
            ],
            Instant::now(),
        );
        assert_eq!(ids(&snapshot.cancelling()), ["cus_a"]);
        assert_eq!(ids(&snapshot.of_product(&org, "prod")), ["cus_a", "cus_c"]);
        assert!(
            snapshot.of_product(&org, "other").is_empty(),
            "ended and pending subscriptions are left out"
        );
        assert_eq!(
            ids(&snapshot.find(&org, "111122223333")),
            ["cus_a", "cus_b"]
        );

        // A full reload forgets what is gone.
        snapshot.replace_all(
            vec![view(
                "cus_c",
                "org_1",
                "444455556666",
                "prod",
                Some(SubscriptionState::Active),
            )],
            Instant::now(),
        );
        assert!(snapshot.cancelling().is_empty());
        assert_eq!(ids(&snapshot.of_product(&org, "prod")), ["cus_c"]);
        assert!(snapshot.find(&org, "111122223333").is_empty());
        assert_eq!(snapshot.len(), 1);
    }
}
