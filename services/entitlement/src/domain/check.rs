//! The entitlement check: may a customer use a feature now, and up to what limit. Pure, so the
//! in-memory snapshot of every replica answers it without a database or AWS call.

use std::collections::HashMap;

use souk_core::Id;
use time::OffsetDateTime;

use super::model::{Feature, SubscriptionState};

/// What a replica keeps of one customer to answer checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerView {
    /// The customer.
    pub customer_id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// AWS account id, for checks naming the account.
    pub aws_account_id: Option<String>,
    /// The seller's linked id, for checks naming it.
    pub external_id: Option<String>,
    /// Subscription state (`None`: no subscription).
    pub state: Option<SubscriptionState>,
    /// Derived features by name.
    pub features: HashMap<String, Feature>,
    /// Whether the product has plans (without, an active subscriber may use any feature).
    pub has_plans: bool,
    /// What usage metering needs of the subscription (`None`: no subscription).
    pub subscription: Option<SubscriptionView>,
}

/// The subscription of a [`CustomerView`] as usage metering sees it: how AWS names the buyer and
/// when usage may be shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// The subscription (`sub_...`).
    pub subscription_id: Id,
    /// The integration (seller account) the customer buys through.
    pub integration_id: Id,
    /// Marketplace product code.
    pub product_code: String,
    /// Legacy AWS CustomerIdentifier, once known.
    pub customer_identifier: Option<String>,
    /// Licence ARN (concurrent-agreement products), once known: the subscription's, else the
    /// customer's.
    pub license_arn: Option<String>,
    /// When the subscription became active.
    pub activated_at: Option<OffsetDateTime>,
    /// When the cancellation was announced.
    pub cancel_pending_at: Option<OffsetDateTime>,
    /// Last instant AWS accepts usage after a cancellation was announced.
    pub final_metering_deadline: Option<OffsetDateTime>,
    /// When the subscription ended.
    pub cancelled_at: Option<OffsetDateTime>,
}

/// Why a check allowed or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckReason {
    /// A feature grant covers the request.
    Entitled,
    /// An active subscriber of a product without plans, on a feature with no contract limit.
    Subscribed,
    /// No active or cancel-pending subscription.
    NotSubscribed,
    /// No grant of the feature.
    NoEntitlement,
    /// The grant expired.
    Expired,
    /// Above the limit.
    LimitExceeded,
    /// No such customer.
    UnknownCustomer,
    /// The replica's view is too old; the feature's configured default answered.
    StaleDefault,
}

/// The answer of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// May use it.
    pub allowed: bool,
    /// The limit, if any.
    pub limit: Option<i64>,
    /// No limit.
    pub unlimited: bool,
    /// When the grant ends.
    pub expires_at: Option<OffsetDateTime>,
    /// Why.
    pub reason: CheckReason,
    /// The subscription's state.
    pub state: Option<SubscriptionState>,
    /// The customer answered for.
    pub customer_id: Option<Id>,
}

impl CheckOutcome {
    fn refused(reason: CheckReason, view: Option<&CustomerView>) -> Self {
        Self {
            allowed: false,
            limit: None,
            unlimited: false,
            expires_at: None,
            reason,
            state: view.and_then(|v| v.state),
            customer_id: view.map(|v| v.customer_id.clone()),
        }
    }

    /// Allowed answers first, then the most specific refusal.
    fn rank(&self) -> u8 {
        match self.reason {
            CheckReason::Entitled => 0,
            CheckReason::Subscribed => 1,
            CheckReason::LimitExceeded => 2,
            CheckReason::Expired => 3,
            CheckReason::NoEntitlement => 4,
            CheckReason::NotSubscribed => 5,
            CheckReason::UnknownCustomer => 6,
            CheckReason::StaleDefault => 7,
        }
    }
}

/// Checks `feature` (and `quantity`, if given) for the customers a request named (an AWS
/// account may be several customers, one per product: the best answer wins).
pub fn check(
    views: &[&CustomerView],
    feature: &str,
    quantity: Option<i64>,
    now: OffsetDateTime,
) -> CheckOutcome {
    views
        .iter()
        .map(|view| check_one(view, feature, quantity, now))
        .min_by_key(CheckOutcome::rank)
        .unwrap_or_else(|| CheckOutcome::refused(CheckReason::UnknownCustomer, None))
}

fn check_one(
    view: &CustomerView,
    feature: &str,
    quantity: Option<i64>,
    now: OffsetDateTime,
) -> CheckOutcome {
    if !view.state.is_some_and(SubscriptionState::grants_access) {
        return CheckOutcome::refused(CheckReason::NotSubscribed, Some(view));
    }
    let Some(grant) = view.features.get(feature) else {
        if view.has_plans {
            return CheckOutcome::refused(CheckReason::NoEntitlement, Some(view));
        }
        return CheckOutcome {
            allowed: true,
            reason: CheckReason::Subscribed,
            ..CheckOutcome::refused(CheckReason::Subscribed, Some(view))
        };
    };
    let answer = |allowed, reason| CheckOutcome {
        allowed,
        limit: grant.limit,
        unlimited: grant.unlimited,
        expires_at: grant.expires_at,
        reason,
        state: view.state,
        customer_id: Some(view.customer_id.clone()),
    };
    if grant.expires_at.is_some_and(|at| at <= now) {
        return answer(false, CheckReason::Expired);
    }
    if !grant.allowed {
        return answer(false, CheckReason::NoEntitlement);
    }
    let over = match (quantity, grant.limit, grant.unlimited) {
        (Some(wanted), Some(limit), false) => wanted > limit,
        _ => false,
    };
    if over {
        return answer(false, CheckReason::LimitExceeded);
    }
    answer(true, CheckReason::Entitled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

    fn view(
        state: Option<SubscriptionState>,
        features: &[Feature],
        has_plans: bool,
    ) -> CustomerView {
        CustomerView {
            customer_id: Id::from_trusted("cus_1".into()),
            organization_id: Id::from_trusted("org_1".into()),
            aws_account_id: Some("111122223333".into()),
            external_id: None,
            state,
            features: features
                .iter()
                .map(|f| (f.name.clone(), f.clone()))
                .collect(),
            has_plans,
            subscription: None,
        }
    }

    fn seats(limit: i64, expires_at: Option<OffsetDateTime>) -> Feature {
        Feature {
            name: "seats".into(),
            allowed: true,
            limit: Some(limit),
            unlimited: false,
            expires_at,
            plans: vec![],
        }
    }

    #[test]
    fn reasons() {
        let active = Some(SubscriptionState::Active);
        let v = view(active, &[seats(10, None)], true);
        assert_eq!(
            check(&[&v], "seats", Some(10), NOW).reason,
            CheckReason::Entitled
        );
        assert_eq!(
            check(&[&v], "seats", Some(11), NOW).reason,
            CheckReason::LimitExceeded
        );
        assert_eq!(
            check(&[&v], "sso", None, NOW).reason,
            CheckReason::NoEntitlement
        );
        let v = view(active, &[seats(10, Some(NOW))], true);
        assert_eq!(
            check(&[&v], "seats", None, NOW).reason,
            CheckReason::Expired
        );
        let v = view(active, &[], false);
        let open = check(&[&v], "anything", None, NOW);
        assert!(open.allowed);
        assert_eq!(open.reason, CheckReason::Subscribed);
        let v = view(Some(SubscriptionState::Cancelled), &[seats(10, None)], true);
        assert_eq!(
            check(&[&v], "seats", None, NOW).reason,
            CheckReason::NotSubscribed
        );
        assert_eq!(
            check(&[], "seats", None, NOW).reason,
            CheckReason::UnknownCustomer
        );
    }

    #[test]
    fn the_best_of_several_customers_wins() {
        let cancelled = view(Some(SubscriptionState::Cancelled), &[], true);
        let active = view(Some(SubscriptionState::Active), &[seats(3, None)], true);
        let outcome = check(&[&cancelled, &active], "seats", None, NOW);
        assert!(outcome.allowed);
        assert_eq!(outcome.limit, Some(3));
    }
}
