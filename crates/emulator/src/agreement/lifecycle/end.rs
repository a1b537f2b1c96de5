//! Ending agreements: cancel, terminate, expire (the final metering hour starts).

use super::{EndRequest, active, not_found};
use crate::World;
use crate::agreement::model::{Agreement, AgreementStatus};
use crate::agreement::{events, market_subscription};
use crate::at::At;
use crate::config::EmulatorConfig;
use crate::wire::ApiError;

/// Ends an agreement with `status` (`CANCELLED`, `TERMINATED`, `EXPIRED`).
pub fn end(
    world: &mut World,
    config: &EmulatorConfig,
    now: At,
    id: &str,
    request: &EndRequest,
) -> Result<Agreement, ApiError> {
    let status = match request.status.as_deref().unwrap_or("CANCELLED") {
        "CANCELLED" => AgreementStatus::Cancelled,
        "TERMINATED" => AgreementStatus::Terminated,
        "EXPIRED" => AgreementStatus::Expired,
        other => {
            return Err(ApiError::validation(format!(
                "status {other} must be CANCELLED, TERMINATED or EXPIRED"
            )));
        }
    };
    active(world, id)?;
    finish(world, config, id, status, now)
}

pub(super) fn finish(
    world: &mut World,
    config: &EmulatorConfig,
    id: &str,
    status: AgreementStatus,
    now: At,
) -> Result<Agreement, ApiError> {
    let Some(agreement) = world.agreements.agreements.get_mut(id) else {
        return Err(not_found(format!("agreement {id} does not exist")));
    };
    agreement.status = status;
    if status != AgreementStatus::Expired || agreement.end_time.is_none() {
        agreement.end_time = Some(now);
    }
    agreement.updated_at = now;
    // An agreement that expired by time ended at its end time, not when the clock was read:
    // the buyer's final metering hour starts there.
    let ended_at = agreement.end_time.map_or(now, |end| end.min(now));
    let agreement = agreement.clone();
    let still_covered = world.agreements.agreements.values().any(|a| {
        a.id != agreement.id
            && a.status == AgreementStatus::Active
            && a.product_id == agreement.product_id
            && a.acceptor_account_id == agreement.acceptor_account_id
    });
    let market_sent = if still_covered {
        false
    } else {
        market_subscription::unsubscribe(world, config, &agreement, ended_at)
    };
    if !market_sent {
        events::ended(world, &agreement);
    }
    Ok(agreement)
}
