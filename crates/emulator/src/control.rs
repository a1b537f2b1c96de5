//! The control API (`/_souk/...`, HTTP/JSON): products, buyers, contracts, STS roles, the
//! clock, injected faults, the metering ledger, reset. Documented in `docs/emulator.md`.
//!
//! Catalog, agreement, notification and feed routes live with their modules
//! (`control_router()`). Errors are `{"Message": ...}` with `x-amzn-ErrorType`
//! (`NotFound` 404, `InvalidArgument` 400, `Conflict` 409), also for bodies that are not the
//! expected JSON (see [`ControlJson`]).

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Emulator;
use crate::at::At;
use crate::faults::FaultRule;
use crate::market::{self, EntitlementValue, MarketError, NewProduct, SubscribeRequest};
use crate::metering::quantity::format_micros;
use crate::wire::rest::ControlJson;
use crate::wire::{ApiError, rest};

/// The control routes.
pub fn router() -> Router<Emulator> {
    Router::new()
        .route(
            "/_souk/health",
            get(|| async { rest::ok_response(&json!({ "status": "ok" })) }),
        )
        .route("/_souk/reset", post(reset))
        .route("/_souk/clock", get(clock))
        .route("/_souk/clock/advance", post(advance_clock))
        .route("/_souk/products", post(create_product).get(list_products))
        .route("/_souk/products/{product_code}", get(get_product))
        .route("/_souk/subscribe", post(subscribe))
        .route("/_souk/unsubscribe", post(unsubscribe))
        .route("/_souk/subscriptions", get(list_subscriptions))
        .route(
            "/_souk/entitlements",
            post(set_entitlements).get(list_entitlements),
        )
        .route("/_souk/sts/roles", post(put_role).get(list_roles))
        .route("/_souk/sts/roles/deny", post(deny_actions))
        .route("/_souk/sts/roles/allow", post(allow_actions))
        .route("/_souk/sts/access-keys", post(put_access_key))
        .route(
            "/_souk/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/_souk/faults/{id}", delete(remove_fault))
        .route("/_souk/metering/ledger", get(ledger))
        .route(
            "/_souk/metering/ledger/{metering_record_id}",
            delete(lose_ledger_entry),
        )
        .route("/_souk/regions/disable", post(disable_region))
        .route("/_souk/regions/enable", post(enable_region))
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    rest::error_response(&ApiError::with_status(status, code, message))
}

fn market_error(err: MarketError) -> Response {
    match err {
        MarketError::NotFound(m) => error(StatusCode::NOT_FOUND, "NotFound", m),
        MarketError::InvalidArgument(m) => error(StatusCode::BAD_REQUEST, "InvalidArgument", m),
        MarketError::Conflict(m) => error(StatusCode::CONFLICT, "Conflict", m),
    }
}

fn now(emu: &Emulator) -> At {
    emu.clock().now_at()
}

/// The clock as the control API shows it: whole seconds, RFC 3339 and epoch.
fn clock_json(now: At) -> Value {
    let now = now.floor_seconds();
    json!({ "now": now.rfc3339(), "epoch_seconds": now.seconds() })
}

async fn reset(State(emu): State<Emulator>) -> Response {
    emu.reset();
    rest::ok_response(&json!({ "reset": true }))
}

async fn clock(State(emu): State<Emulator>) -> Response {
    let mut out = clock_json(now(&emu));
    out["offset_seconds"] = json!(emu.clock().offset_millis() / 1000);
    rest::ok_response(&out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    seconds: i64,
    #[serde(default)]
    minutes: i64,
    #[serde(default)]
    hours: i64,
}

async fn advance_clock(
    State(emu): State<Emulator>,
    ControlJson(by): ControlJson<Advance>,
) -> Response {
    let total = by
        .seconds
        .saturating_add(by.minutes.saturating_mul(60))
        .saturating_add(by.hours.saturating_mul(3600));
    if let Err(err) = emu.clock().try_advance(total) {
        return error(StatusCode::BAD_REQUEST, "InvalidArgument", err.to_string());
    }
    // Transitions that fell due emit their events now, not on the next request.
    emu.advance_world();
    rest::ok_response(&clock_json(now(&emu)))
}

async fn create_product(
    State(emu): State<Emulator>,
    ControlJson(new): ControlJson<NewProduct>,
) -> Response {
    // Market times are whole seconds.
    let now = now(&emu).floor_seconds();
    let mut world = emu.world();
    match market::create_product(&mut world, new) {
        Ok(mut product) => {
            product.last_modified = now;
            if let Some(stored) = world.market.products.get_mut(&product.product_code) {
                stored.last_modified = now;
            }
            rest::with_status(StatusCode::CREATED, &product)
        }
        Err(err) => market_error(err),
    }
}

async fn list_products(State(emu): State<Emulator>) -> Response {
    let products: Vec<_> = emu.world().market.products.values().cloned().collect();
    rest::ok_response(&json!({ "products": products }))
}

async fn get_product(State(emu): State<Emulator>, Path(code): Path<String>) -> Response {
    match emu.world().market.product(&code) {
        Some(product) => rest::ok_response(product),
        None => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("product {code} does not exist"),
        ),
    }
}

async fn subscribe(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<SubscribeRequest>,
) -> Response {
    let now = now(&emu);
    let mut world = emu.world();
    let outcome = match market::subscribe(&mut world, emu.config(), request, now) {
        Ok(outcome) => outcome,
        Err(err) => return market_error(err),
    };
    let product = world
        .market
        .product(&outcome.subscription.product_code)
        .cloned();
    drop(world);
    let url = product.map(|p| p.fulfillment_url).unwrap_or_default();
    let mut fields = vec![(
        "x-amzn-marketplace-token",
        outcome.registration_token.clone(),
    )];
    if outcome.subscription.free_trial {
        fields.push(("x-amzn-marketplace-offer-type", "free-trial".to_owned()));
    }
    let form_body = serde_urlencoded::to_string(&fields).unwrap_or_default();
    let fields: BTreeMap<_, _> = fields.into_iter().collect();
    rest::with_status(
        StatusCode::CREATED,
        &json!({
            "subscription": outcome.subscription,
            "registration_token": outcome.registration_token,
            "fulfillment": {
                "method": "POST",
                "url": url,
                "content_type": "application/x-www-form-urlencoded",
                "fields": fields,
                "body": form_body,
            },
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unsubscribe {
    product_code: String,
    customer_aws_account_id: String,
}

async fn unsubscribe(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<Unsubscribe>,
) -> Response {
    let now = now(&emu);
    match market::unsubscribe(
        &mut emu.world(),
        emu.config(),
        &request.product_code,
        &request.customer_aws_account_id,
        now,
    ) {
        Ok(subscription) => rest::ok_response(&json!({ "subscription": subscription })),
        Err(err) => market_error(err),
    }
}

#[derive(Deserialize)]
struct CustomerQuery {
    product_code: Option<String>,
    customer_aws_account_id: Option<String>,
    dimension: Option<String>,
}

impl CustomerQuery {
    /// Whether a record of `product_code` for `account` passes the product and account filters
    /// (an absent filter lets everything through).
    fn matches(&self, product_code: &str, account: &str) -> bool {
        self.product_code.as_ref().is_none_or(|p| p == product_code)
            && self
                .customer_aws_account_id
                .as_ref()
                .is_none_or(|a| a == account)
    }
}

async fn list_subscriptions(
    State(emu): State<Emulator>,
    Query(q): Query<CustomerQuery>,
) -> Response {
    let world = emu.world();
    let subscriptions: Vec<_> = world
        .market
        .subscriptions
        .values()
        .filter(|s| q.matches(&s.product_code, &s.aws_account_id))
        .cloned()
        .collect();
    rest::ok_response(&json!({ "subscriptions": subscriptions }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetEntitlements {
    product_code: String,
    customer_aws_account_id: String,
    values: BTreeMap<String, EntitlementValue>,
    /// RFC 3339 or epoch seconds.
    #[serde(default)]
    expiration: Option<Value>,
}

fn parse_instant(value: &Value) -> Option<At> {
    match value {
        Value::Number(n) => n.as_i64().and_then(At::checked_from_seconds),
        Value::String(s) => At::parse_rfc3339(s),
        _ => None,
    }
}

async fn set_entitlements(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<SetEntitlements>,
) -> Response {
    let expiration = match request.expiration.as_ref().filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match parse_instant(v) {
            Some(at) => Some(at),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "expiration must be RFC 3339 or epoch seconds",
                );
            }
        },
    };
    let result = market::set_entitlements(
        &mut emu.world(),
        emu.config(),
        &request.product_code,
        &request.customer_aws_account_id,
        request.values,
        expiration,
    );
    match result {
        Ok(entitlements) => rest::ok_response(&json!({ "entitlements": entitlements })),
        Err(err) => market_error(err),
    }
}

async fn list_entitlements(
    State(emu): State<Emulator>,
    Query(q): Query<CustomerQuery>,
) -> Response {
    let world = emu.world();
    let entitlements: Vec<_> = world
        .market
        .entitlements
        .values()
        .filter(|e| q.matches(&e.product_code, &e.aws_account_id))
        .cloned()
        .collect();
    rest::ok_response(&json!({ "entitlements": entitlements }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutRole {
    role_arn: String,
    /// One account or several.
    #[serde(default)]
    trusted_account: Option<String>,
    #[serde(default)]
    trusted_accounts: Vec<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    max_session_duration_seconds: Option<u32>,
}

async fn put_role(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<PutRole>,
) -> Response {
    if !request.role_arn.starts_with("arn:")
        || crate::sts::arn_account(&request.role_arn).is_none()
        || !request.role_arn.contains(":role/")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "role_arn must look like arn:aws:iam::<account>:role/<name>",
        );
    }
    let max = request.max_session_duration_seconds.unwrap_or(3600);
    if !(3600..=43200).contains(&max) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "max_session_duration_seconds must be 3600..=43200",
        );
    }
    let mut trusted = request.trusted_accounts;
    trusted.extend(request.trusted_account);
    if trusted.is_empty() {
        trusted.push(emu.config().caller_account_id.clone());
    }
    let external_id = request.external_id.filter(|e| !e.is_empty());
    let role = emu
        .world()
        .sts
        .put_role(&request.role_arn, trusted, external_id, max);
    rest::with_status(StatusCode::CREATED, &role)
}

async fn list_roles(State(emu): State<Emulator>) -> Response {
    let roles: Vec<_> = emu.world().sts.roles.values().cloned().collect();
    rest::ok_response(&json!({ "roles": roles }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleActions {
    role_arn: String,
    /// IAM actions such as `aws-marketplace:BatchMeterUsage`, `aws-marketplace:*`, `*`.
    actions: Vec<String>,
}

async fn deny_actions(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<RoleActions>,
) -> Response {
    change_denials(&emu, request, true)
}

async fn allow_actions(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<RoleActions>,
) -> Response {
    change_denials(&emu, request, false)
}

fn change_denials(emu: &Emulator, request: RoleActions, deny: bool) -> Response {
    let mut world = emu.world();
    let Some(role) = world.sts.roles.get_mut(&request.role_arn) else {
        return error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("role {} is not registered", request.role_arn),
        );
    };
    let actions: BTreeSet<String> = request.actions.into_iter().collect();
    if deny {
        role.denied_actions.extend(actions);
    } else {
        role.denied_actions.retain(|a| !actions.contains(a));
    }
    rest::ok_response(&*role)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutAccessKey {
    access_key_id: String,
    account_id: String,
    #[serde(default)]
    arn: Option<String>,
}

async fn put_access_key(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<PutAccessKey>,
) -> Response {
    if request.access_key_id.is_empty()
        || request.account_id.len() != 12
        || !request.account_id.bytes().all(|b| b.is_ascii_digit())
    {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "access_key_id is required and account_id must be 12 digits",
        );
    }
    let arn = request.arn.unwrap_or_else(|| {
        format!(
            "arn:aws:iam::{}:user/{}",
            request.account_id, request.access_key_id
        )
    });
    let principal = crate::sts::Principal {
        account_id: request.account_id,
        arn,
    };
    emu.world()
        .sts
        .access_keys
        .insert(request.access_key_id, principal.clone());
    rest::with_status(StatusCode::CREATED, &principal)
}

async fn add_fault(
    State(emu): State<Emulator>,
    ControlJson(rule): ControlJson<FaultRule>,
) -> Response {
    if rule.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "probability must be within 0..=1",
        );
    }
    if rule.operation.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "operation is required (or *)",
        );
    }
    let id = emu.world().faults.add(rule);
    rest::with_status(StatusCode::CREATED, &json!({ "id": id }))
}

async fn list_faults(State(emu): State<Emulator>) -> Response {
    let rules = emu.world().faults.rules.clone();
    rest::ok_response(&json!({ "faults": rules }))
}

async fn clear_faults(State(emu): State<Emulator>) -> Response {
    emu.world().faults.rules.clear();
    rest::ok_response(&json!({ "faults": [] }))
}

async fn remove_fault(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    if emu.world().faults.remove(&id) {
        rest::ok_response(&json!({ "removed": id }))
    } else {
        error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("fault {id} does not exist"),
        )
    }
}

/// Fault injection: AWS loses a usage record it accepted, so no invoice bills it (what a
/// seller's reconciliation must catch).
async fn lose_ledger_entry(
    State(emu): State<Emulator>,
    Path(metering_record_id): Path<String>,
) -> Response {
    let mut world = emu.world();
    let key = world
        .metering
        .ledger
        .iter()
        .find(|(_, entry)| entry.metering_record_id == metering_record_id)
        .map(|(key, _)| key.clone());
    match key {
        Some(key) => {
            world.metering.ledger.remove(&key);
            rest::ok_response(&json!({ "removed": metering_record_id }))
        }
        None => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no usage record {metering_record_id} in the ledger"),
        ),
    }
}

async fn ledger(State(emu): State<Emulator>, Query(q): Query<CustomerQuery>) -> Response {
    let world = emu.world();
    let matching: Vec<_> = world
        .metering
        .ledger
        .values()
        .filter(|e| {
            q.matches(&e.product_code, &e.customer_aws_account_id)
                && q.dimension.as_ref().is_none_or(|d| d == &e.dimension)
        })
        .collect();
    let entries: Vec<Value> = matching
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            v["hour_start"] = json!(e.hour_start().rfc3339());
            v["quantity_micros"] = json!(e.micros());
            v["quantity_decimal"] = json!(format_micros(e.micros()));
            v
        })
        .collect();
    let total: i64 = matching.iter().map(|e| e.quantity).sum();
    let total_micros: i64 = matching.iter().map(|e| e.micros()).sum();
    rest::ok_response(&json!({
        "records": entries, "total_quantity": total,
        "total_quantity_decimal": format_micros(total_micros),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionRequest {
    region: String,
}

/// Whether `region` is shaped like an AWS region code (`us-east-1`, `us-gov-west-1`,
/// `cn-north-1`, `us-isob-east-1`): a typo would otherwise disable nothing, silently.
fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let (first, rest) = match parts.as_slice() {
        [first, rest @ ..] => (*first, rest),
        [] => return false,
    };
    let Some((number, middle)) = rest.split_last() else {
        return false;
    };
    first.len() == 2
        && lower(first)
        && (1..=2).contains(&middle.len())
        && middle.iter().all(|p| lower(p))
        && !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
}

async fn disable_region(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<RegionRequest>,
) -> Response {
    if !is_region_code(&request.region) {
        return rest::invalid_argument(format!(
            "{} is not an AWS region code (like us-east-1)",
            request.region
        ));
    }
    let mut world = emu.world();
    world.faults.disabled_regions.insert(request.region);
    rest::ok_response(&json!({ "disabled_regions": world.faults.disabled_regions }))
}

async fn enable_region(
    State(emu): State<Emulator>,
    ControlJson(request): ControlJson<RegionRequest>,
) -> Response {
    let mut world = emu.world();
    world.faults.disabled_regions.remove(&request.region);
    rest::ok_response(&json!({ "disabled_regions": world.faults.disabled_regions }))
}
