//! `souk.events.v1.EventService/WatchEvents`: streams an organisation's events from the outbox,
//! resumable by cursor. The consumer API of standalone mode, and a catch-up API everywhere.
//!
//! The cursor is opaque to clients: `""` starts from now, `"0"` from the beginning, and every
//! response carries the cursor to resume after that event. Rows are read in outbox order, which
//! the store guarantees is commit order, so resuming never skips or repeats an event.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use prost::Message;
use souk_proto::events::event_service_server::EventService;
use souk_proto::events::{Event, WatchEventsRequest, WatchEventsResponse};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::relay::OutboxWaker;
use souk_store::Store;
use souk_store::outbox::{self, OutboxEntry};

/// How `WatchEvents` streams read the outbox.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Rows read per query.
    pub batch_size: u32,
    /// How often the outbox is polled when no commit wakes the stream.
    pub poll_interval: Duration,
    /// Timeout of each outbox read.
    pub read_timeout: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            batch_size: 200,
            poll_interval: Duration::from_millis(500),
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// Resolves the caller's organisation id from the request (its API key).
pub trait OrgResolver<T>:
    Fn(&Request<T>) -> Result<String, Status> + Send + Sync + 'static
{
}
impl<T, F: Fn(&Request<T>) -> Result<String, Status> + Send + Sync + 'static> OrgResolver<T> for F {}

/// The `EventService` implementation over an outbox.
pub struct WatchEventsService<F> {
    store: Store,
    org_of: F,
    config: WatchConfig,
    waker: Option<OutboxWaker>,
    shutdown: CancellationToken,
}

impl<F> std::fmt::Debug for WatchEventsService<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchEventsService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<F: OrgResolver<WatchEventsRequest>> WatchEventsService<F> {
    /// A service reading the outbox of `store`, with `org_of` telling which organisation a
    /// request may see.
    pub fn new(store: Store, org_of: F, config: WatchConfig) -> Self {
        let waker = Some(store.outbox_waker().clone());
        Self {
            store,
            org_of,
            config,
            waker,
            shutdown: CancellationToken::new(),
        }
    }

    /// Follows commits through `waker` instead of the store's own outbox waker.
    pub fn with_waker(mut self, waker: OutboxWaker) -> Self {
        self.waker = Some(waker);
        self
    }

    /// A token that ends every open stream when cancelled (server shutdown).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Parses a client cursor: `None` for "from now".
pub fn parse_cursor(cursor: &str) -> Result<Option<i64>, Status> {
    if cursor.is_empty() {
        return Ok(None);
    }
    match cursor.parse::<i64>() {
        Ok(seq) if seq >= 0 => Ok(Some(seq)),
        _ => Err(Status::out_of_range(
            "unknown cursor: use a cursor from a previous response, \"0\" for the beginning or \"\" for now",
        )),
    }
}

/// The cursor to resume after the row `seq`.
pub fn cursor_after(seq: i64) -> String {
    seq.to_string()
}

fn validate_types(types: &[String]) -> Result<(), Status> {
    for prefix in types {
        let valid = !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !valid {
            return Err(Status::invalid_argument(format!(
                "invalid types: {prefix:?} must be an event type or prefix such as \"subscription.\""
            )));
        }
    }
    Ok(())
}

/// The response stream of `WatchEvents`.
pub type WatchEventsStream =
    Pin<Box<dyn Stream<Item = Result<WatchEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl<F: OrgResolver<WatchEventsRequest>> EventService for WatchEventsService<F> {
    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<WatchEventsStream>, Status> {
        let organization_id = (self.org_of)(&request)?;
        let request = request.into_inner();
        validate_types(&request.types)?;
        let start = match parse_cursor(&request.cursor)? {
            Some(seq) => seq,
            None => tokio::time::timeout(
                self.config.read_timeout,
                outbox::last_seq(self.store.pool(), &organization_id),
            )
            .await
            .map_err(|_| Status::unavailable("outbox read timed out"))?
            .map_err(|err| {
                tracing::error!(error = %err, "reading the outbox head failed");
                Status::unavailable("events are unavailable, retry later")
            })?,
        };
        let follower = Follower {
            store: self.store.clone(),
            organization_id,
            types: request.types,
            config: self.config.clone(),
            cursor: start,
            buffer: VecDeque::new(),
            commits: self.waker.as_ref().map(OutboxWaker::subscribe),
            shutdown: self.shutdown.clone(),
        };
        let stream = futures::stream::unfold(follower, |mut follower| async move {
            let item = follower.next().await?;
            Some((item, follower))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The state of one `WatchEvents` stream.
struct Follower {
    store: Store,
    organization_id: String,
    types: Vec<String>,
    config: WatchConfig,
    /// Highest seq consumed (sent or skipped).
    cursor: i64,
    buffer: VecDeque<WatchEventsResponse>,
    commits: Option<watch::Receiver<u64>>,
    shutdown: CancellationToken,
}

impl Follower {
    /// The next response, or `None` when the stream ends (shutdown).
    async fn next(&mut self) -> Option<Result<WatchEventsResponse, Status>> {
        loop {
            if let Some(response) = self.buffer.pop_front() {
                return Some(Ok(response));
            }
            if self.shutdown.is_cancelled() {
                return None;
            }
            if let Err(status) = self.fill().await {
                return Some(Err(status));
            }
            if self.buffer.is_empty() {
                self.wait(self.config.poll_interval).await;
            }
        }
    }

    async fn wait(&mut self, pause: Duration) {
        let shutdown = self.shutdown.clone();
        match self.commits.as_mut() {
            Some(commits) => {
                let waker_gone = tokio::select! {
                    () = shutdown.cancelled() => false,
                    changed = commits.changed() => changed.is_err(),
                    () = tokio::time::sleep(pause) => false,
                };
                if waker_gone {
                    // Every waker was dropped: fall back to polling instead of spinning.
                    self.commits = None;
                }
            }
            None => {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// Reads the next batch of the organisation's rows into the buffer.
    async fn fill(&mut self) -> Result<(), Status> {
        let read = outbox::read_after(
            self.store.pool(),
            &self.organization_id,
            self.cursor,
            self.config.batch_size,
        );
        let rows = tokio::time::timeout(self.config.read_timeout, read)
            .await
            .map_err(|_| Status::unavailable("outbox read timed out"))?
            .map_err(|err| {
                tracing::error!(error = %err, "reading the outbox failed");
                Status::unavailable("events are unavailable, retry later")
            })?;
        for row in rows {
            if row.seq <= self.cursor {
                continue;
            }
            self.cursor = row.seq;
            if let Some(response) = self.response_for(&row) {
                self.buffer.push_back(response);
            }
        }
        Ok(())
    }

    fn response_for(&self, row: &OutboxEntry) -> Option<WatchEventsResponse> {
        if row.organization_id != self.organization_id {
            return None;
        }
        if !self.types.is_empty()
            && !self
                .types
                .iter()
                .any(|prefix| row.event_type.starts_with(prefix.as_str()))
        {
            return None;
        }
        match Event::decode(row.payload.as_slice()) {
            Ok(event) => Some(WatchEventsResponse {
                event: Some(event),
                cursor: cursor_after(row.seq),
            }),
            Err(err) => {
                tracing::error!(seq = row.seq, event_id = %row.event_id, error = %err, "outbox row holds a malformed event; skipped");
                None
            }
        }
    }
}
