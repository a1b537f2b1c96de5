//! `souk.events.v1.EventService/WatchEvents`: streams an organisation's events from the outbox
//! of every service, resumable by cursor. The consumer API of standalone mode, and a catch-up
//! API everywhere.
//!
//! The cursor (see [`crate::cursor`]) is opaque to clients: `""` starts from now, `"0"` from the
//! beginning, and every response carries the cursor to resume after that event. Each outbox is
//! read in its own `seq` order, which the store guarantees is commit order, so resuming never
//! skips or repeats an event; events of different services interleave by when they happened.
//! A cursor naming an event an outbox no longer holds (a data reset, another deployment's
//! cursor) fails with OUT_OF_RANGE rather than waiting forever for events that will not come.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use prost::Message;
use souk_proto::events::event_service_server::EventService;
use souk_proto::events::{Event, WatchEventsRequest, WatchEventsResponse};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::cursor::{self, Cursor, Start};
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

/// The `EventService` implementation over the outboxes of several services.
pub struct WatchEventsService<F> {
    stores: Vec<Store>,
    org_of: F,
    config: WatchConfig,
    wakers: Vec<OutboxWaker>,
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
    /// A service reading the outboxes of `stores` (one per service: a second store of the
    /// same service is ignored), with `org_of` telling which organisation a request may see.
    pub fn new(stores: Vec<Store>, org_of: F, config: WatchConfig) -> Self {
        let mut distinct: Vec<Store> = Vec::new();
        for store in stores {
            if !distinct.iter().any(|s| s.service() == store.service()) {
                distinct.push(store);
            }
        }
        let wakers = distinct.iter().map(|s| s.outbox_waker().clone()).collect();
        Self {
            stores: distinct,
            org_of,
            config,
            wakers,
            shutdown: CancellationToken::new(),
        }
    }

    /// Follows commits through `waker` instead of the stores' own outbox wakers.
    pub fn with_waker(mut self, waker: OutboxWaker) -> Self {
        self.wakers = vec![waker];
        self
    }

    /// A token that ends every open stream when cancelled (server shutdown).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Where each outbox's reading starts for `start`.
    async fn sources(&self, organization_id: &str, start: Start) -> Result<Vec<Source>, Status> {
        let timeout = self.config.read_timeout;
        let mut sources = Vec::with_capacity(self.stores.len());
        for store in &self.stores {
            let service = store.service().to_owned();
            let position = match &start {
                Start::Beginning => None,
                Start::Now => {
                    timed_read(timeout, outbox::last_entry(store.pool(), organization_id)).await?
                }
                Start::After(cursor) => match cursor.positions.get(&service) {
                    None => None,
                    Some(event_id) => {
                        let found =
                            timed_read(timeout, outbox::locate(store.pool(), event_id)).await?;
                        match found {
                            Some((seq, owner)) if owner == organization_id => {
                                Some((seq, event_id.clone()))
                            }
                            Some(_) => {
                                return Err(Status::invalid_argument(
                                    cursor::CursorError::Foreign.to_string(),
                                ));
                            }
                            None => {
                                return Err(Status::out_of_range(format!(
                                    "the cursor is past what Souk holds: the {service} service has no event {event_id} (its data was reset, or the cursor comes from another deployment); start again with \"0\" for the oldest event or \"\" for new events only"
                                )));
                            }
                        }
                    }
                },
            };
            let (seq, last_id) = match position {
                Some((seq, id)) => (seq, Some(id)),
                None => (0, None),
            };
            sources.push(Source {
                store: store.clone(),
                seq,
                last_id,
            });
        }
        Ok(sources)
    }
}

/// Runs one outbox read under `timeout`, hiding the store's error from the client.
async fn timed_read<T>(
    timeout: Duration,
    read: impl std::future::Future<Output = souk_store::Result<T>>,
) -> Result<T, Status> {
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| Status::unavailable("outbox read timed out"))?
        .map_err(|err| {
            tracing::error!(error = %err, "reading the outbox failed");
            Status::unavailable("events are unavailable, retry later")
        })
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
        let start = cursor::parse(&request.cursor, &organization_id)
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        let sources = self.sources(&organization_id, start).await?;
        let follower = Follower {
            sources,
            organization_id,
            types: request.types,
            config: self.config.clone(),
            buffer: VecDeque::new(),
            commits: self.wakers.iter().map(OutboxWaker::subscribe).collect(),
            shutdown: self.shutdown.clone(),
        };
        let stream = futures::stream::unfold(follower, |mut follower| async move {
            let item = follower.next().await?;
            Some((item, follower))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// One service's outbox as a stream reads it.
struct Source {
    store: Store,
    /// Highest seq consumed (sent or skipped).
    seq: i64,
    /// The id of the organisation's event at `seq`; `None` before the first.
    last_id: Option<String>,
}

/// The state of one `WatchEvents` stream.
struct Follower {
    sources: Vec<Source>,
    organization_id: String,
    types: Vec<String>,
    config: WatchConfig,
    buffer: VecDeque<WatchEventsResponse>,
    commits: Vec<watch::Receiver<u64>>,
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

    /// Waits for a commit to any outbox, the poll interval, or shutdown.
    async fn wait(&mut self, pause: Duration) {
        let shutdown = self.shutdown.clone();
        if self.commits.is_empty() {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(pause) => {}
            }
            return;
        }
        let changes = futures::future::select_all(
            self.commits
                .iter_mut()
                .map(|commits| Box::pin(commits.changed())),
        );
        let gone = tokio::select! {
            () = shutdown.cancelled() => None,
            (changed, index, _) = changes => changed.is_err().then_some(index),
            () = tokio::time::sleep(pause) => None,
        };
        if let Some(index) = gone {
            // That waker was dropped: poll instead of spinning on it.
            self.commits.swap_remove(index);
        }
    }

    /// Reads the next rows of every outbox into the buffer, interleaved by when they happened
    /// (each outbox's rows keep their commit order).
    async fn fill(&mut self) -> Result<(), Status> {
        let mut heads: Vec<VecDeque<OutboxEntry>> = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            let read = outbox::read_after(
                source.store.pool(),
                &self.organization_id,
                source.seq,
                self.config.batch_size,
            );
            let rows = timed_read(self.config.read_timeout, read).await?;
            heads.push(
                rows.into_iter()
                    .filter(|row| row.seq > source.seq)
                    .collect(),
            );
        }
        while let Some(index) = heads
            .iter()
            .enumerate()
            .filter_map(|(i, rows)| rows.front().map(|row| (row.occurred_at, i)))
            .min()
            .map(|(_, i)| i)
        {
            let Some(row) = heads[index].pop_front() else {
                break;
            };
            self.sources[index].seq = row.seq;
            self.sources[index].last_id = Some(row.event_id.clone());
            if let Some(response) = self.response_for(&row) {
                self.buffer.push_back(response);
            }
        }
        Ok(())
    }

    /// The cursor after every row consumed so far.
    fn cursor(&self) -> String {
        let positions: BTreeMap<String, String> = self
            .sources
            .iter()
            .filter_map(|s| {
                s.last_id
                    .as_ref()
                    .map(|id| (s.store.service().to_owned(), id.clone()))
            })
            .collect();
        Cursor {
            organization_id: self.organization_id.clone(),
            positions,
        }
        .encode()
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
                cursor: self.cursor(),
            }),
            Err(err) => {
                tracing::error!(seq = row.seq, event_id = %row.event_id, error = %err, "outbox row holds a malformed event; skipped");
                None
            }
        }
    }
}
