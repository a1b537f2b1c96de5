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

use super::json_rows::{self, JsonRows};
use super::{
    GLOBAL_SCOPE, Placeholders, RECORD_LOCK_CLASS, customer_scope, db, fnv1a, map_all,
    read_horizons, rows, rows_per_statement,
};
use crate::domain::Error;
use crate::domain::model::{Aggregation, HourlyRecord, MAX_QUANTITY, RecordKey, RecordStatus};
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

    /// PostgreSQL: takes the organisation's record lock until the commit. Every writer of its
    /// open records takes it (sealing and carrying exclude ingestion with the seal lock). One
    /// lock per organisation rather than one per record: group commit writes an organisation's
    /// batches one transaction at a time anyway, and a lock per record cost more than the
    /// transaction's inserts (measured).
    async fn lock_organization(&mut self) -> Result<(), Error> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        // The low 32 bits, reinterpreted.
        let key = (fnv1a(self.organization_id.as_str().as_bytes()) as u32) as i32;
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1, $2)")
            .bind(RECORD_LOCK_CLASS)
            .bind(key)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(())
    }
}

/// Why an open record cannot take a delta in SQL (aliases: `r` the record, `k` the delta): it
/// is sealed, or has allocations, or aggregates otherwise, or the sum would exceed the largest
/// quantity. Such records are folded in the domain instead, which gives the exact answer.
fn unfit() -> String {
    format!(
        "(r.status <> 'open' OR r.allocations IS NOT NULL OR r.aggregation <> k.aggregation \
         OR (r.aggregation <> 'max' AND r.quantity + k.quantity > {MAX_QUANTITY}))"
    )
}

/// `columns` (comma separated) of the table aliased `alias`.
fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of `usage_events` an ingestion writes.
const EVENT_INSERT_COLUMNS: &[&str] = &[
    "organization_id",
    "idempotency_key",
    "usage_id",
    "content_hash",
    "customer_id",
    "dimension",
    "quantity",
    "occurred_at",
    "hour_start",
    "natural_hour",
    "allocations",
    "unique_value",
    "recorded_at",
];

/// The key columns of `hourly_records`.
const RECORD_KEY_COLUMNS: &[&str] = &["customer_id", "dimension", "hour_start"];

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
        let mut rows = JsonRows::with_capacity(events.len());
        for e in events {
            self.own(&e.organization_id, "usage event")?;
            let occurred_at = rows::ms(e.occurred_at);
            rows.row()
                .text("organization_id", e.organization_id.as_str())
                .text("idempotency_key", &e.idempotency_key)
                .text("usage_id", e.usage_id.as_str())
                .text("content_hash", &e.content_hash)
                .text("customer_id", e.customer_id.as_str())
                .text("dimension", &e.dimension)
                .int("quantity", e.quantity)
                .int("occurred_at", occurred_at)
                .int("hour_start", rows::ms(e.hour_start))
                .int("natural_hour", rows::hour_of(occurred_at))
                .opt_text(
                    "allocations",
                    rows::allocations_json(&e.allocations)?.as_deref(),
                )
                .opt_text("unique_value", e.unique_value.as_deref())
                .int("recorded_at", rows::ms(e.recorded_at));
        }
        if rows.len() == 0 {
            return Ok(Vec::new());
        }
        let columns = json_rows::list(EVENT_INSERT_COLUMNS);
        // `WHERE true`: SQLite needs it to read `ON CONFLICT` as the upsert clause.
        let sql = format!(
            "INSERT INTO usage_events ({columns}) SELECT {columns} FROM {} AS x WHERE true \
             ON CONFLICT (organization_id, idempotency_key) DO NOTHING",
            json_rows::source(self.backend, 1, "usage_events", EVENT_INSERT_COLUMNS)
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows.finish())
            .execute(&mut *self.tx)
            .await
            .map_err(db)?
            .rows_affected();
        if usize::try_from(inserted).is_ok_and(|n| n == events.len()) {
            return Ok(Vec::new());
        }
        // Some keys were there already (or twice in the batch, inserted once for the first
        // event): those whose stored usage id is not the one this batch wrote.
        let ours: HashMap<&str, &Id> = events
            .iter()
            .rev()
            .map(|e| (e.idempotency_key.as_str(), &e.usage_id))
            .collect();
        let keys: Vec<&str> = ours.keys().copied().collect();
        let mut known: HashSet<String> = self
            .existing(&keys)
            .await?
            .into_iter()
            .filter(|stored| ours.get(stored.idempotency_key.as_str()) != Some(&&stored.usage_id))
            .map(|stored| stored.idempotency_key)
            .collect();
        let mut first = HashSet::with_capacity(events.len());
        Ok(events
            .iter()
            .filter(|e| {
                let repeated = !first.insert(e.idempotency_key.as_str());
                repeated || known.remove(&e.idempotency_key)
            })
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
        let mut rows = JsonRows::with_capacity(keys.len());
        for key in keys {
            self.own(&key.organization_id, "record")?;
            rows.row()
                .text("customer_id", key.customer_id.as_str())
                .text("dimension", &key.dimension)
                .int("hour_start", rows::ms(key.hour_start));
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.lock_organization().await?;
        let sql = format!(
            "SELECT {} FROM hourly_records r JOIN {} AS k ON r.customer_id = k.customer_id \
             AND r.dimension = k.dimension AND r.hour_start = k.hour_start \
             WHERE r.organization_id = $2",
            qualified("r", rows::RECORD_COLUMNS),
            json_rows::source(self.backend, 1, "hourly_records", RECORD_KEY_COLUMNS)
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows.finish())
            .bind(self.organization_id.as_str().to_owned())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db)?;
        map_all(&found, rows::record)
    }

    async fn write_records(&mut self, records: &[HourlyRecord]) -> Result<(), Error> {
        // One row per key (the last one given): an upsert may not change a row twice.
        let mut by_key: HashMap<&RecordKey, &HourlyRecord> = HashMap::with_capacity(records.len());
        for record in records {
            self.own(&record.key.organization_id, "record")?;
            by_key.insert(&record.key, record);
        }
        let mut distinct: Vec<&HourlyRecord> = by_key.into_values().collect();
        distinct.sort_by(|a, b| a.key.cmp(&b.key));
        let rows = rows::new_record_rows(&distinct, self.now)?;
        if distinct.is_empty() {
            return Ok(());
        }
        let all = rows::new_record_columns();
        let columns = json_rows::list(&all);
        // Only an open record takes new usage; a sealed one is left alone and reported.
        let sql = format!(
            "INSERT INTO hourly_records ({columns}) SELECT {columns} FROM {} AS x WHERE true \
             ON CONFLICT (organization_id, customer_id, dimension, hour_start) DO UPDATE SET \
             integration_id = excluded.integration_id, product_code = excluded.product_code, \
             customer_identifier = excluded.customer_identifier, \
             aws_account_id = excluded.aws_account_id, license_arn = excluded.license_arn, \
             aggregation = excluded.aggregation, quantity = excluded.quantity, \
             allocations = excluded.allocations, latest_at = excluded.latest_at, \
             latest_key = excluded.latest_key, updated_at = excluded.updated_at \
             WHERE hourly_records.status = 'open'",
            json_rows::source(self.backend, 1, "hourly_records", &all)
        );
        let written = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows.finish())
            .execute(&mut *self.tx)
            .await
            .map_err(db)?
            .rows_affected();
        let written = usize::try_from(written).unwrap_or(usize::MAX);
        if written < distinct.len() {
            return Err(Error::Aborted(format!(
                "{} of the batch's hourly records were sealed meanwhile; send the batch again",
                distinct.len() - written
            )));
        }
        Ok(())
    }

    async fn add_to_records(&mut self, deltas: &[HourlyRecord]) -> Result<Vec<RecordKey>, Error> {
        for delta in deltas {
            self.own(&delta.key.organization_id, "record")?;
            if delta.status != RecordStatus::Open
                || !delta.tally.allocations.is_empty()
                || delta.tally.aggregation == Aggregation::Latest
            {
                return Err(Error::Internal(format!(
                    "record {} cannot be added in the database (status {}, {} aggregation, \
                     allocations: {})",
                    delta.id,
                    delta.status.as_str(),
                    delta.tally.aggregation.as_str(),
                    delta.tally.allocations.len()
                )));
            }
        }
        if deltas.is_empty() {
            return Ok(Vec::new());
        }
        self.lock_organization().await?;
        let all = rows::new_record_columns();
        let source = json_rows::source(self.backend, 1, "hourly_records", &all);
        let refs: Vec<&HourlyRecord> = deltas.iter().collect();
        let rows = rows::new_record_rows(&refs, self.now)?.finish();
        // The organisation's lock keeps every record as read here until the commit.
        let sql = format!(
            "SELECT r.customer_id, r.dimension, r.hour_start FROM hourly_records r \
             JOIN {source} AS k ON r.customer_id = k.customer_id \
             AND r.dimension = k.dimension AND r.hour_start = k.hour_start \
             WHERE r.organization_id = $2 AND {}",
            unfit()
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows.clone())
            .bind(self.organization_id.as_str().to_owned())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db)?;
        let mut left: Vec<RecordKey> = Vec::with_capacity(found.len());
        for row in &found {
            left.push(RecordKey {
                organization_id: self.organization_id.clone(),
                customer_id: Id::from_trusted(row.try_get::<String, _>("customer_id").map_err(db)?),
                dimension: row.try_get("dimension").map_err(db)?,
                hour_start: from_unix_millis(rows::int(row, "hour_start")?),
            });
        }
        let columns = json_rows::list(&all);
        // MAX keeps the larger; SUM, COUNT and UNIQUE_COUNT add (the delta of UNIQUE_COUNT is
        // the number of values new to the hour).
        let sql = format!(
            "INSERT INTO hourly_records ({columns}) SELECT {columns} FROM {source} AS k \
             WHERE NOT EXISTS (SELECT 1 FROM hourly_records r WHERE r.organization_id = $2 \
             AND r.customer_id = k.customer_id AND r.dimension = k.dimension \
             AND r.hour_start = k.hour_start AND {}) \
             ON CONFLICT (organization_id, customer_id, dimension, hour_start) DO UPDATE SET \
             integration_id = excluded.integration_id, product_code = excluded.product_code, \
             customer_identifier = excluded.customer_identifier, \
             aws_account_id = excluded.aws_account_id, license_arn = excluded.license_arn, \
             quantity = CASE WHEN hourly_records.aggregation <> 'max' \
             THEN hourly_records.quantity + excluded.quantity \
             WHEN excluded.quantity > hourly_records.quantity THEN excluded.quantity \
             ELSE hourly_records.quantity END, \
             updated_at = excluded.updated_at \
             WHERE hourly_records.status = 'open'",
            unfit()
        );
        let written = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows)
            .bind(self.organization_id.as_str().to_owned())
            .execute(&mut *self.tx)
            .await
            .map_err(db)?
            .rows_affected();
        let expected = deltas.len() - left.len();
        if usize::try_from(written).ok() != Some(expected) {
            return Err(Error::Aborted(format!(
                "{} of the batch's hourly records changed meanwhile; send the batch again",
                expected.abs_diff(usize::try_from(written).unwrap_or(usize::MAX))
            )));
        }
        Ok(left)
    }

    async fn commit(self: Box<Self>) -> Result<(), Error> {
        self.tx.commit().await.map_err(db)
    }
}
