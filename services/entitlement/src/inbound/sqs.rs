//! SQS pollers: one long-polling task per (integration, queue URL), kept in line with the
//! integrations by a supervisor that reads them at start and every 30 s. A message is deleted
//! once applied, or parked as never applicable (unreadable, unauthenticated, refused by the
//! domain); it is left in the queue when the failure may pass (the store, AWS or a certificate
//! host unavailable), so SQS redelivers it after the visibility timeout and, after the queue's
//! `maxReceiveCount`, moves it to the seller's dead-letter queue.
//!
//! SNS envelopes are verified (they always carry a signature) and their topic checked, but not
//! their age: a queue holds messages for days while Souk is down, and they are still due.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_smithy_types::timeout::TimeoutConfig;
use http::StatusCode;
use rand::Rng as _;
use souk_auth::{IntegrationRole, RoleAssumer, classify_sdk_error};
use souk_core::Id;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::park::{self, Applied, Origin, Refused, Route};
use super::sns;
use crate::app::HttpContext;
use crate::domain::ports::IntegrationInfo;
use crate::notifications::{Inbound, SqsBody, classify_sqs_body, envelope_inbound};

/// How often the supervisor reads the integrations again: a queue added to an integration is
/// polled within this time (one indexed read of the integrations table each time).
const RECONCILE_INTERVAL: Duration = Duration::from_secs(5);
/// ReceiveMessage's maximum.
const MAX_MESSAGES: i32 = 10;
/// First pause after a failed receive; doubled per failure up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Shortest time between two receives of an empty queue, so short polling (wait 0) cannot spin.
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Time a receive may take beyond its long-poll wait.
const RECEIVE_GRACE: Duration = Duration::from_secs(10);

/// One message received from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// SQS's `MessageId`.
    pub message_id: String,
    /// The handle to delete it with (valid for this receive only).
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// `SentTimestamp`, when SQS reported it.
    pub sent_at: Option<OffsetDateTime>,
    /// `ApproximateReceiveCount`, when SQS reported it.
    pub receive_count: Option<i64>,
}

/// Why a queue call failed (logged; the poller backs off and tries again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueueError(pub String);

/// The two SQS calls a poller makes, as an integration's role.
#[async_trait]
pub trait QueueReader: Send + Sync + 'static {
    /// Up to ten messages of `queue_url`, waiting up to `wait` for the first.
    async fn receive(
        &self,
        integration: &IntegrationInfo,
        queue_url: &str,
        wait: Duration,
    ) -> Result<Vec<QueueMessage>, QueueError>;

    /// Deletes the message received with `receipt_handle`.
    async fn delete(
        &self,
        integration: &IntegrationInfo,
        queue_url: &str,
        receipt_handle: &str,
    ) -> Result<(), QueueError>;
}

/// [`QueueReader`] on aws-sdk-sqs, acting as each integration's role (through the emulator
/// when the assumer has an endpoint override).
#[derive(Debug, Clone)]
pub struct AwsQueueReader {
    assumer: RoleAssumer,
}

impl AwsQueueReader {
    /// Calls SQS through `assumer`.
    pub fn new(assumer: RoleAssumer) -> Self {
        Self { assumer }
    }

    async fn client(
        &self,
        integration: &IntegrationInfo,
        queue_url: &str,
    ) -> Result<aws_sdk_sqs::Client, QueueError> {
        if integration.role_arn.is_empty() {
            return Err(QueueError("the integration has no role yet".into()));
        }
        let role = IntegrationRole {
            integration_id: integration.id.to_string(),
            role_arn: integration.role_arn.clone(),
            external_id: integration.external_id.clone(),
            region: integration.region.clone(),
        };
        let clients = self
            .assumer
            .clients(&role)
            .await
            .map_err(|e| QueueError(format!("assuming the integration's role: {e}")))?;
        Ok(clients.sqs_for_queue(queue_url))
    }
}

#[async_trait]
impl QueueReader for AwsQueueReader {
    async fn receive(
        &self,
        integration: &IntegrationInfo,
        queue_url: &str,
        wait: Duration,
    ) -> Result<Vec<QueueMessage>, QueueError> {
        let client = self.client(integration, queue_url).await?;
        // The assumer's timeouts suit quick calls; a long poll legitimately takes `wait`.
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(wait + RECEIVE_GRACE)
            .operation_timeout(wait + 2 * RECEIVE_GRACE)
            .build();
        let output = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(MAX_MESSAGES)
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| QueueError(classify_sdk_error(&e).to_string()))?;
        Ok(output
            .messages()
            .iter()
            .filter_map(|message| {
                let attribute = |name: &MessageSystemAttributeName| {
                    message
                        .attributes()
                        .and_then(|attributes| attributes.get(name))
                        .and_then(|value| value.parse::<i64>().ok())
                };
                Some(QueueMessage {
                    message_id: message.message_id()?.to_owned(),
                    receipt_handle: message.receipt_handle()?.to_owned(),
                    body: message.body().unwrap_or_default().to_owned(),
                    sent_at: attribute(&MessageSystemAttributeName::SentTimestamp).and_then(
                        |millis| {
                            OffsetDateTime::from_unix_timestamp_nanos(
                                i128::from(millis) * 1_000_000,
                            )
                            .ok()
                        },
                    ),
                    receive_count: attribute(&MessageSystemAttributeName::ApproximateReceiveCount),
                })
            })
            .collect())
    }

    async fn delete(
        &self,
        integration: &IntegrationInfo,
        queue_url: &str,
        receipt_handle: &str,
    ) -> Result<(), QueueError> {
        self.client(integration, queue_url)
            .await?
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| QueueError(classify_sdk_error(&e).to_string()))?;
        Ok(())
    }
}

/// Starts the supervisor, which polls every configured queue until `stop`.
pub fn start(context: HttpContext, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(supervise(context, stop))
}

/// A running poller; its integration is updated in place when it changes (a new role, say).
struct Poller {
    integration: watch::Sender<IntegrationInfo>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

type QueueKey = (Id, String);

async fn supervise(context: HttpContext, stop: CancellationToken) {
    let mut pollers: HashMap<QueueKey, Poller> = HashMap::new();
    loop {
        match context.entitlements.all_integrations().await {
            Ok(integrations) => reconcile(&context, &stop, &mut pollers, integrations).await,
            Err(error) => {
                tracing::warn!(%error, "reading the integrations failed; the SQS pollers carry on unchanged");
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(RECONCILE_INTERVAL) => {}
        }
    }
    for poller in pollers.into_values() {
        poller.stop.cancel();
        let _ = poller.task.await;
    }
}

/// Stops the pollers of queues no longer configured (and any that ended unexpectedly), starts
/// the missing ones, and hands the others their integration's current settings.
async fn reconcile(
    context: &HttpContext,
    stop: &CancellationToken,
    pollers: &mut HashMap<QueueKey, Poller>,
    integrations: Vec<IntegrationInfo>,
) {
    let mut wanted: HashMap<QueueKey, IntegrationInfo> = HashMap::new();
    for integration in integrations {
        for url in &integration.sqs_queue_urls {
            wanted.insert((integration.id.clone(), url.clone()), integration.clone());
        }
    }
    let gone: Vec<QueueKey> = pollers
        .iter()
        .filter(|(key, poller)| !wanted.contains_key(*key) || poller.task.is_finished())
        .map(|(key, _)| key.clone())
        .collect();
    for key in gone {
        if let Some(poller) = pollers.remove(&key) {
            poller.stop.cancel();
            if let Err(error) = poller.task.await {
                tracing::error!(integration_id = %key.0, queue_url = %key.1, %error, "an SQS poller failed");
            }
            tracing::info!(integration_id = %key.0, queue_url = %key.1, "stopped polling");
        }
    }
    for (key, integration) in wanted {
        if let Some(poller) = pollers.get(&key) {
            poller.integration.send_if_modified(|current| {
                let changed = *current != integration;
                if changed {
                    *current = integration;
                }
                changed
            });
            continue;
        }
        tracing::info!(integration_id = %key.0, queue_url = %key.1, "polling the notification queue");
        let (sender, receiver) = watch::channel(integration);
        let poller_stop = stop.child_token();
        let task = tokio::spawn(poll(
            context.clone(),
            key.1.clone(),
            receiver,
            poller_stop.clone(),
        ));
        pollers.insert(
            key,
            Poller {
                integration: sender,
                stop: poller_stop,
                task,
            },
        );
    }
}

/// Receives and handles messages of one queue until `stop`; receive failures back off.
async fn poll(
    context: HttpContext,
    queue_url: String,
    integration: watch::Receiver<IntegrationInfo>,
    stop: CancellationToken,
) {
    let wait = context.config.sqs_wait_time;
    let mut backoff = Backoff::default();
    loop {
        let current = integration.borrow().clone();
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = context.sqs.receive(&current, &queue_url, wait) => received,
        };
        let pause = match received {
            Ok(messages) => {
                backoff.reset();
                let empty = messages.is_empty();
                for message in messages {
                    // Messages not handled reappear after their visibility timeout.
                    if stop.is_cancelled() {
                        return;
                    }
                    handle(&context, &current, &queue_url, message).await;
                }
                (empty && wait < MIN_POLL_INTERVAL).then_some(MIN_POLL_INTERVAL)
            }
            Err(error) => {
                let pause = backoff.next_pause();
                tracing::warn!(
                    integration_id = %current.id,
                    %queue_url,
                    %error,
                    retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                    "receiving from the notification queue failed"
                );
                Some(pause)
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// Handles one message and deletes it unless it should be redelivered.
async fn handle(
    context: &HttpContext,
    integration: &IntegrationInfo,
    queue_url: &str,
    message: QueueMessage,
) {
    let origin = Origin {
        route: Route::Sqs,
        integration,
        event_id: Some(&message.message_id),
        payload: message.body.as_bytes(),
        attempts: message.receive_count.unwrap_or(1),
    };
    if !process(context, &origin, &message).await {
        tracing::debug!(integration_id = %integration.id, message_id = %message.message_id, "message left for redelivery");
        return;
    }
    if let Err(error) = context
        .sqs
        .delete(integration, queue_url, &message.receipt_handle)
        .await
    {
        // It comes back and is recognised as a duplicate.
        tracing::warn!(integration_id = %integration.id, %queue_url, %error, "deleting a handled message failed");
    }
}

/// Whether the message is done with (applied, ignored or parked).
async fn process(context: &HttpContext, origin: &Origin<'_>, message: &QueueMessage) -> bool {
    let integration = origin.integration;
    let sent_at = message
        .sent_at
        .unwrap_or_else(|| context.entitlements.now());
    let inbound = match classify_sqs_body(&message.body, &message.message_id, sent_at) {
        Ok(SqsBody::Unsigned(inbound)) => inbound,
        Ok(SqsBody::Envelope(envelope)) => {
            let settings = match context
                .entitlements
                .fulfilment_settings(None, &integration.id)
                .await
            {
                Ok((_, settings)) => settings,
                Err(error) => {
                    tracing::warn!(integration_id = %integration.id, %error, "reading the fulfilment settings failed");
                    return false;
                }
            };
            if let Err(refused) =
                sns::authenticate(context, integration, &settings, &envelope).await
            {
                return settle(context, origin, refused).await;
            }
            match envelope_inbound(&envelope) {
                Ok(inbound) => inbound,
                Err(error) => {
                    let refused =
                        Refused::new(StatusCode::BAD_REQUEST, "malformed", error.to_string());
                    return settle(context, origin, refused).await;
                }
            }
        }
        Err(error) => {
            let refused = Refused::new(StatusCode::BAD_REQUEST, "malformed", error.to_string());
            return settle(context, origin, refused).await;
        }
    };
    match inbound {
        Inbound::Notice(notice) => park::apply(context, origin, &notice).await != Applied::Retry,
        Inbound::Confirmation(confirmation) => match sns::confirm(context, &confirmation).await {
            Ok(()) => true,
            Err(refused) => settle(context, origin, refused).await,
        },
        Inbound::Ignored { reason } => {
            tracing::debug!(integration_id = %integration.id, %reason, "queue message ignored");
            true
        }
    }
}

/// Parks a refused message (true: delete it); a temporary refusal, or one the store did not
/// take, leaves it for redelivery.
async fn settle(context: &HttpContext, origin: &Origin<'_>, refused: Refused) -> bool {
    if refused.is_temporary() {
        tracing::warn!(integration_id = %origin.integration.id, reason = %refused.reason, "queue message not processed now");
        return false;
    }
    park::park(context, origin, refused.class, &refused.reason).await
}

/// Exponential backoff with jitter.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: BACKOFF_START,
        }
    }
}

impl Backoff {
    fn reset(&mut self) {
        self.next = BACKOFF_START;
    }

    /// 50 to 100 % of the current step (so pollers failing together do not retry in step),
    /// doubling the step up to [`BACKOFF_MAX`].
    fn next_pause(&mut self) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(BACKOFF_MAX);
        let millis = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_minute_and_resets() {
        let mut backoff = Backoff::default();
        let pauses: Vec<Duration> = (0..9).map(|_| backoff.next_pause()).collect();
        let steps = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for (pause, step) in pauses.iter().zip(steps) {
            let step = Duration::from_secs(step);
            assert!(
                *pause <= step && *pause >= step / 2,
                "{pause:?} for {step:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_pause() <= BACKOFF_START);
    }
}
