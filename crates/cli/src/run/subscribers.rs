//! The metering service's subscribers, answered from the entitlement service's in-memory check
//! snapshot (the binary joins the two services; neither knows the other).

use std::sync::Arc;

use anyhow::Context;
use souk_core::Id;
use souk_entitlement::domain::check::CustomerView;
use souk_entitlement::domain::model::SubscriptionState;
use souk_entitlement::{Follower, Snapshot, SnapshotReader};
use souk_metering::domain::model::{AwsCustomer, Subscriber, SubscriberState};
use souk_metering::domain::ports::Subscribers;
use time::{Duration, OffsetDateTime};

/// [`Subscribers`] over an entitlement [`Snapshot`]: the one of the entitlement service when
/// the process serves it (`EntitlementApp::snapshot`), else one kept by [`reader`].
#[derive(Debug, Clone)]
pub struct SnapshotSubscribers(pub Snapshot);

impl SnapshotSubscribers {
    /// Whether the snapshot was loaded at least once (before, every customer is unknown).
    pub fn is_loaded(&self) -> bool {
        self.0.age().is_some()
    }

    /// Waits until the snapshot was loaded at least once, at most `timeout`; returns whether
    /// it was.
    pub async fn wait_loaded(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_loaded() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        true
    }
}

impl Subscribers for SnapshotSubscribers {
    fn find(&self, organization_id: &Id, reference: &str) -> Vec<Subscriber> {
        subscribers(self.0.find(organization_id, reference))
    }

    fn cancelling(&self) -> Vec<Subscriber> {
        subscribers(self.0.cancelling())
    }

    fn of_product(&self, organization_id: &Id, product_code: &str) -> Vec<Subscriber> {
        subscribers(self.0.of_product(organization_id, product_code))
    }
}

/// Connections of the entitlement store a [`reader`] holds: the follower reads one
/// transaction at a time.
const READER_CONNECTIONS: u32 = 2;

/// For `souk serve metering` (a process that does not serve the entitlement service): opens the
/// entitlement store in `databases`, runs its migrations (idempotent, safe beside a running
/// entitlement service) and keeps a snapshot of its customers current, reading only (no
/// pollers, no housekeeping, no writes). The snapshot is empty until the first load
/// ([`SnapshotSubscribers::wait_loaded`]). On shutdown, [`Follower::shutdown`] then close the
/// returned store; notify [`Follower::trigger`] on subscription and entitlement events from the
/// bus to catch up at once (it also reads every `entitlement.snapshot_poll_interval`).
pub async fn reader(
    databases: &super::assembly::Databases,
    config: &crate::config::Config,
    clock: souk_core::SharedClock,
) -> anyhow::Result<(SnapshotSubscribers, Follower, souk_store::Store)> {
    let store = databases
        .open(souk_entitlement::STORE_NAME, READER_CONNECTIONS)
        .await?;
    let (snapshot, follower) = SnapshotReader::start(store.clone(), clock, &config.entitlement)
        .await
        .context("cannot follow the entitlement store")?;
    Ok((SnapshotSubscribers(snapshot), follower, store))
}

/// The views that are subscribers (a customer without a subscription is none).
fn subscribers(views: Vec<Arc<CustomerView>>) -> Vec<Subscriber> {
    views.iter().filter_map(|view| subscriber(view)).collect()
}

/// A customer view as metering sees it; `None` without a subscription.
pub fn subscriber(view: &CustomerView) -> Option<Subscriber> {
    let subscription = view.subscription.as_ref()?;
    let state = match view.state? {
        SubscriptionState::Pending => SubscriberState::Pending,
        SubscriptionState::Active => SubscriberState::Active,
        SubscriptionState::CancelPending => SubscriberState::CancelPending {
            // The entitlement service sets the deadline with the state; the fallbacks only
            // guard against a row written otherwise: AWS's hour after the announcement, else
            // a deadline already past (usage refused, the final hour shipped at once).
            deadline: subscription
                .final_metering_deadline
                .or_else(|| {
                    subscription
                        .cancel_pending_at
                        .map(|at| at + Duration::hours(1))
                })
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        },
        SubscriptionState::Cancelled => SubscriberState::Cancelled {
            at: subscription.cancelled_at,
        },
        SubscriptionState::Failed => SubscriberState::Failed,
    };
    let aws_customer = match (
        &subscription.license_arn,
        &subscription.customer_identifier,
        &view.aws_account_id,
    ) {
        (None, Some(identifier), _) => Some(AwsCustomer::Identifier(identifier.clone())),
        (Some(license_arn), _, Some(aws_account_id)) => Some(AwsCustomer::Licence {
            aws_account_id: aws_account_id.clone(),
            license_arn: license_arn.clone(),
        }),
        _ => None,
    };
    Some(Subscriber {
        organization_id: view.organization_id.clone(),
        customer_id: view.customer_id.clone(),
        subscription_id: subscription.subscription_id.clone(),
        integration_id: subscription.integration_id.clone(),
        product_code: subscription.product_code.clone(),
        aws_customer,
        state,
        activated_at: subscription.activated_at,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use souk_entitlement::domain::check::SubscriptionView;
    use souk_entitlement::snapshot::Staleness;
    use time::macros::datetime;

    use super::*;

    fn id(raw: &str) -> Id {
        Id::from_trusted(raw.to_owned())
    }

    fn view(
        customer: &str,
        state: SubscriptionState,
        license_arn: Option<&str>,
        customer_identifier: Option<&str>,
    ) -> CustomerView {
        CustomerView {
            customer_id: id(customer),
            organization_id: id("org_1"),
            aws_account_id: Some("111122223333".into()),
            external_id: Some(format!("acct-{customer}")),
            state: Some(state),
            features: HashMap::new(),
            has_plans: false,
            subscription: Some(SubscriptionView {
                subscription_id: id(&format!("sub_{customer}")),
                integration_id: id("int_1"),
                product_code: "prod".into(),
                customer_identifier: customer_identifier.map(str::to_owned),
                license_arn: license_arn.map(str::to_owned),
                activated_at: Some(datetime!(2026-06-01 00:00 UTC)),
                cancel_pending_at: Some(datetime!(2026-06-02 10:00 UTC)),
                final_metering_deadline: Some(datetime!(2026-06-02 11:00 UTC)),
                cancelled_at: Some(datetime!(2026-06-02 12:00 UTC)),
            }),
        }
    }

    #[test]
    fn states_and_aws_names_map() {
        let legacy = subscriber(&view(
            "cus_1",
            SubscriptionState::Active,
            None,
            Some("ident-1"),
        ))
        .unwrap();
        assert_eq!(legacy.state, SubscriberState::Active);
        assert_eq!(
            legacy.aws_customer,
            Some(AwsCustomer::Identifier("ident-1".into()))
        );
        assert_eq!(legacy.subscription_id, id("sub_cus_1"));
        assert_eq!(legacy.integration_id, id("int_1"));
        assert_eq!(legacy.activated_at, Some(datetime!(2026-06-01 00:00 UTC)));

        let licensed = subscriber(&view(
            "cus_2",
            SubscriptionState::CancelPending,
            Some("arn:aws:license-manager::1:license/l-1"),
            None,
        ))
        .unwrap();
        assert_eq!(
            licensed.state,
            SubscriberState::CancelPending {
                deadline: datetime!(2026-06-02 11:00 UTC)
            }
        );
        assert_eq!(
            licensed.aws_customer,
            Some(AwsCustomer::Licence {
                aws_account_id: "111122223333".into(),
                license_arn: "arn:aws:license-manager::1:license/l-1".into(),
            })
        );

        let unknown = subscriber(&view("cus_3", SubscriptionState::Pending, None, None)).unwrap();
        assert_eq!(unknown.state, SubscriberState::Pending);
        assert_eq!(unknown.aws_customer, None);
        let mut no_account = view("cus_4", SubscriptionState::Cancelled, Some("arn"), None);
        no_account.aws_account_id = None;
        let ended = subscriber(&no_account).unwrap();
        assert_eq!(ended.aws_customer, None);
        assert_eq!(
            ended.state,
            SubscriberState::Cancelled {
                at: Some(datetime!(2026-06-02 12:00 UTC))
            }
        );
        assert_eq!(
            subscriber(&view("cus_5", SubscriptionState::Failed, None, None))
                .unwrap()
                .state,
            SubscriberState::Failed
        );
        let mut no_subscription = view("cus_6", SubscriptionState::Active, None, None);
        no_subscription.subscription = None;
        assert_eq!(subscriber(&no_subscription), None);
    }

    #[test]
    fn the_port_answers_from_the_snapshot() {
        let snapshot = Snapshot::new(Staleness::default(), Arc::new(souk_core::SystemClock));
        let subscribers = SnapshotSubscribers(snapshot.clone());
        assert!(!subscribers.is_loaded());
        snapshot.replace_all(
            vec![
                view("cus_1", SubscriptionState::Active, None, Some("i1")),
                view("cus_2", SubscriptionState::CancelPending, None, Some("i2")),
                view("cus_3", SubscriptionState::Cancelled, None, Some("i3")),
            ],
            std::time::Instant::now(),
        );
        assert!(subscribers.is_loaded());
        let org = id("org_1");
        assert_eq!(subscribers.find(&org, "cus_2")[0].customer_id, id("cus_2"));
        assert_eq!(subscribers.find(&org, "111122223333").len(), 3);
        assert_eq!(subscribers.find(&org, "acct-cus_3").len(), 1);
        assert!(subscribers.find(&id("org_2"), "cus_1").is_empty());
        let cancelling: Vec<Id> = subscribers
            .cancelling()
            .into_iter()
            .map(|s| s.customer_id)
            .collect();
        assert_eq!(cancelling, [id("cus_2")]);
        let live: Vec<Id> = subscribers
            .of_product(&org, "prod")
            .into_iter()
            .map(|s| s.customer_id)
            .collect();
        assert_eq!(live, [id("cus_1"), id("cus_2")]);
    }
}
