//! The signal from a committed transaction with outbox rows to the readers of the outbox.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

/// Wakes the relay and the `WatchEvents` streams right after a transaction with outbox rows
/// commits. Cheap to clone; a wake while the relay is busy is remembered, so none is lost.
#[derive(Debug, Clone)]
pub struct OutboxWaker {
    relay: Arc<Notify>,
    watchers: Arc<watch::Sender<u64>>,
}

impl Default for OutboxWaker {
    fn default() -> Self {
        Self {
            relay: Arc::new(Notify::new()),
            watchers: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl OutboxWaker {
    /// A waker of its own (every [`Store`](crate::Store) has one).
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the relay and the watchers that new rows are committed.
    pub fn wake(&self) {
        self.relay.notify_one();
        self.watchers
            .send_modify(|commits| *commits = commits.wrapping_add(1));
    }

    /// Resolves at the next [`wake`](Self::wake) (or at once if one came since the last wait).
    pub async fn woken(&self) {
        self.relay.notified().await;
    }

    /// A receiver that changes on every [`wake`](Self::wake), for readers following the outbox.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.watchers.subscribe()
    }
}
