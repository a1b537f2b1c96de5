//! The [`Transaction`](crate::domain::ports::Transaction) port on a `souk_store::UnitOfWork`.

use async_trait::async_trait;
use souk_core::access::{KeyHash, Scope};
use souk_core::clock::to_unix_millis;
use souk_core::{Id, SharedClock};
use souk_events::EventFactory;
use souk_store::{UnitOfWork, tenant};

use super::{db, rows};
use crate::domain::ports::Transaction;
use crate::domain::{ApiKey, Error, Integration, IntegrationEvent, Organization};

/// One write of the integration service.
pub(super) struct SqlTransaction {
    work: UnitOfWork,
    events: EventFactory,
    clock: SharedClock,
}

impl SqlTransaction {
    pub(super) fn new(work: UnitOfWork, events: EventFactory, clock: SharedClock) -> Self {
        Self {
            work,
            events,
            clock,
        }
    }

    async fn lock_owned<T>(
        &mut self,
        table: &str,
        columns: &str,
        organization_id: &Id,
        id: &Id,
        map: fn(&sqlx::any::AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let backend = self.work.store().backend();
        let row = tenant::OwnedRow {
            table,
            columns,
            for_update: true,
        };
        tenant::fetch_owned(
            &mut **self.work.tx(),
            backend,
            row,
            organization_id.as_str(),
            id.as_str(),
            map,
        )
        .await
    }
}

/// `Conflict` on a unique name becomes the message a seller understands.
fn name_conflict(err: sqlx::Error, name: &str) -> Error {
    match Error::from(souk_store::map_sqlx_error(err)) {
        Error::Conflict(_) => {
            Error::Conflict(format!("an integration named \"{name}\" already exists"))
        }
        other => other,
    }
}

#[async_trait]
impl Transaction for SqlTransaction {
    async fn lock_bootstrap(&mut self) -> Result<(), Error> {
        // Replicas starting together: only one may create the first organisation (SQLite's
        // BEGIN IMMEDIATE already serialises writers).
        let store = self.work.store().clone();
        store.lock(self.work.tx(), "bootstrap").await?;
        Ok(())
    }

    async fn has_organizations(&mut self) -> Result<bool, Error> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(&mut **self.work.tx())
            .await
            .map_err(db)?;
        Ok(count > 0)
    }

    async fn insert_organization(&mut self, organization: &Organization) -> Result<(), Error> {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(organization.id.as_str())
            .bind(&organization.name)
            .bind(to_unix_millis(organization.created_at))
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn insert_api_key(&mut self, key: &ApiKey, hash: &KeyHash) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO api_keys (id, organization_id, name, prefix, secret_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key.id.as_str())
        .bind(key.organization_id.as_str())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(hash.as_str())
        .bind(Scope::join(&key.scopes))
        .bind(to_unix_millis(key.created_at))
        .bind(key.expires_at.map(to_unix_millis))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn insert_integration(&mut self, i: &Integration) -> Result<(), Error> {
        let sql = format!(
            "INSERT INTO integrations ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            rows::INTEGRATION_COLUMNS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i.id.to_string())
            .bind(i.organization_id.to_string())
            .bind(i.name.clone())
            .bind(i.role_arn.clone())
            .bind(i.aws_account_id.clone())
            .bind(i.external_id.clone())
            .bind(i.region.clone())
            .bind(rows::products_json(&i.products)?)
            .bind(rows::notifications_json(&i.notifications)?)
            .bind(i.data_feed_bucket.clone())
            .bind(i.state.as_str())
            .bind(rows::report_json(i.last_verification.as_ref())?)
            .bind(to_unix_millis(i.created_at))
            .bind(to_unix_millis(i.updated_at))
            .execute(&mut **self.work.tx())
            .await
            .map_err(|e| name_conflict(e, &i.name))?;
        Ok(())
    }

    async fn lock_integration(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<Integration>, Error> {
        self.lock_owned(
            "integrations",
            rows::INTEGRATION_COLUMNS,
            organization_id,
            id,
            rows::integration,
        )
        .await
    }

    async fn update_integration(&mut self, integration: &Integration) -> Result<(), Error> {
        sqlx::query(
            "UPDATE integrations SET name = $3, role_arn = $4, aws_account_id = $5, region = $6, products = $7, \
             notifications = $8, data_feed_bucket = $9, state = $10, last_verification = $11, updated_at = $12 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(integration.organization_id.as_str())
        .bind(integration.id.as_str())
        .bind(&integration.name)
        .bind(&integration.role_arn)
        .bind(&integration.aws_account_id)
        .bind(&integration.region)
        .bind(rows::products_json(&integration.products)?)
        .bind(rows::notifications_json(&integration.notifications)?)
        .bind(&integration.data_feed_bucket)
        .bind(integration.state.as_str())
        .bind(rows::report_json(integration.last_verification.as_ref())?)
        .bind(to_unix_millis(integration.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(|e| name_conflict(e, &integration.name))?;
        Ok(())
    }

    async fn delete_integration(&mut self, integration: &Integration) -> Result<(), Error> {
        sqlx::query("DELETE FROM integrations WHERE organization_id = $1 AND id = $2")
            .bind(integration.organization_id.as_str())
            .bind(integration.id.as_str())
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn lock_api_key(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ApiKey>, Error> {
        self.lock_owned(
            "api_keys",
            rows::API_KEY_COLUMNS,
            organization_id,
            id,
            rows::api_key,
        )
        .await
    }

    async fn revoke_api_key(&mut self, key: &ApiKey) -> Result<(), Error> {
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(key.organization_id.as_str())
        .bind(key.id.as_str())
        .bind(key.revoked_at.map(to_unix_millis))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?;
        Ok(())
    }

    fn emit(&mut self, event: IntegrationEvent) -> Result<(), Error> {
        let record = crate::events::record(&self.events, &event)?;
        self.work.emit(record);
        Ok(())
    }

    fn remembers_response(&self) -> bool {
        self.work.remembers_response()
    }

    async fn commit(self: Box<Self>, response: Vec<u8>) -> Result<(), Error> {
        let now = self.clock.now();
        self.work.commit(|| response, now).await?;
        Ok(())
    }
}
