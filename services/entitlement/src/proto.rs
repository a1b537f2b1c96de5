//! Domain values as `souk.entitlement.v1` messages: one set of builders for the gRPC replies
//! (`api/`) and the event payloads (`events/`).

use souk_proto::entitlement as pb;
use souk_service::convert::timestamp;

use crate::domain::model::{
    Agreement, Customer, Entitlement, EntitlementValue, Feature, Subscription, SubscriptionState,
};
use crate::domain::plan::{Grant, Plan, PlanFeature};

/// Subscription state.
pub fn state(state: SubscriptionState) -> pb::SubscriptionState {
    match state {
        SubscriptionState::Pending => pb::SubscriptionState::Pending,
        SubscriptionState::Active => pb::SubscriptionState::Active,
        SubscriptionState::Failed => pb::SubscriptionState::Failed,
        SubscriptionState::CancelPending => pb::SubscriptionState::CancelPending,
        SubscriptionState::Cancelled => pb::SubscriptionState::Cancelled,
    }
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// Customer, with its subscription's state.
pub fn customer(c: &Customer, subscription_state: Option<SubscriptionState>) -> pb::Customer {
    pb::Customer {
        id: c.id.to_string(),
        integration_id: c.integration_id.to_string(),
        product_code: c.product_code.clone(),
        customer_identifier: text(&c.customer_identifier),
        aws_account_id: text(&c.aws_account_id),
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        external_id: text(&c.external_id),
        subscription_state: subscription_state.map_or(pb::SubscriptionState::Unspecified, state)
            as i32,
        signup: c.signup.as_ref().map(|s| pb::SignupDetails {
            company: s.company.clone(),
            contact_name: s.contact_name.clone(),
            email: s.email.clone(),
            submit_time: Some(timestamp(s.submitted_at)),
        }),
        license_arn: text(&c.license_arn),
    }
}

/// Subscription.
pub fn subscription(s: &Subscription) -> pb::Subscription {
    pb::Subscription {
        id: s.id.to_string(),
        customer_id: s.customer_id.to_string(),
        integration_id: s.integration_id.to_string(),
        product_code: s.product_code.clone(),
        license_arn: text(&s.license_arn),
        agreement_id: text(&s.agreement_id),
        offer_id: text(&s.offer_id),
        state: state(s.state) as i32,
        free_trial: s.free_trial,
        activate_time: s.activated_at.map(timestamp),
        cancel_pending_time: s.cancel_pending_at.map(timestamp),
        final_metering_deadline: s.final_metering_deadline.map(timestamp),
        cancel_time: s.cancelled_at.map(timestamp),
        create_time: Some(timestamp(s.created_at)),
        update_time: Some(timestamp(s.updated_at)),
    }
}

/// Entitlement value.
fn value(v: &EntitlementValue) -> pb::EntitlementValue {
    use pb::entitlement_value::Kind;
    pb::EntitlementValue {
        kind: Some(match v {
            EntitlementValue::Integer(n) => Kind::IntegerValue(*n),
            EntitlementValue::Boolean(b) => Kind::BooleanValue(*b),
            EntitlementValue::Text(t) => Kind::StringValue(t.clone()),
            EntitlementValue::Decimal(d) => Kind::DecimalValue(d.clone()),
        }),
    }
}

/// Entitlement.
pub fn entitlement(e: &Entitlement) -> pb::Entitlement {
    pb::Entitlement {
        customer_id: e.customer_id.to_string(),
        product_code: e.product_code.clone(),
        dimension: e.dimension.clone(),
        value: Some(value(&e.value)),
        expire_time: e.expires_at.map(timestamp),
        license_arn: text(&e.license_arn),
        update_time: Some(timestamp(e.updated_at)),
    }
}

/// A customer's feature.
pub fn feature(f: &Feature) -> pb::CustomerFeature {
    pb::CustomerFeature {
        feature: f.name.clone(),
        allowed: f.allowed,
        limit: f.limit,
        unlimited: f.unlimited,
        expire_time: f.expires_at.map(timestamp),
        plans: f.plans.clone(),
    }
}

/// AWS agreement status names to the enum.
fn agreement_status(status: &str) -> pb::AgreementStatus {
    match status {
        "ACTIVE" => pb::AgreementStatus::Active,
        "TERMINATED" => pb::AgreementStatus::Terminated,
        "CANCELLED" => pb::AgreementStatus::Cancelled,
        "EXPIRED" => pb::AgreementStatus::Expired,
        "REPLACED" => pb::AgreementStatus::Replaced,
        "RENEWED" => pb::AgreementStatus::Renewed,
        "ARCHIVED" => pb::AgreementStatus::Archived,
        "ROLLED_BACK" => pb::AgreementStatus::RolledBack,
        "SUPERSEDED" => pb::AgreementStatus::Superseded,
        _ => pb::AgreementStatus::Unspecified,
    }
}

/// The stored status name of an enum value (`None` for unspecified).
pub fn agreement_status_name(status: pb::AgreementStatus) -> Option<&'static str> {
    Some(match status {
        pb::AgreementStatus::Unspecified => return None,
        pb::AgreementStatus::Active => "ACTIVE",
        pb::AgreementStatus::Terminated => "TERMINATED",
        pb::AgreementStatus::Cancelled => "CANCELLED",
        pb::AgreementStatus::Expired => "EXPIRED",
        pb::AgreementStatus::Replaced => "REPLACED",
        pb::AgreementStatus::Renewed => "RENEWED",
        pb::AgreementStatus::Archived => "ARCHIVED",
        pb::AgreementStatus::RolledBack => "ROLLED_BACK",
        pb::AgreementStatus::Superseded => "SUPERSEDED",
    })
}

/// Agreement.
pub fn agreement(a: &Agreement) -> pb::Agreement {
    pb::Agreement {
        id: a.id.clone(),
        integration_id: a.integration_id.to_string(),
        customer_id: a
            .customer_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        product_code: text(&a.product_code),
        offer_id: text(&a.offer_id),
        acceptor_account_id: text(&a.acceptor_account_id),
        status: agreement_status(&a.status) as i32,
        start_time: a.start_at.map(timestamp),
        end_time: a.end_at.map(timestamp),
        update_time: Some(timestamp(a.updated_at)),
        ..pb::Agreement::default()
    }
}

/// A plan's feature.
pub fn plan_feature(f: &PlanFeature) -> pb::PlanFeature {
    let (kind, limit, dimension) = match &f.grant {
        Grant::Boolean => (pb::FeatureKind::Boolean, 0, String::new()),
        Grant::Limit(n) => (pb::FeatureKind::Limit, *n, String::new()),
        Grant::Unlimited => (pb::FeatureKind::Unlimited, 0, String::new()),
        Grant::DimensionQuantity(d) => (pb::FeatureKind::DimensionQuantity, 0, d.clone()),
    };
    pb::PlanFeature {
        feature: f.feature.clone(),
        kind: kind as i32,
        limit,
        dimension,
    }
}

/// Plan.
pub fn plan(p: &Plan) -> pb::Plan {
    pb::Plan {
        id: p.id.to_string(),
        integration_id: p.integration_id.to_string(),
        product_code: p.product_code.clone(),
        key: p.key.clone(),
        name: p.name.clone(),
        dimensions: p.dimensions.clone(),
        features: p.features.iter().map(plan_feature).collect(),
        version: p.version,
        create_time: Some(timestamp(p.created_at)),
        update_time: Some(timestamp(p.updated_at)),
    }
}
