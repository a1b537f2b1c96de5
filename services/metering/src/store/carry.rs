//! Carrying, the last step of a sealing pass (so under the exclusive seal lock: no ingestion
//! folds into an open record meanwhile). A pending record that no call ever carried (never
//! leased, no attempt: AWS cannot hold it) whose hour starts before the plan's `carry_before`
//! is merged into its customer's open hour of the same dimension, the later of the hour of
//! `now` and the customer's seal horizon (where ingestion puts late events), created if
//! missing; the old record becomes `carried` with `carried_to` naming it. UNIQUE_COUNT values
//! of the old hour join the open hour's set and count only when new there. A merge that would
//! overflow, or into a record of another aggregation, is not made: the record stays pending
//! and fails visibly at AWS.

use std::collections::BTreeMap;

use souk_core::Id;
use souk_core::clock::from_unix_millis;
use souk_store::{Backend, Tx};
use time::OffsetDateTime;

use super::json_rows;
use super::{
    GLOBAL_SCOPE, Placeholders, customer_scope, db, map_all, read_horizons, rows,
    rows_per_statement,
};
use crate::domain::Error;
use crate::domain::hours::floor_hour;
use crate::domain::model::{Aggregation, HourlyRecord, RecordKey, RecordStatus, Tally};

/// What carrying did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Carried {
    /// Records carried.
    pub(super) records: u64,
    /// Open records they were carried into.
    pub(super) into: u64,
    /// Of these, records created for it.
    pub(super) created: u64,
    /// Records due that stay pending (the merge would overflow, or another aggregation).
    pub(super) kept: u64,
}

/// The condition of a record that may be carried: pending, never leased, never attempted.
const NEVER_SENT: &str = "status = 'pending' AND attempts = 0 AND lease_owner IS NULL";

/// Carries the records of hours starting before `before`, at `now`.
pub(super) async fn carry(
    tx: &mut Tx,
    backend: Backend,
    now: OffsetDateTime,
    before: OffsetDateTime,
) -> Result<Carried, Error> {
    // PostgreSQL: locked, so a concurrent lease skips them (and a record a lease took first
    // no longer matches once its lease commits).
    let for_update = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT {} FROM hourly_records WHERE {NEVER_SENT} AND hour_start < $1 \
         ORDER BY organization_id, customer_id, dimension, hour_start, id{for_update}",
        rows::RECORD_COLUMNS
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rows::ms(before))
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
    let due = map_all(&found, rows::record)?;
    let mut carried = Carried::default();
    if due.is_empty() {
        return Ok(carried);
    }

    let mut groups: BTreeMap<(Id, Id, String), Vec<HourlyRecord>> = BTreeMap::new();
    for record in due {
        groups
            .entry((
                record.key.organization_id.clone(),
                record.key.customer_id.clone(),
                record.key.dimension.clone(),
            ))
            .or_default()
            .push(record);
    }
    let mut scopes: Vec<String> = vec![GLOBAL_SCOPE.to_owned()];
    scopes.extend(
        groups
            .keys()
            .map(|(organization_id, customer_id, _)| customer_scope(organization_id, customer_id)),
    );
    scopes.sort();
    scopes.dedup();
    let horizons = read_horizons(tx, backend, &scopes).await?;
    let current = floor_hour(now);
    let at = rows::ms(now);

    for ((organization_id, customer_id, dimension), records) in groups {
        let horizon = [
            horizons.get(GLOBAL_SCOPE),
            horizons.get(&customer_scope(&organization_id, &customer_id)),
        ]
        .into_iter()
        .flatten()
        .copied()
        .max();
        let hour = horizon.map_or(current, |h| current.max(from_unix_millis(h)));
        let key = RecordKey {
            organization_id,
            customer_id,
            dimension,
            hour_start: hour,
        };
        let existing = target(tx, backend, &key).await?;
        let created = existing.is_none();
        let mut into = match existing {
            Some(record) if record.status != RecordStatus::Open => {
                // The hour at or after the horizon is open unless something broke the protocol.
                tracing::warn!(
                    record = %record.id,
                    status = record.status.as_str(),
                    "the open hour to carry records into is not open; they stay pending"
                );
                carried.kept += records.len() as u64;
                continue;
            }
            Some(record) => record,
            None => {
                let (Some(first), Some(last)) = (records.first(), records.last()) else {
                    continue;
                };
                open_record(key.clone(), first, last)
            }
        };
        let mut moved: Vec<&Id> = Vec::with_capacity(records.len());
        for record in &records {
            if record.tally.aggregation != into.tally.aggregation {
                tracing::warn!(
                    record = %record.id,
                    into = %into.id,
                    aggregation = record.tally.aggregation.as_str(),
                    open = into.tally.aggregation.as_str(),
                    "a record leaving AWS's window is not carried into an hour of another aggregation; it stays pending"
                );
                carried.kept += 1;
                continue;
            }
            let unique = into.tally.aggregation == Aggregation::UniqueCount;
            let new_unique = if unique {
                new_values(tx, &record.key, hour).await?
            } else {
                0
            };
            if into.tally.merge(&record.tally, new_unique).is_err() {
                tracing::warn!(
                    record = %record.id,
                    into = %into.id,
                    quantity = record.tally.quantity,
                    open = into.tally.quantity,
                    "carrying a record leaving AWS's window would exceed the largest quantity; it stays pending"
                );
                carried.kept += 1;
                continue;
            }
            if unique {
                copy_values(tx, &record.key, hour, new_unique).await?;
            }
            moved.push(&record.id);
        }
        if moved.is_empty() {
            continue;
        }
        write_target(tx, backend, &into, created, at).await?;
        mark_carried(tx, backend, &moved, &into.id, at).await?;
        carried.records += moved.len() as u64;
        carried.into += 1;
        carried.created += u64::from(created);
    }
    Ok(carried)
}

/// The open record a group is carried into, when the hour has none yet: of the aggregation
/// of the first carried record, and the customer's AWS names as the latest one froze them
/// (ingestion refreshes them).
fn open_record(key: RecordKey, first: &HourlyRecord, last: &HourlyRecord) -> HourlyRecord {
    HourlyRecord::open(
        key,
        last.integration_id.clone(),
        last.product_code.clone(),
        last.aws_customer.clone(),
        Tally::empty(first.tally.aggregation),
    )
}

/// The record of `key`, if any (locked on PostgreSQL).
async fn target(
    tx: &mut Tx,
    backend: Backend,
    key: &RecordKey,
) -> Result<Option<HourlyRecord>, Error> {
    let for_update = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT {} FROM hourly_records WHERE organization_id = $1 AND customer_id = $2 \
         AND dimension = $3 AND hour_start = $4{for_update}",
        rows::RECORD_COLUMNS
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key.organization_id.as_str().to_owned())
        .bind(key.customer_id.as_str().to_owned())
        .bind(key.dimension.clone())
        .bind(rows::ms(key.hour_start))
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    found.as_ref().map(rows::record).transpose()
}

/// The `(organization, customer, dimension, hour)` condition on `unique_values` aliased `o`,
/// binding `$1` to `$4`.
const OLD_VALUES: &str = "o.organization_id = $1 AND o.customer_id = $2 AND o.dimension = $3 \
                          AND o.hour_start = $4";

/// How many UNIQUE_COUNT values of `old`'s hour the set of `hour` lacks.
async fn new_values(tx: &mut Tx, old: &RecordKey, hour: OffsetDateTime) -> Result<u64, Error> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM unique_values o WHERE {OLD_VALUES} AND NOT EXISTS \
         (SELECT 1 FROM unique_values t WHERE t.organization_id = o.organization_id \
         AND t.customer_id = o.customer_id AND t.dimension = o.dimension \
         AND t.hour_start = $5 AND t.value = o.value)"
    );
    let row = bind_values(sqlx::query(sqlx::AssertSqlSafe(sql)), old, hour)
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
    Ok(u64::try_from(rows::int(&row, "n")?).unwrap_or(0))
}

/// Adds the UNIQUE_COUNT values of `old`'s hour to the set of `hour` (`expected` of them new).
async fn copy_values(
    tx: &mut Tx,
    old: &RecordKey,
    hour: OffsetDateTime,
    expected: u64,
) -> Result<(), Error> {
    // The WHERE lets SQLite read `ON CONFLICT` as the upsert clause, not a join's.
    let sql = format!(
        "INSERT INTO unique_values (organization_id, customer_id, dimension, hour_start, value) \
         SELECT o.organization_id, o.customer_id, o.dimension, $5, o.value \
         FROM unique_values o WHERE {OLD_VALUES} ON CONFLICT DO NOTHING"
    );
    let added = bind_values(sqlx::query(sqlx::AssertSqlSafe(sql)), old, hour)
        .execute(&mut **tx)
        .await
        .map_err(db)?
        .rows_affected();
    if added != expected {
        return Err(Error::Internal(format!(
            "carrying record values of hour {} added {added} values to hour {hour}, not \
             {expected}",
            old.hour_start
        )));
    }
    Ok(())
}

fn bind_values<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    old: &RecordKey,
    hour: OffsetDateTime,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(old.organization_id.as_str().to_owned())
        .bind(old.customer_id.as_str().to_owned())
        .bind(old.dimension.clone())
        .bind(rows::ms(old.hour_start))
        .bind(rows::ms(hour))
}

/// Writes the merged open record: inserted when `created`, else updated while still open.
async fn write_target(
    tx: &mut Tx,
    backend: Backend,
    record: &HourlyRecord,
    created: bool,
    at: i64,
) -> Result<(), Error> {
    let changed = if created {
        let row = rows::new_record_rows(&[record], at)?;
        let all = rows::new_record_columns();
        let columns = json_rows::list(&all);
        let sql = format!(
            "INSERT INTO hourly_records ({columns}) SELECT {columns} FROM {} AS x",
            json_rows::source(backend, 1, "hourly_records", &all)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(row.finish())
    } else {
        let (latest_at, latest_key) = match &record.tally.latest {
            None => (None, None),
            Some((at, key)) => (Some(*at), Some(key.clone())),
        };
        sqlx::query(
            "UPDATE hourly_records SET quantity = $2, allocations = $3, latest_at = $4, \
             latest_key = $5, updated_at = $6 WHERE id = $1 AND status = 'open'",
        )
        .bind(record.id.as_str().to_owned())
        .bind(record.tally.quantity)
        .bind(rows::tally_allocations_json(&record.tally.allocations)?)
        .bind(latest_at)
        .bind(latest_key)
        .bind(at)
    }
    .execute(&mut **tx)
    .await
    .map_err(db)?
    .rows_affected();
    if changed != 1 {
        return Err(Error::Aborted(format!(
            "the open record {} to carry records into changed meanwhile",
            record.id
        )));
    }
    Ok(())
}

/// Marks `ids` carried into `into`.
async fn mark_carried(
    tx: &mut Tx,
    backend: Backend,
    ids: &[&Id],
    into: &Id,
    at: i64,
) -> Result<(), Error> {
    let mut changed = 0;
    for chunk in ids.chunks(rows_per_statement(backend, 1, 2)) {
        let mut p = Placeholders::starting_after(2);
        let sql = format!(
            "UPDATE hourly_records SET status = 'carried', carried_to = $1, updated_at = $2 \
             WHERE {NEVER_SENT} AND id IN ({})",
            p.list(chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(into.as_str().to_owned())
            .bind(at);
        for id in chunk {
            query = query.bind(id.as_str().to_owned());
        }
        changed += query.execute(&mut **tx).await.map_err(db)?.rows_affected();
    }
    if changed != ids.len() as u64 {
        return Err(Error::Aborted(format!(
            "{} of the records to carry into {into} changed meanwhile",
            ids.len() as u64 - changed
        )));
    }
    Ok(())
}
