//! Rows to domain types and back. Instants are unix milliseconds, flags 0/1, and sign-up
//! details, plan dimensions and features, feature plans and settings lists JSON text.
//!
//! Queries that join tables alias the columns of the joined ones (`s_` for subscriptions, `e_`
//! for entitlements), so every mapper reads the same names whichever query produced the row.

use serde::{Deserialize, Serialize};
use souk_core::Id;
use souk_core::clock::{from_unix_millis, to_unix_millis};
use souk_store::row::{at, id, int, opt_at, opt_text, text};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::db;
use crate::domain::Error;
use crate::domain::check::SubscriptionView;
use crate::domain::model::{
    Agreement, Customer, Entitlement, EntitlementValue, Feature, FulfilmentSettings, Signup,
    Subscription, SubscriptionState,
};
use crate::domain::plan::{Grant, Plan, PlanFeature};

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Internal(format!("stored {what} is unreadable: {detail}"))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Internal(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(what: &str, raw: &str) -> Result<T, Error> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

fn flag(row: &AnyRow, column: &str) -> Result<bool, Error> {
    Ok(int(row, column)? != 0)
}

/// An optional instant as stored.
pub(crate) fn millis(at: Option<OffsetDateTime>) -> Option<i64> {
    at.map(to_unix_millis)
}

/// A flag as stored.
pub(crate) fn bit(flag: bool) -> i64 {
    i64::from(flag)
}

// --- customers ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct SignupJson {
    company: String,
    contact_name: String,
    email: String,
    submitted_at_ms: i64,
}

pub(crate) fn signup_json(signup: Option<&Signup>) -> Result<Option<String>, Error> {
    signup
        .map(|s| {
            to_json(&SignupJson {
                company: s.company.clone(),
                contact_name: s.contact_name.clone(),
                email: s.email.clone(),
                submitted_at_ms: to_unix_millis(s.submitted_at),
            })
        })
        .transpose()
}

fn parse_signup(raw: &str) -> Result<Signup, Error> {
    let s: SignupJson = from_json("sign-up", raw)?;
    Ok(Signup {
        company: s.company,
        contact_name: s.contact_name,
        email: s.email,
        submitted_at: from_unix_millis(s.submitted_at_ms),
    })
}

/// Columns of `customers c`, in the order [`customer`] reads them.
pub(crate) const CUSTOMER_COLUMNS: &str = "c.id, c.organization_id, c.integration_id, \
     c.product_code, c.customer_identifier, c.aws_account_id, c.license_arn, c.external_id, \
     c.signup, c.created_at, c.updated_at";

pub(crate) fn customer(row: &AnyRow) -> Result<Customer, Error> {
    let signup = opt_text(row, "signup")?;
    Ok(Customer {
        id: id(row, "id")?,
        organization_id: id(row, "organization_id")?,
        integration_id: id(row, "integration_id")?,
        product_code: text(row, "product_code")?,
        customer_identifier: opt_text(row, "customer_identifier")?,
        aws_account_id: opt_text(row, "aws_account_id")?,
        license_arn: opt_text(row, "license_arn")?,
        external_id: opt_text(row, "external_id")?,
        signup: signup.as_deref().map(parse_signup).transpose()?,
        created_at: at(row, "created_at")?,
        updated_at: at(row, "updated_at")?,
    })
}

// --- subscriptions -----------------------------------------------------------------------

/// Columns of `subscriptions s` (aliased `s_…`), in the order [`subscription`] reads them.
pub(crate) const SUBSCRIPTION_COLUMNS: &str = "s.id AS s_id, \
     s.organization_id AS s_organization_id, s.integration_id AS s_integration_id, \
     s.customer_id AS s_customer_id, s.product_code AS s_product_code, \
     s.license_arn AS s_license_arn, s.agreement_id AS s_agreement_id, s.offer_id AS s_offer_id, \
     s.state AS s_state, s.free_trial AS s_free_trial, s.activated_at AS s_activated_at, \
     s.cancel_pending_at AS s_cancel_pending_at, \
     s.final_metering_deadline AS s_final_metering_deadline, s.cancelled_at AS s_cancelled_at, \
     s.state_notice_at AS s_state_notice_at, s.created_at AS s_created_at, \
     s.updated_at AS s_updated_at";

pub(crate) fn state(raw: &str) -> Result<SubscriptionState, Error> {
    SubscriptionState::parse(raw).ok_or_else(|| corrupt("subscription state", raw))
}

/// The subscription state of a row read with a `LEFT JOIN subscriptions s` (`None`: none).
pub(crate) fn optional_state(row: &AnyRow) -> Result<Option<SubscriptionState>, Error> {
    opt_text(row, "s_state")?.as_deref().map(state).transpose()
}

pub(crate) fn subscription(row: &AnyRow) -> Result<Subscription, Error> {
    Ok(Subscription {
        id: id(row, "s_id")?,
        organization_id: id(row, "s_organization_id")?,
        integration_id: id(row, "s_integration_id")?,
        customer_id: id(row, "s_customer_id")?,
        product_code: text(row, "s_product_code")?,
        license_arn: opt_text(row, "s_license_arn")?,
        agreement_id: opt_text(row, "s_agreement_id")?,
        offer_id: opt_text(row, "s_offer_id")?,
        state: state(&text(row, "s_state")?)?,
        free_trial: flag(row, "s_free_trial")?,
        activated_at: opt_at(row, "s_activated_at")?,
        cancel_pending_at: opt_at(row, "s_cancel_pending_at")?,
        final_metering_deadline: opt_at(row, "s_final_metering_deadline")?,
        cancelled_at: opt_at(row, "s_cancelled_at")?,
        state_notice_at: opt_at(row, "s_state_notice_at")?,
        created_at: at(row, "s_created_at")?,
        updated_at: at(row, "s_updated_at")?,
    })
}

/// A customer and its subscription, from a row with both column lists.
pub(crate) fn customer_record(row: &AnyRow) -> Result<crate::domain::ports::CustomerRecord, Error> {
    Ok(crate::domain::ports::CustomerRecord {
        customer: customer(row)?,
        subscription: subscription(row)?,
    })
}

// --- agreements --------------------------------------------------------------------------

/// Columns of `agreements`, in the order [`agreement`] reads them.
pub(crate) const AGREEMENT_COLUMNS: &str = "id, organization_id, integration_id, customer_id, \
     product_code, offer_id, acceptor_account_id, status, start_at, end_at, updated_at";

pub(crate) fn agreement(row: &AnyRow) -> Result<Agreement, Error> {
    Ok(Agreement {
        id: text(row, "id")?,
        organization_id: id(row, "organization_id")?,
        integration_id: id(row, "integration_id")?,
        customer_id: opt_text(row, "customer_id")?.map(Id::from_trusted),
        product_code: opt_text(row, "product_code")?,
        offer_id: opt_text(row, "offer_id")?,
        acceptor_account_id: opt_text(row, "acceptor_account_id")?,
        status: text(row, "status")?,
        start_at: opt_at(row, "start_at")?,
        end_at: opt_at(row, "end_at")?,
        updated_at: at(row, "updated_at")?,
    })
}

// --- entitlements ------------------------------------------------------------------------

/// Columns of `entitlements e` (aliased `e_…`), in the order [`entitlement`] reads them.
pub(crate) const ENTITLEMENT_COLUMNS: &str = "e.customer_id AS e_customer_id, \
     e.product_code AS e_product_code, e.dimension AS e_dimension, \
     e.value_kind AS e_value_kind, e.value_text AS e_value_text, e.expires_at AS e_expires_at, \
     e.license_arn AS e_license_arn, e.updated_at AS e_updated_at";

/// How a value is stored: its kind and its text.
pub(crate) fn value_parts(value: &EntitlementValue) -> (&'static str, String) {
    match value {
        EntitlementValue::Integer(n) => ("integer", n.to_string()),
        EntitlementValue::Boolean(b) => ("boolean", b.to_string()),
        EntitlementValue::Text(t) => ("text", t.clone()),
        EntitlementValue::Decimal(d) => ("decimal", d.clone()),
    }
}

fn parse_value(kind: &str, raw: String) -> Result<EntitlementValue, Error> {
    Ok(match kind {
        "integer" => EntitlementValue::Integer(
            raw.parse()
                .map_err(|_| corrupt("entitlement quantity", &raw))?,
        ),
        "boolean" => EntitlementValue::Boolean(match raw.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(corrupt("entitlement flag", &raw)),
        }),
        "text" => EntitlementValue::Text(raw),
        "decimal" => EntitlementValue::Decimal(raw),
        other => return Err(corrupt("entitlement value kind", other)),
    })
}

pub(crate) fn entitlement(row: &AnyRow) -> Result<Entitlement, Error> {
    let kind = text(row, "e_value_kind")?;
    Ok(Entitlement {
        customer_id: id(row, "e_customer_id")?,
        product_code: text(row, "e_product_code")?,
        dimension: text(row, "e_dimension")?,
        value: parse_value(&kind, text(row, "e_value_text")?)?,
        expires_at: opt_at(row, "e_expires_at")?,
        license_arn: opt_text(row, "e_license_arn")?,
        updated_at: at(row, "e_updated_at")?,
    })
}

// --- features ----------------------------------------------------------------------------

/// Columns of `customer_features f`, in the order [`feature`] reads them.
pub(crate) const FEATURE_COLUMNS: &str =
    "f.customer_id, f.feature, f.allowed, f.limit_value, f.unlimited, f.expires_at, f.plans";

pub(crate) fn plans_json(plans: &[String]) -> Result<String, Error> {
    to_json(&plans)
}

pub(crate) fn feature(row: &AnyRow) -> Result<Feature, Error> {
    Ok(Feature {
        name: text(row, "feature")?,
        allowed: flag(row, "allowed")?,
        limit: row.try_get("limit_value").map_err(db)?,
        unlimited: flag(row, "unlimited")?,
        expires_at: opt_at(row, "expires_at")?,
        plans: from_json("feature plans", &text(row, "plans")?)?,
    })
}

/// The customer a feature row belongs to.
pub(crate) fn feature_customer(row: &AnyRow) -> Result<Id, Error> {
    Ok(id(row, "customer_id")?)
}

// --- plans -------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct PlanFeatureJson {
    feature: String,
    grant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dimension: Option<String>,
}

pub(crate) fn plan_features_json(features: &[PlanFeature]) -> Result<String, Error> {
    let rows: Vec<PlanFeatureJson> = features
        .iter()
        .map(|f| {
            let (grant, limit, dimension) = match &f.grant {
                Grant::Boolean => ("boolean", None, None),
                Grant::Limit(n) => ("limit", Some(*n), None),
                Grant::Unlimited => ("unlimited", None, None),
                Grant::DimensionQuantity(d) => ("dimension_quantity", None, Some(d.clone())),
            };
            PlanFeatureJson {
                feature: f.feature.clone(),
                grant: grant.to_owned(),
                limit,
                dimension,
            }
        })
        .collect();
    to_json(&rows)
}

fn parse_plan_features(raw: &str) -> Result<Vec<PlanFeature>, Error> {
    let rows: Vec<PlanFeatureJson> = from_json("plan features", raw)?;
    rows.into_iter()
        .map(|f| {
            let grant = match (f.grant.as_str(), f.limit, f.dimension) {
                ("boolean", _, _) => Grant::Boolean,
                ("limit", Some(n), _) => Grant::Limit(n),
                ("unlimited", _, _) => Grant::Unlimited,
                ("dimension_quantity", _, Some(d)) => Grant::DimensionQuantity(d),
                (other, _, _) => return Err(corrupt("plan grant", other)),
            };
            Ok(PlanFeature {
                feature: f.feature,
                grant,
            })
        })
        .collect()
}

pub(crate) fn strings_json(values: &[String]) -> Result<String, Error> {
    to_json(&values)
}

/// Columns of `plans`, in the order [`plan`] reads them.
pub(crate) const PLAN_COLUMNS: &str = "id, organization_id, integration_id, product_code, \
     plan_key, name, dimensions, features, version, created_at, updated_at";

pub(crate) fn plan(row: &AnyRow) -> Result<Plan, Error> {
    Ok(Plan {
        id: id(row, "id")?,
        organization_id: id(row, "organization_id")?,
        integration_id: id(row, "integration_id")?,
        product_code: text(row, "product_code")?,
        key: text(row, "plan_key")?,
        name: text(row, "name")?,
        dimensions: from_json("plan dimensions", &text(row, "dimensions")?)?,
        features: parse_plan_features(&text(row, "features")?)?,
        version: int(row, "version")?,
        created_at: at(row, "created_at")?,
        updated_at: at(row, "updated_at")?,
    })
}

// --- fulfilment settings -----------------------------------------------------------------

pub(crate) fn days_json(days: &[i32]) -> Result<String, Error> {
    to_json(&days)
}

/// Columns of `fulfilment_settings`, in the order [`settings`] reads them.
pub(crate) const SETTINGS_COLUMNS: &str = "integration_id, organization_id, signup_url, \
     sns_topic_arns, expiry_notice_days, handoff_secret, eventbridge_secret, updated_at";

pub(crate) fn settings(row: &AnyRow) -> Result<FulfilmentSettings, Error> {
    Ok(FulfilmentSettings {
        integration_id: id(row, "integration_id")?,
        organization_id: id(row, "organization_id")?,
        signup_url: opt_text(row, "signup_url")?,
        sns_topic_arns: from_json("SNS topics", &text(row, "sns_topic_arns")?)?,
        expiry_notice_days: from_json("expiry notice days", &text(row, "expiry_notice_days")?)?,
        handoff_secret: opt_text(row, "handoff_secret")?,
        eventbridge_secret: opt_text(row, "eventbridge_secret")?,
        updated_at: opt_at(row, "updated_at")?,
    })
}

// --- check views -------------------------------------------------------------------------

/// Columns of a check view's customer part (`customers c LEFT JOIN subscriptions s`).
pub(crate) const VIEW_COLUMNS: &str = "c.id, c.organization_id, c.integration_id, c.product_code, \
     c.aws_account_id, c.external_id, c.customer_identifier, c.license_arn, \
     s.state AS s_state, s.id AS s_id, s.license_arn AS s_license_arn, \
     s.activated_at AS s_activated_at, s.cancel_pending_at AS s_cancel_pending_at, \
     s.final_metering_deadline AS s_final_metering_deadline, s.cancelled_at AS s_cancelled_at";

/// The customer part of a check view: ids, keys, state, the product it buys, and what metering
/// needs of its subscription.
pub(crate) struct ViewRow {
    pub(crate) customer_id: Id,
    pub(crate) organization_id: Id,
    pub(crate) integration_id: String,
    pub(crate) product_code: String,
    pub(crate) aws_account_id: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) state: Option<SubscriptionState>,
    pub(crate) subscription: Option<SubscriptionView>,
}

pub(crate) fn view_row(row: &AnyRow) -> Result<ViewRow, Error> {
    let integration_id = text(row, "integration_id")?;
    let product_code = text(row, "product_code")?;
    let subscription = match opt_text(row, "s_id")? {
        None => None,
        Some(subscription_id) => Some(SubscriptionView {
            subscription_id: Id::from_trusted(subscription_id),
            integration_id: Id::from_trusted(integration_id.clone()),
            product_code: product_code.clone(),
            customer_identifier: opt_text(row, "customer_identifier")?,
            license_arn: opt_text(row, "s_license_arn")?.or(opt_text(row, "license_arn")?),
            activated_at: opt_at(row, "s_activated_at")?,
            cancel_pending_at: opt_at(row, "s_cancel_pending_at")?,
            final_metering_deadline: opt_at(row, "s_final_metering_deadline")?,
            cancelled_at: opt_at(row, "s_cancelled_at")?,
        }),
    };
    Ok(ViewRow {
        customer_id: id(row, "id")?,
        organization_id: id(row, "organization_id")?,
        integration_id,
        product_code,
        aws_account_id: opt_text(row, "aws_account_id")?,
        external_id: opt_text(row, "external_id")?,
        state: optional_state(row)?,
        subscription,
    })
}

/// The product a plan belongs to: organisation, integration, product code.
pub(crate) fn plan_product(row: &AnyRow) -> Result<(String, String, String), Error> {
    Ok((
        text(row, "organization_id")?,
        text(row, "integration_id")?,
        text(row, "product_code")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for value in [
            EntitlementValue::Integer(-3),
            EntitlementValue::Boolean(true),
            EntitlementValue::Boolean(false),
            EntitlementValue::Text("gold".into()),
            EntitlementValue::Decimal("1.50".into()),
        ] {
            let (kind, raw) = value_parts(&value);
            assert_eq!(parse_value(kind, raw).unwrap(), value);
        }
        assert!(parse_value("integer", "x".into()).is_err());
        assert!(parse_value("float", "1".into()).is_err());
    }

    #[test]
    fn plan_features_round_trip() {
        let features = vec![
            PlanFeature {
                feature: "sso".into(),
                grant: Grant::Boolean,
            },
            PlanFeature {
                feature: "users".into(),
                grant: Grant::Limit(10),
            },
            PlanFeature {
                feature: "api".into(),
                grant: Grant::Unlimited,
            },
            PlanFeature {
                feature: "seats".into(),
                grant: Grant::DimensionQuantity("seats".into()),
            },
        ];
        let json = plan_features_json(&features).unwrap();
        assert_eq!(parse_plan_features(&json).unwrap(), features);
        assert!(parse_plan_features(r#"[{"feature":"x","grant":"limit"}]"#).is_err());
    }

    #[test]
    fn signup_round_trips() {
        let signup = Signup {
            company: "Acme".into(),
            contact_name: "Ada".into(),
            email: "ada@example.com".into(),
            submitted_at: from_unix_millis(1_780_000_000_123),
        };
        let json = signup_json(Some(&signup)).unwrap().unwrap();
        assert_eq!(parse_signup(&json).unwrap(), signup);
        assert_eq!(signup_json(None).unwrap(), None);
    }
}
