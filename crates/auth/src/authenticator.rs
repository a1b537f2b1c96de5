//! Resolving a presented API key to a [`Caller`], with a short-lived cache.
//!
//! # Caching and revocation
//!
//! Looking a key up costs a database round trip, so the [`Authenticator`] caches what the
//! [`KeyStore`] returned (known keys and unknown hashes alike) for [`AuthOptions::cache_ttl`]
//! (default 5 seconds). Consequences:
//!
//! * Expiry is checked on every request against the cached `expires_at`, so an expired key is
//!   refused at once.
//! * A revocation made through the same process is immediate: the integration service calls
//!   [`KeyRevocations::revoked`] after its transaction commits, which drops the key from every
//!   [`Authenticator`] subscribed to those revocations.
//! * A revocation made by another process (distributed mode) takes effect within `cache_ttl`.
//!
//! `last_used_at` is written at most once per [`AuthOptions::last_used_interval`] (default one
//! minute) per key and process, not on every call; a failure to write it is logged, never fatal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use souk_core::{Error, Id, SharedClock, SystemClock};
use time::OffsetDateTime;

use crate::keys::{ApiKeySecret, Caller, KeyHash, Scope};

/// A key as the [`KeyStore`] holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's id.
    pub key_id: Id,
    /// The organisation it belongs to.
    pub organization_id: Id,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Where API keys live; implemented by the integration service on its own tables.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The key stored under `hash`, revoked or expired ones included; `None` if there is none.
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<StoredKey>, Error>;

    /// Records that `key_id` was used at `at` (called at most once a minute per key).
    async fn record_use(&self, key_id: &Id, at: OffsetDateTime) -> Result<(), Error>;

    /// The revocation feed of this store, so that revocations through this process take effect
    /// immediately; `None` when the store has none (then only the cache TTL applies).
    fn revocations(&self) -> Option<KeyRevocations> {
        None
    }
}

/// Why a request was not authenticated. The messages tell the caller which case applies without
/// revealing anything about other keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `authorization` header.
    #[error("missing api key: send the header \"authorization: Bearer souk_...\"")]
    Missing,
    /// The header is not `Bearer souk_<40 base62 characters>`.
    #[error(
        "malformed api key: expected \"authorization: Bearer souk_\" followed by 40 letters and digits"
    )]
    Malformed,
    /// No key with this secret exists.
    #[error("unknown api key")]
    Unknown,
    /// The key was revoked.
    #[error("api key revoked")]
    Revoked,
    /// The key expired.
    #[error("api key expired")]
    Expired,
    /// The key store could not be read.
    #[error("api key store unavailable")]
    Unavailable(String),
}

impl AuthError {
    /// A short stable name of the reason, for logs and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::Unknown => "unknown",
            AuthError::Revoked => "revoked",
            AuthError::Expired => "expired",
            AuthError::Unavailable(_) => "unavailable",
        }
    }

    /// The gRPC status for this failure.
    pub fn to_status(&self) -> tonic::Status {
        match self {
            AuthError::Unavailable(_) => {
                tonic::Status::unavailable("api key store unavailable, retry")
            }
            other => tonic::Status::unauthenticated(other.to_string()),
        }
    }
}

/// Tuning of the [`Authenticator`].
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// How long a key lookup is reused (see the module docs); default 5 s.
    pub cache_ttl: Duration,
    /// Minimum interval between two `last_used_at` writes for one key; default 60 s.
    pub last_used_interval: Duration,
    /// Entries kept at most; the cache is cleared when full. Default 10 000.
    pub max_entries: usize,
    /// The clock expiry is checked against.
    pub clock: SharedClock,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(5),
            last_used_interval: Duration::from_secs(60),
            max_entries: 10_000,
            clock: Arc::new(SystemClock),
        }
    }
}

#[derive(Debug, Clone)]
struct CacheEntry {
    key: Option<StoredKey>,
    fetched: Instant,
}

#[derive(Default)]
struct Cache {
    by_hash: HashMap<KeyHash, CacheEntry>,
    last_touch: HashMap<Id, Instant>,
}

impl Cache {
    fn forget_key(&mut self, key_id: &Id) {
        self.by_hash
            .retain(|_, e| e.key.as_ref().is_none_or(|k| &k.key_id != key_id));
    }
}

/// How many requests failed authentication since start, by reason: a rising `unknown` count is
/// someone guessing keys, `revoked` a client still using a withdrawn key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthFailureCounts {
    /// No `authorization` header.
    pub missing: u64,
    /// Not `Bearer souk_…`.
    pub malformed: u64,
    /// No such key.
    pub unknown: u64,
    /// A revoked key.
    pub revoked: u64,
    /// An expired key.
    pub expired: u64,
    /// The key store could not be read.
    pub unavailable: u64,
}

impl AuthFailureCounts {
    /// Every failure.
    pub fn total(&self) -> u64 {
        self.missing
            + self.malformed
            + self.unknown
            + self.revoked
            + self.expired
            + self.unavailable
    }

    /// `(reason, count)` pairs, reasons as [`AuthError::reason`] names them.
    pub fn by_reason(&self) -> [(&'static str, u64); 6] {
        [
            ("missing", self.missing),
            ("malformed", self.malformed),
            ("unknown", self.unknown),
            ("revoked", self.revoked),
            ("expired", self.expired),
            ("unavailable", self.unavailable),
        ]
    }
}

/// Most failed authentications logged per second; the rest are counted and the next line logged
/// says how many were left out, so a flood of junk requests cannot flood the logs.
pub const MAX_FAILURE_LOGS_PER_SECOND: u32 = 20;

#[derive(Default)]
struct FailureCounters {
    by_reason: [AtomicU64; 6],
    log_window: Mutex<LogWindow>,
}

#[derive(Default)]
struct LogWindow {
    started: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl FailureCounters {
    /// `Some(failures left out since the last line)` when this failure may be logged.
    fn may_log(&self) -> Option<u64> {
        let mut window = self
            .log_window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if window
            .started
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            window.started = Some(now);
            window.logged = 0;
        }
        if window.logged < MAX_FAILURE_LOGS_PER_SECOND {
            window.logged += 1;
            Some(std::mem::take(&mut window.suppressed))
        } else {
            window.suppressed += 1;
            None
        }
    }
}

impl FailureCounters {
    fn index(error: &AuthError) -> usize {
        match error {
            AuthError::Missing => 0,
            AuthError::Malformed => 1,
            AuthError::Unknown => 2,
            AuthError::Revoked => 3,
            AuthError::Expired => 4,
            AuthError::Unavailable(_) => 5,
        }
    }

    fn snapshot(&self) -> AuthFailureCounts {
        let get = |i: usize| self.by_reason[i].load(Ordering::Relaxed);
        AuthFailureCounts {
            missing: get(0),
            malformed: get(1),
            unknown: get(2),
            revoked: get(3),
            expired: get(4),
            unavailable: get(5),
        }
    }
}

struct Inner {
    store: Arc<dyn KeyStore>,
    options: AuthOptions,
    cache: Mutex<Cache>,
    failures: FailureCounters,
}

impl Inner {
    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Resolves `authorization` headers to [`Caller`]s through a [`KeyStore`] and a short cache.
/// Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over `store` with default options.
    pub fn new(store: Arc<dyn KeyStore>) -> Self {
        Self::with_options(store, AuthOptions::default())
    }

    /// An authenticator over `store` with `options`. Subscribes to the store's revocations.
    pub fn with_options(store: Arc<dyn KeyStore>, options: AuthOptions) -> Self {
        let revocations = store.revocations();
        let inner = Arc::new(Inner {
            store,
            options,
            cache: Mutex::new(Cache::default()),
            failures: FailureCounters::default(),
        });
        if let Some(revocations) = revocations {
            revocations.subscribe(&inner);
        }
        Self { inner }
    }

    /// The tower layer that authenticates every gRPC request with this authenticator.
    pub fn layer(&self) -> crate::AuthLayer {
        crate::AuthLayer::new(self.clone())
    }

    /// Counts a failed authentication and logs it with `path`, never the presented key (the
    /// reasons carry none of it); at most [`MAX_FAILURE_LOGS_PER_SECOND`] lines a second, each
    /// with the number of failures left out since the previous one (`suppressed`). Called by
    /// the [`AuthLayer`](crate::AuthLayer).
    pub fn record_failure(&self, error: &AuthError, path: &str) {
        self.inner.failures.by_reason[FailureCounters::index(error)]
            .fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.inner.failures.may_log() {
            tracing::warn!(
                path,
                reason = error.reason(),
                suppressed,
                "request not authenticated"
            );
        }
    }

    /// Failed authentications since start, by reason (see [`Authenticator::record_failure`]).
    pub fn failure_counts(&self) -> AuthFailureCounts {
        self.inner.failures.snapshot()
    }

    /// Drops `key_id` from the cache so the next request reads it again.
    pub fn invalidate(&self, key_id: &Id) {
        self.inner.cache().forget_key(key_id);
    }

    /// Authenticates the value of an `authorization` header.
    pub async fn authenticate_header(
        &self,
        authorization: Option<&str>,
    ) -> Result<Caller, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?.trim();
        let mut parts = value.splitn(2, ' ');
        let (Some(scheme), Some(token)) = (parts.next(), parts.next()) else {
            return Err(AuthError::Malformed);
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        let secret = ApiKeySecret::parse(token.trim()).ok_or(AuthError::Malformed)?;
        self.authenticate(&secret).await
    }

    /// Authenticates a parsed secret.
    pub async fn authenticate(&self, secret: &ApiKeySecret) -> Result<Caller, AuthError> {
        let hash = secret.hash();
        let key = match self.cached(&hash) {
            Some(key) => key,
            None => {
                let key = self.inner.store.find_by_hash(&hash).await.map_err(|e| {
                    tracing::warn!(error = %e, "api key lookup failed");
                    AuthError::Unavailable(e.message)
                })?;
                self.remember(hash, key.clone());
                key
            }
        };
        let key = key.ok_or(AuthError::Unknown)?;
        let now = self.inner.options.clock.now();
        if key.revoked_at.is_some_and(|at| at <= now) {
            return Err(AuthError::Revoked);
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::Expired);
        }
        self.touch(&key.key_id, now).await;
        Ok(Caller {
            organization_id: key.organization_id,
            key_id: key.key_id,
            scopes: key.scopes,
        })
    }

    fn cached(&self, hash: &KeyHash) -> Option<Option<StoredKey>> {
        let cache = self.inner.cache();
        let entry = cache.by_hash.get(hash)?;
        (entry.fetched.elapsed() < self.inner.options.cache_ttl).then(|| entry.key.clone())
    }

    fn remember(&self, hash: KeyHash, key: Option<StoredKey>) {
        let ttl = self.inner.options.cache_ttl;
        let mut cache = self.inner.cache();
        if cache.by_hash.len() >= self.inner.options.max_entries {
            cache.by_hash.retain(|_, e| e.fetched.elapsed() < ttl);
            if cache.by_hash.len() >= self.inner.options.max_entries {
                cache.by_hash.clear();
            }
        }
        cache.by_hash.insert(
            hash,
            CacheEntry {
                key,
                fetched: Instant::now(),
            },
        );
    }

    async fn touch(&self, key_id: &Id, now: OffsetDateTime) {
        let interval = self.inner.options.last_used_interval;
        {
            let mut cache = self.inner.cache();
            if cache
                .last_touch
                .get(key_id)
                .is_some_and(|at| at.elapsed() < interval)
            {
                return;
            }
            if cache.last_touch.len() >= self.inner.options.max_entries {
                cache.last_touch.retain(|_, at| at.elapsed() < interval);
            }
            cache.last_touch.insert(key_id.clone(), Instant::now());
        }
        if let Err(e) = self.inner.store.record_use(key_id, now).await {
            tracing::warn!(key_id = %key_id, error = %e, "could not record api key use");
        }
    }
}

/// A feed of revoked key ids shared by a [`KeyStore`] implementation and the
/// [`Authenticator`]s built on it, so a revocation is effective in this process immediately.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct KeyRevocations {
    subscribers: Arc<Mutex<Vec<Weak<Inner>>>>,
}

impl std::fmt::Debug for KeyRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRevocations").finish_non_exhaustive()
    }
}

impl KeyRevocations {
    /// A feed with no subscribers yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn subscribe(&self, inner: &Arc<Inner>) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.retain(|s| s.strong_count() > 0);
        subscribers.push(Arc::downgrade(inner));
    }

    /// Tells every subscribed authenticator that `key_id` changed (revoked); call after commit.
    pub fn revoked(&self, key_id: &Id) {
        let subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        for inner in subscribers.iter().filter_map(Weak::upgrade) {
            inner.cache().forget_key(key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct MemStore {
        keys: Mutex<HashMap<KeyHash, StoredKey>>,
        lookups: AtomicUsize,
        uses: AtomicUsize,
        revocations: KeyRevocations,
    }

    #[async_trait]
    impl KeyStore for MemStore {
        async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<StoredKey>, Error> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            Ok(self.keys.lock().unwrap().get(hash).cloned())
        }
        async fn record_use(&self, _: &Id, _: OffsetDateTime) -> Result<(), Error> {
            self.uses.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn revocations(&self) -> Option<KeyRevocations> {
            Some(self.revocations.clone())
        }
    }

    fn key(expires_at: Option<OffsetDateTime>) -> StoredKey {
        StoredKey {
            key_id: Id::generate("key"),
            organization_id: Id::generate("org"),
            scopes: vec![Scope::Full],
            expires_at,
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn caches_lookups_debounces_use_and_revokes_immediately() {
        let store = Arc::new(MemStore::default());
        let secret = ApiKeySecret::generate();
        let stored = key(None);
        store
            .keys
            .lock()
            .unwrap()
            .insert(secret.hash(), stored.clone());
        let auth = Authenticator::new(store.clone());

        let header = format!("Bearer {}", secret.expose());
        let caller = auth.authenticate_header(Some(&header)).await.unwrap();
        assert_eq!(caller.key_id, stored.key_id);
        auth.authenticate_header(Some(&header)).await.unwrap();
        assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
        assert_eq!(store.uses.load(Ordering::SeqCst), 1);

        store
            .keys
            .lock()
            .unwrap()
            .get_mut(&secret.hash())
            .unwrap()
            .revoked_at = Some(OffsetDateTime::now_utc());
        store.revocations.revoked(&stored.key_id);
        assert_eq!(
            auth.authenticate_header(Some(&header)).await,
            Err(AuthError::Revoked)
        );
    }

    #[tokio::test]
    async fn refuses_missing_malformed_unknown_and_expired_keys() {
        let store = Arc::new(MemStore::default());
        let auth = Authenticator::new(store.clone());
        assert_eq!(
            auth.authenticate_header(None).await,
            Err(AuthError::Missing)
        );
        assert_eq!(
            auth.authenticate_header(Some("Basic abc")).await,
            Err(AuthError::Malformed)
        );
        assert_eq!(
            auth.authenticate_header(Some("Bearer souk_x")).await,
            Err(AuthError::Malformed)
        );
        let unknown = format!("Bearer {}", ApiKeySecret::generate().expose());
        assert_eq!(
            auth.authenticate_header(Some(&unknown)).await,
            Err(AuthError::Unknown)
        );

        let secret = ApiKeySecret::generate();
        let past = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        store
            .keys
            .lock()
            .unwrap()
            .insert(secret.hash(), key(Some(past)));
        let header = format!("bearer {}", secret.expose());
        assert_eq!(
            auth.authenticate_header(Some(&header)).await,
            Err(AuthError::Expired)
        );
    }
}
