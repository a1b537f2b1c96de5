//! Control API for notifications (`/_souk/notifications/...`) and, merged in, the data feed
//! routes (`/_souk/feeds/...`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::delivery::{new_delivery, sns_headers};
use super::signing::{self, SignatureVersion};
use super::sns::{self, Envelope};
use super::{
    DeliveryStatus, Feed, Notification, Settings, SnsTopic, Status, Subscription, Target,
    public_url,
};
use crate::Emulator;

/// Control routes: subscriptions, deliveries, flush, settings, emit; plus the feed routes.
pub fn control_router() -> Router<Emulator> {
    Router::new()
        .route(
            "/_souk/notifications/subscriptions",
            post(subscribe).get(list_subscriptions),
        )
        .route(
            "/_souk/notifications/subscriptions/{id}",
            delete(unsubscribe),
        )
        .route(
            "/_souk/notifications/subscriptions/{id}/confirm",
            post(confirm),
        )
        .route("/_souk/notifications/deliveries", get(deliveries))
        .route("/_souk/notifications/flush", post(flush))
        .route("/_souk/notifications/emit", post(emit))
        .route(
            "/_souk/notifications/settings",
            get(get_settings).put(put_settings),
        )
}

/// `POST /_souk/notifications/subscriptions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeRequest {
    /// `sns` (default) or `eventbridge`.
    #[serde(default = "default_type", rename = "type")]
    kind: String,
    /// `sqs` or `http`.
    protocol: String,
    /// Queue URL/ARN or `http://` URL.
    endpoint: String,
    /// SNS: the product whose topics to subscribe to.
    product_code: Option<String>,
    /// SNS: `subscription` and/or `entitlement` (default both).
    topics: Option<Vec<SnsTopic>>,
    /// SNS: "1" (SHA1, default) or "2" (SHA256).
    signature_version: Option<Value>,
    /// SNS: deliver the bare message.
    #[serde(default)]
    raw_message_delivery: bool,
    /// EventBridge: sources to match (default all).
    #[serde(default)]
    sources: Vec<String>,
    /// EventBridge: detail types to match (default all).
    #[serde(default)]
    detail_types: Vec<String>,
    /// EventBridge: shared secret sent to HTTP endpoints.
    secret: Option<String>,
    /// EventBridge: header carrying the secret (default `x-souk-eventbridge-secret`).
    secret_header: Option<String>,
}

fn default_type() -> String {
    "sns".to_owned()
}

async fn subscribe(
    State(emu): State<Emulator>,
    headers: http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    remember_host(&emu, &headers);
    let request: SubscribeRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(format!("invalid subscription request: {error}")),
    };
    let subscriptions = match plan(&emu, request) {
        Ok(subscriptions) => subscriptions,
        Err(message) => return bad_request(message),
    };
    let base = public_url(&emu);
    let mut confirmations = Vec::new();
    for subscription in &subscriptions {
        if subscription.status == Status::PendingConfirmation {
            match confirmation(&base, subscription).await {
                Ok(pair) => confirmations.push(pair),
                Err(error) => {
                    return crate::wire::rest::error_response(&crate::wire::ApiError::with_status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        error,
                    ));
                }
            }
        }
    }
    {
        let mut world = emu.world();
        world
            .notify
            .subscriptions
            .extend(subscriptions.iter().cloned());
        for (record, item) in confirmations {
            world.notify.deliveries.push(record);
            world.notify.queued.push(item);
        }
        world.notify.wake.notify_one();
    }
    (
        StatusCode::CREATED,
        Json(json!({ "subscriptions": subscriptions })),
    )
        .into_response()
}

/// Without a configured public URL, the `Host` the control client used is the best guess of
/// how endpoints reach the emulator (for SigningCertURL, SubscribeURL and UnsubscribeURL).
fn remember_host(emu: &Emulator, headers: &http::HeaderMap) {
    let Some(host) = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return;
    };
    let mut world = emu.world();
    if world.notify.settings.public_url.is_none() && !host.is_empty() {
        world.notify.settings.public_url = Some(format!("http://{host}"));
    }
}

fn plan(emu: &Emulator, request: SubscribeRequest) -> Result<Vec<Subscription>, String> {
    let target = match request.protocol.as_str() {
        "sqs" => {
            let exists = crate::sqs::queue_key(&request.endpoint)
                .is_some_and(|key| emu.world().sqs.queues.contains_key(&key));
            if !exists {
                return Err(format!("queue {} does not exist", request.endpoint));
            }
            Target::Sqs(request.endpoint)
        }
        "http" if request.endpoint.starts_with("http://") => Target::Http(request.endpoint),
        "http" | "https" => {
            return Err("endpoint must be an http:// URL (https is not supported)".to_owned());
        }
        other => return Err(format!("unknown protocol {other:?}: use sqs or http")),
    };
    let status = if matches!(target, Target::Http(_)) {
        Status::PendingConfirmation
    } else {
        Status::Confirmed
    };
    match request.kind.as_str() {
        "sns" => {
            let product_code = request
                .product_code
                .filter(|c| !c.is_empty())
                .ok_or("product_code is required for sns")?;
            let signature_version = match request.signature_version {
                None => SignatureVersion::V1,
                Some(value) => match value
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string())
                    .as_str()
                {
                    "1" => SignatureVersion::V1,
                    "2" => SignatureVersion::V2,
                    other => {
                        return Err(format!(
                            "signature_version must be \"1\" or \"2\", not {other}"
                        ));
                    }
                },
            };
            let topics = request
                .topics
                .unwrap_or_else(|| vec![SnsTopic::Subscription, SnsTopic::Entitlement]);
            let account = emu.world().notify.settings.topic_account_id.clone();
            Ok(topics
                .into_iter()
                .map(|topic| {
                    let topic_arn = format!(
                        "arn:aws:sns:us-east-1:{account}:{}",
                        topic.name(&product_code)
                    );
                    let id = uuid::Uuid::new_v4().to_string();
                    Subscription {
                        arn: format!("{topic_arn}:{id}"),
                        id,
                        feed: Feed::Sns {
                            topic,
                            product_code: product_code.clone(),
                            topic_arn,
                            signature_version,
                            raw_message_delivery: request.raw_message_delivery,
                        },
                        target: target.clone(),
                        status,
                        token: token(),
                    }
                })
                .collect())
        }
        "eventbridge" => {
            let id = uuid::Uuid::new_v4().to_string();
            let config = emu.config();
            Ok(vec![Subscription {
                arn: format!(
                    "arn:aws:events:{}:{}:rule/souk-{id}",
                    config.region, config.seller_account_id
                ),
                id,
                feed: Feed::EventBridge {
                    sources: request.sources,
                    detail_types: request.detail_types,
                    secret: request.secret,
                    secret_header: request
                        .secret_header
                        .unwrap_or_else(|| "x-souk-eventbridge-secret".to_owned()),
                },
                target,
                // EventBridge targets need no confirmation.
                status: Status::Confirmed,
                token: token(),
            }])
        }
        other => Err(format!("unknown type {other:?}: use sns or eventbridge")),
    }
}

fn token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The signed SubscriptionConfirmation for an HTTP SNS subscription.
async fn confirmation(
    base: &str,
    subscription: &Subscription,
) -> Result<(super::DeliveryRecord, super::Outgoing), String> {
    let Feed::Sns {
        topic_arn,
        signature_version,
        ..
    } = &subscription.feed
    else {
        return Err("only sns subscriptions are confirmed".to_owned());
    };
    let signer = signing::signer().await?;
    let query = serde_urlencoded::to_string([
        ("Action", "ConfirmSubscription"),
        ("TopicArn", topic_arn.as_str()),
        ("Token", subscription.token.as_str()),
    ])
    .unwrap_or_default();
    let message_id = uuid::Uuid::new_v4().to_string();
    let mut envelope = Envelope {
        kind: "SubscriptionConfirmation".to_owned(),
        message_id: message_id.clone(),
        token: Some(subscription.token.clone()),
        topic_arn: topic_arn.clone(),
        message: format!(
            "You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
        ),
        subscribe_url: Some(format!("{base}/_souk/sns/confirm?{query}")),
        timestamp: sns::timestamp(super::wall_now()),
        signature_version: String::new(),
        signature: String::new(),
        signing_cert_url: format!("{base}{}", signing::CERT_PATH),
        unsubscribe_url: None,
    };
    envelope.sign(&signer, *signature_version)?;
    let headers = sns_headers(
        "SubscriptionConfirmation",
        &message_id,
        topic_arn,
        None,
        false,
    );
    Ok(new_delivery(
        subscription,
        "SubscriptionConfirmation",
        &message_id,
        envelope.to_json(),
        headers,
    ))
}

async fn list_subscriptions(State(emu): State<Emulator>) -> Response {
    let subscriptions = emu.world().notify.subscriptions.clone();
    Json(json!({ "subscriptions": subscriptions })).into_response()
}

async fn unsubscribe(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    let mut world = emu.world();
    let before = world.notify.subscriptions.len();
    world.notify.subscriptions.retain(|s| s.id != id);
    if world.notify.subscriptions.len() == before {
        return not_found(format!("subscription {id} does not exist"));
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn confirm(State(emu): State<Emulator>, Path(id): Path<String>) -> Response {
    let mut world = emu.world();
    let Some(subscription) = world.notify.subscriptions.iter_mut().find(|s| s.id == id) else {
        return not_found(format!("subscription {id} does not exist"));
    };
    subscription.status = Status::Confirmed;
    Json(json!({ "subscription": subscription.clone() })).into_response()
}

async fn deliveries(
    State(emu): State<Emulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let status = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some("failed") => Some(DeliveryStatus::Failed),
        Some(other) => {
            return bad_request(format!(
                "unknown status {other:?}: use pending, delivered or failed"
            ));
        }
    };
    let subscription = query.get("subscription_id");
    let records: Vec<_> = emu
        .world()
        .notify
        .deliveries
        .iter()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .filter(|r| subscription.is_none_or(|id| &r.subscription_id == id))
        .cloned()
        .collect();
    Json(json!({ "deliveries": records })).into_response()
}

async fn flush(State(emu): State<Emulator>) -> Response {
    Json(super::flush(&emu).await).into_response()
}

async fn emit(State(emu): State<Emulator>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Notification>(&body) {
        Ok(notification) => {
            emu.world().notify.emit(notification);
            StatusCode::ACCEPTED.into_response()
        }
        Err(error) => bad_request(format!("invalid notification: {error}")),
    }
}

async fn get_settings(State(emu): State<Emulator>) -> Response {
    Json(emu.world().notify.settings.clone()).into_response()
}

async fn put_settings(State(emu): State<Emulator>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Settings>(&body) {
        Ok(settings) => {
            emu.world().notify.settings = settings.clone();
            Json(settings).into_response()
        }
        Err(error) => bad_request(format!("invalid settings: {error}")),
    }
}

fn bad_request(message: String) -> Response {
    crate::wire::rest::invalid_argument(message)
}

fn not_found(message: String) -> Response {
    crate::wire::rest::not_found(message)
}
