//! Change sets: starting one (synchronous checks, locking, quota, idempotency), driving the
//! asynchronous lifecycle PREPARING -> APPLYING -> SUCCEEDED | FAILED from the emulator clock,
//! and cancelling.

use serde_json::json;
use time::Duration;

use super::apply::{self, Ctx, Workspace};
use super::error::{CatalogError, CatalogResult};
use super::model::{ChangeSet, ChangeSetStatus, OfferState};
use super::validate::{OFFER, RESALE, StartRequest, is_create};
use crate::World;
use crate::at::At;
use crate::notify::Notification;
use crate::support::format::new_id;

/// Who the catalog acts for.
#[derive(Debug, Clone)]
pub struct Account {
    /// The seller account.
    pub seller_account_id: String,
    /// The region in ARNs.
    pub region: String,
}

impl Account {
    /// `arn:aws:aws-marketplace:<region>:<seller>:AWSMarketplace/<kind>/<id>`.
    pub fn arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:aws-marketplace:{}:{}:AWSMarketplace/{kind}/{id}",
            self.region, self.seller_account_id
        )
    }
}

/// The entity id part of an identifier (`offer-abc@3` -> `offer-abc`).
pub fn entity_id(identifier: &str) -> &str {
    identifier.split('@').next().unwrap_or(identifier)
}

/// Starts a change set. Returns its id.
pub fn start(
    world: &mut World,
    now: At,
    account: &Account,
    request: StartRequest,
) -> CatalogResult<String> {
    progress(world, now, account);
    if let Some(token) = &request.client_request_token
        && let Some(existing) = world
            .catalog
            .change_sets
            .values()
            .find(|c| c.client_request_token.as_deref() == Some(token))
    {
        return Ok(existing.id.clone());
    }
    let open = world
        .catalog
        .change_sets
        .values()
        .filter(|c| !c.status.is_terminal())
        .count();
    if open >= world.catalog.settings.max_open_change_sets {
        return Err(CatalogError::QuotaExceeded(format!(
            "You have reached the limit of {} open change sets.",
            world.catalog.settings.max_open_change_sets
        )));
    }
    let locked = check_entities(world, account, &request)?;
    for id in &locked {
        if let Some(other) = world
            .catalog
            .change_sets
            .values()
            .find(|c| !c.status.is_terminal() && c.locked_entities.contains(id))
        {
            return Err(CatalogError::InUse(format!(
                "The entity {id} is in use by change set {}. Retry after it completes.",
                other.id
            )));
        }
    }
    let settings = &world.catalog.settings;
    let millis = |ms: u64| Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
    let applying_at = now + millis(settings.preparing_millis);
    let finish_at = applying_at + millis(settings.applying_millis);
    let id = new_id("", 25);
    let change_set = ChangeSet {
        id: id.clone(),
        name: request
            .name
            .unwrap_or_else(|| format!("Submitted by {}", account.seller_account_id)),
        intent: request.intent,
        status: ChangeSetStatus::Preparing,
        start_time: now,
        applying_at,
        finish_at,
        end_time: None,
        failure_code: None,
        failure_description: None,
        changes: request.changes,
        locked_entities: locked,
        client_request_token: request.client_request_token,
        tags: request.tags,
    };
    world.catalog.change_sets.insert(id.clone(), change_set);
    progress(world, now, account);
    Ok(id)
}

/// Synchronous existence and authorization checks; returns the existing entity ids to lock.
fn check_entities(
    world: &World,
    account: &Account,
    request: &StartRequest,
) -> CatalogResult<Vec<String>> {
    let products = super::products::directory(world, &account.seller_account_id);
    let mut locked = Vec::new();
    for change in &request.changes {
        let doc = &change.document;
        let str_of = |k: &str| {
            doc.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if is_create(&change.entity_type, &change.change_type) {
            match change.change_type.as_str() {
                "CreateOffer" | "CreateResaleAuthorization" => {
                    let product_id = str_of("ProductId");
                    let Some(product) = products.get(&product_id) else {
                        return Err(CatalogError::NotFound(format!(
                            "Product {product_id} not found."
                        )));
                    };
                    if product.seller_account_id != account.seller_account_id {
                        return Err(CatalogError::AccessDenied(format!(
                            "You are not authorized to create offers for product {product_id}."
                        )));
                    }
                }
                _ => {}
            }
            if change.change_type.contains("Replacement") {
                let agreement_id = str_of("AgreementId");
                let Some(agreement) = world.agreements.agreements.get(&agreement_id) else {
                    return Err(CatalogError::NotFound(format!(
                        "Agreement {agreement_id} not found."
                    )));
                };
                // The catalog acts for one seller; a channel partner replacing its own
                // agreement proposes it through an authorisation granted to that partner.
                let partner = change.change_type.contains("UsingResaleAuthorization")
                    && world
                        .catalog
                        .resale_authorizations
                        .get(&str_of("ResaleAuthorizationId"))
                        .is_some_and(|ra| ra.reseller_account_id == agreement.proposer_account_id);
                if agreement.proposer_account_id != account.seller_account_id && !partner {
                    return Err(CatalogError::AccessDenied(format!(
                        "You are not authorized to access agreement {agreement_id}."
                    )));
                }
            }
            if change.change_type.contains("UsingResaleAuthorization") {
                let ra_id = str_of("ResaleAuthorizationId");
                if !world.catalog.resale_authorizations.contains_key(&ra_id) {
                    return Err(CatalogError::NotFound(format!(
                        "Resale authorization {ra_id} not found."
                    )));
                }
            }
            continue;
        }
        let Some(identifier) = change.identifier.as_deref() else {
            continue;
        };
        if identifier.starts_with('$') {
            continue;
        }
        let id = entity_id(identifier).to_owned();
        let exists = match change.entity_type.as_str() {
            OFFER => world.catalog.offers.contains_key(&id),
            RESALE => world.catalog.resale_authorizations.contains_key(&id),
            _ => false,
        };
        if !exists {
            return Err(CatalogError::NotFound(format!(
                "Entity {id} of type {} not found.",
                change.entity_type
            )));
        }
        if !locked.contains(&id) {
            locked.push(id);
        }
    }
    Ok(locked)
}

/// Moves every running change set forward to `now`.
pub fn progress(world: &mut World, now: At, account: &Account) {
    let mut due: Vec<(At, String)> = world
        .catalog
        .change_sets
        .values()
        .filter(|c| !c.status.is_terminal())
        .map(|c| (c.finish_at, c.id.clone()))
        .collect();
    due.sort();
    for (finish_at, id) in due {
        if finish_at <= now {
            finish(world, &id, account);
        } else if let Some(c) = world.catalog.change_sets.get_mut(&id)
            && c.status == ChangeSetStatus::Preparing
            && c.applying_at <= now
        {
            c.status = ChangeSetStatus::Applying;
        }
    }
}

fn finish(world: &mut World, id: &str, account: &Account) {
    let Some(mut change_set) = world.catalog.change_sets.get(id).cloned() else {
        return;
    };
    let products = super::products::directory(world, &account.seller_account_id);
    let mut ws = Workspace {
        offers: world.catalog.offers.clone(),
        resale: world.catalog.resale_authorizations.clone(),
    };
    let ctx = Ctx {
        now: change_set.finish_at,
        seller_account_id: &account.seller_account_id,
        products: &products,
        agreements: &world.agreements,
    };
    let ok = apply::run(&mut change_set.changes, &mut ws, &ctx);
    let apply_it = ok && change_set.intent == "APPLY";
    if !apply_it {
        for change in &mut change_set.changes {
            if is_create(&change.entity_type, &change.change_type) {
                change.resolved_identifier = None;
            } else if change
                .identifier
                .as_deref()
                .is_some_and(|i| i.starts_with('$'))
            {
                change.resolved_identifier = change.identifier.clone();
            }
        }
    }
    change_set.status = if ok {
        ChangeSetStatus::Succeeded
    } else {
        ChangeSetStatus::Failed
    };
    change_set.end_time = Some(change_set.finish_at);
    if !ok {
        change_set.failure_code = Some("CLIENT_ERROR".to_owned());
        change_set.failure_description =
            Some("One or more changes failed validation. See ErrorDetailList.".to_owned());
    }
    let mut released = Vec::new();
    if apply_it {
        let touched = change_set.entity_ids();
        for (oid, mut offer) in ws.offers {
            if touched.contains(&oid) {
                offer.revision += 1;
                let was_released = world
                    .catalog
                    .offers
                    .get(&oid)
                    .is_some_and(|o| o.state == OfferState::Released);
                if offer.state == OfferState::Released && !was_released {
                    released.push(offer.clone());
                }
                world.catalog.offers.insert(oid, offer);
            }
        }
        for (rid, mut ra) in ws.resale {
            if touched.contains(&rid) {
                ra.revision += 1;
                world.catalog.resale_authorizations.insert(rid, ra);
            }
        }
    }
    emit_events(world, &change_set, &released, account);
    world.catalog.change_sets.insert(id.to_owned(), change_set);
}

fn emit_events(
    world: &mut World,
    change_set: &ChangeSet,
    released: &[super::model::Offer],
    account: &Account,
) {
    let detail_type = match change_set.status {
        ChangeSetStatus::Succeeded => "Change Set Succeeded",
        ChangeSetStatus::Cancelled => "Change Set Cancelled",
        _ => "Change Set Failed",
    };
    let mut detail = json!({
        "requestId": uuid::Uuid::new_v4().to_string(),
        "Catalog": "AWSMarketplace",
        "ChangeSetId": change_set.id,
        "ChangeSetName": change_set.name,
        "StartTime": crate::support::format::iso_seconds(change_set.start_time),
        "EndTime": change_set.end_time.map(crate::support::format::iso_seconds),
    });
    if let Some(code) = &change_set.failure_code {
        detail["FailureCode"] = json!(code);
    }
    world.notify.emit(Notification::EventBridge {
        source: "aws.marketplacecatalog".to_owned(),
        detail_type: detail_type.to_owned(),
        resources: vec![account.arn("ChangeSet", &change_set.id)],
        detail,
    });
    for offer in released {
        world.notify.emit(Notification::EventBridge {
            source: "aws.marketplacecatalog".to_owned(),
            detail_type: "Offer Released".to_owned(),
            resources: vec![account.arn("Offer", &offer.id)],
            detail: json!({
                "requestId": uuid::Uuid::new_v4().to_string(),
                "catalog": "AWSMarketplace",
                "offer": { "id": offer.id, "arn": account.arn("Offer", &offer.id), "name": offer.name },
                "product": { "id": offer.product_id },
            }),
        });
    }
}

/// Cancels a change set that is still PREPARING.
pub fn cancel(world: &mut World, now: At, account: &Account, id: &str) -> CatalogResult<()> {
    progress(world, now, account);
    let Some(change_set) = world.catalog.change_sets.get_mut(id) else {
        return Err(CatalogError::NotFound(format!(
            "Change set {id} not found."
        )));
    };
    if change_set.status != ChangeSetStatus::Preparing {
        return Err(CatalogError::InUse(format!(
            "Change set {id} can't be cancelled in status {}.",
            change_set.status.as_str()
        )));
    }
    change_set.status = ChangeSetStatus::Cancelled;
    change_set.end_time = Some(now);
    for change in &mut change_set.changes {
        if is_create(&change.entity_type, &change.change_type) {
            change.resolved_identifier = None;
        }
    }
    let snapshot = change_set.clone();
    emit_events(world, &snapshot, &[], account);
    Ok(())
}
