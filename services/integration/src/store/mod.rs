//! The [`Store`](crate::domain::ports::Store) port on SQL: organisations, integrations and API
//! keys. Every write is a `souk_store::UnitOfWork` (change, outbox events and idempotency record
//! in one transaction); every query is confined to an organisation.

mod keys;
pub mod migrations;
mod rows;
mod transaction;

use async_trait::async_trait;
use souk_core::{Id, Idempotency, Page, PageRequest, SharedClock};
use souk_events::EventFactory;
use souk_store::idempotency::{self, IdempotencyKey};
use souk_store::{Store, tenant};

pub use keys::SqlKeyStore;
pub use migrations::migrations;

use crate::domain::ports::{self, Begun};
use crate::domain::{ApiKey, Error, Integration, Organization};
use transaction::SqlTransaction;

fn db(err: sqlx::Error) -> Error {
    souk_store::map_sqlx_error(err).into()
}

/// The integration service's tables.
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

    async fn fetch<T>(
        &self,
        table: &str,
        columns: &str,
        organization_id: &Id,
        id: &Id,
        map: fn(&sqlx::any::AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let row = tenant::OwnedRow {
            table,
            columns,
            for_update: false,
        };
        tenant::fetch_owned(
            self.store.pool(),
            self.store.backend(),
            row,
            organization_id.as_str(),
            id.as_str(),
            map,
        )
        .await
    }

    async fn list<T>(
        &self,
        table: &str,
        columns: &str,
        organization_id: &Id,
        page: &PageRequest,
        map: fn(&sqlx::any::AnyRow) -> Result<T, Error>,
        key: fn(&T) -> String,
    ) -> Result<Page<T>, Error> {
        tenant::list_owned(
            self.store.pool(),
            table,
            columns,
            organization_id.as_str(),
            page,
            map,
            key,
        )
        .await
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

    async fn has_organizations(&self) -> Result<bool, Error> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(self.store.pool())
            .await
            .map_err(db)?;
        Ok(count > 0)
    }

    async fn first_organization(&self) -> Result<Option<Organization>, Error> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY id LIMIT 1")
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::organization).transpose()
    }

    async fn get_organization(&self, id: &Id) -> Result<Option<Organization>, Error> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::organization).transpose()
    }

    async fn find_integration(&self, id: &Id) -> Result<Option<Integration>, Error> {
        let sql = format!(
            "SELECT {} FROM integrations WHERE id = $1",
            rows::INTEGRATION_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::integration).transpose()
    }

    async fn all_integrations(&self) -> Result<Vec<Integration>, Error> {
        let sql = format!(
            "SELECT {} FROM integrations ORDER BY id",
            rows::INTEGRATION_COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        rows.iter().map(rows::integration).collect()
    }

    async fn get_integration(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<Integration>, Error> {
        self.fetch(
            "integrations",
            rows::INTEGRATION_COLUMNS,
            organization_id,
            id,
            rows::integration,
        )
        .await
    }

    async fn integration_named(
        &self,
        organization_id: &Id,
        name: &str,
    ) -> Result<Option<Integration>, Error> {
        let sql = format!(
            "SELECT {} FROM integrations WHERE organization_id = $1 AND name = $2",
            rows::INTEGRATION_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(name)
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::integration).transpose()
    }

    async fn list_integrations(
        &self,
        organization_id: &Id,
        page: &PageRequest,
    ) -> Result<Page<Integration>, Error> {
        self.list(
            "integrations",
            rows::INTEGRATION_COLUMNS,
            organization_id,
            page,
            rows::integration,
            |i| i.id.to_string(),
        )
        .await
    }

    async fn get_api_key(&self, organization_id: &Id, id: &Id) -> Result<Option<ApiKey>, Error> {
        self.fetch(
            "api_keys",
            rows::API_KEY_COLUMNS,
            organization_id,
            id,
            rows::api_key,
        )
        .await
    }

    async fn list_api_keys(
        &self,
        organization_id: &Id,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, Error> {
        self.list(
            "api_keys",
            rows::API_KEY_COLUMNS,
            organization_id,
            page,
            rows::api_key,
            |k| k.id.to_string(),
        )
        .await
    }
}
