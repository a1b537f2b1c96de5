//! The outbox relay: leases pending outbox rows, publishes them in order, marks them published.
//!
//! Delivery is at least once. If the relay dies after the broker stored an event but before the
//! mark committed, the row is still pending; the next relay pass republishes it with the same
//! `Nats-Msg-Id` and JetStream drops the copy (within the stream's duplicate window, two minutes
//! by default). Consumers are idempotent on event id for everything beyond that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use souk_core::{SharedClock, SystemClock};
use souk_store::{Store, outbox};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::Error;
use crate::backoff::Backoff;
use crate::publisher::{OutgoingEvent, Publisher};

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Rows leased per pass.
    pub batch_size: u32,
    /// How often the outbox is polled when nobody wakes the relay.
    pub poll_interval: Duration,
    /// Pause after a pass that failed (broker or store unavailable), growing with each failure.
    pub retry_backoff: Backoff,
    /// How long a row that can never be published (a bad subject) is skipped before it is
    /// tried again.
    pub poison_retry: Duration,
    /// Timeout of each store call.
    pub store_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_secs(1),
            retry_backoff: Backoff::default(),
            poison_retry: Duration::from_secs(300),
            store_timeout: Duration::from_secs(10),
        }
    }
}

pub use souk_store::OutboxWaker;

/// What one relay pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Rows leased.
    pub leased: usize,
    /// Rows the broker stored (and that are now marked published).
    pub published: usize,
    /// Rows skipped because they cannot be published (bad subject), retried later.
    pub poisoned: usize,
    /// The broker error that ended the pass early, if any; the rest is retried after a backoff.
    pub broker_error: Option<String>,
}

/// The relay from the outbox of one store to a [`Publisher`].
///
/// On PostgreSQL several relays may run on the same store: each lease locks its rows
/// (`FOR UPDATE SKIP LOCKED`) until it commits, so no row is published by two relays at once.
pub struct OutboxRelay<P> {
    store: Store,
    publisher: P,
    config: RelayConfig,
    clock: SharedClock,
    waker: OutboxWaker,
    /// Rows that can never be published, and when to try them again.
    poisoned: Mutex<HashMap<i64, Instant>>,
}

impl<P> std::fmt::Debug for OutboxRelay<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<P: Publisher> OutboxRelay<P> {
    /// A relay from the outbox of `store` to `publisher`.
    pub fn new(store: Store, publisher: P, config: RelayConfig) -> Self {
        let waker = store.outbox_waker().clone();
        Self {
            store,
            publisher,
            config,
            clock: Arc::new(SystemClock),
            waker,
            poisoned: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `clock` for the published-at time.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `waker` (created before the relay, handed to the services) to wake the relay.
    pub fn with_waker(mut self, waker: OutboxWaker) -> Self {
        self.waker = waker;
        self
    }

    /// The waker the services poke after committing.
    pub fn waker(&self) -> OutboxWaker {
        self.waker.clone()
    }

    /// Spawns the relay loop; it runs until [`RelayHandle::shutdown`].
    pub fn start(self) -> RelayHandle {
        let cancel = CancellationToken::new();
        let waker = self.waker.clone();
        let task = tokio::spawn(self.run(cancel.clone()));
        RelayHandle {
            cancel: cancel.drop_guard(),
            task,
            waker,
        }
    }

    async fn run(self, cancel: CancellationToken) {
        tracing::info!(store = ?self.store, "outbox relay started");
        let mut consecutive_failures = 0_u32;
        while !cancel.is_cancelled() {
            let outcome = self.run_once(&cancel).await;
            let pause = match outcome {
                Ok(pass) if pass.broker_error.is_none() => {
                    consecutive_failures = 0;
                    let more = pass.leased >= self.config.batch_size as usize && pass.published > 0;
                    if more {
                        continue;
                    }
                    self.config.poll_interval
                }
                failed => {
                    consecutive_failures = consecutive_failures.saturating_add(1);
                    let pause = self.config.retry_backoff.delay(consecutive_failures);
                    let error = match failed {
                        Ok(pass) => pass.broker_error.unwrap_or_default(),
                        Err(err) => err.to_string(),
                    };
                    tracing::warn!(%error, retry_in_ms = pause.as_millis() as u64, "outbox relay pass failed");
                    pause
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.waker.woken() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// One pass: lease pending rows, publish them in order, mark the published ones and commit
    /// the lease. A broker failure ends the pass early (later rows stay pending, keeping their
    /// order); when `cancel` fires the pass stops after the current row.
    ///
    /// Crash safety: marks become durable only when the lease commits. A relay that dies after
    /// publishing leaves its rows pending; the next pass republishes them with the same
    /// `Nats-Msg-Id` and the broker drops the copies (within the stream's duplicate window).
    pub async fn run_once(&self, cancel: &CancellationToken) -> Result<RelayPass, Error> {
        let timeout = self.config.store_timeout;
        let mut lease =
            tokio::time::timeout(timeout, outbox::lease(&self.store, self.config.batch_size))
                .await
                .map_err(|_| Error::Timeout("outbox lease"))??;
        let entries = lease.entries().to_vec();
        let mut pass = RelayPass {
            leased: entries.len(),
            ..RelayPass::default()
        };
        if entries.is_empty() {
            tokio::time::timeout(timeout, lease.commit())
                .await
                .map_err(|_| Error::Timeout("outbox lease commit"))??;
            return Ok(pass);
        }
        let mut published = Vec::with_capacity(entries.len());
        let mut failures: Vec<(i64, String)> = Vec::new();
        for entry in &entries {
            if cancel.is_cancelled() {
                break;
            }
            if self.is_poisoned(entry.seq) {
                pass.poisoned += 1;
                continue;
            }
            match self.publisher.publish(&OutgoingEvent::from(entry)).await {
                Ok(receipt) => {
                    tracing::debug!(event_id = %entry.event_id, seq = entry.seq, duplicate = receipt.duplicate, "event published");
                    published.push(entry.seq);
                }
                Err(err) if !err.is_transient() => {
                    // A row that can never be published must not block the rest.
                    tracing::error!(event_id = %entry.event_id, seq = entry.seq, subject = %entry.subject, error = %err, "outbox row cannot be published; skipping it for now");
                    self.poison(entry.seq);
                    failures.push((entry.seq, err.to_string()));
                    pass.poisoned += 1;
                }
                Err(err) => {
                    tracing::warn!(event_id = %entry.event_id, seq = entry.seq, error = %err, "event publish failed");
                    failures.push((entry.seq, err.to_string()));
                    pass.broker_error = Some(err.to_string());
                    break;
                }
            }
        }
        let finish = async {
            if !published.is_empty() {
                lease.mark_published(&published, self.clock.now()).await?;
            }
            for (seq, reason) in &failures {
                lease.record_failure(*seq, reason).await?;
            }
            lease.commit().await
        };
        tokio::time::timeout(timeout, finish)
            .await
            .map_err(|_| Error::Timeout("outbox lease commit"))??;
        pass.published = published.len();
        Ok(pass)
    }

    fn is_poisoned(&self, seq: i64) -> bool {
        let mut poisoned = self.poisoned.lock().unwrap_or_else(|p| p.into_inner());
        match poisoned.get(&seq) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                poisoned.remove(&seq);
                false
            }
            None => false,
        }
    }

    fn poison(&self, seq: i64) {
        let mut poisoned = self.poisoned.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        poisoned.retain(|_, until| *until > now);
        poisoned.insert(seq, now + self.config.poison_retry);
    }
}

/// The running relay. Dropping the handle asks the relay to stop, like
/// [`shutdown`](RelayHandle::shutdown) without waiting.
#[derive(Debug)]
pub struct RelayHandle {
    cancel: DropGuard,
    task: JoinHandle<()>,
    waker: OutboxWaker,
}

impl RelayHandle {
    /// The waker the services poke after committing.
    pub fn waker(&self) -> OutboxWaker {
        self.waker.clone()
    }

    /// Stops the relay after the row it is publishing, and waits for it.
    pub async fn shutdown(self) {
        self.cancel.disarm().cancel();
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "outbox relay task failed");
        }
    }

    /// Kills the relay at whatever point it is (a crash, for tests); leased rows are
    /// republished by the next relay once their lease expires.
    pub fn abort(self) {
        self.task.abort();
        drop(self.cancel.disarm());
    }
}

/// How far the relay is behind on one store: rows not yet published and how old the oldest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxBacklog {
    /// Outbox rows not yet published.
    pub rows: u64,
    /// Age of the oldest unpublished row at the time asked; `None` when there is none.
    pub oldest_age: Option<Duration>,
}

/// The outbox backlog of `store` at `now`, for metrics and readiness: a relay that cannot
/// publish (broker down, streams missing) shows as a growing count and age.
pub async fn outbox_backlog(
    store: &Store,
    now: time::OffsetDateTime,
) -> Result<OutboxBacklog, Error> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT COUNT(*) AS pending, MIN(occurred_at) AS oldest FROM outbox WHERE published_at IS NULL",
    )
    .fetch_one(store.pool())
    .await
    .map_err(souk_store::map_sqlx_error)?;
    let rows: i64 = row.try_get("pending").map_err(souk_store::map_sqlx_error)?;
    let oldest: Option<i64> = row.try_get("oldest").map_err(souk_store::map_sqlx_error)?;
    let oldest_age = oldest.map(|millis| {
        let age = now - souk_core::clock::from_unix_millis(millis);
        Duration::try_from(age).unwrap_or(Duration::ZERO)
    });
    Ok(OutboxBacklog {
        rows: u64::try_from(rows).unwrap_or(0),
        oldest_age,
    })
}
