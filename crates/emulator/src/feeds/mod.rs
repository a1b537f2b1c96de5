//! Seller Data Feed files (docs/aws/data-feeds.md) generated from the emulator's own ledger: invoice
//! lines of accepted offers, metered usage priced by the buyer's agreement, the listing fee
//! (`AWS_REV_SHARE`, default 3 %), refunds and disbursements issued through the control API.
//! Written on demand (`POST /_souk/feeds/generate`) as
//! `<dir>/<feed>_v1/year=YYYY/month=MM/data.csv` (RFC 4180, every field quoted, `\n`, ISO-8601
//! UTC, currency before every money column, history columns first) and served by [`crate::s3`].
//!
//! The state lives in `world.feeds`.

pub mod billing;
mod control;
pub mod csv;
pub mod ids;
pub mod ledger;
pub mod model;
pub mod money;
pub mod tables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use billing::BillingEvent;
pub use control::control_router;
pub use model::{Disbursement, FeedSettings, FeedsState, Refund};

use crate::Emulator;
use crate::at::At;

/// ISO-8601 UTC with seconds (`2026-11-22T12:00:00Z`).
pub fn iso(at: At) -> String {
    crate::support::format::iso_seconds(at)
}

/// The directory feeds are written to.
pub fn output_dir(emu: &Emulator) -> PathBuf {
    let mut world = emu.world();
    let feeds = &mut world.feeds;
    if let Some(dir) = &feeds.settings.output_dir {
        return dir.clone();
    }
    feeds
        .default_dir
        .get_or_insert_with(|| {
            std::env::temp_dir()
                .join("souk-emulator")
                .join("feeds")
                .join(uuid::Uuid::new_v4().simple().to_string())
        })
        .clone()
}

/// Every billing event as of the emulator's now.
pub fn billing_events(emu: &Emulator) -> Vec<BillingEvent> {
    let now = emu.clock().now_at();
    let world = emu.world();
    events_in(&world, emu, now)
}

fn events_in(world: &crate::World, emu: &Emulator, now: At) -> Vec<BillingEvent> {
    let feeds = &world.feeds;
    let charges = ledger::charges(world, &feeds.settings, &emu.config().seller_account_id, now);
    let parties = billing::Parties {
        seller_account: emu.config().seller_account_id.clone(),
        aws_account: feeds.settings.aws_account_id.clone(),
        fee_bps: feeds.settings.listing_fee_bps,
    };
    let refunds: Vec<Refund> = feeds
        .refunds
        .iter()
        .filter(|r| r.at <= now)
        .cloned()
        .collect();
    let disbursements: Vec<Disbursement> = feeds
        .disbursements
        .iter()
        .filter(|d| d.at <= now)
        .cloned()
        .collect();
    billing::events(&charges, &refunds, &disbursements, &parties)
}

/// Pays out every undisbursed balance-impacting event, one disbursement per seller account
/// (the reseller and the ISV of a channel-partner sale are paid apart) and currency with a
/// positive net. Returns the disbursements made.
pub fn disburse(emu: &Emulator) -> Vec<Disbursement> {
    let now = emu.clock().now_at();
    let mut world = emu.world();
    let events = events_in(&world, emu, now);
    let pending = billing::disbursable(
        &events,
        &world.feeds.disbursements,
        &world.feeds.settings.aws_account_id,
    );
    let made: Vec<Disbursement> = pending
        .into_iter()
        .filter(|p| p.net_micros > 0)
        .map(|p| Disbursement {
            id: format!("disb-{}", uuid::Uuid::new_v4().simple()),
            at: now,
            currency: p.currency,
            amount_micros: p.net_micros,
            event_ids: p.event_ids,
        })
        .collect();
    world.feeds.disbursements.extend(made.iter().cloned());
    made
}

/// Refunds `amount_micros` (default: what is left) of `invoice_id`.
pub fn refund(
    emu: &Emulator,
    invoice_id: &str,
    amount_micros: Option<i64>,
) -> Result<Refund, String> {
    let now = emu.clock().now_at();
    let mut world = emu.world();
    let events = events_in(&world, emu, now);
    let invoiced: i64 = events
        .iter()
        .filter(|e| {
            e.action == "INVOICED"
                && e.transaction_type == "SELLER_REV_SHARE"
                && e.from_account == e.end_user_account
                && e.invoice_id.as_deref() == Some(invoice_id)
        })
        .map(|e| e.amount_micros)
        .sum();
    if invoiced <= 0 {
        return Err(format!(
            "invoice {invoice_id} has not been invoiced (or has nothing to refund)"
        ));
    }
    let refunded: i64 = world
        .feeds
        .refunds
        .iter()
        .filter(|r| r.invoice_id == invoice_id)
        .map(|r| r.amount_micros)
        .sum();
    let remaining = invoiced - refunded;
    let amount = amount_micros.unwrap_or(remaining);
    if amount <= 0 || amount > remaining {
        return Err(format!(
            "refund amount must be positive and at most the {} left on invoice {invoice_id}",
            money::format_micros(remaining)
        ));
    }
    let refund = Refund {
        id: format!("inv-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
        invoice_id: invoice_id.to_owned(),
        amount_micros: amount,
        at: now,
    };
    world.feeds.refunds.push(refund.clone());
    Ok(refund)
}

/// One written file.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedFile {
    /// The object key (`billing_event_v1/year=2026/month=11/data.csv`).
    pub key: String,
    /// Data rows (header excluded).
    pub rows: usize,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateReport {
    /// The output directory.
    pub directory: PathBuf,
    /// The bucket serving it.
    pub bucket: String,
    /// Files written.
    pub files: Vec<GeneratedFile>,
}

/// Generates every feed into the output directory, replacing earlier files.
pub async fn generate(emu: &Emulator) -> Result<GenerateReport, String> {
    let dir = output_dir(emu);
    let now = emu.clock().now_at();
    let (tables, bucket) = {
        let world = emu.world();
        let settings = &world.feeds.settings;
        let events = events_in(&world, emu, now);
        let mut tables = vec![billing::table(&events, &settings.broker_id)];
        tables.extend(tables::entity_tables(
            &world,
            &emu.config().seller_account_id,
            &settings.aws_account_id,
            now,
        ));
        (tables, settings.bucket.clone())
    };
    let directory = dir.clone();
    let files = tokio::task::spawn_blocking(move || write_tables(&dir, &tables, now))
        .await
        .map_err(|e| format!("feed writer failed: {e}"))??;
    Ok(GenerateReport {
        directory,
        bucket,
        files,
    })
}

fn write_tables(dir: &Path, tables: &[csv::Table], now: At) -> Result<Vec<GeneratedFile>, String> {
    let today = now.date();
    let mut files = Vec::new();
    for table in tables {
        let feed_dir = dir.join(format!("{}_v1", table.name));
        if feed_dir.exists() {
            std::fs::remove_dir_all(&feed_dir)
                .map_err(|e| format!("cannot clear {}: {e}", feed_dir.display()))?;
        }
        let mut partitions: BTreeMap<(i32, u8), Vec<&Vec<String>>> = BTreeMap::new();
        let insert_column = table.column("insert_date");
        for row in &table.rows {
            let partition = insert_column
                .and_then(|i| row.get(i))
                .and_then(|value| partition_of(value))
                .unwrap_or((today.year(), u8::from(today.month())));
            partitions.entry(partition).or_default().push(row);
        }
        if partitions.is_empty() {
            partitions.insert((today.year(), u8::from(today.month())), Vec::new());
        }
        for ((year, month), rows) in partitions {
            let key = format!("{}_v1/year={year:04}/month={month:02}/data.csv", table.name);
            let path = dir.join(&key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            std::fs::write(&path, csv::render(&table.columns, &rows))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            files.push(GeneratedFile {
                key,
                rows: rows.len(),
            });
        }
    }
    Ok(files)
}

fn partition_of(iso_value: &str) -> Option<(i32, u8)> {
    let year = iso_value.get(0..4)?.parse().ok()?;
    let month = iso_value.get(5..7)?.parse().ok()?;
    Some((year, month))
}
