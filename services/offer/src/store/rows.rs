//! Offers as rows and back.

use souk_core::Id;
use souk_core::clock::{from_unix_millis, to_unix_millis};
use souk_store::row;
use sqlx::any::AnyRow;

use crate::domain::Error;
use crate::domain::model::{Offer, OfferDraft, OfferKind, OfferState};

/// The columns of `offers`, in insert order.
pub const OFFER_COLUMNS: &str = "id, organization_id, integration_id, kind, state, product_id, \
    buyer_account_ids, expiry_at, draft, aws_offer_id, change_set_id, client_request_token, \
    failure_code, failure_message, agreement_id, cloned_from, created_at, updated_at, \
    next_check_at, check_failures, reminders_sent";

/// The values of [`OFFER_COLUMNS`] for `offer`, bound in order.
pub fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    offer: &Offer,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, Error> {
    let draft = serde_json::to_string(&offer.draft)
        .map_err(|e| Error::Internal(format!("encoding offer {}: {e}", offer.id)))?;
    let buyers = serde_json::to_string(&offer.draft.buyer_account_ids)
        .map_err(|e| Error::Internal(format!("encoding offer {}: {e}", offer.id)))?;
    Ok(query
        .bind(offer.id.to_string())
        .bind(offer.organization_id.to_string())
        .bind(offer.integration_id.to_string())
        .bind(offer.kind().as_str())
        .bind(offer.state.as_str())
        .bind(offer.draft.product_id.clone())
        .bind(buyers)
        .bind(offer.draft.expiry_time().map(to_unix_millis))
        .bind(draft)
        .bind(offer.aws_offer_id.clone())
        .bind(offer.change_set_id.clone())
        .bind(offer.client_request_token.clone())
        .bind(offer.failure_code.clone())
        .bind(offer.failure_message.clone())
        .bind(offer.agreement_id.clone())
        .bind(offer.cloned_from.as_ref().map(ToString::to_string))
        .bind(to_unix_millis(offer.created_at))
        .bind(to_unix_millis(offer.updated_at))
        .bind(offer.next_check_at.map(to_unix_millis))
        .bind(i64::from(offer.check_failures))
        .bind(i64::from(offer.reminders_sent)))
}

/// An `offers` row as an offer.
pub fn offer(r: &AnyRow) -> Result<Offer, Error> {
    let id = row::id(r, "id")?;
    let state = row::text(r, "state")?;
    let draft: OfferDraft = serde_json::from_str(&row::text(r, "draft")?)
        .map_err(|e| Error::Internal(format!("offer {id} has unreadable terms: {e}")))?;
    let stored_kind = row::text(r, "kind")?;
    if OfferKind::parse(&stored_kind) != Some(draft.kind()) {
        return Err(Error::Internal(format!(
            "offer {id}: kind {stored_kind} does not match its terms"
        )));
    }
    Ok(Offer {
        organization_id: row::id(r, "organization_id")?,
        integration_id: row::id(r, "integration_id")?,
        state: OfferState::parse(&state)
            .ok_or_else(|| Error::Internal(format!("offer {id} has unknown state {state}")))?,
        draft,
        aws_offer_id: row::opt_text(r, "aws_offer_id")?,
        change_set_id: row::opt_text(r, "change_set_id")?,
        client_request_token: row::text(r, "client_request_token")?,
        failure_code: row::opt_text(r, "failure_code")?,
        failure_message: row::opt_text(r, "failure_message")?,
        agreement_id: row::opt_text(r, "agreement_id")?,
        cloned_from: row::opt_text(r, "cloned_from")?.map(Id::from_trusted),
        created_at: row::at(r, "created_at")?,
        updated_at: row::at(r, "updated_at")?,
        next_check_at: row::opt_int(r, "next_check_at")?.map(from_unix_millis),
        check_failures: u32::try_from(row::int(r, "check_failures")?).unwrap_or(u32::MAX),
        reminders_sent: u32::try_from(row::int(r, "reminders_sent")?).unwrap_or(u32::MAX),
        id,
    })
}

/// The page-token key of an offer.
pub fn key(offer: &Offer) -> String {
    offer.id.to_string()
}

/// Decodes every row.
pub fn offers(found: &[AnyRow]) -> Result<Vec<Offer>, Error> {
    found.iter().map(offer).collect()
}
