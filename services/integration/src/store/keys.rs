//! The [`KeyStore`] the authenticator reads API keys through.

use async_trait::async_trait;
use souk_auth::{KeyHash, KeyRevocations, KeyStore, Scope, StoredKey};
use souk_core::Id;
use souk_core::clock::{from_unix_millis, to_unix_millis};
use souk_store::Store;
use sqlx::Row;
use time::OffsetDateTime;

/// API keys in the integration service's `api_keys` table.
#[derive(Debug, Clone)]
pub struct SqlKeyStore {
    store: Store,
    revocations: KeyRevocations,
}

impl SqlKeyStore {
    /// Keys in `store`; revocations made by this process are announced on `revocations`.
    pub fn new(store: Store, revocations: KeyRevocations) -> Self {
        Self { store, revocations }
    }
}

#[async_trait]
impl KeyStore for SqlKeyStore {
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<StoredKey>, souk_core::Error> {
        let row = sqlx::query(
            "SELECT id, organization_id, scopes, expires_at, revoked_at FROM api_keys WHERE secret_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(self.store.pool())
        .await
        .map_err(souk_store::map_sqlx_error)?;
        let Some(row) = row else { return Ok(None) };
        let read = || -> Result<StoredKey, sqlx::Error> {
            let scopes: String = row.try_get("scopes")?;
            Ok(StoredKey {
                key_id: Id::from_trusted(row.try_get("id")?),
                organization_id: Id::from_trusted(row.try_get("organization_id")?),
                scopes: Scope::split(&scopes),
                expires_at: row
                    .try_get::<Option<i64>, _>("expires_at")?
                    .map(from_unix_millis),
                revoked_at: row
                    .try_get::<Option<i64>, _>("revoked_at")?
                    .map(from_unix_millis),
            })
        };
        read().map(Some).map_err(souk_store::map_sqlx_error)
    }

    async fn record_use(&self, key_id: &Id, at: OffsetDateTime) -> Result<(), souk_core::Error> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(key_id.as_str())
            .bind(to_unix_millis(at))
            .execute(self.store.pool())
            .await
            .map_err(souk_store::map_sqlx_error)?;
        Ok(())
    }

    fn revocations(&self) -> Option<KeyRevocations> {
        Some(self.revocations.clone())
    }
}
