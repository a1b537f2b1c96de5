//! The [`Store`](crate::domain::ports::Store) port on SQL: the offers. Every write is a
//! `souk_store::UnitOfWork` (change, outbox events and idempotency record in one transaction);
//! every query but the tracker's is confined to an organisation.

pub mod migrations;
mod resale_rows;
mod rows;
mod transaction;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use souk_core::clock::to_unix_millis;
use souk_core::{Id, Idempotency, Page, PageRequest, SharedClock};
use souk_events::EventFactory;
use souk_store::idempotency::{self, IdempotencyKey};
use souk_store::{Args, Store, tenant};
use time::OffsetDateTime;

pub use migrations::migrations;

use crate::domain::Error;
use crate::domain::model::Offer;
use crate::domain::ports::{self, Begun, OfferFilter};
use crate::domain::resale::{ResaleAuthorization, ResaleFilter};
use transaction::SqlTransaction;

fn db(err: sqlx::Error) -> Error {
    souk_store::map_sqlx_error(err).into()
}

/// The offer service's tables.
#[derive(Debug, Clone)]
pub struct SqlStore {
    store: Store,
    events: EventFactory,
    clock: SharedClock,
}

impl SqlStore {
    /// Tables in `store` (migrated), events built by `events`, idempotency records timed by
    /// `clock`.
    pub fn new(store: Store, events: EventFactory, clock: SharedClock) -> Self {
        Self {
            store,
            events,
            clock,
        }
    }
}

#[async_trait]
impl ports::Store for SqlStore {
    async fn begin(
        &self,
        organization_id: &Id,
        idempotency: Option<&Idempotency>,
    ) -> Result<Begun, Error> {
        Ok(
            match self
                .store
                .unit_of_work(organization_id.as_str(), idempotency)
                .await?
            {
                souk_store::Begun::Replayed(bytes) => Begun::Replayed(bytes),
                souk_store::Begun::Fresh(work) => Begun::Fresh(Box::new(SqlTransaction::new(
                    work,
                    self.events.clone(),
                    self.clock.clone(),
                ))),
            },
        )
    }

    async fn replay(
        &self,
        organization_id: &Id,
        idem: &Idempotency,
    ) -> Result<Option<Vec<u8>>, Error> {
        let key = IdempotencyKey {
            organization_id: organization_id.as_str(),
            scope: idem.scope,
            key: &idem.key,
        };
        Ok(idempotency::lookup(self.store.pool(), &key, &idem.request_hash).await?)
    }

    async fn get_offer(&self, organization_id: &Id, id: &Id) -> Result<Option<Offer>, Error> {
        tenant::fetch_owned(
            self.store.pool(),
            self.store.backend(),
            tenant::OwnedRow {
                table: "offers",
                columns: rows::OFFER_COLUMNS,
                for_update: false,
            },
            organization_id.as_str(),
            id.as_str(),
            rows::offer,
        )
        .await
    }

    async fn offer_by_aws_id(
        &self,
        organization_id: &Id,
        aws_offer_id: &str,
    ) -> Result<Option<Offer>, Error> {
        let sql = format!(
            "SELECT {} FROM offers WHERE organization_id = $1 AND aws_offer_id = $2",
            rows::OFFER_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(aws_offer_id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        found.as_ref().map(rows::offer).transpose()
    }

    async fn list_offers(
        &self,
        organization_id: &Id,
        filter: &OfferFilter,
        page: &PageRequest,
    ) -> Result<Page<Offer>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM offers WHERE organization_id = {}",
            rows::OFFER_COLUMNS,
            args.text(organization_id.as_str())
        );
        if let Some(after) = &page.after {
            sql.push_str(&format!(" AND id < {}", args.text(after.as_str())));
        }
        if let Some(integration_id) = &filter.integration_id {
            sql.push_str(&format!(
                " AND integration_id = {}",
                args.text(integration_id.as_str())
            ));
        }
        if let Some(product_id) = &filter.product_id {
            sql.push_str(&format!(
                " AND product_id = {}",
                args.text(product_id.as_str())
            ));
        }
        if let Some(buyer) = &filter.buyer_account_id {
            // The ids are a JSON array of quoted 12-digit strings.
            sql.push_str(&format!(
                " AND buyer_account_ids LIKE {}",
                args.text(format!("%\"{buyer}\"%"))
            ));
        }
        if !filter.states.is_empty() {
            sql.push_str(&format!(
                " AND state IN ({})",
                args.texts(filter.states.iter().map(|s| s.as_str()))
            ));
        }
        if !filter.kinds.is_empty() {
            sql.push_str(&format!(
                " AND kind IN ({})",
                args.texts(filter.kinds.iter().map(|k| k.as_str()))
            ));
        }
        if let Some(before) = filter.expiring_before {
            sql.push_str(&format!(
                " AND expiry_at IS NOT NULL AND expiry_at < {}",
                args.int(to_unix_millis(before))
            ));
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            args.int(page.fetch_limit())
        ));
        let found = args
            .query(sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        Ok(Page::from_rows(rows::offers(&found)?, page, rows::key))
    }

    async fn due_offers(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<Offer>, Error> {
        let sql = format!(
            "SELECT {} FROM offers WHERE next_check_at IS NOT NULL AND next_check_at <= $1 \
             ORDER BY next_check_at LIMIT $2",
            rows::OFFER_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_unix_millis(now))
            .bind(i64::from(limit))
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        rows::offers(&found)
    }

    async fn claim(&self, offer: &Offer, until: OffsetDateTime) -> Result<bool, Error> {
        let Some(due) = offer.next_check_at else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE offers SET next_check_at = $1 WHERE id = $2 AND next_check_at = $3",
        )
        .bind(to_unix_millis(until))
        .bind(offer.id.as_str())
        .bind(to_unix_millis(due))
        .execute(self.store.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_resale_authorization(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ResaleAuthorization>, Error> {
        tenant::fetch_owned(
            self.store.pool(),
            self.store.backend(),
            tenant::OwnedRow {
                table: "resale_authorizations",
                columns: resale_rows::COLUMNS,
                for_update: false,
            },
            organization_id.as_str(),
            id.as_str(),
            resale_rows::decode,
        )
        .await
    }

    async fn resale_authorization_by_aws_id(
        &self,
        organization_id: &Id,
        aws_id: &str,
    ) -> Result<Option<ResaleAuthorization>, Error> {
        let sql = format!(
            "SELECT {} FROM resale_authorizations WHERE organization_id = $1 AND aws_id = $2",
            resale_rows::COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(aws_id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        found.as_ref().map(resale_rows::decode).transpose()
    }

    async fn list_resale_authorizations(
        &self,
        organization_id: &Id,
        filter: &ResaleFilter,
        page: &PageRequest,
    ) -> Result<Page<ResaleAuthorization>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM resale_authorizations WHERE organization_id = {}",
            resale_rows::COLUMNS,
            args.text(organization_id.as_str())
        );
        if let Some(after) = &page.after {
            sql.push_str(&format!(" AND id < {}", args.text(after.as_str())));
        }
        if let Some(integration_id) = &filter.integration_id {
            sql.push_str(&format!(
                " AND integration_id = {}",
                args.text(integration_id.as_str())
            ));
        }
        if let Some(product_id) = &filter.product_id {
            sql.push_str(&format!(
                " AND product_id = {}",
                args.text(product_id.as_str())
            ));
        }
        if let Some(reseller) = &filter.reseller_account_id {
            sql.push_str(&format!(
                " AND reseller_account_id = {}",
                args.text(reseller.as_str())
            ));
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            args.int(page.fetch_limit())
        ));
        let found = args
            .query(sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        Ok(Page::from_rows(
            resale_rows::all(&found)?,
            page,
            resale_rows::key,
        ))
    }

    async fn due_resale_authorizations(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ResaleAuthorization>, Error> {
        let sql = format!(
            "SELECT {} FROM resale_authorizations WHERE next_check_at IS NOT NULL \
             AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2",
            resale_rows::COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_unix_millis(now))
            .bind(i64::from(limit))
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        resale_rows::all(&found)
    }

    async fn claim_resale_authorization(
        &self,
        ra: &ResaleAuthorization,
        until: OffsetDateTime,
    ) -> Result<bool, Error> {
        let Some(due) = ra.next_check_at else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE resale_authorizations SET next_check_at = $1 \
             WHERE id = $2 AND next_check_at = $3",
        )
        .bind(to_unix_millis(until))
        .bind(ra.id.as_str())
        .bind(to_unix_millis(due))
        .execute(self.store.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
