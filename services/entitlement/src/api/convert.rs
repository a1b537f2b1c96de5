//! Proto requests to validated domain values, collecting every field violation so that one reply
//! names every bad field. Replies are built by `crate::proto`.

use souk_core::Id;
use souk_core::error::Violations;
use souk_core::validate::idempotency_key;
use souk_proto::entitlement as pb;
use souk_service::convert::{finish, id};

use crate::domain::Error;
use crate::domain::fulfilment::SettingsPatch;
use crate::domain::model::SubscriptionState;
use crate::domain::plan::{Grant, PlanFeature};
use crate::domain::plans::{NewPlan, PlanPatch};
use crate::domain::ports::{AgreementFilter, CustomerFilter, SubscriptionFilter};

/// Most features one BatchCheckEntitlements may ask about.
pub const MAX_BATCH_FEATURES: usize = 1000;

fn key(v: &mut Violations, raw: &str) {
    v.check("idempotency_key", idempotency_key(raw));
}

/// A required id with `prefix` in `field`.
pub fn required(field: &str, prefix: &str, raw: &str) -> Result<Id, Error> {
    Ok(souk_service::convert::required_id(field, prefix, raw)?)
}

fn optional_id(v: &mut Violations, field: &str, prefix: &str, raw: &str) -> Option<Id> {
    (!raw.is_empty()).then(|| id(v, field, prefix, raw))
}

fn optional_text(raw: &str) -> Option<String> {
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// A subscription state filter (unspecified: none).
fn state_filter(v: &mut Violations, field: &str, raw: i32) -> Option<SubscriptionState> {
    match pb::SubscriptionState::try_from(raw) {
        Ok(pb::SubscriptionState::Unspecified) => None,
        Ok(pb::SubscriptionState::Pending) => Some(SubscriptionState::Pending),
        Ok(pb::SubscriptionState::Active) => Some(SubscriptionState::Active),
        Ok(pb::SubscriptionState::Failed) => Some(SubscriptionState::Failed),
        Ok(pb::SubscriptionState::CancelPending) => Some(SubscriptionState::CancelPending),
        Ok(pb::SubscriptionState::Cancelled) => Some(SubscriptionState::Cancelled),
        Err(_) => {
            v.add(field, format!("{raw} is not a SubscriptionState"));
            None
        }
    }
}

/// ResolveCustomer: integration, token, offer type.
pub fn resolve_customer(req: &pb::ResolveCustomerRequest) -> Result<(Id, Option<String>), Error> {
    let mut v = Violations::new();
    let integration = id(&mut v, "integration_id", "int", &req.integration_id);
    if req.registration_token.is_empty() {
        v.add("registration_token", "is required");
    }
    let offer_type = match req.offer_type.as_str() {
        "" => None,
        "free-trial" => Some("free-trial".to_owned()),
        _ => {
            v.add("offer_type", "must be empty or \"free-trial\"");
            None
        }
    };
    key(&mut v, &req.idempotency_key);
    Ok(finish(v, (integration, offer_type))?)
}

/// ListCustomers filters.
pub fn customer_filter(req: &pb::ListCustomersRequest) -> Result<CustomerFilter, Error> {
    let mut v = Violations::new();
    let filter = CustomerFilter {
        integration_id: optional_id(&mut v, "integration_id", "int", &req.integration_id),
        product_code: optional_text(&req.product_code),
        aws_account_id: optional_text(&req.aws_account_id),
        customer_identifier: optional_text(&req.customer_identifier),
        external_id: optional_text(&req.external_id),
        state: state_filter(&mut v, "state", req.state),
    };
    if let Some(account) = &filter.aws_account_id {
        v.check(
            "aws_account_id",
            souk_core::validate::aws_account_id(account),
        );
    }
    Ok(finish(v, filter)?)
}

/// LinkCustomer: the customer and the external id (`None` removes the link).
pub fn link_customer(req: &pb::LinkCustomerRequest) -> Result<(Id, Option<String>), Error> {
    let mut v = Violations::new();
    let customer = id(&mut v, "customer_id", "cus", &req.customer_id);
    let external = optional_text(&req.external_id);
    if let Some(external) = &external {
        v.check(
            "external_id",
            crate::domain::validate::external_id(external),
        );
    }
    key(&mut v, &req.idempotency_key);
    Ok(finish(v, (customer, external))?)
}

/// ListSubscriptions filters.
pub fn subscription_filter(
    req: &pb::ListSubscriptionsRequest,
) -> Result<SubscriptionFilter, Error> {
    let mut v = Violations::new();
    let filter = SubscriptionFilter {
        customer_id: optional_id(&mut v, "customer_id", "cus", &req.customer_id),
        integration_id: optional_id(&mut v, "integration_id", "int", &req.integration_id),
        product_code: optional_text(&req.product_code),
        state: state_filter(&mut v, "state", req.state),
    };
    Ok(finish(v, filter)?)
}

/// ListAgreements filters.
pub fn agreement_filter(req: &pb::ListAgreementsRequest) -> Result<AgreementFilter, Error> {
    let mut v = Violations::new();
    let mut statuses = Vec::new();
    for (i, raw) in req.statuses.iter().enumerate() {
        match pb::AgreementStatus::try_from(*raw)
            .ok()
            .and_then(crate::proto::agreement_status_name)
        {
            Some(name) => statuses.push(name.to_owned()),
            None => v.add(
                format!("statuses[{i}]"),
                format!("{raw} is not an agreement status"),
            ),
        }
    }
    let filter = AgreementFilter {
        customer_id: optional_id(&mut v, "customer_id", "cus", &req.customer_id),
        integration_id: optional_id(&mut v, "integration_id", "int", &req.integration_id),
        offer_id: optional_text(&req.offer_id),
        statuses,
    };
    Ok(finish(v, filter)?)
}

/// An agreement id: `agmt-` and letters or digits.
pub fn agreement_id(raw: &str) -> Result<String, Error> {
    let ok = raw.len() <= 64
        && raw.strip_prefix("agmt-").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Error::invalid(
            "agreement_id",
            "must be an AWS agreement id, \"agmt-...\"",
        ))
    }
}

/// SyncEntitlements: the integration and optional customer.
pub fn sync(req: &pb::SyncEntitlementsRequest) -> Result<(Id, Option<Id>), Error> {
    let mut v = Violations::new();
    let integration = id(&mut v, "integration_id", "int", &req.integration_id);
    let customer = optional_id(&mut v, "customer_id", "cus", &req.customer_id);
    key(&mut v, &req.idempotency_key);
    Ok(finish(v, (integration, customer))?)
}

/// A check's customer reference: a `cus_` id, a 12-digit AWS account, or a linked id.
pub fn customer_ref(v: &mut Violations, raw: &str) {
    if raw.is_empty() {
        v.add(
            "customer",
            "is required: a customer id (cus_...), an AWS account id or your linked account id",
        );
    } else if raw.len() > 128 || !raw.chars().all(|c| c.is_ascii_graphic()) {
        v.add("customer", "must be at most 128 printable ASCII characters");
    } else if raw.starts_with("cus_") && Id::parse("cus", raw).is_err() {
        v.add("customer", "is not a valid customer id");
    }
}

/// CheckEntitlement.
pub fn check(req: &pb::CheckEntitlementRequest) -> Result<(), Error> {
    let mut v = Violations::new();
    customer_ref(&mut v, &req.customer);
    if let Err(Error::InvalidArgument(found)) =
        crate::domain::validate::feature_name("feature", &req.feature)
    {
        for f in found {
            v.add(f.field, f.reason);
        }
    }
    if req.quantity.is_some_and(|q| q < 0) {
        v.add("quantity", "must be 0 or more");
    }
    Ok(finish(v, ())?)
}

/// BatchCheckEntitlements.
pub fn batch_check(req: &pb::BatchCheckEntitlementsRequest) -> Result<(), Error> {
    let mut v = Violations::new();
    customer_ref(&mut v, &req.customer);
    if req.features.is_empty() || req.features.len() > MAX_BATCH_FEATURES {
        v.add(
            "features",
            format!("must name 1 to {MAX_BATCH_FEATURES} features"),
        );
    }
    for (i, feature) in req.features.iter().enumerate() {
        if let Err(Error::InvalidArgument(found)) =
            crate::domain::validate::feature_name(&format!("features[{i}]"), feature)
        {
            for f in found {
                v.add(f.field, f.reason);
            }
        }
    }
    Ok(finish(v, ())?)
}

/// A plan feature.
fn plan_feature(v: &mut Violations, field: &str, f: &pb::PlanFeature) -> PlanFeature {
    let grant = match pb::FeatureKind::try_from(f.kind) {
        Ok(pb::FeatureKind::Boolean) => Grant::Boolean,
        Ok(pb::FeatureKind::Limit) => Grant::Limit(f.limit),
        Ok(pb::FeatureKind::Unlimited) => Grant::Unlimited,
        Ok(pb::FeatureKind::DimensionQuantity) => Grant::DimensionQuantity(f.dimension.clone()),
        _ => {
            v.add(
                format!("{field}.kind"),
                "must be BOOLEAN, LIMIT, UNLIMITED or DIMENSION_QUANTITY",
            );
            Grant::Boolean
        }
    };
    PlanFeature {
        feature: f.feature.clone(),
        grant,
    }
}

fn plan_features(v: &mut Violations, features: &[pb::PlanFeature]) -> Vec<PlanFeature> {
    features
        .iter()
        .enumerate()
        .map(|(i, f)| plan_feature(v, &format!("features[{i}]"), f))
        .collect()
}

/// CreatePlan.
pub fn create_plan(req: &pb::CreatePlanRequest) -> Result<NewPlan, Error> {
    let mut v = Violations::new();
    let plan = NewPlan {
        integration_id: id(&mut v, "integration_id", "int", &req.integration_id),
        product_code: req.product_code.clone(),
        key: req.key.clone(),
        name: optional_text(&req.name),
        dimensions: req.dimensions.clone(),
        features: plan_features(&mut v, &req.features),
    };
    key(&mut v, &req.idempotency_key);
    Ok(finish(v, plan)?)
}

/// UpdatePlan.
pub fn update_plan(req: &pb::UpdatePlanRequest) -> Result<(Id, PlanPatch), Error> {
    let mut v = Violations::new();
    let plan = id(&mut v, "plan_id", "plan", &req.plan_id);
    let features = plan_features(&mut v, &req.features);
    if !req.replace_features && !req.features.is_empty() {
        v.add(
            "features",
            "set replace_features to replace the plan's features",
        );
    }
    if !req.replace_dimensions && !req.dimensions.is_empty() {
        v.add(
            "dimensions",
            "set replace_dimensions to replace the plan's dimensions",
        );
    }
    let patch = PlanPatch {
        name: optional_text(&req.name),
        dimensions: req.replace_dimensions.then(|| req.dimensions.clone()),
        features: req.replace_features.then_some(features),
        expected_version: (req.expected_version != 0).then_some(req.expected_version),
    };
    key(&mut v, &req.idempotency_key);
    Ok(finish(v, (plan, patch))?)
}

/// SetFeature.
pub fn set_feature(req: &pb::SetFeatureRequest) -> Result<(Id, PlanFeature), Error> {
    let mut v = Violations::new();
    let plan = id(&mut v, "plan_id", "plan", &req.plan_id);
    let feature = match &req.feature {
        Some(f) => plan_feature(&mut v, "feature", f),
        None => {
            v.add("feature", "is required");
            PlanFeature {
                feature: String::new(),
                grant: Grant::Boolean,
            }
        }
    };
    key(&mut v, &req.idempotency_key);
    Ok(finish(v, (plan, feature))?)
}

/// An id with an idempotency key (DeletePlan, RemoveFeature, ImportListing).
pub fn id_and_key(field: &str, prefix: &str, raw: &str, idempotency: &str) -> Result<Id, Error> {
    let mut v = Violations::new();
    let found = id(&mut v, field, prefix, raw);
    key(&mut v, idempotency);
    Ok(finish(v, found)?)
}

/// ListPlans filters.
pub fn plan_filter(req: &pb::ListPlansRequest) -> Result<(Option<Id>, Option<String>), Error> {
    let mut v = Violations::new();
    let integration = optional_id(&mut v, "integration_id", "int", &req.integration_id);
    Ok(finish(v, (integration, optional_text(&req.product_code)))?)
}

/// UpdateFulfilmentSettings.
pub fn settings_patch(
    req: &pb::UpdateFulfilmentSettingsRequest,
) -> Result<(Id, SettingsPatch), Error> {
    let mut v = Violations::new();
    let integration = id(&mut v, "integration_id", "int", &req.integration_id);
    if req.clear_signup_url && !req.signup_url.is_empty() {
        v.add("signup_url", "must be empty when clear_signup_url is set");
    }
    if !req.replace_sns_topic_arns && !req.sns_topic_arns.is_empty() {
        v.add(
            "sns_topic_arns",
            "set replace_sns_topic_arns to replace the accepted topics",
        );
    }
    let patch = SettingsPatch {
        signup_url: if req.clear_signup_url {
            Some(None)
        } else {
            optional_text(&req.signup_url).map(Some)
        },
        sns_topic_arns: req
            .replace_sns_topic_arns
            .then(|| req.sns_topic_arns.clone()),
        expiry_notice_days: (!req.expiry_notice_days.is_empty())
            .then(|| req.expiry_notice_days.clone()),
        rotate_handoff_secret: req.rotate_handoff_secret,
        rotate_eventbridge_secret: req.rotate_eventbridge_secret,
    };
    key(&mut v, &req.idempotency_key);
    Ok(finish(v, (integration, patch))?)
}
