//! The [`Store`](crate::domain::ports::Store) port on SQL. A file's rows are written in one
//! transaction with the record of its ETag; each row replaces the stored version only when it
//! is newer (`ON CONFLICT ... DO UPDATE ... WHERE`), so reading a file twice changes nothing.
//! Every query is confined to the caller's organisation and integration.

pub mod migrations;
mod partners;
mod reconciliation;

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use souk_core::SharedClock;
use souk_core::clock::{from_unix_millis, to_unix_millis};
use souk_events::EventFactory;
use souk_store::{Args, Backend, Store, row};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

pub use migrations::migrations;

use crate::domain::Error;
use crate::domain::billing_event::{BillingAction, BillingEvent};
use crate::domain::billing_events::{EventCursor, EventQuery, ListedEvent};
use crate::domain::disbursement::{Outstanding, Payout};
use crate::domain::feed::Feed;
use crate::domain::ingest::IngestReport;
use crate::domain::ports::{self, Acting, FileRows, RevenueLine, Settlement};
use crate::domain::reconciliation::{Announced, DiscrepancyKey, ReconciledUsage};
use crate::domain::revenue::Grouping;
use crate::domain::row::{FeedRow, History};
use crate::domain::selection::Selection;

fn db(err: sqlx::Error) -> Error {
    souk_store::map_sqlx_error(err).into()
}

/// Rows per statement on PostgreSQL: well under its limit on bound values.
const CHUNK: usize = 400;
/// Rows per statement on SQLite, which looks a `$N` parameter up by a linear scan when it
/// prepares and binds a statement: a statement costs the square of its values, so 400 rows
/// (11,600 values) write ten times slower than 10 (measured, `examples/bench_ingest.rs`).
const SQLITE_CHUNK: usize = 10;

/// The reporting service's tables.
#[derive(Debug, Clone)]
pub struct SqlStore {
    store: Store,
    events: EventFactory,
    clock: SharedClock,
}

/// `organization_id = $n AND integration_id = $m`: every query is confined to the caller's
/// organisation and integration.
fn scope(args: &mut Args, acting: &Acting) -> String {
    format!(
        "organization_id = {} AND integration_id = {}",
        args.text(acting.organization_id.as_str()),
        args.text(acting.integration_id.as_str())
    )
}

impl SqlStore {
    /// The rows `sql` selects with `args`.
    async fn fetch(&self, args: Args, sql: String) -> Result<Vec<AnyRow>, Error> {
        args.query(sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)
    }

    /// Upserts `items` into `table` in statements of [`SqlStore::chunk`] rows, each row's
    /// values written by `values`; a stored row is replaced only by a newer version. How many
    /// rows were inserted or updated.
    async fn upsert<T>(
        &self,
        work: &mut souk_store::UnitOfWork,
        table: &str,
        columns: &[&str],
        key: &[&str],
        items: &[&T],
        values: impl Fn(&mut Args, &T) -> Result<String, Error>,
    ) -> Result<u64, Error> {
        let mut stored = 0;
        for chunk in items.chunks(self.chunk()) {
            let mut args = Args::default();
            let rows = chunk
                .iter()
                .map(|item| values(&mut args, item))
                .collect::<Result<Vec<_>, _>>()?;
            stored += args
                .query(upsert_sql(table, columns, key, &rows))
                .execute(&mut **work.tx())
                .await
                .map_err(db)?
                .rows_affected();
        }
        Ok(stored)
    }

    /// The DISBURSEMENT rows of `events` Souk does not hold yet, each once.
    async fn new_payouts<'e>(
        &self,
        work: &mut souk_store::UnitOfWork,
        acting: &Acting,
        events: &'e [BillingEvent],
    ) -> Result<Vec<&'e BillingEvent>, Error> {
        let mut seen = HashSet::new();
        let payouts: Vec<&BillingEvent> = events
            .iter()
            .filter(|e| {
                e.action == BillingAction::Disbursed && e.transaction_type == "DISBURSEMENT"
            })
            .filter(|e| seen.insert(e.billing_event_id.as_str()))
            .collect();
        let mut known = HashSet::new();
        // In chunks: one `IN` list of every payout of a big file would pass the backends'
        // limits on bound values (SQLite's 32,766, PostgreSQL's 65,535).
        for ids in payouts.chunks(CHUNK) {
            let mut args = Args::default();
            let sql = format!(
                "SELECT billing_event_id FROM billing_events WHERE {} AND billing_event_id IN ({})",
                scope(&mut args, acting),
                args.texts(ids.iter().map(|e| e.billing_event_id.as_str()))
            );
            let found = args
                .query(sql)
                .fetch_all(&mut **work.tx())
                .await
                .map_err(db)?;
            for r in &found {
                known.insert(row::text(r, "billing_event_id")?);
            }
        }
        Ok(payouts
            .into_iter()
            .filter(|e| !known.contains(&e.billing_event_id))
            .collect())
    }

    /// How many billing events each of `payouts` settles, by its id (one query per chunk).
    async fn settled_counts(
        &self,
        work: &mut souk_store::UnitOfWork,
        acting: &Acting,
        payouts: &[&BillingEvent],
    ) -> Result<HashMap<String, i64>, Error> {
        let mut settled = HashMap::new();
        for ids in payouts.chunks(CHUNK) {
            let mut args = Args::default();
            let sql = format!(
                "SELECT disbursement_billing_event_id, COUNT(*) AS settled FROM billing_events \
                 WHERE {} AND disbursement_billing_event_id IN ({}) \
                 GROUP BY disbursement_billing_event_id",
                scope(&mut args, acting),
                args.texts(ids.iter().map(|e| e.billing_event_id.as_str()))
            );
            let found = args
                .query(sql)
                .fetch_all(&mut **work.tx())
                .await
                .map_err(db)?;
            for r in &found {
                settled.insert(
                    row::text(r, "disbursement_billing_event_id")?,
                    row::int(r, "settled")?,
                );
            }
        }
        Ok(settled)
    }

    /// A write of the organisation's (no idempotency key: ingestion is idempotent by itself).
    async fn begin(&self, acting: &Acting) -> Result<souk_store::UnitOfWork, Error> {
        match self
            .store
            .unit_of_work(acting.organization_id.as_str(), None)
            .await?
        {
            souk_store::Begun::Fresh(work) => Ok(work),
            souk_store::Begun::Replayed(_) => {
                Err(Error::Internal("a write without a key was replayed".into()))
            }
        }
    }
}

impl SqlStore {
    /// Tables in `store` (migrated), events built by `events`.
    pub fn new(store: Store, events: EventFactory, clock: SharedClock) -> Self {
        Self {
            store,
            events,
            clock,
        }
    }

    /// Rows per statement on this store's backend.
    fn chunk(&self) -> usize {
        match self.store.backend() {
            Backend::Postgres => CHUNK,
            Backend::Sqlite => SQLITE_CHUNK,
        }
    }
}

/// `Some(at)` as unix milliseconds, `None` as 0: a version with no update date is older than
/// any updated one.
fn millis_or_zero(at: Option<OffsetDateTime>) -> i64 {
    at.map_or(0, to_unix_millis)
}

/// The newest version of each key among `items` (a file may hold several versions of a row).
fn newest<T>(items: &[T], key: impl Fn(&T) -> &str, history: impl Fn(&T) -> &History) -> Vec<&T> {
    let mut by_key: HashMap<&str, &T> = HashMap::new();
    for item in items {
        match by_key.get(key(item)) {
            Some(kept) if !history(item).supersedes(history(kept)) => {}
            _ => {
                by_key.insert(key(item), item);
            }
        }
    }
    let mut kept: Vec<&T> = by_key.into_values().collect();
    kept.sort_by(|a, b| key(a).cmp(key(b)));
    kept
}

/// The condition under which an incoming version replaces the stored one of `table`.
fn newer(table: &str) -> String {
    format!(
        "excluded.valid_from > {table}.valid_from OR \
         (excluded.valid_from = {table}.valid_from AND excluded.update_date > {table}.update_date)"
    )
}

const BILLING_COLUMNS: &[&str] = &[
    "organization_id",
    "integration_id",
    "billing_event_id",
    "valid_from",
    "update_date",
    "delete_date",
    "at",
    "month",
    "action",
    "transaction_type",
    "amount_micros",
    "currency",
    "balance_impacting",
    "from_account_id",
    "to_account_id",
    "end_user_account_id",
    "product_id",
    "invoice_id",
    "invoice_at",
    "payment_due_at",
    "usage_start",
    "usage_end",
    "parent_billing_event_id",
    "disbursement_billing_event_id",
    "transaction_reference_id",
    "bank_trace_id",
    "broker_id",
    "agreement_id",
    "offer_id",
    "usage_quantity_micros",
    "usage_dimension",
];

/// When a billing event counts: its invoice date, or (a disbursement) when it was written.
fn counted_at(e: &BillingEvent) -> OffsetDateTime {
    e.invoice_date
        .or(e.history.insert_date)
        .unwrap_or(e.history.valid_from)
}

fn opt_text(args: &mut Args, value: Option<String>) -> String {
    match value {
        Some(v) => args.text(v),
        None => "NULL".to_owned(),
    }
}

fn opt_int(args: &mut Args, value: Option<i64>) -> String {
    match value {
        Some(v) => args.int(v),
        None => "NULL".to_owned(),
    }
}

fn billing_values(args: &mut Args, acting: &Acting, e: &BillingEvent) -> String {
    let at = counted_at(e);
    let values = [
        args.text(acting.organization_id.as_str()),
        args.text(acting.integration_id.as_str()),
        args.text(e.billing_event_id.clone()),
        args.int(to_unix_millis(e.history.valid_from)),
        args.int(millis_or_zero(e.history.update_date)),
        opt_int(args, e.history.delete_date.map(to_unix_millis)),
        args.int(to_unix_millis(at)),
        args.text(format!("{:04}-{:02}", at.year(), u8::from(at.month()))),
        args.text(e.action.as_str()),
        args.text(e.transaction_type.clone()),
        args.int(e.amount_micros),
        args.text(e.currency.clone()),
        args.int(i64::from(e.balance_impacting)),
        args.text(e.from_account_id.clone()),
        args.text(e.to_account_id.clone()),
        args.text(e.end_user_account_id.clone()),
        args.text(e.product_id.clone()),
        args.text(e.invoice_id.clone()),
        opt_int(args, e.invoice_date.map(to_unix_millis)),
        opt_int(args, e.payment_due_date.map(to_unix_millis)),
        opt_text(args, e.usage_period_start.map(|d| d.to_string())),
        opt_text(args, e.usage_period_end.map(|d| d.to_string())),
        opt_text(args, e.parent_billing_event_id.clone()),
        opt_text(args, e.disbursement_billing_event_id.clone()),
        args.text(e.transaction_reference_id.clone()),
        args.text(e.bank_trace_id.clone()),
        args.text(e.broker_id.clone()),
        opt_text(args, e.agreement_id.clone()),
        opt_text(args, e.offer_id.clone()),
        opt_int(args, e.usage_quantity_micros),
        opt_text(args, e.usage_dimension.clone()),
    ];
    format!("({})", values.join(", "))
}

fn feed_row_values(args: &mut Args, acting: &Acting, row: &FeedRow) -> Result<String, Error> {
    let columns = serde_json::to_string(&row.columns)
        .map_err(|e| Error::Internal(format!("encoding a feed row: {e}")))?;
    let values = [
        args.text(acting.organization_id.as_str()),
        args.text(acting.integration_id.as_str()),
        args.text(row.feed.name()),
        args.text(row.key.clone()),
        args.int(to_unix_millis(row.history.valid_from)),
        args.int(millis_or_zero(row.history.update_date)),
        opt_int(args, row.history.delete_date.map(to_unix_millis)),
        args.text(columns),
    ];
    Ok(format!("({})", values.join(", ")))
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE SET <every other column> WHERE <newer>`.
fn upsert_sql(table: &str, columns: &[&str], key: &[&str], values: &[String]) -> String {
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {} WHERE {}",
        columns.join(", "),
        values.join(", "),
        key.join(", "),
        set.join(", "),
        newer(table)
    )
}

const FEED_ROW_COLUMNS: &[&str] = &[
    "organization_id",
    "integration_id",
    "feed",
    "row_key",
    "valid_from",
    "update_date",
    "delete_date",
    "columns",
];

#[async_trait]
impl ports::Store for SqlStore {
    async fn read_files(&self, acting: &Acting) -> Result<HashMap<String, String>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT object_key, etag FROM feed_files WHERE {}",
            scope(&mut args, acting)
        );
        let found = self.fetch(args, sql).await?;
        let mut files = HashMap::new();
        for r in &found {
            files.insert(row::text(r, "object_key")?, row::text(r, "etag")?);
        }
        Ok(files)
    }

    async fn store_file(
        &self,
        acting: &Acting,
        file: FileRows<'_>,
        read_at: OffsetDateTime,
    ) -> Result<u64, Error> {
        let mut work = self.begin(acting).await?;
        // Replicas reading the same file take turns: the second sees the first's rows, so a
        // payout is announced once.
        let purpose = format!(
            "reporting:file:{}:{}",
            acting.integration_id, file.object.key
        );
        self.store.lock(work.tx(), &purpose).await?;
        let stored = if file.feed == Feed::BillingEvent {
            // Payouts seen for the first time get an event, committed with their rows.
            let payouts = self
                .new_payouts(&mut work, acting, file.billing_events)
                .await?;
            let events = newest(
                file.billing_events,
                |e| e.billing_event_id.as_str(),
                |e| &e.history,
            );
            let stored = self
                .upsert(
                    &mut work,
                    "billing_events",
                    BILLING_COLUMNS,
                    &["integration_id", "billing_event_id"],
                    &events,
                    |args, e| Ok(billing_values(args, acting, e)),
                )
                .await?;
            let settled = self.settled_counts(&mut work, acting, &payouts).await?;
            for payout in payouts {
                let count = settled.get(&payout.billing_event_id).copied().unwrap_or(0);
                work.emit(crate::events::disbursement_received(
                    &self.events,
                    acting,
                    payout,
                    count,
                )?);
            }
            stored
        } else {
            let rows = newest(file.rows, |r| r.key.as_str(), |r| &r.history);
            self.upsert(
                &mut work,
                "feed_rows",
                FEED_ROW_COLUMNS,
                &["integration_id", "feed", "row_key"],
                &rows,
                |args, r| feed_row_values(args, acting, r),
            )
            .await?
        };
        let key = file.object.key.clone();
        let mut args = Args::default();
        let sql = format!(
            "DELETE FROM rejected_rows WHERE integration_id = {} AND object_key = {}",
            args.text(acting.integration_id.as_str()),
            args.text(key.clone())
        );
        args.query(sql)
            .execute(&mut **work.tx())
            .await
            .map_err(db)?;
        let mut rejected: Vec<_> = file.rejected.iter().collect();
        rejected.sort_by_key(|r| r.line);
        rejected.dedup_by_key(|r| r.line);
        for chunk in rejected.chunks(self.chunk()) {
            let mut args = Args::default();
            let values: Vec<String> = chunk
                .iter()
                .map(|r| {
                    format!(
                        "({}, {}, {}, {}, {}, {})",
                        args.text(acting.organization_id.as_str()),
                        args.text(acting.integration_id.as_str()),
                        args.text(key.clone()),
                        args.int(i64::try_from(r.line).unwrap_or(i64::MAX)),
                        args.text(r.reason.clone()),
                        args.int(to_unix_millis(read_at))
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO rejected_rows (organization_id, integration_id, object_key, line, reason, read_at) VALUES {}",
                values.join(", ")
            );
            args.query(sql)
                .execute(&mut **work.tx())
                .await
                .map_err(db)?;
        }
        let mut args = Args::default();
        let values = [
            args.text(acting.organization_id.as_str()),
            args.text(acting.integration_id.as_str()),
            args.text(key),
            args.text(file.object.etag.clone()),
            args.int(i64::try_from(file.object.size).unwrap_or(i64::MAX)),
            args.int(i64::try_from(file.rows.len()).unwrap_or(i64::MAX)),
            args.int(i64::try_from(file.rejected.len()).unwrap_or(i64::MAX)),
            args.int(to_unix_millis(read_at)),
        ];
        let sql = format!(
            "INSERT INTO feed_files (organization_id, integration_id, object_key, etag, size_bytes, rows_read, rows_rejected, read_at) \
             VALUES ({}) ON CONFLICT (integration_id, object_key) DO UPDATE SET etag = excluded.etag, \
             size_bytes = excluded.size_bytes, rows_read = excluded.rows_read, \
             rows_rejected = excluded.rows_rejected, read_at = excluded.read_at",
            values.join(", ")
        );
        args.query(sql)
            .execute(&mut **work.tx())
            .await
            .map_err(db)?;
        work.commit(Vec::new, self.clock.now()).await?;
        Ok(stored)
    }

    async fn record_ingestion(&self, acting: &Acting, report: &IngestReport) -> Result<(), Error> {
        let mut work = self.begin(acting).await?;
        work.emit(crate::events::ingested(&self.events, acting, report)?);
        work.commit(Vec::new, self.clock.now()).await?;
        Ok(())
    }

    async fn revenue_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        group_by: &[Grouping],
    ) -> Result<Vec<RevenueLine>, Error> {
        let (columns, group) = line_columns(group_by, "");
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {columns}, CAST(SUM(amount_micros) AS BIGINT) AS amount FROM billing_events \
             WHERE {} AND delete_date IS NULL",
            scope(&mut args, acting)
        );
        if let Some(start) = start {
            sql.push_str(&format!(" AND at >= {}", args.int(to_unix_millis(start))));
        }
        if let Some(end) = end {
            sql.push_str(&format!(" AND at < {}", args.int(to_unix_millis(end))));
        }
        sql.push_str(&format!(" GROUP BY {group}"));
        let found = self.fetch(args, sql).await?;
        found.iter().map(revenue_line).collect()
    }

    async fn current_rows(
        &self,
        acting: &Acting,
        feed: Feed,
    ) -> Result<Vec<BTreeMap<String, String>>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT columns FROM feed_rows WHERE {} \
             AND feed = {} AND delete_date IS NULL",
            scope(&mut args, acting),
            args.text(feed.name())
        );
        let found = self.fetch(args, sql).await?;
        found
            .iter()
            .map(|r| {
                let text = row::text(r, "columns")?;
                serde_json::from_str(&text)
                    .map_err(|e| Error::Internal(format!("a stored feed row does not read: {e}")))
            })
            .collect()
    }

    async fn payouts(
        &self,
        acting: &Acting,
        seller: &[String],
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    ) -> Result<Vec<Payout>, Error> {
        if seller.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT billing_event_id, at, currency, amount_micros, bank_trace_id FROM billing_events \
             WHERE {} AND delete_date IS NULL \
             AND action = 'DISBURSED' AND transaction_type = 'DISBURSEMENT' AND to_account_id IN ({})",
            scope(&mut args, acting),
            args.texts(seller.iter().map(String::as_str))
        );
        if let Some(start) = start {
            sql.push_str(&format!(" AND at >= {}", args.int(to_unix_millis(start))));
        }
        if let Some(end) = end {
            sql.push_str(&format!(" AND at < {}", args.int(to_unix_millis(end))));
        }
        sql.push_str(" ORDER BY at, billing_event_id");
        let found = self.fetch(args, sql).await?;
        found
            .iter()
            .map(|r| {
                Ok(Payout {
                    billing_event_id: row::text(r, "billing_event_id")?,
                    paid_at: from_unix_millis(row::int(r, "at")?),
                    currency: row::text(r, "currency")?,
                    amount_micros: row::int(r, "amount_micros")?,
                    bank_trace_id: row::text(r, "bank_trace_id")?,
                    invoice_ids: Vec::new(),
                })
            })
            .collect()
    }

    async fn settled_invoices(
        &self,
        acting: &Acting,
    ) -> Result<HashMap<String, Vec<String>>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT DISTINCT disbursement_billing_event_id, invoice_id FROM billing_events \
             WHERE {} AND delete_date IS NULL \
             AND action = 'DISBURSED' AND disbursement_billing_event_id IS NOT NULL \
             AND invoice_id <> '' ORDER BY disbursement_billing_event_id, invoice_id",
            scope(&mut args, acting)
        );
        let found = self.fetch(args, sql).await?;
        let mut settled: HashMap<String, Vec<String>> = HashMap::new();
        for r in &found {
            settled
                .entry(row::text(r, "disbursement_billing_event_id")?)
                .or_default()
                .push(row::text(r, "invoice_id")?);
        }
        Ok(settled)
    }

    async fn billed_usage(
        &self,
        acting: &Acting,
        first_month: &str,
        last_month: &str,
    ) -> Result<Vec<ports::BilledUsage>, Error> {
        self.billed_usage_of(acting, first_month, last_month).await
    }

    async fn agreement_invoices(
        &self,
        acting: &Acting,
        agreement_ids: &[String],
    ) -> Result<Vec<ports::AgreementInvoice>, Error> {
        self.agreement_invoices_of(acting, agreement_ids).await
    }

    async fn billing_read_at(&self, acting: &Acting) -> Result<Option<OffsetDateTime>, Error> {
        self.billing_read_at_of(acting).await
    }

    async fn announced_discrepancies(
        &self,
        acting: &Acting,
    ) -> Result<HashMap<DiscrepancyKey, Announced>, Error> {
        self.announced_of(acting).await
    }

    async fn announce_discrepancies(
        &self,
        acting: &Acting,
        announce: &[ReconciledUsage],
        resolved: &[DiscrepancyKey],
    ) -> Result<(), Error> {
        self.announce(acting, announce, resolved).await
    }

    async fn freshness(&self, acting: &Acting) -> Result<Option<OffsetDateTime>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT MAX(valid_from) AS valid_from, MAX(update_date) AS update_date \
             FROM billing_events WHERE {}",
            scope(&mut args, acting)
        );
        let found = args
            .query(sql)
            .fetch_one(self.store.pool())
            .await
            .map_err(db)?;
        let newest = row::opt_int(&found, "valid_from")?
            .into_iter()
            .chain(row::opt_int(&found, "update_date")?)
            .max()
            .filter(|ms| *ms > 0);
        Ok(newest.map(from_unix_millis))
    }

    async fn partner_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    ) -> Result<Vec<crate::domain::channel_partner::PartnerLine>, Error> {
        self.select_partner_lines(acting, start, end).await
    }

    async fn selected_revenue_lines(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        selection: &Selection,
        group_by: &[Grouping],
    ) -> Result<Vec<RevenueLine>, Error> {
        let (columns, group) = line_columns(group_by, "e.");
        // The rows kept, payouts and the rows they settle aside.
        let mut args = Args::default();
        let scope = scope_of(&mut args, acting, "e");
        let mut sql = format!(
            "SELECT {columns}, CAST(SUM(e.amount_micros) AS BIGINT) AS amount FROM billing_events e \
             WHERE {scope} AND e.delete_date IS NULL AND e.action <> 'DISBURSED'"
        );
        if let Some(start) = start {
            sql.push_str(&format!(" AND e.at >= {}", args.int(to_unix_millis(start))));
        }
        if let Some(end) = end {
            sql.push_str(&format!(" AND e.at < {}", args.int(to_unix_millis(end))));
        }
        sql.push_str(&selected(&mut args, acting, selection, "e"));
        sql.push_str(&format!(" GROUP BY {group}"));
        let mut lines = self
            .fetch(args, sql)
            .await?
            .iter()
            .map(revenue_line)
            .collect::<Result<Vec<_>, _>>()?;
        // The part of each payout that settles kept rows, at the payout's date.
        let (paid, paid_group) = paid_columns(group_by);
        let mut args = Args::default();
        let scope = scope_of(&mut args, acting, "e");
        let mut sql = format!(
            "SELECT {paid}, CAST(-SUM(e.amount_micros) AS BIGINT) AS amount FROM billing_events e \
             JOIN billing_events p ON p.integration_id = e.integration_id \
             AND p.billing_event_id = e.disbursement_billing_event_id \
             WHERE {scope} AND e.delete_date IS NULL AND e.action = 'DISBURSED' \
             AND e.transaction_type <> 'DISBURSEMENT' AND p.delete_date IS NULL \
             AND p.action = 'DISBURSED' AND p.transaction_type = 'DISBURSEMENT'"
        );
        if let Some(start) = start {
            sql.push_str(&format!(" AND p.at >= {}", args.int(to_unix_millis(start))));
        }
        if let Some(end) = end {
            sql.push_str(&format!(" AND p.at < {}", args.int(to_unix_millis(end))));
        }
        sql.push_str(&selected(&mut args, acting, selection, "e"));
        sql.push_str(&format!(" GROUP BY {paid_group}"));
        for r in &self.fetch(args, sql).await? {
            lines.push(RevenueLine {
                month: row::text(r, "month")?,
                product_id: row::text(r, "product_id")?,
                end_user_account_id: row::text(r, "end_user_account_id")?,
                offer_id: row::opt_text(r, "offer_id")?.unwrap_or_default(),
                currency: row::text(r, "currency")?,
                action: BillingAction::Disbursed,
                transaction_type: "DISBURSEMENT".to_owned(),
                balance_impacting: false,
                from_account_id: row::text(r, "from_account_id")?,
                to_account_id: row::text(r, "to_account_id")?,
                amount_micros: row::int(r, "amount")?,
            });
        }
        Ok(lines)
    }

    async fn selected_settlements(
        &self,
        acting: &Acting,
        selection: &Selection,
    ) -> Result<Vec<Settlement>, Error> {
        let mut args = Args::default();
        let scope = scope_of(&mut args, acting, "e");
        let mut sql = format!(
            "SELECT e.disbursement_billing_event_id AS payout_id, e.invoice_id AS invoice_id, \
             CAST(SUM(e.amount_micros) AS BIGINT) AS amount FROM billing_events e \
             WHERE {scope} AND e.delete_date IS NULL AND e.action = 'DISBURSED' \
             AND e.transaction_type <> 'DISBURSEMENT' AND e.disbursement_billing_event_id IS NOT NULL"
        );
        sql.push_str(&selected(&mut args, acting, selection, "e"));
        sql.push_str(
            " GROUP BY e.disbursement_billing_event_id, e.invoice_id \
             ORDER BY e.disbursement_billing_event_id, e.invoice_id",
        );
        self.fetch(args, sql)
            .await?
            .iter()
            .map(|r| {
                Ok(Settlement {
                    payout_id: row::text(r, "payout_id")?,
                    invoice_id: row::text(r, "invoice_id")?,
                    amount_micros: row::int(r, "amount")?,
                })
            })
            .collect()
    }

    async fn outstanding(
        &self,
        acting: &Acting,
        seller: &[String],
        selection: &Selection,
    ) -> Result<Vec<Outstanding>, Error> {
        if seller.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = Args::default();
        let scope = scope_of(&mut args, acting, "e");
        let from = args.texts(seller.iter().map(String::as_str));
        let to = args.texts(seller.iter().map(String::as_str));
        let selected = selected(&mut args, acting, selection, "e");
        let sql = format!(
            "SELECT e.invoice_id AS invoice_id, e.currency AS currency, \
             CAST(SUM(e.amount_micros) AS BIGINT) AS amount, MIN(e.invoice_at) AS invoice_at \
             FROM billing_events e WHERE {scope} \
             AND e.delete_date IS NULL AND e.balance_impacting = 1 \
             AND e.action IN ('INVOICED', 'FORGIVEN') \
             AND (e.from_account_id IN ({from}) OR e.to_account_id IN ({to})){selected} \
             AND NOT EXISTS (SELECT 1 FROM billing_events d WHERE d.integration_id = e.integration_id \
                 AND d.parent_billing_event_id = e.billing_event_id AND d.action = 'DISBURSED' \
                 AND d.delete_date IS NULL) \
             GROUP BY e.invoice_id, e.currency ORDER BY MIN(e.invoice_at), e.invoice_id"
        );
        let mut outstanding = Vec::new();
        for r in &self.fetch(args, sql).await? {
            let amount = row::int(r, "amount")?;
            if amount == 0 {
                continue;
            }
            outstanding.push(Outstanding {
                invoice_id: row::text(r, "invoice_id")?,
                currency: row::text(r, "currency")?,
                amount_micros: amount,
                invoice_at: row::opt_int(r, "invoice_at")?.map(from_unix_millis),
                age_days: 0,
            });
        }
        Ok(outstanding)
    }

    async fn billing_events(
        &self,
        acting: &Acting,
        query: &EventQuery,
        after: Option<&EventCursor>,
        limit: i64,
    ) -> Result<Vec<ListedEvent>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT * FROM billing_events WHERE {} AND delete_date IS NULL",
            scope(&mut args, acting)
        );
        if let Some(start) = query.start {
            sql.push_str(&format!(" AND at >= {}", args.int(to_unix_millis(start))));
        }
        if let Some(end) = query.end {
            sql.push_str(&format!(" AND at < {}", args.int(to_unix_millis(end))));
        }
        if !query.actions.is_empty() {
            let actions = args.texts(query.actions.iter().map(|a| a.as_str()));
            sql.push_str(&format!(" AND action IN ({actions})"));
        }
        if !query.transaction_types.is_empty() {
            let kinds = args.texts(query.transaction_types.iter().map(String::as_str));
            sql.push_str(&format!(" AND transaction_type IN ({kinds})"));
        }
        if let Some(accounts) = &query.end_user_account_ids {
            sql.push_str(&format!(
                " AND {}",
                within(&mut args, "end_user_account_id", accounts)
            ));
        }
        if let Some(product) = &query.product_id {
            sql.push_str(&format!(" AND product_id = {}", args.text(product.clone())));
        }
        if let Some(after) = after {
            let at = args.int(after.at_millis);
            let at_again = args.int(after.at_millis);
            let id = args.text(after.billing_event_id.clone());
            sql.push_str(&format!(
                " AND (at < {at} OR (at = {at_again} AND billing_event_id < {id}))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY at DESC, billing_event_id DESC LIMIT {}",
            limit.max(1)
        ));
        self.fetch(args, sql)
            .await?
            .iter()
            .map(listed_event)
            .collect()
    }
}

/// The SELECT and GROUP BY lists of revenue lines: the columns every line needs (currency,
/// action, type, balance impact, accounts) and those `group_by` names; the others are selected
/// empty, so a report of few groups reads few lines. `prefix` qualifies the columns (`e.`).
fn line_columns(group_by: &[Grouping], prefix: &str) -> (String, String) {
    let optional = [
        (Grouping::Month, format!("{prefix}month"), "month"),
        (
            Grouping::Product,
            format!("{prefix}product_id"),
            "product_id",
        ),
        (
            Grouping::Customer,
            format!("{prefix}end_user_account_id"),
            "end_user_account_id",
        ),
        (Grouping::Offer, format!("{prefix}offer_id"), "offer_id"),
    ];
    let always: Vec<String> = [
        "currency",
        "action",
        "transaction_type",
        "balance_impacting",
        "from_account_id",
        "to_account_id",
    ]
    .iter()
    .map(|c| format!("{prefix}{c}"))
    .collect();
    grouped(group_by, &optional, &always)
}

/// [`line_columns`] of the payout part of a filtered report: the payout's month, currency and
/// accounts, the settled rows' product, buyer and offer.
fn paid_columns(group_by: &[Grouping]) -> (String, String) {
    let optional = [
        (Grouping::Month, "p.month".to_owned(), "month"),
        (Grouping::Product, "e.product_id".to_owned(), "product_id"),
        (
            Grouping::Customer,
            "e.end_user_account_id".to_owned(),
            "end_user_account_id",
        ),
        (Grouping::Offer, "e.offer_id".to_owned(), "offer_id"),
    ];
    let always = ["p.currency", "p.from_account_id", "p.to_account_id"].map(str::to_owned);
    grouped(group_by, &optional, &always)
}

fn grouped(
    group_by: &[Grouping],
    optional: &[(Grouping, String, &str)],
    always: &[String],
) -> (String, String) {
    let mut select = Vec::new();
    let mut group: Vec<String> = always.to_vec();
    for (grouping, column, name) in optional {
        if group_by.contains(grouping) {
            select.push(format!("{column} AS {name}"));
            group.push(column.clone());
        } else {
            select.push(format!("'' AS {name}"));
        }
    }
    select.extend(always.iter().cloned());
    (select.join(", "), group.join(", "))
}

fn revenue_line(r: &AnyRow) -> Result<RevenueLine, Error> {
    let action = row::text(r, "action")?;
    Ok(RevenueLine {
        month: row::text(r, "month")?,
        product_id: row::text(r, "product_id")?,
        end_user_account_id: row::text(r, "end_user_account_id")?,
        offer_id: row::opt_text(r, "offer_id")?.unwrap_or_default(),
        currency: row::text(r, "currency")?,
        action: BillingAction::parse(&action)
            .ok_or_else(|| Error::Internal(format!("stored billing action {action}")))?,
        transaction_type: row::text(r, "transaction_type")?,
        balance_impacting: row::int(r, "balance_impacting")? != 0,
        from_account_id: row::text(r, "from_account_id")?,
        to_account_id: row::text(r, "to_account_id")?,
        amount_micros: row::int(r, "amount")?,
    })
}

/// `<alias>.organization_id = $n AND <alias>.integration_id = $m`.
fn scope_of(args: &mut Args, acting: &Acting, alias: &str) -> String {
    format!(
        "{alias}.organization_id = {} AND {alias}.integration_id = {}",
        args.text(acting.organization_id.as_str()),
        args.text(acting.integration_id.as_str())
    )
}

/// `column IN (values)`; no values match nothing.
fn within(args: &mut Args, column: &str, values: &[String]) -> String {
    if values.is_empty() {
        "1 = 0".to_owned()
    } else {
        format!(
            "{column} IN ({})",
            args.texts(values.iter().map(String::as_str))
        )
    }
}

/// The conditions of `selection` on the rows of `alias`, each as ` AND ...`. A reseller's
/// rows are those of its agreements and those of every transaction (`transaction_reference_id`)
/// with a row from or to its account: one scan of the table for the transactions (hashed), not
/// one query per row.
fn selected(args: &mut Args, acting: &Acting, selection: &Selection, alias: &str) -> String {
    let mut sql = String::new();
    for (column, values) in &selection.columns {
        let condition = within(args, &format!("{alias}.{}", column.name()), values);
        sql.push_str(&format!(" AND {condition}"));
    }
    if let Some(resellers) = &selection.resellers {
        // Always an OR (the agreements, `1 = 0` for none, first): PostgreSQL then keeps the
        // transactions' subquery as one hashed subplan instead of pulling it up into a join
        // whose plan, on a table without statistics yet, rescans the table for every row.
        let mut any = vec![within(
            args,
            &format!("{alias}.agreement_id"),
            &resellers.agreement_ids,
        )];
        if !resellers.account_ids.is_empty() {
            let scope = scope_of(args, acting, "r");
            let from = args.texts(resellers.account_ids.iter().map(String::as_str));
            let to = args.texts(resellers.account_ids.iter().map(String::as_str));
            any.push(format!(
                "({alias}.transaction_reference_id <> '' AND {alias}.transaction_reference_id IN \
                 (SELECT r.transaction_reference_id FROM billing_events r WHERE {scope} \
                 AND r.delete_date IS NULL AND (r.from_account_id IN ({from}) OR r.to_account_id IN ({to}))))"
            ));
        }
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    sql
}

/// A stored billing event, with when it counts.
fn listed_event(r: &AnyRow) -> Result<ListedEvent, Error> {
    let action = row::text(r, "action")?;
    let day = |column: &str| -> Result<Option<time::Date>, Error> {
        row::opt_text(r, column)?
            .map(|raw| {
                time::Date::parse(
                    &raw,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|e| Error::Internal(format!("stored {column} {raw:?}: {e}")))
            })
            .transpose()
    };
    let update_date = row::int(r, "update_date")?;
    Ok(ListedEvent {
        at: from_unix_millis(row::int(r, "at")?),
        event: BillingEvent {
            billing_event_id: row::text(r, "billing_event_id")?,
            history: History {
                valid_from: from_unix_millis(row::int(r, "valid_from")?),
                insert_date: None,
                update_date: (update_date > 0).then(|| from_unix_millis(update_date)),
                delete_date: row::opt_int(r, "delete_date")?.map(from_unix_millis),
            },
            action: BillingAction::parse(&action)
                .ok_or_else(|| Error::Internal(format!("stored billing action {action}")))?,
            transaction_type: row::text(r, "transaction_type")?,
            amount_micros: row::int(r, "amount_micros")?,
            currency: row::text(r, "currency")?,
            balance_impacting: row::int(r, "balance_impacting")? != 0,
            from_account_id: row::text(r, "from_account_id")?,
            to_account_id: row::text(r, "to_account_id")?,
            end_user_account_id: row::text(r, "end_user_account_id")?,
            product_id: row::text(r, "product_id")?,
            invoice_id: row::text(r, "invoice_id")?,
            invoice_date: row::opt_int(r, "invoice_at")?.map(from_unix_millis),
            payment_due_date: row::opt_int(r, "payment_due_at")?.map(from_unix_millis),
            usage_period_start: day("usage_start")?,
            usage_period_end: day("usage_end")?,
            parent_billing_event_id: row::opt_text(r, "parent_billing_event_id")?,
            disbursement_billing_event_id: row::opt_text(r, "disbursement_billing_event_id")?,
            transaction_reference_id: row::text(r, "transaction_reference_id")?,
            bank_trace_id: row::text(r, "bank_trace_id")?,
            broker_id: row::text(r, "broker_id")?,
            agreement_id: row::opt_text(r, "agreement_id")?,
            offer_id: row::opt_text(r, "offer_id")?,
            usage_quantity_micros: row::opt_int(r, "usage_quantity_micros")?,
            usage_dimension: row::opt_text(r, "usage_dimension")?,
        },
    })
}
