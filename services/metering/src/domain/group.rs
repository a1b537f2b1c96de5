//! Group commit: the batches of one organisation that arrive while its transactions are being
//! written share the next one. Up to [`WRITERS`] transactions of an organisation are written at
//! once: one inserts its events while another folds its hours' records (under the
//! organisation's record lock) and commits, so the database works on both. Concurrent batches mostly touch the same hours' records
//! (one per customer and dimension), so separate transactions would queue on those records one
//! after another anyway; one transaction writes their events in one insert, their records in one
//! upsert and commits once. Each batch still gets its own acknowledgements, and its own error:
//! when a shared transaction fails, every batch of it is written again alone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use souk_core::Id;
use tokio::sync::oneshot;

use super::error::Error;
use super::ingest::Accepted;
use super::model::EventAck;
use super::service::Metering;

/// Most events one shared transaction writes.
const MAX_GROUP_EVENTS: usize = 8_000;

/// Most transactions of one organisation written at once.
const WRITERS: usize = 2;

/// One batch waiting for a transaction.
struct Job {
    accepted: Vec<Accepted>,
    done: oneshot::Sender<Result<Vec<EventAck>, Error>>,
}

/// The batches waiting, per organisation, and how many writers are draining them.
#[derive(Default)]
struct Queue {
    writers: usize,
    jobs: VecDeque<Job>,
}

/// The per-organisation queues of a [`Metering`].
#[derive(Default)]
pub(super) struct GroupCommit {
    queues: Mutex<HashMap<Id, Queue>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Queue>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a batch; true when the caller must start another writer of the organisation.
    fn push(&self, organization_id: &Id, job: Job) -> bool {
        let mut queues = self.lock();
        let queue = queues.entry(organization_id.clone()).or_default();
        queue.jobs.push_back(job);
        let start = queue.writers < WRITERS;
        if start {
            queue.writers += 1;
        }
        start
    }

    /// A writer of the organisation panicked: one fewer; when it was the last, what still
    /// waits is answered with an error (its senders dropped) rather than left waiting.
    fn abandon(&self, organization_id: &Id) {
        let mut queues = self.lock();
        if let Some(queue) = queues.get_mut(organization_id) {
            queue.writers = queue.writers.saturating_sub(1);
            if queue.writers == 0 {
                queues.remove(organization_id);
            }
        }
    }

    /// The next group: queued batches in order, up to [`MAX_GROUP_EVENTS`], stopping before a
    /// batch that shares a key with an earlier one (it needs the earlier one committed to be
    /// recognised as a duplicate). Empty when nothing waits; the writer then stops. (A key
    /// in two writers' transactions at once is settled by the database: the second waits on
    /// the first's uncommitted row and finds it stored.)
    fn next_group(&self, organization_id: &Id) -> Vec<Job> {
        let mut queues = self.lock();
        let Some(queue) = queues.get_mut(organization_id) else {
            return Vec::new();
        };
        let mut group = Vec::new();
        let mut keys = HashSet::new();
        let mut events = 0;
        while let Some(job) = queue.jobs.front() {
            let fits = group.is_empty() || events + job.accepted.len() <= MAX_GROUP_EVENTS;
            let disjoint = job.accepted.iter().all(|a| !keys.contains(a.key()));
            if !fits || !disjoint {
                break;
            }
            keys.extend(job.accepted.iter().map(|a| a.key().to_owned()));
            events += job.accepted.len();
            group.extend(queue.jobs.pop_front());
        }
        if group.is_empty() {
            queue.writers = queue.writers.saturating_sub(1);
            if queue.writers == 0 {
                queues.remove(organization_id);
            }
        }
        group
    }
}

/// Ends a writer that panicked (see [`GroupCommit::abandon`]); the next batch starts a new
/// writer. (A writer that returns has already counted itself out in
/// [`GroupCommit::next_group`].)
struct Writer<'a> {
    metering: &'a Metering,
    organization_id: &'a Id,
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.metering.groups.abandon(self.organization_id);
        }
    }
}

impl Metering {
    /// Writes `accepted` in the organisation's next transaction; its acknowledgements once
    /// that transaction committed.
    pub(super) async fn write_grouped(
        &self,
        organization_id: &Id,
        accepted: Vec<Accepted>,
    ) -> Result<Vec<EventAck>, Error> {
        let (done, answer) = oneshot::channel();
        if self.groups.push(organization_id, Job { accepted, done }) {
            // A task of its own: the batches queued behind this call must be written even if
            // this caller goes away.
            let metering = self.clone();
            let organization_id = organization_id.clone();
            tokio::spawn(async move { metering.drain(&organization_id).await });
        }
        answer
            .await
            .map_err(|_| Error::Internal("the writer of this batch stopped".into()))?
    }

    /// Writes the organisation's queued batches, group after group, until none waits.
    async fn drain(&self, organization_id: &Id) {
        let _writer = Writer {
            metering: self,
            organization_id,
        };
        loop {
            let group = self.groups.next_group(organization_id);
            if group.is_empty() {
                return;
            }
            self.commit_group(organization_id, group).await;
        }
    }

    async fn commit_group(&self, organization_id: &Id, group: Vec<Job>) {
        let now = self.clock.now();
        let sizes: Vec<usize> = group.iter().map(|job| job.accepted.len()).collect();
        let (mut all, senders): (Vec<Vec<Accepted>>, Vec<_>) = group
            .into_iter()
            .map(|job| (job.accepted, job.done))
            .unzip();
        if all.len() == 1 {
            let accepted = all.pop().unwrap_or_default();
            let answer = self.write(organization_id, &accepted, now).await;
            for sender in senders {
                let _ = sender.send(answer.clone());
            }
            return;
        }
        let together: Vec<Accepted> = all.into_iter().flatten().collect();
        match self.write(organization_id, &together, now).await {
            Ok(acks) if acks.len() == together.len() => {
                let mut acks = acks.into_iter();
                for (size, sender) in sizes.into_iter().zip(senders) {
                    let _ = sender.send(Ok(acks.by_ref().take(size).collect()));
                }
            }
            _ => {
                // Alone, each batch gets its own error (naming its own events) or succeeds.
                let mut together = together.into_iter();
                for (size, sender) in sizes.into_iter().zip(senders) {
                    let accepted: Vec<Accepted> = together.by_ref().take(size).collect();
                    let answer = self.write(organization_id, &accepted, now).await;
                    let _ = sender.send(answer);
                }
            }
        }
    }
}
