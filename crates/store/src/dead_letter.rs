//! Dead letters: events a consumer could not handle, parked with the reason, never dropped.
//!
//! A consumer that meets a malformed event (or gives up after its retries) calls [`park`] and
//! then acknowledges the message; operators list parked events with [`list`], and remove them
//! with [`remove`] once replayed or dismissed. Parking the same `(consumer, event_id)` twice keeps
//! one row and updates its reason and attempts, so a redelivery before the acknowledgement is
//! harmless.

use souk_core::clock::{from_unix_millis, to_unix_millis};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use time::OffsetDateTime;

use crate::Result;
use crate::error::map_sqlx_error;

/// An event to park.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The consumer that gave up (its durable name, for example `metering.subscriptions`).
    pub consumer: String,
    /// The event's id, or the broker's message id when the event could not be decoded.
    pub event_id: String,
    /// The organisation, when it could be read from the event.
    pub organization_id: Option<String>,
    /// The subject the event arrived on.
    pub subject: String,
    /// The raw message body, as received.
    pub payload: Vec<u8>,
    /// Why it was parked, in lowercase prose (`"payload is not a souk.events.v1.Event: ..."`).
    pub reason: String,
    /// How many deliveries were attempted.
    pub attempts: i64,
    /// When it was parked.
    pub created_at: OffsetDateTime,
}

/// A parked event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterEntry {
    /// Its id, increasing in parking order; the paging cursor of [`list`].
    pub id: i64,
    /// What was parked.
    pub letter: DeadLetter,
}

/// Parks `letter` and returns its id. Parking the same consumer and event id again updates the
/// reason and attempts of the existing row and returns its id.
pub async fn park<'c, E>(executor: E, letter: &DeadLetter) -> Result<i64>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query_scalar(
        "INSERT INTO dead_letters \
             (consumer, event_id, organization_id, subject, payload, reason, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (consumer, event_id) \
             DO UPDATE SET reason = excluded.reason, attempts = excluded.attempts \
         RETURNING id",
    )
    .bind(&letter.consumer)
    .bind(&letter.event_id)
    .bind(letter.organization_id.as_deref())
    .bind(&letter.subject)
    .bind(&letter.payload)
    .bind(&letter.reason)
    .bind(letter.attempts)
    .bind(to_unix_millis(letter.created_at))
    .fetch_one(executor)
    .await
    .map_err(map_sqlx_error)
}

/// Which parked events to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this consumer's; all when `None`.
    pub consumer: Option<String>,
    /// Only this organisation's; all when `None`.
    pub organization_id: Option<String>,
    /// Only ids greater than this (the last id of the previous page; 0 to start).
    pub after_id: i64,
    /// At most this many.
    pub limit: u32,
}

/// Parked events matching `query`, oldest first.
pub async fn list<'c, E>(executor: E, query: &ListQuery) -> Result<Vec<DeadLetterEntry>>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(
        "SELECT id, consumer, event_id, organization_id, subject, payload, reason, attempts, created_at \
         FROM dead_letters \
         WHERE id > $1 AND ($2 IS NULL OR consumer = $2) AND ($3 IS NULL OR organization_id = $3) \
         ORDER BY id LIMIT $4",
    )
    .bind(query.after_id)
    .bind(query.consumer.as_deref())
    .bind(query.organization_id.as_deref())
    .bind(i64::from(query.limit))
    .fetch_all(executor)
    .await
    .map_err(map_sqlx_error)?;
    rows.iter().map(entry_from_row).collect()
}

/// Removes parked event `id` (replayed or dismissed); `NotFound` when there is none.
pub async fn remove<'c, E>(executor: E, id: i64) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    let done = sqlx::query("DELETE FROM dead_letters WHERE id = $1")
        .bind(id)
        .execute(executor)
        .await
        .map_err(map_sqlx_error)?;
    if done.rows_affected() == 0 {
        return Err(souk_core::Error::not_found(format_args!(
            "dead letter {id}"
        )));
    }
    Ok(())
}

fn entry_from_row(row: &AnyRow) -> Result<DeadLetterEntry> {
    let get = || -> std::result::Result<DeadLetterEntry, sqlx::Error> {
        Ok(DeadLetterEntry {
            id: row.try_get("id")?,
            letter: DeadLetter {
                consumer: row.try_get("consumer")?,
                event_id: row.try_get("event_id")?,
                organization_id: row.try_get("organization_id")?,
                subject: row.try_get("subject")?,
                payload: row.try_get("payload")?,
                reason: row.try_get("reason")?,
                attempts: row.try_get("attempts")?,
                created_at: from_unix_millis(row.try_get("created_at")?),
            },
        })
    };
    get().map_err(map_sqlx_error)
}
