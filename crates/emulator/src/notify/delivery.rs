//! The delivery engine: turns pending notifications into signed SNS envelopes or EventBridge
//! events per matching subscription, and delivers the outbox to SQS queues and HTTP endpoints with
//! bounded retries. Never holds the world lock across an await.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::signing::{self, Signer};
use super::sns::{self, Envelope};
use super::{
    DeliveryRecord, DeliveryStatus, Feed, Notification, Outgoing, Subscription, Target, public_url,
    wall_now,
};
use crate::Emulator;
use crate::at::At;

/// How many delivery records are kept.
const MAX_RECORDS: usize = 1000;

/// How often the task re-checks the outbox for due retries when nothing wakes it.
const TICK: Duration = Duration::from_millis(100);

/// What one [`flush`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlushSummary {
    /// Notifications taken from the pending queue.
    pub notifications: usize,
    /// Deliveries that succeeded in this pass.
    pub delivered: usize,
    /// Deliveries that failed in this pass (retried later or given up).
    pub failed: usize,
}

/// Starts the background delivery task; it stops when `shutdown` resolves. The signing key is
/// loaded (or generated) in the background at once so the first delivery does not wait for it.
pub fn start_delivery<F>(emu: Emulator, shutdown: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let warm_up = tokio::spawn(signing::signer());
        tokio::pin!(shutdown);
        loop {
            let wake = emu.world().notify.wake.clone();
            tokio::select! {
                () = &mut shutdown => break,
                _ = tokio::time::timeout(TICK, wake.notified()) => {}
            }
            flush(&emu).await;
        }
        warm_up.abort();
    })
}

/// Runs one delivery pass: builds deliveries for every pending notification and attempts every
/// due delivery in the outbox.
pub async fn flush(emu: &Emulator) -> FlushSummary {
    let (notifications, subscriptions) = {
        let mut world = emu.world();
        (
            std::mem::take(&mut world.notify.pending),
            world.notify.subscriptions.clone(),
        )
    };
    let mut summary = FlushSummary {
        notifications: notifications.len(),
        ..FlushSummary::default()
    };
    if !notifications.is_empty() {
        let (records, outgoing) = build(emu, &notifications, &subscriptions).await;
        let mut world = emu.world();
        push_records(&mut world.notify.deliveries, records);
        world.notify.queued.extend(outgoing);
    }
    let due = {
        let mut world = emu.world();
        let now = wall_now();
        let (due, later): (Vec<Outgoing>, Vec<Outgoing>) = std::mem::take(&mut world.notify.queued)
            .into_iter()
            .partition(|o| o.next_attempt <= now);
        world.notify.queued = later;
        due
    };
    let attempts = futures::future::join_all(due.into_iter().map(|item| attempt(emu, item))).await;
    let settings = emu.world().notify.settings.clone();
    let mut world = emu.world();
    for (mut item, result) in attempts {
        item.attempts += 1;
        let Some(record) = world
            .notify
            .deliveries
            .iter_mut()
            .find(|r| r.id == item.record_id)
        else {
            continue;
        };
        record.attempts = item.attempts;
        match result {
            Ok(status) => {
                summary.delivered += 1;
                record.status = DeliveryStatus::Delivered;
                record.last_http_status = status;
                record.last_error = None;
            }
            Err((status, error)) => {
                summary.failed += 1;
                record.last_http_status = status;
                record.last_error = Some(error);
                if item.attempts >= settings.max_attempts.max(1) {
                    record.status = DeliveryStatus::Failed;
                } else {
                    let exponent = item.attempts.saturating_sub(1).min(16);
                    let delay = settings.backoff_ms.saturating_mul(1u64 << exponent);
                    let delay = i64::try_from(delay).unwrap_or(i64::MAX);
                    item.next_attempt = wall_now() + time::Duration::milliseconds(delay);
                    world.notify.queued.push(item);
                }
            }
        }
    }
    summary
}

type AttemptResult = Result<Option<u16>, (Option<u16>, String)>;

async fn attempt(emu: &Emulator, item: Outgoing) -> (Outgoing, AttemptResult) {
    let result = match &item.target {
        Target::Sqs(queue) => {
            let now = emu.clock().now_at();
            let sent = emu.world().sqs.send_internal(queue, item.body.clone(), now);
            sent.map(|_| None)
                .map_err(|e| (None, format!("sqs {queue}: {e}")))
        }
        Target::Http(url) => match super::http::post(url, &item.headers, &item.body).await {
            Ok(status) if (200..300).contains(&status) => Ok(Some(status)),
            Ok(status) => Err((Some(status), format!("endpoint answered HTTP {status}"))),
            Err(error) => Err((None, error)),
        },
    };
    (item, result)
}

fn push_records(records: &mut Vec<DeliveryRecord>, new: Vec<DeliveryRecord>) {
    records.extend(new);
    if records.len() > MAX_RECORDS {
        let excess = records.len() - MAX_RECORDS;
        records.drain(..excess);
    }
}

/// Builds the deliveries of `notifications` for the matching subscriptions.
async fn build(
    emu: &Emulator,
    notifications: &[Notification],
    subscriptions: &[Subscription],
) -> (Vec<DeliveryRecord>, Vec<Outgoing>) {
    let base = public_url(emu);
    let now = emu.clock().now_at();
    let mut signer: Option<Arc<Signer>> = None;
    let mut records = Vec::new();
    let mut outgoing = Vec::new();
    for notification in notifications {
        let matching: Vec<&Subscription> = subscriptions
            .iter()
            .filter(|s| s.matches(notification))
            .collect();
        if matching.is_empty() {
            continue;
        }
        let sns_message_id = uuid::Uuid::new_v4().to_string();
        let event = event_json(emu, notification, now);
        for subscription in matching {
            let built = match (&subscription.feed, &event) {
                (
                    Feed::EventBridge {
                        secret,
                        secret_header,
                        ..
                    },
                    Some(event),
                ) => {
                    let id = event["id"].as_str().unwrap_or_default().to_owned();
                    let mut headers =
                        vec![("Content-Type".to_owned(), "application/json".to_owned())];
                    if let Some(secret) = secret {
                        headers.push((secret_header.clone(), secret.clone()));
                    }
                    Some(("EventBridge", id, event.to_string(), headers))
                }
                (
                    Feed::Sns {
                        topic_arn,
                        signature_version,
                        raw_message_delivery,
                        ..
                    },
                    None,
                ) => {
                    let Some(message) = sns::message_body(notification) else {
                        continue;
                    };
                    if signer.is_none() {
                        signer = signing::signer().await.ok();
                    }
                    let Some(signer) = signer.as_deref() else {
                        tracing::warn!("sns signer unavailable; dropping notification");
                        continue;
                    };
                    let mut envelope = Envelope {
                        kind: "Notification".to_owned(),
                        message_id: sns_message_id.clone(),
                        token: None,
                        topic_arn: topic_arn.clone(),
                        message: message.clone(),
                        subscribe_url: None,
                        timestamp: sns::timestamp(now),
                        signature_version: String::new(),
                        signature: String::new(),
                        signing_cert_url: format!("{base}{}", signing::CERT_PATH),
                        unsubscribe_url: Some(unsubscribe_url(&base, &subscription.arn)),
                    };
                    if let Err(error) = envelope.sign(signer, *signature_version) {
                        tracing::warn!(%error, "sns signing failed");
                        continue;
                    }
                    let body = if *raw_message_delivery {
                        message
                    } else {
                        envelope.to_json()
                    };
                    let headers = sns_headers(
                        "Notification",
                        &sns_message_id,
                        topic_arn,
                        Some(&subscription.arn),
                        *raw_message_delivery,
                    );
                    Some(("Notification", sns_message_id.clone(), body, headers))
                }
                _ => None,
            };
            let Some((kind, message_id, body, headers)) = built else {
                continue;
            };
            let (record, item) = new_delivery(subscription, kind, &message_id, body, headers);
            records.push(record);
            outgoing.push(item);
        }
    }
    (records, outgoing)
}

fn event_json(emu: &Emulator, notification: &Notification, now: At) -> Option<serde_json::Value> {
    let Notification::EventBridge {
        source,
        detail_type,
        resources,
        detail,
    } = notification
    else {
        return None;
    };
    let config = emu.config();
    Some(super::eventbridge::event(
        source,
        detail_type,
        resources,
        detail,
        &config.seller_account_id,
        &config.region,
        now,
    ))
}

/// A new delivery record and its outbox entry.
pub(super) fn new_delivery(
    subscription: &Subscription,
    kind: &str,
    message_id: &str,
    body: String,
    headers: Vec<(String, String)>,
) -> (DeliveryRecord, Outgoing) {
    let id = uuid::Uuid::new_v4().to_string();
    let record = DeliveryRecord {
        id: id.clone(),
        subscription_id: subscription.id.clone(),
        kind: kind.to_owned(),
        message_id: message_id.to_owned(),
        target: subscription.target.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_http_status: None,
        last_error: None,
        body: body.clone(),
    };
    let headers = if matches!(subscription.target, Target::Http(_)) {
        headers
    } else {
        Vec::new()
    };
    let item = Outgoing {
        record_id: id,
        target: subscription.target.clone(),
        headers,
        body,
        attempts: 0,
        next_attempt: At::UNIX_EPOCH,
    };
    (record, item)
}

/// The `x-amz-sns-*` headers of an HTTP delivery.
pub(super) fn sns_headers(
    kind: &str,
    message_id: &str,
    topic_arn: &str,
    subscription_arn: Option<&str>,
    raw: bool,
) -> Vec<(String, String)> {
    let mut headers = vec![
        (
            "Content-Type".to_owned(),
            "text/plain; charset=UTF-8".to_owned(),
        ),
        (
            "User-Agent".to_owned(),
            "Amazon Simple Notification Service Agent".to_owned(),
        ),
        ("x-amz-sns-message-type".to_owned(), kind.to_owned()),
        ("x-amz-sns-message-id".to_owned(), message_id.to_owned()),
        ("x-amz-sns-topic-arn".to_owned(), topic_arn.to_owned()),
    ];
    if let Some(arn) = subscription_arn {
        headers.push(("x-amz-sns-subscription-arn".to_owned(), arn.to_owned()));
    }
    if raw {
        headers.push(("x-amz-sns-rawdelivery".to_owned(), "true".to_owned()));
    }
    headers
}

/// The UnsubscribeURL of a subscription.
pub(super) fn unsubscribe_url(base: &str, subscription_arn: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("Action", "Unsubscribe"),
        ("SubscriptionArn", subscription_arn),
    ])
    .unwrap_or_default();
    format!("{base}/_souk/sns/unsubscribe?{query}")
}
