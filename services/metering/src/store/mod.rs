//! The [`Store`](crate::domain::ports::Store) and [`Ingest`](crate::domain::ports::Ingest)
//! ports on SQL (PostgreSQL or SQLite through `souk_store`): meters, usage events, hourly
//! records, UNIQUE_COUNT values and seal horizons.
//!
//! Concurrency:
//! * An ingestion ([`Store::begin_ingest`](crate::domain::ports::Store::begin_ingest)) and a
//!   sealing pass never overlap: on PostgreSQL an ingestion holds
//!   `pg_advisory_xact_lock_shared(SEAL_LOCK)` and a seal `pg_advisory_xact_lock(SEAL_LOCK)`
//!   until their commits; on SQLite both are write transactions from their first statement
//!   (`BEGIN IMMEDIATE`), and SQLite has one writer at a time.
//! * Two ingestions touching the same hourly record take turns: on PostgreSQL `lock_records`
//!   takes a transaction advisory lock per record key (which also guards a record that does not
//!   exist yet, where `FOR UPDATE` has no row to lock), in one fixed order, then locks the
//!   existing rows `FOR UPDATE`.
//! * Leasing is `FOR UPDATE SKIP LOCKED` on PostgreSQL and a single `UPDATE ... RETURNING` in a
//!   write transaction on SQLite: a record is leased by one owner at a time.
//! * Carrying (the end of a sealing pass) locks the never-leased records it carries
//!   `FOR UPDATE` on PostgreSQL, so a concurrent lease skips them, and changes them only while
//!   they are still pending and never leased: a record is either carried or sent, never both.
//! * Settling only changes records still pending and emits their events (outbox) in the same
//!   transaction (a `souk_store::UnitOfWork`).
//!
//! Durability: a commit returns once the database made it durable (PostgreSQL's default
//! `synchronous_commit = on`; SQLite in WAL mode with `synchronous = FULL`, set by `souk_store`),
//! and the domain acknowledges only after the commit.

mod carry;
mod ingest;
mod json_rows;
pub mod migrations;
mod rows;
mod usage_totals;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use prost::Message;
use souk_core::{Id, Idempotency, Page, PageRequest, SharedClock};
use souk_events::EventFactory;
use souk_store::row::map_all;
use souk_store::{Args, Backend, Store};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

pub use migrations::migrations;
pub use usage_totals::{UsageQuery, UsageTotal, UsageTotals};

use crate::domain::Error;
use crate::domain::model::{HourlyRecord, Meter, RecordStatus};
use crate::domain::ports::{self, Counts, Ingest, RecordFilter, SealPlan, Settlement};
use crate::events::MeteringEvent;
use ingest::SqlIngest;
use json_rows::JsonRows;

fn db(err: sqlx::Error) -> Error {
    souk_store::map_sqlx_error(err).into()
}

/// FNV-1a, stable across processes and releases (advisory lock keys).
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The PostgreSQL advisory lock (single `bigint` key space) that ingestions hold shared and
/// sealing passes exclusively.
pub(crate) const SEAL_LOCK: i64 = (fnv1a(b"souk:metering:seal") >> 1) as i64;

/// The class (first key) of the PostgreSQL advisory locks on hourly record keys (the two-`int`
/// key space, which never meets the `bigint` one).
pub(crate) const RECORD_LOCK_CLASS: i32 = (fnv1a(b"souk:metering:record") >> 33) as i32;

/// Largest number of bind parameters in one statement.
fn max_params(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 65_535,
        Backend::Sqlite => 32_766,
    }
}

/// How many rows of `per_row` parameters fit in one statement besides `fixed` others.
fn rows_per_statement(backend: Backend, per_row: usize, fixed: usize) -> usize {
    ((max_params(backend) - fixed) / per_row.max(1)).max(1)
}

/// Numbers placeholders (`$1`, `$2`, ...) as a statement is assembled.
#[derive(Debug, Default)]
struct Placeholders(usize);

impl Placeholders {
    fn starting_after(used: usize) -> Self {
        Self(used)
    }

    /// The next placeholder.
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("${}", self.0)
    }

    /// `($a, $b, ...)` of `n` placeholders, followed by `extra` (literal SQL) before the `)`.
    fn tuple(&mut self, n: usize, extra: &str) -> String {
        let mut out = String::with_capacity(n * 6 + extra.len() + 2);
        out.push('(');
        for i in 0..n {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&self.next());
        }
        out.push_str(extra);
        out.push(')');
        out
    }

    /// `$a, $b, ...` of `n` placeholders (for `IN (...)`).
    fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.next()).collect::<Vec<_>>().join(", ")
    }
}

/// The scope of a customer's own seal horizon in `seal_horizons`.
fn customer_scope(organization_id: &Id, customer_id: &Id) -> String {
    format!("{organization_id}/{customer_id}")
}

/// The scope of the global seal horizon.
const GLOBAL_SCOPE: &str = "*";

/// A `seal_horizons` row: its scope and horizon.
fn horizon(row: &AnyRow) -> Result<(String, i64), Error> {
    Ok((
        souk_store::row::text(row, "scope")?,
        rows::int(row, "sealed_before")?,
    ))
}

/// The horizons of `scopes` (absent: none).
async fn read_horizons(
    tx: &mut souk_store::Tx,
    backend: Backend,
    scopes: &[String],
) -> Result<HashMap<String, i64>, Error> {
    let mut found = HashMap::new();
    for chunk in scopes.chunks(rows_per_statement(backend, 1, 0)) {
        let mut p = Placeholders::default();
        let sql = format!(
            "SELECT scope, sealed_before FROM seal_horizons WHERE scope IN ({})",
            p.list(chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for scope in chunk {
            query = query.bind(scope.clone());
        }
        for row in query.fetch_all(&mut **tx).await.map_err(db)? {
            let (scope, before) = horizon(&row)?;
            found.insert(scope, before);
        }
    }
    Ok(found)
}

/// `CASE` picking the later of two instants (portable `GREATEST`/`MAX`).
fn later(a: &str, b: &str) -> String {
    format!("CASE WHEN {a} > {b} THEN {a} ELSE {b} END")
}

/// The metering service's tables.
#[derive(Debug, Clone)]
pub struct SqlStore {
    store: Store,
    events: EventFactory,
    clock: SharedClock,
    /// SQLite ingestions queue here, first come first served: SQLite's busy wait is not fair,
    /// and under load a waiting writer could time out ("database is locked").
    sqlite_writers: Arc<tokio::sync::Mutex<()>>,
}

impl SqlStore {
    /// Tables in `store` (migrated with [`migrations`]), events built by `events`, writes
    /// timed by `clock`.
    pub fn new(store: Store, events: EventFactory, clock: SharedClock) -> Self {
        Self {
            store,
            events,
            clock,
            sqlite_writers: Arc::default(),
        }
    }

    fn backend(&self) -> Backend {
        self.store.backend()
    }

    async fn fetch_all(&self, args: Args, sql: String) -> Result<Vec<AnyRow>, Error> {
        args.query(sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)
    }

    /// Raises the seal horizons of `scopes` (never lowers them); returns each scope's horizon
    /// after the change.
    async fn raise_horizons(
        &self,
        tx: &mut souk_store::Tx,
        scopes: &BTreeMap<String, i64>,
    ) -> Result<HashMap<String, i64>, Error> {
        let mut raised = HashMap::new();
        let rows: Vec<(&String, &i64)> = scopes.iter().collect();
        for chunk in rows.chunks(rows_per_statement(self.backend(), 2, 0)) {
            let mut p = Placeholders::default();
            let values: Vec<String> = chunk.iter().map(|_| p.tuple(2, "")).collect();
            let sql = format!(
                "INSERT INTO seal_horizons (scope, sealed_before) VALUES {} \
                 ON CONFLICT (scope) DO UPDATE SET sealed_before = {} \
                 RETURNING scope, sealed_before",
                values.join(", "),
                later("excluded.sealed_before", "seal_horizons.sealed_before")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (scope, before) in chunk {
                query = query.bind((*scope).clone()).bind(**before);
            }
            for row in query.fetch_all(&mut **tx).await.map_err(db)? {
                let (scope, before) = horizon(&row)?;
                raised.insert(scope, before);
            }
        }
        Ok(raised)
    }

    /// Inserts `records` as pending (sealed at `now`) unless their hour has a record; returns
    /// how many were inserted.
    async fn insert_zero_records(
        &self,
        tx: &mut souk_store::Tx,
        records: &[HourlyRecord],
        now: i64,
    ) -> Result<u64, Error> {
        if records.is_empty() {
            return Ok(0);
        }
        let mut rows = JsonRows::with_capacity(records.len());
        for r in records {
            rows::record_row(rows.row(), r)?
                .int("next_attempt_at", rows::ms(r.key.hour_start).max(now))
                .text("status", RecordStatus::Pending.as_str())
                .int("attempts", 0)
                .int("sealed_at", now)
                .int("created_at", now)
                .int("updated_at", now);
        }
        let all = [
            rows::RECORD_ROW_COLUMNS,
            &[
                "next_attempt_at",
                "status",
                "attempts",
                "sealed_at",
                "created_at",
                "updated_at",
            ],
        ]
        .concat();
        let columns = json_rows::list(&all);
        let sql = format!(
            "INSERT INTO hourly_records ({columns}) SELECT {columns} FROM {} AS x WHERE true \
             ON CONFLICT (organization_id, customer_id, dimension, hour_start) DO NOTHING",
            json_rows::source(self.backend(), 1, "hourly_records", &all)
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows.finish())
            .execute(&mut **tx)
            .await
            .map_err(db)?
            .rows_affected();
        Ok(inserted)
    }
}

/// The UPDATE of one settlement: `SET` clause and its values after `$1` (the id) and `$2`
/// (now); the event it causes when it changes a record.
fn settlement_update(settlement: &Settlement) -> (&Id, String, Vec<Option<String>>, Option<i64>) {
    const RELEASE: &str = "lease_owner = NULL, lease_until = NULL, updated_at = $2, \
                           attempts = attempts + 1";
    match settlement {
        Settlement::Sent {
            id,
            metering_record_id,
        } => (
            id,
            format!(
                "status = 'sent', aws_status = 'Success', metering_record_id = $3, \
                 last_error = NULL, sent_at = $2, {RELEASE}"
            ),
            vec![Some(metering_record_id.clone())],
            None,
        ),
        Settlement::Held { id, reason } => (
            id,
            format!("status = 'held', aws_status = $3, last_error = $3, sent_at = $2, {RELEASE}"),
            vec![Some(reason.clone())],
            None,
        ),
        Settlement::Failed {
            id,
            aws_status,
            reason,
        } => (
            id,
            format!("status = 'failed', aws_status = $3, last_error = $4, sent_at = $2, {RELEASE}"),
            vec![aws_status.clone(), Some(reason.clone())],
            None,
        ),
        Settlement::Retry {
            id,
            next_attempt_at,
            error,
        } => (
            id,
            format!("next_attempt_at = $4, last_error = $3, {RELEASE}"),
            vec![Some(error.clone())],
            Some(rows::ms(*next_attempt_at)),
        ),
    }
}

/// The event of a settled record (none for a retry).
fn settlement_event(settlement: &Settlement, record: HourlyRecord) -> Option<MeteringEvent> {
    match settlement {
        Settlement::Sent { .. } => Some(MeteringEvent::RecordSent(record)),
        Settlement::Held { reason, .. } | Settlement::Failed { reason, .. } => {
            Some(MeteringEvent::RecordFailed {
                record,
                reason: reason.clone(),
            })
        }
        Settlement::Retry { .. } => None,
    }
}

/// The page token key of a record: its hour and id.
fn page_key(record: &HourlyRecord) -> String {
    format!("{}:{}", rows::ms(record.key.hour_start), record.id)
}

fn parse_page_key(key: &str) -> Result<(i64, String), Error> {
    key.split_once(':')
        .and_then(|(hour, id)| Some((hour.parse().ok()?, id.to_owned())))
        .ok_or_else(|| Error::invalid("page_token", "is not a token of this list"))
}

#[async_trait]
impl ports::Store for SqlStore {
    async fn meters(&self) -> Result<Vec<Meter>, Error> {
        let sql = format!(
            "SELECT {} FROM meters ORDER BY organization_id, product_code, dimension",
            rows::METER_COLUMNS
        );
        let found = self.fetch_all(Args::default(), sql).await?;
        let mut meters = map_all(&found, rows::meter)?;
        // Rust's order (a PostgreSQL collation may order text differently).
        meters.sort_by(|a, b| {
            (&a.organization_id, &a.product_code, &a.dimension).cmp(&(
                &b.organization_id,
                &b.product_code,
                &b.dimension,
            ))
        });
        Ok(meters)
    }

    async fn put_meter(&self, meter: &Meter) -> Result<(), Error> {
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO meters (organization_id, product_code, dimension, feature, aggregation, \
             attribute, zero_fill, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (organization_id, product_code, dimension) DO UPDATE SET \
             feature = excluded.feature, aggregation = excluded.aggregation, \
             attribute = excluded.attribute, zero_fill = excluded.zero_fill, \
             updated_at = excluded.updated_at",
        )
        .bind(meter.organization_id.as_str())
        .bind(meter.product_code.as_str())
        .bind(meter.dimension.as_str())
        .bind(meter.feature.clone())
        .bind(meter.aggregation.as_str())
        .bind(meter.attribute.clone())
        .bind(i64::from(meter.zero_fill))
        .bind(rows::ms(meter.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|err| match db(err) {
            Error::Conflict(_) => Error::Conflict(format!(
                "feature {:?} already names another dimension of product {}",
                meter.feature.as_deref().unwrap_or_default(),
                meter.product_code
            )),
            other => other,
        })?;
        tx.commit().await.map_err(db)
    }

    async fn begin_ingest(&self, organization_id: &Id) -> Result<Box<dyn Ingest>, Error> {
        // SQLite: BEGIN IMMEDIATE, the single writer from the first statement on.
        let turn = match self.backend() {
            Backend::Sqlite => Some(Arc::clone(&self.sqlite_writers).lock_owned().await),
            Backend::Postgres => None,
        };
        let mut tx = self.store.begin_write().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query(
                "SELECT 1 FROM pg_advisory_xact_lock_shared($1), \
                 set_config('plan_cache_mode', 'force_custom_plan', true)",
            )
            .bind(SEAL_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        Ok(Box::new(SqlIngest::new(
            tx,
            self.backend(),
            organization_id.clone(),
            rows::ms(self.clock.now()),
            turn,
        )))
    }

    async fn sealed_before(&self) -> Result<Option<OffsetDateTime>, Error> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT sealed_before FROM seal_horizons WHERE scope = $1")
                .bind(GLOBAL_SCOPE)
                .fetch_optional(self.store.pool())
                .await
                .map_err(db)?;
        Ok(found.map(souk_core::clock::from_unix_millis))
    }

    async fn seal(&self, plan: &SealPlan) -> Result<u64, Error> {
        let now = rows::ms(plan.now);
        let mut tx = self.store.begin_write().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(SEAL_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let mut scopes = BTreeMap::new();
        scopes.insert(GLOBAL_SCOPE.to_owned(), rows::ms(plan.sealed_before));
        for (organization_id, customer_id, before) in &plan.customers {
            let slot = scopes
                .entry(customer_scope(organization_id, customer_id))
                .or_insert(i64::MIN);
            *slot = (*slot).max(rows::ms(*before));
        }
        let horizons = self.raise_horizons(&mut tx, &scopes).await?;

        let mut sealed = self
            .insert_zero_records(&mut tx, &plan.zero_records, now)
            .await?;

        let seal_sql = |condition: &str| {
            format!(
                "UPDATE hourly_records SET status = 'pending', sealed_at = $1, \
                 next_attempt_at = {}, updated_at = $1 \
                 WHERE status = 'open' AND hour_start < $2{condition}",
                later("hour_start", "$1")
            )
        };
        if let Some(global) = horizons.get(GLOBAL_SCOPE) {
            sealed += sqlx::query(sqlx::AssertSqlSafe(seal_sql("")))
                .bind(now)
                .bind(*global)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        let customer_sql = seal_sql(" AND organization_id = $3 AND customer_id = $4");
        for (organization_id, customer_id, _) in &plan.customers {
            let Some(before) = horizons.get(&customer_scope(organization_id, customer_id)) else {
                continue;
            };
            sealed += sqlx::query(sqlx::AssertSqlSafe(customer_sql.clone()))
                .bind(now)
                .bind(*before)
                .bind(organization_id.as_str())
                .bind(customer_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        // Last, so records sealed by this pass are carried too when their hour is that old.
        let carried = carry::carry(&mut tx, self.backend(), plan.now, plan.carry_before).await?;
        tx.commit().await.map_err(db)?;
        if carried != carry::Carried::default() {
            tracing::info!(
                carried = carried.records,
                into = carried.into,
                created = carried.created,
                kept = carried.kept,
                before = %plan.carry_before,
                "carried never-sent records leaving AWS's window into open hours"
            );
        }
        Ok(sealed)
    }

    async fn lease(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<HourlyRecord>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let due = "status = 'pending' AND hour_start <= $3 AND next_attempt_at <= $3 \
                   AND (lease_until IS NULL OR lease_until < $3)";
        // The ids are picked once, in a materialised step: as a plain `IN (subquery)` the
        // planner may re-run the LIMIT per row (a nested-loop semi join) and lease more than
        // `limit`. The conditions are checked again on the row the UPDATE changes (PostgreSQL
        // re-reads a row another transaction changed meanwhile).
        let sql = match self.backend() {
            Backend::Postgres => format!(
                "WITH picked AS MATERIALIZED (SELECT id FROM hourly_records WHERE {due} \
                 ORDER BY hour_start, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 UPDATE hourly_records SET lease_owner = $1, lease_until = $2, updated_at = $3 \
                 WHERE id IN (SELECT id FROM picked) AND {due} RETURNING {}",
                rows::RECORD_COLUMNS
            ),
            // One writer at a time: the subquery runs against a table nobody else changes.
            Backend::Sqlite => format!(
                "UPDATE hourly_records SET lease_owner = $1, lease_until = $2, updated_at = $3 \
                 WHERE id IN (SELECT id FROM hourly_records WHERE {due} \
                 ORDER BY hour_start, id LIMIT $4) AND {due} RETURNING {}",
                rows::RECORD_COLUMNS
            ),
        };
        let mut tx = self.store.begin_write().await?;
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(rows::ms(until))
            .bind(rows::ms(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut leased = map_all(&found, rows::record)?;
        leased.sort_by(|a, b| (a.key.hour_start, &a.id).cmp(&(b.key.hour_start, &b.id)));
        Ok(leased)
    }

    async fn settle(&self, now: OffsetDateTime, settlements: &[Settlement]) -> Result<u64, Error> {
        if settlements.is_empty() {
            return Ok(0);
        }
        let souk_store::Begun::Fresh(mut work) = self.store.unit_of_work("", None).await? else {
            return Err(Error::Internal(
                "a settlement without idempotency was replayed".into(),
            ));
        };
        let at = rows::ms(now);
        let mut changed = 0;
        for settlement in settlements {
            let (id, set, texts, int) = settlement_update(settlement);
            let sql = format!(
                "UPDATE hourly_records SET {set} WHERE id = $1 AND status = 'pending' RETURNING {}",
                rows::RECORD_COLUMNS
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str().to_owned())
                .bind(at);
            for text in texts {
                query = query.bind(text);
            }
            if let Some(int) = int {
                query = query.bind(int);
            }
            let Some(row) = query.fetch_optional(&mut **work.tx()).await.map_err(db)? else {
                continue;
            };
            changed += 1;
            if let Some(event) = settlement_event(settlement, rows::record(&row)?) {
                work.emit(crate::events::record(&self.events, &event)?);
            }
        }
        work.commit(Vec::new, now).await?;
        Ok(changed)
    }

    async fn list_records(
        &self,
        organization_id: &Id,
        filter: &RecordFilter,
        page: &PageRequest,
    ) -> Result<Page<HourlyRecord>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM hourly_records WHERE organization_id = {}",
            rows::RECORD_COLUMNS,
            args.text(organization_id.as_str())
        );
        if !filter.customer_ids.is_empty() {
            let any_of = args.texts(filter.customer_ids.iter().map(Id::as_str));
            sql.push_str(&format!(" AND customer_id IN ({any_of})"));
        }
        if !filter.dimensions.is_empty() {
            let any_of = args.texts(filter.dimensions.iter().map(String::as_str));
            sql.push_str(&format!(" AND dimension IN ({any_of})"));
        }
        if !filter.statuses.is_empty() {
            let any_of = args.texts(filter.statuses.iter().map(|s| s.as_str()));
            sql.push_str(&format!(" AND status IN ({any_of})"));
        }
        if let Some(after) = &page.after {
            let (hour, id) = parse_page_key(after)?;
            let hour = args.int(hour);
            let id = args.text(id);
            sql.push_str(&format!(
                " AND (hour_start < {hour} OR (hour_start = {hour} AND id > {id}))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY hour_start DESC, id LIMIT {}",
            args.int(page.fetch_limit())
        ));
        let found = self.fetch_all(args, sql).await?;
        Ok(Page::from_rows(
            map_all(&found, rows::record)?,
            page,
            page_key,
        ))
    }

    async fn counts(&self, organization_id: Option<&Id>) -> Result<Vec<Counts>, Error> {
        let mut args = Args::default();
        let condition = match organization_id {
            Some(organization_id) => format!(
                " WHERE organization_id = {}",
                args.text(organization_id.as_str())
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT integration_id, product_code, status, COUNT(*) AS n, \
             MIN(hour_start) AS oldest FROM hourly_records{condition} \
             GROUP BY integration_id, product_code, status"
        );
        let found = self.fetch_all(args, sql).await?;
        let mut counts: BTreeMap<(String, String), Counts> = BTreeMap::new();
        for row in &found {
            let integration_id: String = sqlx::Row::try_get(row, "integration_id").map_err(db)?;
            let product_code: String = sqlx::Row::try_get(row, "product_code").map_err(db)?;
            let status_name: String = sqlx::Row::try_get(row, "status").map_err(db)?;
            let status = RecordStatus::parse(&status_name).ok_or_else(|| {
                Error::Internal(format!("stored record status is unreadable: {status_name}"))
            })?;
            let entry = counts
                .entry((integration_id.clone(), product_code.clone()))
                .or_insert_with(|| Counts {
                    integration_id: Id::from_trusted(integration_id),
                    product_code,
                    by_status: HashMap::new(),
                    oldest_unsent_hour: None,
                });
            *entry.by_status.entry(status).or_insert(0) += rows::int(row, "n")?;
            if status == RecordStatus::Pending {
                entry.oldest_unsent_hour =
                    rows::opt_int(row, "oldest")?.map(souk_core::clock::from_unix_millis);
            }
        }
        Ok(counts.into_values().collect())
    }

    async fn retry_held(
        &self,
        organization_id: &Id,
        ids: &[Id],
        now: OffsetDateTime,
        idempotency: Option<&Idempotency>,
    ) -> Result<i64, Error> {
        let mut work = match self
            .store
            .unit_of_work(organization_id.as_str(), idempotency)
            .await?
        {
            souk_store::Begun::Replayed(bytes) => {
                let response = souk_proto::metering::RetryRecordsResponse::decode(&bytes[..])
                    .map_err(|e| {
                        Error::Internal(format!("remembered RetryRecords response: {e}"))
                    })?;
                return Ok(response.retried);
            }
            souk_store::Begun::Fresh(work) => work,
        };
        let at = rows::ms(now);
        let base = "UPDATE hourly_records SET status = 'pending', next_attempt_at = $1, \
                    lease_owner = NULL, lease_until = NULL, updated_at = $1 \
                    WHERE organization_id = $2 AND status = 'held'";
        let mut retried = 0;
        if ids.is_empty() {
            retried += sqlx::query(base)
                .bind(at)
                .bind(organization_id.as_str())
                .execute(&mut **work.tx())
                .await
                .map_err(db)?
                .rows_affected();
        } else {
            for chunk in ids.chunks(rows_per_statement(self.backend(), 1, 2)) {
                let mut p = Placeholders::starting_after(2);
                let sql = format!("{base} AND id IN ({})", p.list(chunk.len()));
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(at)
                    .bind(organization_id.as_str().to_owned());
                for id in chunk {
                    query = query.bind(id.as_str().to_owned());
                }
                retried += query
                    .execute(&mut **work.tx())
                    .await
                    .map_err(db)?
                    .rows_affected();
            }
        }
        let retried = i64::try_from(retried).unwrap_or(i64::MAX);
        let response = || souk_proto::metering::RetryRecordsResponse { retried }.encode_to_vec();
        work.commit(response, self.clock.now()).await?;
        Ok(retried)
    }
}
