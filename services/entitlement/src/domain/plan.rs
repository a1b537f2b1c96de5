//! Plans: the seller's mapping from AWS dimensions to its own plans and feature grants, and the
//! derivation of a customer's features from its subscription, entitlements and the plans.

use std::collections::BTreeMap;

use souk_core::Id;
use time::OffsetDateTime;

use super::model::{Entitlement, EntitlementValue, Feature, SubscriptionState};

/// How a plan grants a feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Allowed, without a limit.
    Boolean,
    /// Allowed up to a fixed limit.
    Limit(i64),
    /// Allowed without a limit.
    Unlimited,
    /// Allowed up to the contract quantity of this AWS dimension.
    DimensionQuantity(String),
}

/// One feature of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFeature {
    /// The seller's feature name.
    pub feature: String,
    /// How it is granted.
    pub grant: Grant,
}

/// A seller's plan of one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `plan_...`.
    pub id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// The integration.
    pub integration_id: Id,
    /// Marketplace product code.
    pub product_code: String,
    /// Unique per product.
    pub key: String,
    /// Display name.
    pub name: String,
    /// AWS dimensions that put a customer on the plan; empty: every subscriber.
    pub dimensions: Vec<String>,
    /// What it grants.
    pub features: Vec<PlanFeature>,
    /// 1 on creation, +1 per change.
    pub version: i64,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// A customer's features: none without an active (or cancel-pending) subscription; each
/// unexpired AWS entitlement as a feature of the same name when the product has no plans; the
/// merged grants of the plans the customer is on otherwise.
pub fn derive_features(
    state: Option<SubscriptionState>,
    entitlements: &[Entitlement],
    plans: &[Plan],
    now: OffsetDateTime,
) -> Vec<Feature> {
    if !state.is_some_and(SubscriptionState::grants_access) {
        return Vec::new();
    }
    let live: Vec<&Entitlement> = entitlements.iter().filter(|e| !e.expired(now)).collect();
    if plans.is_empty() {
        return live.iter().map(|e| dimension_feature(e)).collect();
    }
    let mut merged: BTreeMap<String, Feature> = BTreeMap::new();
    for plan in plans {
        let Some(until) = membership(plan, &live) else {
            continue;
        };
        for feature in &plan.features {
            let Some((limit, unlimited)) = grant_limit(&feature.grant, &live) else {
                continue;
            };
            let entry = merged
                .entry(feature.feature.clone())
                .or_insert_with(|| Feature {
                    name: feature.feature.clone(),
                    allowed: true,
                    limit: None,
                    unlimited: false,
                    expires_at: until,
                    plans: Vec::new(),
                });
            entry.unlimited |= unlimited;
            entry.limit = match (entry.limit, limit) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            if entry.unlimited {
                entry.limit = None;
            }
            // The grant lasts while any plan granting it lasts.
            entry.expires_at = match (entry.expires_at, until) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            entry.plans.push(plan.key.clone());
        }
    }
    merged.into_values().collect()
}

/// The feature an entitlement is when the product has no plans.
fn dimension_feature(entitlement: &Entitlement) -> Feature {
    let limit = match entitlement.value {
        EntitlementValue::Integer(n) => Some(n),
        _ => None,
    };
    Feature {
        name: entitlement.dimension.clone(),
        allowed: entitlement.value.is_positive(),
        limit,
        unlimited: false,
        expires_at: entitlement.expires_at,
        plans: Vec::new(),
    }
}

/// Whether the customer is on `plan` (`None`: not), and until when (`Some(None)`: no end). A plan without
/// dimensions holds every subscriber; a customer without any contract entitlement (a
/// pay-as-you-go subscriber) holds every dimension of its product; otherwise it needs a positive
/// entitlement on one of the plan's dimensions.
fn membership(plan: &Plan, live: &[&Entitlement]) -> Option<Option<OffsetDateTime>> {
    if plan.dimensions.is_empty() || live.is_empty() {
        return Some(None);
    }
    let holding: Vec<&&Entitlement> = live
        .iter()
        .filter(|e| e.value.is_positive() && plan.dimensions.contains(&e.dimension))
        .collect();
    if holding.is_empty() {
        return None;
    }
    let until = if holding.iter().any(|e| e.expires_at.is_none()) {
        None
    } else {
        holding.iter().filter_map(|e| e.expires_at).max()
    };
    Some(until)
}

/// The limit a grant gives (`None`: the grant does not apply), and whether it is unlimited.
fn grant_limit(grant: &Grant, live: &[&Entitlement]) -> Option<(Option<i64>, bool)> {
    match grant {
        Grant::Boolean => Some((None, false)),
        Grant::Limit(n) => Some((Some(*n), false)),
        Grant::Unlimited => Some((None, true)),
        Grant::DimensionQuantity(dimension) => live
            .iter()
            .find(|e| &e.dimension == dimension)
            .and_then(|e| match e.value {
                EntitlementValue::Integer(n) => Some((Some(n), false)),
                _ => None,
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

    fn entitlement(dimension: &str, value: EntitlementValue) -> Entitlement {
        Entitlement {
            customer_id: Id::from_trusted("cus_1".into()),
            product_code: "prod".into(),
            dimension: dimension.into(),
            value,
            expires_at: Some(datetime!(2027-01-01 00:00 UTC)),
            license_arn: None,
            updated_at: NOW,
        }
    }

    fn plan(key: &str, dimensions: &[&str], features: Vec<PlanFeature>) -> Plan {
        Plan {
            id: Id::generate("plan"),
            organization_id: Id::from_trusted("org_1".into()),
            integration_id: Id::from_trusted("int_1".into()),
            product_code: "prod".into(),
            key: key.into(),
            name: key.into(),
            dimensions: dimensions.iter().map(|d| d.to_string()).collect(),
            features,
            version: 1,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn feature(name: &str, grant: Grant) -> PlanFeature {
        PlanFeature {
            feature: name.into(),
            grant,
        }
    }

    #[test]
    fn without_plans_each_dimension_is_a_feature() {
        let features = derive_features(
            Some(SubscriptionState::Active),
            &[
                entitlement("seats", EntitlementValue::Integer(10)),
                entitlement("sso", EntitlementValue::Boolean(false)),
            ],
            &[],
            NOW,
        );
        assert_eq!(features.len(), 2);
        assert_eq!(features[0].name, "seats");
        assert_eq!(features[0].limit, Some(10));
        assert!(features[0].allowed);
        assert!(!features[1].allowed);
    }

    #[test]
    fn no_features_without_access() {
        for state in [
            None,
            Some(SubscriptionState::Pending),
            Some(SubscriptionState::Cancelled),
        ] {
            let features = derive_features(
                state,
                &[entitlement("seats", EntitlementValue::Integer(10))],
                &[],
                NOW,
            );
            assert!(features.is_empty(), "{state:?}");
        }
    }

    #[test]
    fn plans_merge_grants_and_take_limits_from_the_contract() {
        let plans = [
            plan(
                "basic",
                &["seats"],
                vec![
                    feature("users", Grant::DimensionQuantity("seats".into())),
                    feature("reports", Grant::Boolean),
                ],
            ),
            plan(
                "premium",
                &["premium"],
                vec![feature("users", Grant::Unlimited)],
            ),
        ];
        let basic_only = derive_features(
            Some(SubscriptionState::Active),
            &[entitlement("seats", EntitlementValue::Integer(25))],
            &plans,
            NOW,
        );
        let users = basic_only.iter().find(|f| f.name == "users").unwrap();
        assert_eq!((users.limit, users.unlimited), (Some(25), false));
        assert_eq!(users.plans, vec!["basic".to_string()]);

        let both = derive_features(
            Some(SubscriptionState::Active),
            &[
                entitlement("seats", EntitlementValue::Integer(25)),
                entitlement("premium", EntitlementValue::Boolean(true)),
            ],
            &plans,
            NOW,
        );
        let users = both.iter().find(|f| f.name == "users").unwrap();
        assert_eq!((users.limit, users.unlimited), (None, true));
    }

    #[test]
    fn expired_entitlements_grant_nothing() {
        let mut expired = entitlement("seats", EntitlementValue::Integer(5));
        expired.expires_at = Some(datetime!(2026-01-01 00:00 UTC));
        let plans = [plan(
            "basic",
            &["seats"],
            vec![feature("users", Grant::Limit(5))],
        )];
        let with_other = [expired, entitlement("other", EntitlementValue::Integer(1))];
        let features = derive_features(Some(SubscriptionState::Active), &with_other, &plans, NOW);
        assert!(features.iter().all(|f| f.name != "users"));
    }
}
