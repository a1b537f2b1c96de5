//! The [`Ingest`] port: one ingestion batch in one write transaction, a constant number of
//! statements whatever the batch size (multi-row `INSERT`s and `IN (...)` lists, split only
//! where a statement would exceed the backend's bind-parameter limit).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use souk_core::Id;
use souk_core::clock::from_unix_millis;
use souk_store::{Backend, Tx};
use sqlx::Row;
use time::OffsetDateTime;

use super::{
    GLOBAL_SCOPE, Placeholders, RECORD_LOCK_CLASS, customer_scope, db, fnv1a, map_all,
    read_horizons, rows, rows_per_statement,
};
use crate::domain::Error;
use crate::domain::model::{HourlyRecord, RecordKey};
use crate::domain::ports::{Ingest, StoredEvent};

/// One ingestion write of one organisation.
pub(super) struct SqlIngest {
    tx: Tx,
    backend: Backend,
    organization_id: Id,
    /// When the batch began (records' `created_at` / `updated_at`).
    now: i64,
    /// SQLite: this ingestion's turn among the process's writers, released with the
    /// transaction.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SqlIngest {
    pub(super) fn new(
        tx: Tx,
        backend: Backend,
        organization_id: Id,
        now: i64,
        turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    ) -> Self {
        Self {
            tx,
            backend,
            organization_id,
            now,
            _turn: turn,
        }
    }

    /// Refuses to touch another organisation's rows.
    fn own(&self, organization_id: &Id, what: &str) -> Result<(), Error> {
        if organization_id == &self.organization_id {
            Ok(())
        } else {
            Err(Error::Internal(format!(
                "an ingestion of organisation {} tried to write a {what} of organisation \
                 {organization_id}",
                self.organization_id
            )))
        }
    }

    /// PostgreSQL: waits for the advisory locks of `keys` (in one fixed order, so two
    /// ingestions never deadlock) until the commit.
    async fn lock_keys(&mut self, keys: &[RecordKey]) -> Result<(), Error> {
        if self.backend != Backend::Postgres || keys.is_empty() {
            return Ok(());
        }
        let mut hashes: Vec<i32> = keys.iter().map(record_lock).collect();
        hashes.sort_unstable();
        hashes.dedup();
        // The keys are integers computed here, written into the statement; the values scan
        // (and so the locking) follows their order.
        let values: Vec<String> = hashes.iter().map(|h| format!("({h})")).collect();
        let sql = format!(
            "SELECT 1 FROM (VALUES {}) AS k (h) \
             CROSS JOIN LATERAL pg_advisory_xact_lock({RECORD_LOCK_CLASS}, k.h) AS l",
            values.join(", ")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(())
    }
}

/// `columns` (comma separated) of the table aliased `alias`.
fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The second key of a record's advisory lock.
fn record_lock(key: &RecordKey) -> i32 {
    let text = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        key.organization_id,
        key.customer_id,
        key.dimension,
        rows::ms(key.hour_start)
    );
    // The low 32 bits, reinterpreted.
    (fnv1a(text.as_bytes()) as u32) as i32
}

#[async_trait]
impl Ingest for SqlIngest {
    async fn sealed_before(
        &mut self,
        customers: &[Id],
    ) -> Result<HashMap<Id, OffsetDateTime>, Error> {
        let mut scopes: Vec<String> = vec![GLOBAL_SCOPE.to_owned()];
        scopes.extend(
            customers
                .iter()
                .map(|c| customer_scope(&self.organization_id, c)),
        );
        let found = read_horizons(&mut self.tx, self.backend, &scopes).await?;
        let global = found.get(GLOBAL_SCOPE).copied();
        Ok(customers
            .iter()
            .filter_map(|c| {
                let own = found
                    .get(&customer_scope(&self.organization_id, c))
                    .copied();
                let horizon = match (global, own) {
                    (Some(a), Some(b)) => a.max(b),
                    (a, b) => a.or(b)?,
                };
                Some((c.clone(), from_unix_millis(horizon)))
            })
            .collect())
    }

    async fn existing(&mut self, keys: &[&str]) -> Result<Vec<StoredEvent>, Error> {
        let mut stored = Vec::new();
        for chunk in keys.chunks(rows_per_statement(self.backend, 1, 1)) {
            let mut p = Placeholders::starting_after(1);
            let sql = format!(
                "SELECT {} FROM usage_events WHERE organization_id = $1 \
                 AND idempotency_key IN ({})",
                rows::EVENT_COLUMNS,
                p.list(chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(self.organization_id.as_str().to_owned());
            for key in chunk {
                query = query.bind((*key).to_owned());
            }
            let found = query.fetch_all(&mut *self.tx).await.map_err(db)?;
            stored.extend(map_all(&found, rows::stored_event)?);
        }
        Ok(stored)
    }

    async fn insert_events(&mut self, events: &[StoredEvent]) -> Result<Vec<String>, Error> {
        const PER_ROW: usize = 13;
        for event in events {
            self.own(&event.organization_id, "usage event")?;
        }
        let mut inserted: HashSet<String> = HashSet::with_capacity(events.len());
        for chunk in events.chunks(rows_per_statement(self.backend, PER_ROW, 0)) {
            let mut p = Placeholders::default();
            let mut values = String::with_capacity(chunk.len() * PER_ROW * 6);
            for i in 0..chunk.len() {
                if i > 0 {
                    values.push_str(", ");
                }
                values.push_str(&p.tuple(PER_ROW, ""));
            }
            let sql = format!(
                "INSERT INTO usage_events (organization_id, idempotency_key, usage_id, \
                 content_hash, customer_id, dimension, quantity, occurred_at, hour_start, \
                 natural_hour, allocations, unique_value, recorded_at) VALUES {values} \
                 ON CONFLICT (organization_id, idempotency_key) DO NOTHING \
                 RETURNING idempotency_key"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                let occurred_at = rows::ms(e.occurred_at);
                query = query
                    .bind(e.organization_id.as_str().to_owned())
                    .bind(e.idempotency_key.clone())
                    .bind(e.usage_id.as_str().to_owned())
                    .bind(e.content_hash.clone())
                    .bind(e.customer_id.as_str().to_owned())
                    .bind(e.dimension.clone())
                    .bind(e.quantity)
                    .bind(occurred_at)
                    .bind(rows::ms(e.hour_start))
                    .bind(rows::hour_of(occurred_at))
                    .bind(rows::allocations_json(&e.allocations)?)
                    .bind(e.unique_value.clone())
                    .bind(rows::ms(e.recorded_at));
            }
            for row in query.fetch_all(&mut *self.tx).await.map_err(db)? {
                inserted.insert(row.try_get("idempotency_key").map_err(db)?);
            }
        }
        // A key given twice in the batch is inserted once, for its first event.
        Ok(events
            .iter()
            .filter(|e| !inserted.remove(&e.idempotency_key))
            .map(|e| e.idempotency_key.clone())
            .collect())
    }

    async fn add_unique_values(
        &mut self,
        values: &[(RecordKey, String)],
    ) -> Result<Vec<bool>, Error> {
        const PER_ROW: usize = 5;
        let mut distinct: Vec<&(RecordKey, String)> = Vec::with_capacity(values.len());
        let mut seen: HashSet<(&RecordKey, &str)> = HashSet::with_capacity(values.len());
        for value in values {
            self.own(&value.0.organization_id, "unique value")?;
            if seen.insert((&value.0, value.1.as_str())) {
                distinct.push(value);
            }
        }
        let mut added: HashSet<(String, String, i64, String)> = HashSet::new();
        for chunk in distinct.chunks(rows_per_statement(self.backend, PER_ROW, 0)) {
            let mut p = Placeholders::default();
            let tuples: Vec<String> = chunk.iter().map(|_| p.tuple(PER_ROW, "")).collect();
            let sql = format!(
                "INSERT INTO unique_values (organization_id, customer_id, dimension, hour_start, \
                 value) VALUES {} ON CONFLICT DO NOTHING \
                 RETURNING customer_id, dimension, hour_start, value",
                tuples.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (key, value) in chunk {
                query = query
                    .bind(key.organization_id.as_str().to_owned())
                    .bind(key.customer_id.as_str().to_owned())
                    .bind(key.dimension.clone())
                    .bind(rows::ms(key.hour_start))
                    .bind(value.clone());
            }
            for row in query.fetch_all(&mut *self.tx).await.map_err(db)? {
                added.insert((
                    row.try_get("customer_id").map_err(db)?,
                    row.try_get("dimension").map_err(db)?,
                    rows::int(&row, "hour_start")?,
                    row.try_get("value").map_err(db)?,
                ));
            }
        }
        // Only the first occurrence of a value in the batch can be new.
        Ok(values
            .iter()
            .map(|(key, value)| {
                added.remove(&(
                    key.customer_id.as_str().to_owned(),
                    key.dimension.clone(),
                    rows::ms(key.hour_start),
                    value.clone(),
                ))
            })
            .collect())
    }

    async fn lock_records(&mut self, keys: &[RecordKey]) -> Result<Vec<HourlyRecord>, Error> {
        for key in keys {
            self.own(&key.organization_id, "record")?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // The per-key advisory locks are the lock: every writer of an open record takes them
        // (sealing and carrying exclude ingestion with the seal lock), so row locks would only
        // add writes.
        self.lock_keys(keys).await?;
        const PER_KEY: usize = 3;
        let mut locked = Vec::new();
        for chunk in keys.chunks(rows_per_statement(self.backend, PER_KEY, 1)) {
            let mut p = Placeholders::starting_after(1);
            let tuples: Vec<String> = chunk.iter().map(|_| p.tuple(PER_KEY, "")).collect();
            // A join with the keys, as in `existing`.
            let sql = format!(
                "WITH k (c, d, h) AS (VALUES {}) SELECT {} FROM hourly_records r \
                 JOIN k ON r.customer_id = k.c AND r.dimension = k.d AND r.hour_start = k.h \
                 WHERE r.organization_id = $1",
                tuples.join(", "),
                qualified("r", rows::RECORD_COLUMNS)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(self.organization_id.as_str().to_owned());
            for key in chunk {
                query = query
                    .bind(key.customer_id.as_str().to_owned())
                    .bind(key.dimension.clone())
                    .bind(rows::ms(key.hour_start));
            }
            let found = query.fetch_all(&mut *self.tx).await.map_err(db)?;
            locked.extend(map_all(&found, rows::record)?);
        }
        Ok(locked)
    }

    async fn write_records(&mut self, records: &[HourlyRecord]) -> Result<(), Error> {
        const PER_ROW: usize = 17;
        // One row per key (the last one given): an upsert may not change a row twice.
        let mut by_key: HashMap<&RecordKey, &HourlyRecord> = HashMap::with_capacity(records.len());
        for record in records {
            self.own(&record.key.organization_id, "record")?;
            by_key.insert(&record.key, record);
        }
        let mut distinct: Vec<&HourlyRecord> = by_key.into_values().collect();
        distinct.sort_by(|a, b| a.key.cmp(&b.key));
        let mut written = 0;
        for chunk in distinct.chunks(rows_per_statement(self.backend, PER_ROW, 1)) {
            let mut p = Placeholders::starting_after(1);
            let tuples: Vec<String> = chunk
                .iter()
                .map(|_| p.tuple(PER_ROW, ", 0, $1, $1"))
                .collect();
            // Only an open record takes new usage; a sealed one is left alone and reported.
            let sql = format!(
                "INSERT INTO hourly_records ({}, latest_at, latest_key, status, next_attempt_at, \
                 attempts, created_at, updated_at) VALUES {} \
                 ON CONFLICT (organization_id, customer_id, dimension, hour_start) DO UPDATE SET \
                 integration_id = excluded.integration_id, product_code = excluded.product_code, \
                 customer_identifier = excluded.customer_identifier, \
                 aws_account_id = excluded.aws_account_id, license_arn = excluded.license_arn, \
                 aggregation = excluded.aggregation, quantity = excluded.quantity, \
                 allocations = excluded.allocations, latest_at = excluded.latest_at, \
                 latest_key = excluded.latest_key, updated_at = excluded.updated_at \
                 WHERE hourly_records.status = 'open' \
                 RETURNING id",
                rows::RECORD_INSERT_COLUMNS,
                tuples.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(self.now);
            for r in chunk {
                let (latest_at, latest_key) = rows::latest_columns(&r.tally);
                query = rows::bind_record(query, r)?
                    .bind(latest_at)
                    .bind(latest_key)
                    .bind(r.status.as_str())
                    .bind(rows::ms(r.key.hour_start));
            }
            written += query.fetch_all(&mut *self.tx).await.map_err(db)?.len();
        }
        if written < distinct.len() {
            return Err(Error::Aborted(format!(
                "{} of the batch's hourly records were sealed meanwhile; send the batch again",
                distinct.len() - written
            )));
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), Error> {
        self.tx.commit().await.map_err(db)
    }
}
