//! API keys in memory, for tests of a service that must not boot the integration service.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use souk_auth::{ApiKeySecret, KeyHash, KeyStore, Scope, StoredKey};
use souk_core::Id;
use time::OffsetDateTime;

/// A key store holding keys added by the test; one organisation by default.
#[derive(Debug, Clone)]
pub struct MemoryKeyStore {
    organization_id: Id,
    keys: Arc<Mutex<HashMap<KeyHash, StoredKey>>>,
}

impl Default for MemoryKeyStore {
    fn default() -> Self {
        Self {
            organization_id: Id::generate("org"),
            keys: Arc::default(),
        }
    }
}

impl MemoryKeyStore {
    /// The organisation of [`add_key`](Self::add_key).
    pub fn organization_id(&self) -> &Id {
        &self.organization_id
    }

    /// A new key of the default organisation with `scopes`; returns its secret.
    pub fn add_key(&self, scopes: &[Scope]) -> String {
        self.add_key_for(&self.organization_id.clone(), scopes)
    }

    /// A new key of `organization_id` with `scopes` (for tenant isolation tests).
    pub fn add_key_for(&self, organization_id: &Id, scopes: &[Scope]) -> String {
        let secret = ApiKeySecret::generate();
        let stored = StoredKey {
            key_id: Id::generate("key"),
            organization_id: organization_id.clone(),
            scopes: scopes.to_vec(),
            expires_at: None,
            revoked_at: None,
        };
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(secret.hash(), stored);
        secret.expose().to_owned()
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<StoredKey>, souk_core::Error> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(hash)
            .cloned())
    }

    async fn record_use(&self, _key_id: &Id, _at: OffsetDateTime) -> Result<(), souk_core::Error> {
        Ok(())
    }
}
