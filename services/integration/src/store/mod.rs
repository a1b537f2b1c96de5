//! Persistence of organisations, integrations and API keys. Every mutation runs in one
//! transaction with its idempotency record and its outbox event; every query is confined to an
//! organisation.

mod keys;
pub mod migrations;
mod rows;

use souk_auth::{KeyHash, Scope};
use souk_core::clock::to_unix_millis;
use souk_core::{Id, Page, PageRequest, SharedClock};
use souk_events::OutboxWaker;
use souk_store::idempotency::{self, IdempotencyKey};
use souk_store::outbox::{self, OutboxRecord};
use souk_store::{Store, Tx};

pub use keys::SqlKeyStore;
pub use migrations::migrations;

use crate::domain::{
    ApiKey, Error, Integration, IntegrationPatch, IntegrationState, Organization,
    VerificationReport,
};
use crate::events::EventFactory;

/// Idempotency of one mutating call.
#[derive(Debug, Clone)]
pub struct Idem {
    /// The RPC, `souk.integration.v1.IntegrationService/CreateIntegration`.
    pub scope: &'static str,
    /// The caller's key.
    pub key: String,
    /// Hash of the request without its key.
    pub request_hash: String,
}

impl Idem {
    /// Where the call of `organization_id` is recorded.
    fn key_of<'a>(&'a self, organization_id: &'a Id) -> IdempotencyKey<'a> {
        IdempotencyKey {
            organization_id: organization_id.as_str(),
            scope: self.scope,
            key: &self.key,
        }
    }
}

/// The result of a mutation: done now, or the stored response of an earlier identical call.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Done by this call.
    Done(T),
    /// Replayed: the encoded response of the first call.
    Replayed(Vec<u8>),
}

fn db(err: sqlx::Error) -> Error {
    souk_store::map_sqlx_error(err).into()
}

/// The integration service's tables.
#[derive(Debug, Clone)]
pub struct IntegrationStore {
    store: Store,
    events: EventFactory,
    clock: SharedClock,
    waker: Option<OutboxWaker>,
}

impl IntegrationStore {
    /// Tables in `store` (migrated), events built by `events`, the relay woken by `waker`.
    pub fn new(
        store: Store,
        events: EventFactory,
        clock: SharedClock,
        waker: Option<OutboxWaker>,
    ) -> Self {
        Self {
            store,
            events,
            clock,
            waker,
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn begin(
        &self,
        organization_id: &Id,
        idem: Option<&Idem>,
    ) -> Result<(Tx, Option<Vec<u8>>), Error> {
        let mut tx = self.store.begin_write().await?;
        if let Some(idem) = idem {
            let key = idem.key_of(organization_id);
            if let Some(response) = idempotency::lookup(&mut *tx, &key, &idem.request_hash).await? {
                return Ok((tx, Some(response)));
            }
        }
        Ok((tx, None))
    }

    async fn finish(
        &self,
        mut tx: Tx,
        organization_id: &Id,
        idem: Option<&Idem>,
        response: impl FnOnce() -> Vec<u8>,
        records: Vec<OutboxRecord>,
    ) -> Result<(), Error> {
        if let Some(idem) = idem {
            let key = idem.key_of(organization_id);
            idempotency::store(
                &mut *tx,
                &key,
                &idem.request_hash,
                &response(),
                self.clock.now(),
            )
            .await
            .map_err(|e| match e.code {
                souk_core::ErrorCode::Conflict => Error::Aborted(e.message),
                _ => e.into(),
            })?;
        }
        for record in &records {
            outbox::append(&mut tx, record).await?;
        }
        tx.commit().await.map_err(db)?;
        if !records.is_empty()
            && let Some(waker) = &self.waker
        {
            waker.wake();
        }
        Ok(())
    }

    // ----- organisations -----

    /// Whether any organisation exists.
    pub async fn has_organizations(&self) -> Result<bool, Error> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(self.store.pool())
            .await
            .map_err(db)?;
        Ok(count > 0)
    }

    /// Creates `organization` and its first `key` (with `hash`). The idempotency record belongs
    /// to `caller_organization`.
    pub async fn create_organization(
        &self,
        caller_organization: &Id,
        organization: &Organization,
        key: &ApiKey,
        hash: &KeyHash,
        idem: Option<&Idem>,
        encode: impl FnOnce() -> Vec<u8>,
    ) -> Result<Outcome<()>, Error> {
        let (mut tx, replay) = self.begin(caller_organization, idem).await?;
        if let Some(response) = replay {
            return Ok(Outcome::Replayed(response));
        }
        insert_organization(&mut tx, organization).await?;
        insert_api_key(&mut tx, key, hash).await?;
        let records = vec![self.events.api_key_created(key)?];
        self.finish(tx, caller_organization, idem, encode, records)
            .await?;
        Ok(Outcome::Done(()))
    }

    /// Creates `organization` with its first `key` only if no organisation exists yet.
    pub async fn create_first_organization(
        &self,
        organization: &Organization,
        key: &ApiKey,
        hash: &KeyHash,
    ) -> Result<bool, Error> {
        let mut tx = self.store.begin_write().await?;
        // Replicas starting together: only one may create the first organisation (SQLite's
        // BEGIN IMMEDIATE already serialises writers).
        if self.store.backend() == souk_store::Backend::Postgres {
            sqlx::query(
                "SELECT 1 FROM pg_advisory_xact_lock(hashtext('souk.integration.bootstrap'))",
            )
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if count > 0 {
            return Ok(false);
        }
        insert_organization(&mut tx, organization).await?;
        insert_api_key(&mut tx, key, hash).await?;
        let records = vec![self.events.api_key_created(key)?];
        self.finish(tx, &organization.id, None, Vec::new, records)
            .await?;
        Ok(true)
    }

    /// The oldest organisation (the one `souk dev` bootstraps), if any.
    pub async fn first_organization(&self) -> Result<Option<Organization>, Error> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY id LIMIT 1")
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::organization).transpose()
    }

    /// The organisation `id`, if it exists.
    pub async fn get_organization(&self, id: &Id) -> Result<Option<Organization>, Error> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::organization).transpose()
    }

    // ----- integrations -----

    /// Inserts `integration`; `Conflict` if its name is taken in the organisation.
    pub async fn create_integration(
        &self,
        integration: &Integration,
        idem: Option<&Idem>,
        encode: impl FnOnce() -> Vec<u8>,
    ) -> Result<Outcome<()>, Error> {
        let org = &integration.organization_id;
        let (mut tx, replay) = self.begin(org, idem).await?;
        if let Some(response) = replay {
            return Ok(Outcome::Replayed(response));
        }
        let sql = format!(
            "INSERT INTO integrations ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            rows::INTEGRATION_COLUMNS
        );
        bind_integration(sqlx::query(sqlx::AssertSqlSafe(sql)), integration)?
            .execute(&mut *tx)
            .await
            .map_err(|e| name_conflict(e, &integration.name))?;
        let records = vec![self.events.integration_created(integration)?];
        self.finish(tx, org, idem, encode, records).await?;
        Ok(Outcome::Done(()))
    }

    /// The integration `id` of `organization_id`.
    pub async fn get_integration(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<Integration>, Error> {
        self.fetch_owned(
            "integrations",
            rows::INTEGRATION_COLUMNS,
            organization_id,
            id,
            rows::integration,
        )
        .await
    }

    /// One page of the organisation's integrations, oldest first.
    pub async fn list_integrations(
        &self,
        organization_id: &Id,
        page: &PageRequest,
    ) -> Result<Page<Integration>, Error> {
        self.list_owned(
            "integrations",
            rows::INTEGRATION_COLUMNS,
            organization_id,
            page,
            rows::integration,
            |i| &i.id,
        )
        .await
    }

    async fn lock_integration(
        &self,
        tx: &mut Tx,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Integration, Error> {
        let sql = owned_row_sql("integrations", rows::INTEGRATION_COLUMNS);
        let sql = match self.store.backend() {
            souk_store::Backend::Postgres => format!("{sql} FOR UPDATE"),
            souk_store::Backend::Sqlite => sql,
        };
        fetch_owned_row(&mut **tx, sql, organization_id, id, rows::integration)
            .await?
            .ok_or_else(|| Error::NotFound(format!("integration {id}")))
    }

    async fn write_integration(tx: &mut Tx, integration: &Integration) -> Result<(), Error> {
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
        .execute(&mut **tx)
        .await
        .map_err(|e| name_conflict(e, &integration.name))?;
        Ok(())
    }

    /// Applies `patch` to integration `id`; returns it and whether its role or region changed.
    pub async fn update_integration(
        &self,
        organization_id: &Id,
        id: &Id,
        patch: IntegrationPatch,
        idem: Option<&Idem>,
        encode: impl FnOnce(&Integration) -> Vec<u8>,
    ) -> Result<Outcome<(Integration, bool)>, Error> {
        let (mut tx, replay) = self.begin(organization_id, idem).await?;
        if let Some(response) = replay {
            return Ok(Outcome::Replayed(response));
        }
        let mut integration = self.lock_integration(&mut tx, organization_id, id).await?;
        let paths = patch.paths.clone();
        let access_changed = integration.apply(patch, self.clock.now());
        Self::write_integration(&mut tx, &integration).await?;
        let records = vec![self.events.integration_updated(&integration, &paths)?];
        self.finish(tx, organization_id, idem, || encode(&integration), records)
            .await?;
        Ok(Outcome::Done((integration, access_changed)))
    }

    /// Replays the stored response of an earlier identical call, if there is one.
    pub async fn replay(
        &self,
        organization_id: &Id,
        idem: &Idem,
    ) -> Result<Option<Vec<u8>>, Error> {
        let key = idem.key_of(organization_id);
        Ok(idempotency::lookup(self.store.pool(), &key, &idem.request_hash).await?)
    }

    /// Records `report` on integration `id` (which must still have the role that was verified).
    pub async fn record_verification(
        &self,
        organization_id: &Id,
        id: &Id,
        verified_role: &str,
        report: VerificationReport,
        idem: Option<&Idem>,
        encode: impl FnOnce(&Integration) -> Vec<u8>,
    ) -> Result<Outcome<Integration>, Error> {
        let (mut tx, replay) = self.begin(organization_id, idem).await?;
        if let Some(response) = replay {
            return Ok(Outcome::Replayed(response));
        }
        let mut integration = self.lock_integration(&mut tx, organization_id, id).await?;
        if integration.role_arn != verified_role {
            return Err(Error::Aborted(
                "the integration's role changed while it was being verified; verify again".into(),
            ));
        }
        let previous: IntegrationState = integration.state;
        integration.record_verification(report, self.clock.now());
        Self::write_integration(&mut tx, &integration).await?;
        let records = vec![self.events.integration_verified(&integration, previous)?];
        self.finish(tx, organization_id, idem, || encode(&integration), records)
            .await?;
        Ok(Outcome::Done(integration))
    }

    /// Deletes integration `id`; returns it as it was.
    pub async fn delete_integration(
        &self,
        organization_id: &Id,
        id: &Id,
        idem: Option<&Idem>,
        encode: impl FnOnce() -> Vec<u8>,
    ) -> Result<Outcome<Integration>, Error> {
        let (mut tx, replay) = self.begin(organization_id, idem).await?;
        if let Some(response) = replay {
            return Ok(Outcome::Replayed(response));
        }
        let integration = self.lock_integration(&mut tx, organization_id, id).await?;
        sqlx::query("DELETE FROM integrations WHERE organization_id = $1 AND id = $2")
            .bind(organization_id.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let records = vec![self.events.integration_deleted(&integration)?];
        self.finish(tx, organization_id, idem, encode, records)
            .await?;
        Ok(Outcome::Done(integration))
    }

    // ----- API keys -----

    /// Inserts `key` with `hash`.
    pub async fn create_api_key(
        &self,
        key: &ApiKey,
        hash: &KeyHash,
        idem: Option<&Idem>,
        encode: impl FnOnce() -> Vec<u8>,
    ) -> Result<Outcome<()>, Error> {
        let (mut tx, replay) = self.begin(&key.organization_id, idem).await?;
        if let Some(response) = replay {
            return Ok(Outcome::Replayed(response));
        }
        insert_api_key(&mut tx, key, hash).await?;
        let records = vec![self.events.api_key_created(key)?];
        self.finish(tx, &key.organization_id, idem, encode, records)
            .await?;
        Ok(Outcome::Done(()))
    }

    /// One page of the organisation's keys, oldest first.
    pub async fn list_api_keys(
        &self,
        organization_id: &Id,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, Error> {
        self.list_owned(
            "api_keys",
            rows::API_KEY_COLUMNS,
            organization_id,
            page,
            rows::api_key,
            |k| &k.id,
        )
        .await
    }

    /// The key `id` of `organization_id`.
    pub async fn get_api_key(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ApiKey>, Error> {
        self.fetch_owned(
            "api_keys",
            rows::API_KEY_COLUMNS,
            organization_id,
            id,
            rows::api_key,
        )
        .await
    }

    /// Row `id` of `table` if it belongs to `organization_id` (tenant isolation in the query).
    async fn fetch_owned<T>(
        &self,
        table: &str,
        columns: &str,
        organization_id: &Id,
        id: &Id,
        map: fn(&sqlx::any::AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let sql = owned_row_sql(table, columns);
        fetch_owned_row(self.store.pool(), sql, organization_id, id, map).await
    }

    /// One page of `table`'s rows of `organization_id` in id order, `id` naming each row's id
    /// for the next page token (tenant isolation in the query).
    async fn list_owned<T>(
        &self,
        table: &str,
        columns: &str,
        organization_id: &Id,
        page: &PageRequest,
        map: fn(&sqlx::any::AnyRow) -> Result<T, Error>,
        id: fn(&T) -> &Id,
    ) -> Result<Page<T>, Error> {
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(page.after.clone().unwrap_or_default())
            .bind(page.fetch_limit())
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        let items = found.iter().map(map).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, page, |item| id(item).to_string()))
    }

    /// Revokes key `id` (keeping an earlier revoke time); returns it.
    pub async fn revoke_api_key(
        &self,
        organization_id: &Id,
        id: &Id,
        idem: Option<&Idem>,
        encode: impl FnOnce(&ApiKey) -> Vec<u8>,
    ) -> Result<Outcome<ApiKey>, Error> {
        let (mut tx, replay) = self.begin(organization_id, idem).await?;
        if let Some(response) = replay {
            return Ok(Outcome::Replayed(response));
        }
        let sql = owned_row_sql("api_keys", rows::API_KEY_COLUMNS);
        let Some(mut key) =
            fetch_owned_row(&mut *tx, sql, organization_id, id, rows::api_key).await?
        else {
            return Err(Error::NotFound(format!("api key {id}")));
        };
        let mut records = Vec::new();
        if key.revoked_at.is_none() {
            let now = self.clock.now();
            sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL")
                .bind(organization_id.as_str())
                .bind(id.as_str())
                .bind(to_unix_millis(now))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            key.revoked_at = Some(now);
            records.push(self.events.api_key_revoked(&key)?);
        }
        self.finish(tx, organization_id, idem, || encode(&key), records)
            .await?;
        Ok(Outcome::Done(key))
    }
}

/// The query for row `id` of `table` if it belongs to `organization_id` ($1, $2).
fn owned_row_sql(table: &str, columns: &str) -> String {
    format!("SELECT {columns} FROM {table} WHERE organization_id = $1 AND id = $2")
}

/// Runs [`owned_row_sql`] (or a variant of it) on `executor`.
async fn fetch_owned_row<'e, T>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    sql: String,
    organization_id: &Id,
    id: &Id,
    map: fn(&sqlx::any::AnyRow) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(organization_id.as_str())
        .bind(id.as_str())
        .fetch_optional(executor)
        .await
        .map_err(db)?;
    row.as_ref().map(map).transpose()
}

fn name_conflict(err: sqlx::Error, name: &str) -> Error {
    match Error::from(souk_store::map_sqlx_error(err)) {
        Error::Conflict(_) => {
            Error::Conflict(format!("an integration named \"{name}\" already exists"))
        }
        other => other,
    }
}

fn bind_integration<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    i: &Integration,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, Error> {
    Ok(query
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
        .bind(to_unix_millis(i.updated_at)))
}

async fn insert_organization(tx: &mut Tx, organization: &Organization) -> Result<(), Error> {
    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(organization.id.as_str())
        .bind(&organization.name)
        .bind(to_unix_millis(organization.created_at))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

async fn insert_api_key(tx: &mut Tx, key: &ApiKey, hash: &KeyHash) -> Result<(), Error> {
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
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}
