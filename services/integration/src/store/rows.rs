//! Rows to domain types and back. Products, notifications and reports are stored as JSON text.

use serde::{Deserialize, Serialize};
use souk_core::Id;
use souk_core::access::Scope;
use souk_core::clock::{from_unix_millis, to_unix_millis};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::db;
use crate::domain::{
    ApiKey, CheckStatus, Error, Integration, IntegrationState, Licensing, Notifications,
    Organization, PermissionCheck, Product, ProductType, VerificationReport,
};

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Internal(format!("stored {what} is unreadable: {detail}"))
}

#[derive(Serialize, Deserialize)]
struct ProductJson {
    product_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product_id: Option<String>,
    #[serde(rename = "type")]
    product_type: String,
    licensing: String,
}

#[derive(Serialize, Deserialize, Default)]
struct NotificationsJson {
    #[serde(default)]
    sqs_queue_urls: Vec<String>,
    #[serde(default)]
    sns_https: bool,
    #[serde(default)]
    eventbridge: bool,
}

#[derive(Serialize, Deserialize)]
struct CheckJson {
    action: String,
    api: String,
    status: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    remedy: String,
}

#[derive(Serialize, Deserialize)]
struct ReportJson {
    verified_at_ms: i64,
    role_assumed: bool,
    #[serde(default)]
    role_error: String,
    #[serde(default)]
    checks: Vec<CheckJson>,
}

pub(crate) fn products_json(products: &[Product]) -> Result<String, Error> {
    let rows: Vec<ProductJson> = products
        .iter()
        .map(|p| ProductJson {
            product_code: p.product_code.clone(),
            product_id: p.product_id.clone(),
            product_type: p.product_type.as_str().to_owned(),
            licensing: p.licensing.as_str().to_owned(),
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| Error::Internal(e.to_string()))
}

fn parse_products(raw: &str) -> Result<Vec<Product>, Error> {
    let rows: Vec<ProductJson> = serde_json::from_str(raw).map_err(|e| corrupt("products", e))?;
    rows.into_iter()
        .map(|p| {
            Ok(Product {
                product_type: ProductType::parse(&p.product_type)
                    .ok_or_else(|| corrupt("product type", &p.product_type))?,
                licensing: Licensing::parse(&p.licensing)
                    .ok_or_else(|| corrupt("licensing", &p.licensing))?,
                product_code: p.product_code,
                product_id: p.product_id,
            })
        })
        .collect()
}

pub(crate) fn notifications_json(n: &Notifications) -> Result<String, Error> {
    serde_json::to_string(&NotificationsJson {
        sqs_queue_urls: n.sqs_queue_urls.clone(),
        sns_https: n.sns_https,
        eventbridge: n.eventbridge,
    })
    .map_err(|e| Error::Internal(e.to_string()))
}

fn parse_notifications(raw: &str) -> Result<Notifications, Error> {
    let n: NotificationsJson =
        serde_json::from_str(raw).map_err(|e| corrupt("notifications", e))?;
    Ok(Notifications {
        sqs_queue_urls: n.sqs_queue_urls,
        sns_https: n.sns_https,
        eventbridge: n.eventbridge,
    })
}

pub(crate) fn report_json(report: Option<&VerificationReport>) -> Result<Option<String>, Error> {
    let Some(r) = report else { return Ok(None) };
    let json = ReportJson {
        verified_at_ms: to_unix_millis(r.verified_at),
        role_assumed: r.role_assumed,
        role_error: r.role_error.clone(),
        checks: r
            .checks
            .iter()
            .map(|c| CheckJson {
                action: c.action.clone(),
                api: c.api.clone(),
                status: c.status.as_str().to_owned(),
                detail: c.detail.clone(),
                remedy: c.remedy.clone(),
            })
            .collect(),
    };
    serde_json::to_string(&json)
        .map(Some)
        .map_err(|e| Error::Internal(e.to_string()))
}

fn parse_report(raw: &str) -> Result<VerificationReport, Error> {
    let r: ReportJson = serde_json::from_str(raw).map_err(|e| corrupt("verification report", e))?;
    Ok(VerificationReport {
        verified_at: from_unix_millis(r.verified_at_ms),
        role_assumed: r.role_assumed,
        role_error: r.role_error,
        checks: r
            .checks
            .into_iter()
            .map(|c| {
                Ok(PermissionCheck {
                    status: CheckStatus::parse(&c.status)
                        .ok_or_else(|| corrupt("check status", &c.status))?,
                    action: c.action,
                    api: c.api,
                    detail: c.detail,
                    remedy: c.remedy,
                })
            })
            .collect::<Result<_, Error>>()?,
    })
}

/// Columns of `integrations`, in the order [`integration`] reads them.
pub(crate) const INTEGRATION_COLUMNS: &str = "id, organization_id, name, role_arn, aws_account_id, external_id, region, \
     products, notifications, data_feed_bucket, state, last_verification, created_at, updated_at";

pub(crate) fn integration(row: &AnyRow) -> Result<Integration, Error> {
    let state: String = row.try_get("state").map_err(db)?;
    let products: String = row.try_get("products").map_err(db)?;
    let notifications: String = row.try_get("notifications").map_err(db)?;
    let report: Option<String> = row.try_get("last_verification").map_err(db)?;
    Ok(Integration {
        id: Id::from_trusted(row.try_get("id").map_err(db)?),
        organization_id: Id::from_trusted(row.try_get("organization_id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        role_arn: row.try_get("role_arn").map_err(db)?,
        aws_account_id: row.try_get("aws_account_id").map_err(db)?,
        external_id: row.try_get("external_id").map_err(db)?,
        region: row.try_get("region").map_err(db)?,
        products: parse_products(&products)?,
        notifications: parse_notifications(&notifications)?,
        data_feed_bucket: row.try_get("data_feed_bucket").map_err(db)?,
        state: IntegrationState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        last_verification: report.as_deref().map(parse_report).transpose()?,
        created_at: from_unix_millis(row.try_get("created_at").map_err(db)?),
        updated_at: from_unix_millis(row.try_get("updated_at").map_err(db)?),
    })
}

pub(crate) fn organization(row: &AnyRow) -> Result<Organization, Error> {
    Ok(Organization {
        id: Id::from_trusted(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        created_at: from_unix_millis(row.try_get("created_at").map_err(db)?),
    })
}

/// Columns of `api_keys` (without the hash), in the order [`api_key`] reads them.
pub(crate) const API_KEY_COLUMNS: &str =
    "id, organization_id, name, prefix, scopes, created_at, last_used_at, revoked_at, expires_at";

pub(crate) fn api_key(row: &AnyRow) -> Result<ApiKey, Error> {
    let scopes: String = row.try_get("scopes").map_err(db)?;
    let millis = |column: &str| -> Result<Option<time::OffsetDateTime>, Error> {
        Ok(row
            .try_get::<Option<i64>, _>(column)
            .map_err(db)?
            .map(from_unix_millis))
    };
    Ok(ApiKey {
        id: Id::from_trusted(row.try_get("id").map_err(db)?),
        organization_id: Id::from_trusted(row.try_get("organization_id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        prefix: row.try_get("prefix").map_err(db)?,
        scopes: Scope::split(&scopes),
        created_at: from_unix_millis(row.try_get("created_at").map_err(db)?),
        last_used_at: millis("last_used_at")?,
        revoked_at: millis("revoked_at")?,
        expires_at: millis("expires_at")?,
    })
}
