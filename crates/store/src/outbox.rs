//! The transactional outbox: a state change and the event it causes commit together.
//!
//! A service writes its rows and calls [`append`] on the same transaction; after commit a
//! relay (in `souk-events`) takes a [`Lease`] on pending entries, publishes them, marks them
//! published and commits the lease. Delivery is at least once: an entry whose lease is lost
//! (crash, rollback) is published again, and consumers deduplicate on `event_id` (which is also
//! the `Nats-Msg-Id`).
//!
//! `seq` is the commit order of entries (see [`append`]), so [`read_after`] with the last `seq`
//! seen resumes a `WatchEvents` stream without gaps.
//!
//! ```ignore
//! // in a service
//! let mut tx = store.begin_write().await?;
//! /* ... change rows ... */
//! outbox::append(&mut tx, &record).await?;
//! tx.commit().await.map_err(souk_store::map_sqlx_error)?;
//!
//! // in the relay
//! let mut lease = outbox::lease(&store, 100).await?;
//! for entry in lease.entries() { /* publish; collect seqs or record_failure */ }
//! lease.mark_published(&published, clock.now()).await?;
//! lease.commit().await?;
//! ```

use souk_core::clock::{from_unix_millis, to_unix_millis};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use time::OffsetDateTime;

use crate::config::Backend;
use crate::error::map_sqlx_error;
use crate::{Result, Store, Tx};

/// An event to append, already encoded (`souk.events.v1.Event` protobuf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The event's id (UUIDv7 text); unique across the outbox.
    pub event_id: String,
    /// The organisation the event belongs to.
    pub organization_id: String,
    /// The NATS subject it is published on (`souk.<org>.<area>.<event>`).
    pub subject: String,
    /// The event type (for example `subscription.cancel_pending`).
    pub event_type: String,
    /// The encoded event.
    pub payload: Vec<u8>,
    /// When the change happened.
    pub occurred_at: OffsetDateTime,
}

/// A stored outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the outbox, increasing in commit order; the `WatchEvents` cursor.
    pub seq: i64,
    /// The event's id.
    pub event_id: String,
    /// The organisation the event belongs to.
    pub organization_id: String,
    /// The NATS subject.
    pub subject: String,
    /// The event type.
    pub event_type: String,
    /// The encoded event.
    pub payload: Vec<u8>,
    /// When the change happened.
    pub occurred_at: OffsetDateTime,
    /// When a relay published it; `None` while pending.
    pub published_at: Option<OffsetDateTime>,
    /// How many publish attempts failed.
    pub attempts: i64,
    /// The last publish failure.
    pub last_error: Option<String>,
}

const COLUMNS: &str = "seq, event_id, organization_id, subject, event_type, payload, occurred_at, \
                       published_at, attempts, last_error";

/// Appends `record` on `conn`, which must be the caller's open transaction, and returns its `seq`.
///
/// Nothing is visible until the transaction commits; a rollback leaves no trace. A duplicate
/// `event_id` fails with `Conflict`.
///
/// On PostgreSQL, appenders of one service are serialised from this call until their commit
/// (a transaction-scoped advisory lock), so that `seq` order is commit order and a cursor never
/// skips an entry committed late. Call `append` as the last write of the transaction.
pub async fn append(conn: &mut AnyConnection, record: &OutboxRecord) -> Result<i64> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock(hashtext('souk.outbox'), hashtext(current_schema()))")
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    sqlx::query_scalar(
        "INSERT INTO outbox (event_id, organization_id, subject, event_type, payload, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
    )
    .bind(&record.event_id)
    .bind(&record.organization_id)
    .bind(&record.subject)
    .bind(&record.event_type)
    .bind(&record.payload)
    .bind(to_unix_millis(record.occurred_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(map_sqlx_error)
}

/// Up to `limit` unpublished entries, oldest first, without locking them.
///
/// Enough for one relay per store (SQLite, standalone); with several relays use [`lease`].
pub async fn pending<'c, E>(executor: E, limit: u32) -> Result<Vec<OutboxEntry>>
where
    E: Executor<'c, Database = Any>,
{
    let sql =
        format!("SELECT {COLUMNS} FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1");
    fetch(executor, sql, &[i64::from(limit)]).await
}

/// Marks `seqs` published at `at`; returns how many were pending. Unknown or already published
/// seqs are ignored.
pub async fn mark_published<'c, E>(executor: E, seqs: &[i64], at: OffsetDateTime) -> Result<u64>
where
    E: Executor<'c, Database = Any>,
{
    if seqs.is_empty() {
        return Ok(0);
    }
    let placeholders = (2..seqs.len() + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE outbox SET published_at = $1 WHERE published_at IS NULL AND seq IN ({placeholders})"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_unix_millis(at));
    for seq in seqs {
        query = query.bind(*seq);
    }
    let done = query.execute(executor).await.map_err(map_sqlx_error)?;
    Ok(done.rows_affected())
}

/// Records a failed publish of `seq`: increments `attempts`, keeps `error` as `last_error`.
/// The entry stays pending.
pub async fn record_failure<'c, E>(executor: E, seq: i64, error: &str) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1")
        .bind(seq)
        .bind(error)
        .execute(executor)
        .await
        .map_err(map_sqlx_error)?;
    Ok(())
}

/// Up to `limit` entries of `organization_id` with `seq > after_seq`, in order, published or not.
/// The cursor of a resumable `WatchEvents` stream: pass the last `seq` received (0 to start).
pub async fn read_after<'c, E>(
    executor: E,
    organization_id: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<OutboxEntry>>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE organization_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    query = query
        .bind(organization_id)
        .bind(after_seq)
        .bind(i64::from(limit));
    let rows = query.fetch_all(executor).await.map_err(map_sqlx_error)?;
    rows.iter().map(entry_from_row).collect()
}

/// Like [`read_after`] across every organisation: for in-process buses, never for tenant APIs.
pub async fn read_all_after<'c, E>(
    executor: E,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<OutboxEntry>>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2");
    fetch(executor, sql, &[after_seq, i64::from(limit)]).await
}

/// The highest `seq` of `organization_id` (0 when it has none): where a stream that only wants
/// new events starts.
pub async fn last_seq<'c, E>(executor: E, organization_id: &str) -> Result<i64>
where
    E: Executor<'c, Database = Any>,
{
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(seq) FROM outbox WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_one(executor)
            .await
            .map_err(map_sqlx_error)?;
    Ok(last.unwrap_or(0))
}

/// Where the entry `event_id` is: its `seq` and organisation, or `None` when the outbox does not
/// hold it (never did, or it was deleted).
pub async fn locate<'c, E>(executor: E, event_id: &str) -> Result<Option<(i64, String)>>
where
    E: Executor<'c, Database = Any>,
{
    let row = sqlx::query("SELECT seq, organization_id FROM outbox WHERE event_id = $1")
        .bind(event_id)
        .fetch_optional(executor)
        .await
        .map_err(map_sqlx_error)?;
    row.map(|row| seq_and(&row, "organization_id")).transpose()
}

/// The `seq` and id of the newest entry of `organization_id`, or `None` when it has none.
pub async fn last_entry<'c, E>(executor: E, organization_id: &str) -> Result<Option<(i64, String)>>
where
    E: Executor<'c, Database = Any>,
{
    let row = sqlx::query(
        "SELECT seq, event_id FROM outbox WHERE organization_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(organization_id)
    .fetch_optional(executor)
    .await
    .map_err(map_sqlx_error)?;
    row.map(|row| seq_and(&row, "event_id")).transpose()
}

/// A row's `seq` and its text column `column`.
fn seq_and(row: &AnyRow, column: &str) -> Result<(i64, String)> {
    Ok((
        row.try_get("seq").map_err(map_sqlx_error)?,
        row.try_get(column).map_err(map_sqlx_error)?,
    ))
}

/// Deletes entries published before `before`; returns how many. Pending entries are kept.
pub async fn delete_published_before<'c, E>(executor: E, before: OffsetDateTime) -> Result<u64>
where
    E: Executor<'c, Database = Any>,
{
    let done =
        sqlx::query("DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1")
            .bind(to_unix_millis(before))
            .execute(executor)
            .await
            .map_err(map_sqlx_error)?;
    Ok(done.rows_affected())
}

/// A batch of pending entries leased by one relay.
///
/// On PostgreSQL the entries are locked (`FOR UPDATE SKIP LOCKED`) by a transaction the lease
/// holds, so other relays skip them; [`Lease::mark_published`] and [`Lease::record_failure`]
/// write in that transaction and [`Lease::commit`] makes them durable and releases the rows.
/// Dropping a lease without committing releases the rows unmarked: they will be published again.
///
/// On SQLite (one process per file) nothing is locked and marks are written at once.
pub struct Lease {
    entries: Vec<OutboxEntry>,
    holder: Holder,
}

enum Holder {
    Postgres(Tx),
    Sqlite(AnyPool),
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seqs: Vec<i64> = self.entries.iter().map(|e| e.seq).collect();
        f.debug_struct("Lease").field("seqs", &seqs).finish()
    }
}

/// Leases up to `limit` pending entries, oldest first (possibly none).
pub async fn lease(store: &Store, limit: u32) -> Result<Lease> {
    match store.backend() {
        Backend::Postgres => {
            let mut tx = store.begin().await?;
            let sql = format!(
                "SELECT {COLUMNS} FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1 \
                 FOR UPDATE SKIP LOCKED"
            );
            let entries = fetch(&mut *tx, sql, &[i64::from(limit)]).await?;
            Ok(Lease {
                entries,
                holder: Holder::Postgres(tx),
            })
        }
        Backend::Sqlite => {
            let entries = pending(store.pool(), limit).await?;
            Ok(Lease {
                entries,
                holder: Holder::Sqlite(store.pool().clone()),
            })
        }
    }
}

impl Lease {
    /// The leased entries, oldest first.
    pub fn entries(&self) -> &[OutboxEntry] {
        &self.entries
    }

    /// Whether nothing was pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Marks `seqs` (normally a subset of [`Lease::entries`]) published at `at`.
    pub async fn mark_published(&mut self, seqs: &[i64], at: OffsetDateTime) -> Result<u64> {
        match &mut self.holder {
            Holder::Postgres(tx) => mark_published(&mut **tx, seqs, at).await,
            Holder::Sqlite(pool) => mark_published(&*pool, seqs, at).await,
        }
    }

    /// Records a failed publish of `seq`; the entry stays pending.
    pub async fn record_failure(&mut self, seq: i64, error: &str) -> Result<()> {
        match &mut self.holder {
            Holder::Postgres(tx) => record_failure(&mut **tx, seq, error).await,
            Holder::Sqlite(pool) => record_failure(&*pool, seq, error).await,
        }
    }

    /// Makes the marks durable and releases the leased rows.
    pub async fn commit(self) -> Result<()> {
        match self.holder {
            Holder::Postgres(tx) => tx.commit().await.map_err(map_sqlx_error),
            Holder::Sqlite(_) => Ok(()),
        }
    }
}

async fn fetch<'c, E>(executor: E, sql: String, binds: &[i64]) -> Result<Vec<OutboxEntry>>
where
    E: Executor<'c, Database = Any>,
{
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in binds {
        query = query.bind(*value);
    }
    let rows = query.fetch_all(executor).await.map_err(map_sqlx_error)?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(row: &AnyRow) -> Result<OutboxEntry> {
    let get = || -> std::result::Result<OutboxEntry, sqlx::Error> {
        Ok(OutboxEntry {
            seq: row.try_get("seq")?,
            event_id: row.try_get("event_id")?,
            organization_id: row.try_get("organization_id")?,
            subject: row.try_get("subject")?,
            event_type: row.try_get("event_type")?,
            payload: row.try_get("payload")?,
            occurred_at: from_unix_millis(row.try_get("occurred_at")?),
            published_at: row
                .try_get::<Option<i64>, _>("published_at")?
                .map(from_unix_millis),
            attempts: row.try_get("attempts")?,
            last_error: row.try_get("last_error")?,
        })
    };
    get().map_err(map_sqlx_error)
}
