//! Keeps a replica's [`Snapshot`] current: a full load at start (retried until the store
//! answers), then a catch-up read of the customers changed since the last read whenever the
//! service commits an event (in this process: the store's outbox waker; in others: the event
//! bus, through [`Follower::trigger`]), at least every `poll_interval`, and a full reload every
//! `full_reload_every` as a safety net.

use std::sync::Arc;
use std::time::{Duration, Instant};

use souk_store::OutboxWaker;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Snapshot;
use crate::config::EntitlementConfig;
use crate::domain::Entitlements;

/// How the follower reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerConfig {
    /// Longest time between two catch-up reads.
    pub poll_interval: Duration,
    /// Time between full reloads.
    pub full_reload_every: Duration,
    /// How far before the last read a catch-up read starts, so a transaction that committed
    /// late (its rows stamped before the read) is still seen.
    pub overlap: Duration,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            full_reload_every: Duration::from_secs(300),
            overlap: Duration::from_secs(5),
        }
    }
}

impl FollowerConfig {
    /// The reads `config` sets (`snapshot_*`).
    pub(crate) fn of(config: &EntitlementConfig) -> Self {
        Self {
            poll_interval: config.snapshot_poll_interval,
            full_reload_every: config.snapshot_full_reload,
            ..Self::default()
        }
    }
}

/// The running follower of one snapshot.
#[derive(Debug)]
pub struct Follower {
    trigger: Arc<Notify>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Follower {
    /// Starts following: `waker` is the service store's outbox waker (commits in this process).
    pub fn start(
        entitlements: Entitlements,
        snapshot: Snapshot,
        waker: &OutboxWaker,
        config: FollowerConfig,
    ) -> Self {
        let trigger = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let mut commits = waker.subscribe();
        let task = tokio::spawn({
            let trigger = Arc::clone(&trigger);
            let stop = stop.clone();
            async move {
                let mut last_full: Option<Instant> = None;
                let mut since: Option<time::OffsetDateTime> = None;
                let mut waker_alive = true;
                loop {
                    let full_due =
                        last_full.is_none_or(|at| at.elapsed() >= config.full_reload_every);
                    let started = Instant::now();
                    let read_from = entitlements.now();
                    let result = if full_due {
                        entitlements.customer_views(None).await
                    } else {
                        entitlements.customer_views(since).await
                    };
                    match result {
                        Ok(views) => {
                            if full_due {
                                snapshot.replace_all(views, started);
                                last_full = Some(started);
                            } else {
                                snapshot.apply(views, started);
                            }
                            since = Some(read_from - config.overlap);
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot refresh the entitlement snapshot; answering from the last known state");
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = trigger.notified() => {}
                        changed = commits.changed(), if waker_alive => {
                            waker_alive = changed.is_ok();
                        }
                        () = tokio::time::sleep(config.poll_interval) => {}
                    }
                }
            }
        });
        Self {
            trigger,
            stop,
            task,
        }
    }

    /// Asks for a catch-up read now (an event arrived from another replica).
    pub fn trigger(&self) -> Arc<Notify> {
        Arc::clone(&self.trigger)
    }

    /// Stops following.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
