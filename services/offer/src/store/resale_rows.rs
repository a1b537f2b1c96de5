//! Resale authorisations as rows and back.

use souk_core::clock::{from_unix_millis, to_unix_millis};
use souk_store::row;
use sqlx::any::AnyRow;

use crate::domain::Error;
use crate::domain::model::OfferState;
use crate::domain::resale::{ResaleAuthorization, ResaleAuthorizationDraft};

/// The columns of `resale_authorizations`, in insert order.
pub const COLUMNS: &str = "id, organization_id, integration_id, state, product_id, \
    reseller_account_id, draft, aws_id, change_set_id, client_request_token, failure_code, \
    failure_message, created_at, updated_at, next_check_at, check_failures";

/// The values of [`COLUMNS`] for `ra`, bound in order.
pub fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ra: &ResaleAuthorization,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, Error> {
    let draft = serde_json::to_string(&ra.draft)
        .map_err(|e| Error::Internal(format!("encoding resale authorisation {}: {e}", ra.id)))?;
    Ok(query
        .bind(ra.id.to_string())
        .bind(ra.organization_id.to_string())
        .bind(ra.integration_id.to_string())
        .bind(ra.state.as_str())
        .bind(ra.draft.product_id.clone())
        .bind(ra.draft.reseller_account_id.clone())
        .bind(draft)
        .bind(ra.aws_id.clone())
        .bind(ra.change_set_id.clone())
        .bind(ra.client_request_token.clone())
        .bind(ra.failure_code.clone())
        .bind(ra.failure_message.clone())
        .bind(to_unix_millis(ra.created_at))
        .bind(to_unix_millis(ra.updated_at))
        .bind(ra.next_check_at.map(to_unix_millis))
        .bind(i64::from(ra.check_failures)))
}

/// A `resale_authorizations` row as a resale authorisation.
pub fn decode(r: &AnyRow) -> Result<ResaleAuthorization, Error> {
    let id = row::id(r, "id")?;
    let state = row::text(r, "state")?;
    let draft: ResaleAuthorizationDraft =
        serde_json::from_str(&row::text(r, "draft")?).map_err(|e| {
            Error::Internal(format!(
                "resale authorisation {id} has unreadable terms: {e}"
            ))
        })?;
    Ok(ResaleAuthorization {
        organization_id: row::id(r, "organization_id")?,
        integration_id: row::id(r, "integration_id")?,
        state: OfferState::parse(&state).ok_or_else(|| {
            Error::Internal(format!(
                "resale authorisation {id} has unknown state {state}"
            ))
        })?,
        draft,
        aws_id: row::opt_text(r, "aws_id")?,
        change_set_id: row::opt_text(r, "change_set_id")?,
        client_request_token: row::text(r, "client_request_token")?,
        failure_code: row::opt_text(r, "failure_code")?,
        failure_message: row::opt_text(r, "failure_message")?,
        created_at: row::at(r, "created_at")?,
        updated_at: row::at(r, "updated_at")?,
        next_check_at: row::opt_int(r, "next_check_at")?.map(from_unix_millis),
        check_failures: u32::try_from(row::int(r, "check_failures")?).unwrap_or(u32::MAX),
        id,
    })
}

/// The page-token key of a resale authorisation.
pub fn key(ra: &ResaleAuthorization) -> String {
    ra.id.to_string()
}

/// Decodes every row.
pub fn all(found: &[AnyRow]) -> Result<Vec<ResaleAuthorization>, Error> {
    found.iter().map(decode).collect()
}
