//! Who may do what: API key secrets, their hashes, scopes, permissions and the authenticated
//! [`Caller`]. Pure vocabulary: the tower layer that authenticates requests lives in `souk-auth`,
//! which re-exports these types.

use std::fmt;

use crate::{Error, ErrorCode, Id};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// Every API key secret starts with this.
pub const SECRET_PREFIX: &str = "souk_";
/// Number of random base62 characters after [`SECRET_PREFIX`].
pub const SECRET_RANDOM_LEN: usize = 40;
/// Characters of the secret kept in clear as a display prefix (`souk_` plus 6 random characters).
pub const DISPLAY_PREFIX_LEN: usize = 11;

/// A freshly generated API key secret. It is shown to the user once and never stored: only its
/// [`KeyHash`] and [`ApiKeySecret::display_prefix`] are.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// A new secret: `souk_` followed by 40 base62 characters from the thread-local CSPRNG
    /// (ChaCha seeded from the operating system), about 238 bits of entropy.
    pub fn generate() -> Self {
        let random: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(SECRET_RANDOM_LEN)
            .map(char::from)
            .collect();
        Self(format!("{SECRET_PREFIX}{random}"))
    }

    /// Parses a presented secret; `None` unless it has exactly the shape [`generate`](Self::generate) makes.
    pub fn parse(raw: &str) -> Option<Self> {
        let random = raw.strip_prefix(SECRET_PREFIX)?;
        (random.len() == SECRET_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(raw.to_owned()))
    }

    /// The secret itself, to hand to the user exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 hash under which the key is stored and looked up.
    pub fn hash(&self) -> KeyHash {
        KeyHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// The first characters of the secret (`souk_AbC12x`), safe to show in key listings.
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(DISPLAY_PREFIX_LEN).collect()
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.display_prefix())
    }
}

/// A fresh ExternalId for a seller integration's role trust policy: `souk-` and 43 base62
/// characters (about 256 bits), well inside STS's 2..=1224 characters of `[\w+=,.@:/-]`.
pub fn generate_external_id() -> String {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("souk-{random}")
}

/// The lowercase hex SHA-256 of an API key secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    /// Wraps a hash read back from storage.
    pub fn from_trusted(hex: String) -> Self {
        Self(hex)
    }

    /// The hash as 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an API key may do. A key carries one or more scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Everything in the organisation, including API keys and creating organisations.
    Admin,
    /// Read and change everything in the organisation except API keys.
    Full,
    /// Read only.
    ReadOnly,
    /// Report usage (and read what metering needs); nothing else.
    Metering,
}

impl Scope {
    /// Every scope, for listings and tests.
    pub const ALL: [Scope; 4] = [Scope::Admin, Scope::Full, Scope::ReadOnly, Scope::Metering];

    /// The stable storage name (`admin`, `full`, `read_only`, `metering`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Full => "full",
            Scope::ReadOnly => "read_only",
            Scope::Metering => "metering",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether this scope grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Full => matches!(
                permission,
                Permission::Read | Permission::Write | Permission::Metering
            ),
            Scope::ReadOnly => matches!(permission, Permission::Read),
            Scope::Metering => matches!(permission, Permission::Metering),
        }
    }

    /// Scopes as stored: comma-separated storage names, sorted.
    pub fn join(scopes: &[Scope]) -> String {
        let mut sorted = scopes.to_vec();
        sorted.sort();
        sorted.dedup();
        sorted
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The inverse of [`join`](Self::join); unknown names are skipped.
    pub fn split(raw: &str) -> Vec<Scope> {
        raw.split(',')
            .filter_map(|s| Scope::parse(s.trim()))
            .collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an RPC needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the organisation's data (granted by Admin, Full, ReadOnly).
    Read,
    /// Change the organisation's data (granted by Admin, Full).
    Write,
    /// Report usage and read metering state (granted by Admin, Full, Metering).
    Metering,
    /// Manage API keys and organisations (granted by Admin only).
    Admin,
}

impl Permission {
    fn describe(self) -> &'static str {
        match self {
            Permission::Read => "read access (scope admin, full or read_only)",
            Permission::Write => "write access (scope admin or full)",
            Permission::Metering => "metering access (scope admin, full or metering)",
            Permission::Admin => "admin access (scope admin)",
        }
    }
}

/// The authenticated caller of an RPC (the authentication layer puts it into the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The organisation the key belongs to; every query is scoped to it.
    pub organization_id: Id,
    /// The API key that authenticated the request.
    pub key_id: Id,
    /// What the key may do.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Whether any of the caller's scopes grants `permission`.
    pub fn has(&self, permission: Permission) -> bool {
        self.scopes.iter().any(|s| s.grants(permission))
    }

    /// `Ok(())` if the caller holds `permission`, otherwise a `PermissionDenied` error naming the
    /// scope needed.
    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::PermissionDenied,
                format!("this api key lacks {}", permission.describe()),
            ))
        }
    }

    /// `Ok(())` if the caller holds any of `permissions` (for example a read that both
    /// `Read` and `Metering` keys may make), otherwise `PermissionDenied` naming the first.
    pub fn require_any(&self, permissions: &[Permission]) -> Result<(), Error> {
        match permissions.iter().find(|p| self.has(**p)) {
            Some(_) => Ok(()),
            None => match permissions.first() {
                Some(first) => self.require(*first),
                None => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_documented_shape_and_hash_stably() {
        let secret = ApiKeySecret::generate();
        assert!(secret.expose().starts_with("souk_"));
        assert_eq!(secret.expose().len(), 45);
        assert_eq!(ApiKeySecret::parse(secret.expose()), Some(secret.clone()));
        assert_eq!(
            secret.hash(),
            ApiKeySecret::parse(secret.expose()).unwrap().hash()
        );
        assert_eq!(secret.hash().as_str().len(), 64);
        assert_eq!(secret.display_prefix().len(), DISPLAY_PREFIX_LEN);
        assert_ne!(secret, ApiKeySecret::generate());
        assert!(!format!("{secret:?}").contains(&secret.expose()[12..]));
    }

    #[test]
    fn external_ids_are_long_random_and_sts_safe() {
        let a = generate_external_id();
        assert!(a.len() >= 32 && a.len() <= 1224);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
        );
        assert_ne!(a, generate_external_id());
    }

    #[test]
    fn parse_rejects_malformed_secrets() {
        assert!(ApiKeySecret::parse("").is_none());
        assert!(ApiKeySecret::parse("souk_short").is_none());
        assert!(ApiKeySecret::parse(&format!("souk_{}", "a".repeat(41))).is_none());
        assert!(ApiKeySecret::parse(&format!("souk_{}-", "a".repeat(39))).is_none());
        assert!(ApiKeySecret::parse(&format!("sk_{}", "a".repeat(40))).is_none());
    }

    #[test]
    fn scopes_grant_the_documented_permissions() {
        use Permission::*;
        assert!(
            [Read, Write, Metering, Admin]
                .iter()
                .all(|p| Scope::Admin.grants(*p))
        );
        assert!(Scope::Full.grants(Write) && !Scope::Full.grants(Admin));
        assert!(Scope::ReadOnly.grants(Read) && !Scope::ReadOnly.grants(Write));
        assert!(Scope::Metering.grants(Metering) && !Scope::Metering.grants(Read));
        assert_eq!(
            Scope::split(&Scope::join(&[Scope::ReadOnly, Scope::Metering])),
            vec![Scope::ReadOnly, Scope::Metering]
        );
    }

    #[test]
    fn require_names_the_missing_scope() {
        let caller = Caller {
            organization_id: Id::generate("org"),
            key_id: Id::generate("key"),
            scopes: vec![Scope::ReadOnly],
        };
        assert!(caller.require(Permission::Read).is_ok());
        assert!(
            caller
                .require_any(&[Permission::Metering, Permission::Read])
                .is_ok()
        );
        assert!(
            caller
                .require_any(&[Permission::Metering, Permission::Write])
                .is_err()
        );
        let err = caller.require(Permission::Write).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied);
        assert!(err.message.contains("write access"));
    }
}
