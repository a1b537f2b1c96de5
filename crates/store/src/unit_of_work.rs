//! One write of a service: the state change, the events it causes and the idempotency record of
//! the request, committed together or not at all.

use souk_core::{Error, ErrorCode, Idempotency};
use time::OffsetDateTime;

use crate::error::map_sqlx_error;
use crate::idempotency::{self, IdempotencyKey};
use crate::outbox::{self, OutboxRecord};
use crate::{Result, Store, Tx};

/// How a unit of work began: fresh, or as a retry of a request that already ran.
#[derive(Debug)]
pub enum Begun {
    /// Nothing was recorded for the request: do the work.
    Fresh(UnitOfWork),
    /// The request ran before: its encoded response, to return unchanged.
    Replayed(Vec<u8>),
}

/// An open write transaction that collects outbox events and remembers the request's response.
///
/// Dropped without [`commit`](Self::commit), it rolls back.
#[derive(Debug)]
pub struct UnitOfWork {
    tx: Tx,
    organization_id: String,
    idempotency: Option<Idempotency>,
    records: Vec<OutboxRecord>,
    store: Store,
}

impl Store {
    /// Begins a write of `organization_id`. With `idempotency`, a request that already ran is
    /// [`Begun::Replayed`]; a concurrent duplicate waits for the first one to commit and then
    /// replays it (PostgreSQL: an advisory lock on the key; SQLite: the write lock).
    pub async fn unit_of_work(
        &self,
        organization_id: &str,
        idempotency: Option<&Idempotency>,
    ) -> Result<Begun> {
        let mut tx = self.begin_write().await?;
        if let Some(idem) = idempotency {
            let purpose = format!("idempotency:{organization_id}:{}:{}", idem.scope, idem.key);
            self.lock(&mut tx, &purpose).await?;
            let key = key_of(organization_id, idem);
            if let Some(response) = idempotency::lookup(&mut *tx, &key, &idem.request_hash).await? {
                return Ok(Begun::Replayed(response));
            }
        }
        Ok(Begun::Fresh(UnitOfWork {
            tx,
            organization_id: organization_id.to_owned(),
            idempotency: idempotency.cloned(),
            records: Vec::new(),
            store: self.clone(),
        }))
    }
}

fn key_of<'a>(organization_id: &'a str, idem: &'a Idempotency) -> IdempotencyKey<'a> {
    IdempotencyKey {
        organization_id,
        scope: idem.scope,
        key: &idem.key,
    }
}

impl UnitOfWork {
    /// The transaction, for the service's own statements.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    /// The store the work runs on (for its backend and locks).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Appends `record` to the outbox when the work commits.
    pub fn emit(&mut self, record: OutboxRecord) {
        self.records.push(record);
    }

    /// Whether the response must be remembered (the request carried an idempotency key).
    pub fn remembers_response(&self) -> bool {
        self.idempotency.is_some()
    }

    /// Commits the work, its events and, for an idempotent request, `response()` (called only
    /// then), then wakes the outbox's readers. `Aborted` when a concurrent request with the same
    /// key won (retrying replays it).
    pub async fn commit(
        mut self,
        response: impl FnOnce() -> Vec<u8>,
        now: OffsetDateTime,
    ) -> Result<()> {
        if let Some(idem) = &self.idempotency {
            let key = key_of(&self.organization_id, idem);
            idempotency::store(&mut *self.tx, &key, &idem.request_hash, &response(), now)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::Conflict => Error::new(ErrorCode::Aborted, e.message),
                    _ => e,
                })?;
        }
        for record in &self.records {
            outbox::append(&mut self.tx, record).await?;
        }
        self.tx.commit().await.map_err(map_sqlx_error)?;
        if !self.records.is_empty() {
            self.store.outbox_waker().wake();
        }
        Ok(())
    }
}
