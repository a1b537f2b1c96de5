//! Reconciliation's reads and writes: the usage the billing events bill, and the discrepancies
//! announced (`report.discrepancy`, committed with the record that it was announced).

use std::collections::HashMap;

use souk_core::clock::from_unix_millis;
use souk_store::{Args, row};
use time::OffsetDateTime;

use super::{SqlStore, db, scope};
use crate::domain::Error;
use crate::domain::feed::Feed;
use crate::domain::ports::{Acting, AgreementInvoice, BilledUsage};
use crate::domain::reconciliation::{Announced, Cause, DiscrepancyKey, ReconciledUsage};

impl SqlStore {
    /// See [`crate::domain::ports::Store::billed_usage`].
    pub(super) async fn billed_usage_of(
        &self,
        acting: &Acting,
        first_month: &str,
        last_month: &str,
    ) -> Result<Vec<BilledUsage>, Error> {
        const MONTH: &str = "SUBSTR(usage_start, 1, 7)";
        const GROUP: &str = "end_user_account_id, product_id, usage_dimension, to_account_id";
        let mut args = Args::default();
        let sql = format!(
            "SELECT {MONTH} AS month, {GROUP}, \
             CAST(SUM(usage_quantity_micros) AS BIGINT) AS quantity FROM billing_events \
             WHERE {} AND delete_date IS NULL AND action = 'INVOICED' \
             AND transaction_type = 'SELLER_REV_SHARE' AND usage_quantity_micros IS NOT NULL \
             AND usage_dimension IS NOT NULL AND usage_start IS NOT NULL \
             AND {MONTH} >= {} AND {MONTH} <= {} GROUP BY {MONTH}, {GROUP}",
            scope(&mut args, acting),
            args.text(first_month),
            args.text(last_month),
        );
        let found = self.fetch(args, sql).await?;
        found
            .iter()
            .map(|r| {
                Ok(BilledUsage {
                    month: row::text(r, "month")?,
                    end_user_account_id: row::text(r, "end_user_account_id")?,
                    product_id: row::text(r, "product_id")?,
                    dimension: row::text(r, "usage_dimension")?,
                    to_account_id: row::text(r, "to_account_id")?,
                    quantity_micros: row::int(r, "quantity")?,
                })
            })
            .collect()
    }

    /// See [`crate::domain::ports::Store::agreement_invoices`].
    pub(super) async fn agreement_invoices_of(
        &self,
        acting: &Acting,
        agreement_ids: &[String],
    ) -> Result<Vec<AgreementInvoice>, Error> {
        let mut invoices = Vec::new();
        // In chunks: bound values are limited (SQLite 32,766, PostgreSQL 65,535).
        for ids in agreement_ids.chunks(super::CHUNK) {
            let mut args = Args::default();
            let sql = format!(
                "SELECT agreement_id, invoice_id, currency, to_account_id, \
                 CAST(SUM(amount_micros) AS BIGINT) AS amount, MIN(invoice_at) AS invoice_at \
                 FROM billing_events WHERE {} AND delete_date IS NULL AND action = 'INVOICED' \
                 AND transaction_type = 'SELLER_REV_SHARE' AND agreement_id IN ({}) \
                 GROUP BY agreement_id, invoice_id, currency, to_account_id",
                scope(&mut args, acting),
                args.texts(ids.iter().map(String::as_str)),
            );
            for r in &self.fetch(args, sql).await? {
                invoices.push(AgreementInvoice {
                    agreement_id: row::text(r, "agreement_id")?,
                    invoice_id: row::text(r, "invoice_id")?,
                    invoice_at: row::opt_int(r, "invoice_at")?.map(from_unix_millis),
                    currency: row::text(r, "currency")?,
                    amount_micros: row::int(r, "amount")?,
                    to_account_id: row::text(r, "to_account_id")?,
                });
            }
        }
        Ok(invoices)
    }

    /// See [`crate::domain::ports::Store::billing_read_at`].
    pub(super) async fn billing_read_at_of(
        &self,
        acting: &Acting,
    ) -> Result<Option<OffsetDateTime>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT object_key, read_at FROM feed_files WHERE {}",
            scope(&mut args, acting)
        );
        let found = self.fetch(args, sql).await?;
        let mut newest = None;
        for r in &found {
            if Feed::of_key(&row::text(r, "object_key")?) == Some(Feed::BillingEvent) {
                newest = newest.max(Some(from_unix_millis(row::int(r, "read_at")?)));
            }
        }
        Ok(newest)
    }

    /// See [`crate::domain::ports::Store::announced_discrepancies`].
    pub(super) async fn announced_of(
        &self,
        acting: &Acting,
    ) -> Result<HashMap<DiscrepancyKey, Announced>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT month, customer, product_code, dimension, cause, difference_micros \
             FROM discrepancies WHERE {}",
            scope(&mut args, acting)
        );
        let found = self.fetch(args, sql).await?;
        let mut announced = HashMap::new();
        for r in &found {
            let cause = row::text(r, "cause")?;
            announced.insert(
                DiscrepancyKey {
                    month: row::text(r, "month")?,
                    customer: row::text(r, "customer")?,
                    product_code: row::text(r, "product_code")?,
                    dimension: row::text(r, "dimension")?,
                },
                Announced {
                    cause: Cause::parse(&cause).ok_or_else(|| {
                        Error::Internal(format!("discrepancy cause {cause:?} is unknown"))
                    })?,
                    difference_micros: row::int(r, "difference_micros")?,
                },
            );
        }
        Ok(announced)
    }

    /// See [`crate::domain::ports::Store::announce_discrepancies`].
    pub(super) async fn announce(
        &self,
        acting: &Acting,
        announce: &[ReconciledUsage],
        resolved: &[DiscrepancyKey],
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let mut work = self.begin(acting).await?;
        for usage in announce {
            let mut args = Args::default();
            let sql = format!(
                "INSERT INTO discrepancies (organization_id, integration_id, month, customer, \
                 product_code, dimension, cause, difference_micros, announced_at) \
                 VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}) \
                 ON CONFLICT (integration_id, month, customer, product_code, dimension) \
                 DO UPDATE SET cause = excluded.cause, \
                 difference_micros = excluded.difference_micros, announced_at = excluded.announced_at",
                args.text(acting.organization_id.as_str()),
                args.text(acting.integration_id.as_str()),
                args.text(usage.key.month.as_str()),
                args.text(usage.key.customer.as_str()),
                args.text(usage.key.product_code.as_str()),
                args.text(usage.key.dimension.as_str()),
                args.text(usage.cause.as_str()),
                args.int(usage.difference_micros()),
                args.int(souk_core::clock::to_unix_millis(now)),
            );
            args.query(sql)
                .execute(&mut **work.tx())
                .await
                .map_err(db)?;
            work.emit(crate::events::discrepancy(&self.events, acting, usage)?);
        }
        for key in resolved {
            let mut args = Args::default();
            let sql = format!(
                "DELETE FROM discrepancies WHERE {} AND month = {} AND customer = {} \
                 AND product_code = {} AND dimension = {}",
                scope(&mut args, acting),
                args.text(key.month.as_str()),
                args.text(key.customer.as_str()),
                args.text(key.product_code.as_str()),
                args.text(key.dimension.as_str()),
            );
            args.query(sql)
                .execute(&mut **work.tx())
                .await
                .map_err(db)?;
        }
        work.commit(Vec::new, now).await?;
        Ok(())
    }
}
