//! restJson1 HTTP bindings of the Catalog API (docs/aws/catalog.md, operations and HTTP bindings), each operation wrapped in the core's fault
//! injection and denial checks.

use std::collections::HashMap;
use std::sync::MutexGuard;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};

use super::change_set::{self, Account};
use super::error::{CatalogError, CatalogResult};
use super::{entity, tagging, validate, views};
use crate::Emulator;
use crate::faults::{CallContext, guarded};
use crate::state::World;
use crate::wire::{ApiError, Protocol, rest};

/// The Catalog API routes.
pub fn router() -> Router<Emulator> {
    Router::new()
        .route("/StartChangeSet", post(start_change_set))
        .route("/DescribeChangeSet", get(describe_change_set))
        .route("/ListChangeSets", post(list_change_sets))
        .route("/CancelChangeSet", patch(cancel_change_set))
        .route("/DescribeEntity", get(describe_entity))
        .route("/ListEntities", post(list_entities))
        .route("/BatchDescribeEntities", post(batch_describe_entities))
        .route("/TagResource", post(tag_resource))
        .route("/UntagResource", post(untag_resource))
        .route("/ListTagsForResource", post(list_tags_for_resource))
        .route("/PutResourcePolicy", post(put_resource_policy))
        .route("/GetResourcePolicy", get(get_resource_policy))
        .route("/DeleteResourcePolicy", delete(delete_resource_policy))
}

async fn tag_resource(State(emu): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    run_with_body(&emu, &headers, &body, "TagResource", |emu, body| {
        tagging::tag(&mut emu.world(), &account(emu), &body)
    })
    .await
}

async fn untag_resource(State(emu): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    run_with_body(&emu, &headers, &body, "UntagResource", |emu, body| {
        tagging::untag(&mut emu.world(), &account(emu), &body)
    })
    .await
}

async fn list_tags_for_resource(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_with_body(&emu, &headers, &body, "ListTagsForResource", |emu, body| {
        tagging::list_tags(&emu.world(), &account(emu), &body)
    })
    .await
}

async fn put_resource_policy(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_with_body(&emu, &headers, &body, "PutResourcePolicy", |emu, body| {
        tagging::put_policy(&mut emu.world(), &account(emu), &body)
    })
    .await
}

async fn get_resource_policy(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    run(&emu, &headers, "GetResourcePolicy", |emu| {
        let arn = query_param(&query, "resourceArn")?;
        tagging::get_policy(&emu.world(), &account(emu), arn)
    })
    .await
}

async fn delete_resource_policy(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    run(&emu, &headers, "DeleteResourcePolicy", |emu| {
        let arn = query_param(&query, "resourceArn")?;
        tagging::delete_policy(&mut emu.world(), &account(emu), arn)
    })
    .await
}

/// The account the catalog acts for.
pub fn account(emu: &Emulator) -> Account {
    Account {
        seller_account_id: emu.config().seller_account_id.clone(),
        region: emu.config().region.clone(),
    }
}

async fn run<F>(emu: &Emulator, headers: &HeaderMap, operation: &str, handler: F) -> Response
where
    F: FnOnce(&Emulator) -> CatalogResult<Value>,
{
    let ctx = CallContext {
        service: "catalog",
        operation,
        protocol: Protocol::RestJson1,
        access_key_id: crate::wire::sigv4::access_key_id(headers),
    };
    guarded(emu, ctx, || async move {
        match handler(emu) {
            Ok(value) => rest::ok_response(&value),
            Err(error) => error.into_response(),
        }
    })
    .await
}

/// Like [`run`] for an operation with a JSON body: a body that does not parse is answered before
/// fault injection and denial checks see the call.
async fn run_with_body<F>(
    emu: &Emulator,
    headers: &HeaderMap,
    body: &Bytes,
    operation: &str,
    handler: F,
) -> Response
where
    F: FnOnce(&Emulator, Value) -> CatalogResult<Value>,
{
    let body = match parse(body) {
        Ok(b) => b,
        Err(error) => return error.into_response(Protocol::RestJson1),
    };
    run(emu, headers, operation, |emu| handler(emu, body)).await
}

/// The catalog's account and world (which the server's housekeeping has already brought up to
/// the emulator's clock).
fn progressed(emu: &Emulator) -> (Account, MutexGuard<'_, World>) {
    (account(emu), emu.world())
}

/// Parses a JSON body; syntax errors are `SerializationException` (400), as AWS's JSON front end
/// reports them.
fn parse(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|err| ApiError::serialization(format!("could not parse request body: {err}")))
}

fn query_param<'a>(query: &'a HashMap<String, String>, name: &str) -> CatalogResult<&'a str> {
    query
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CatalogError::validation(format!("{name} is required.")))
}

async fn start_change_set(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_with_body(&emu, &headers, &body, "StartChangeSet", |emu, body| {
        let request = validate::start_request(&body)?;
        let account = account(emu);
        let now = emu.clock().now_at();
        let id = change_set::start(&mut emu.world(), now, &account, request)?;
        Ok(json!({ "ChangeSetId": id, "ChangeSetArn": account.arn("ChangeSet", &id) }))
    })
    .await
}

async fn describe_change_set(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    run(&emu, &headers, "DescribeChangeSet", |emu| {
        validate::catalog(Some(query_param(&query, "catalog")?))?;
        let id = query_param(&query, "changeSetId")?;
        let (account, world) = progressed(emu);
        let change_set = world
            .catalog
            .change_sets
            .get(id)
            .ok_or_else(|| CatalogError::NotFound(format!("Change set {id} not found.")))?;
        Ok(views::describe(change_set, &account))
    })
    .await
}

async fn list_change_sets(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_with_body(&emu, &headers, &body, "ListChangeSets", |emu, body| {
        let (account, world) = progressed(emu);
        views::list(&world, &account, &body)
    })
    .await
}

async fn cancel_change_set(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    run(&emu, &headers, "CancelChangeSet", |emu| {
        validate::catalog(Some(query_param(&query, "catalog")?))?;
        let id = query_param(&query, "changeSetId")?;
        let account = account(emu);
        let now = emu.clock().now_at();
        change_set::cancel(&mut emu.world(), now, &account, id)?;
        Ok(json!({ "ChangeSetId": id, "ChangeSetArn": account.arn("ChangeSet", id) }))
    })
    .await
}

async fn describe_entity(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    run(&emu, &headers, "DescribeEntity", |emu| {
        validate::catalog(Some(query_param(&query, "catalog")?))?;
        let id = query_param(&query, "entityId")?;
        let (account, world) = progressed(emu);
        entity::describe(&world, &account, id)
    })
    .await
}

async fn list_entities(State(emu): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    run_with_body(&emu, &headers, &body, "ListEntities", |emu, body| {
        let (account, world) = progressed(emu);
        Ok(entity::with_arns(
            entity::list(&world, &account, &body)?,
            &account,
        ))
    })
    .await
}

async fn batch_describe_entities(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_with_body(
        &emu,
        &headers,
        &body,
        "BatchDescribeEntities",
        |emu, body| {
            let (account, world) = progressed(emu);
            entity::batch_describe(&world, &account, &body)
        },
    )
    .await
}
