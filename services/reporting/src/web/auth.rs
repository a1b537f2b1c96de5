//! Who may see the revenue page: a caller with an API key of read scope
//! (`Authorization: Bearer souk_…`), or a browser with a signed link that such a caller had made
//! (`POST /reports/links`, what `souk report page` prints).
//!
//! A link names the organisation, the integration, the key that asked for it and when it stops
//! working, and carries an HMAC-SHA256 of those under the page link secret (the reporting
//! section's `page_link_secret`, or a random key of the process):
//!
//! ```text
//! /reports?integration_id=int_…&org=org_…&key_id=key_…&expires=<unix seconds>&signature=<base64url>
//! signature = HMAC-SHA256(secret, "souk-report-link-v1\n{org}\n{integration_id}\n{key_id}\n{expires}\n")
//! ```
//!
//! `start` and `end` are not signed: the viewer may change the range, not the integration. Links
//! are refused once expired (they cannot be revoked before, so they are short: one hour by
//! default, a day at most); a signature that does not match (altered, or made under another
//! secret) is refused as invalid. Secrets and signatures are never logged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use souk_core::Id;
use time::OffsetDateTime;

/// First line of the signed text: the version of the signing rule.
pub const VERSION: &str = "souk-report-link-v1";

/// How long a link works unless asked otherwise.
pub const DEFAULT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// The longest a link may work.
pub const MAX_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What a link grants: reading one integration's revenue page until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The organisation of the key that asked for it.
    pub organization_id: Id,
    /// The integration whose page it opens.
    pub integration_id: Id,
    /// The API key that asked for it (for the logs).
    pub key_id: Id,
    /// Unix seconds after which it is refused.
    pub expires: i64,
}

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// A parameter of the link is missing or malformed.
    #[error("the link is incomplete or malformed ({0}); copy the whole link")]
    Malformed(&'static str),
    /// The signature does not match: altered, or signed by another server.
    #[error(
        "the link is not valid: it was altered, or made by another Souk server (or before this one restarted)"
    )]
    BadSignature,
    /// Past its expiry.
    #[error("the link expired at {0}")]
    Expired(String),
}

impl LinkError {
    /// A short stable name, for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::BadSignature => "bad_signature",
            Self::Expired(_) => "expired",
        }
    }
}

/// Signs and verifies links under one secret. Never printed.
#[derive(Clone)]
pub struct LinkSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner").finish_non_exhaustive()
    }
}

/// The raw parameters of a link, as the query carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkParams<'a> {
    /// `integration_id`.
    pub integration_id: Option<&'a str>,
    /// `org`.
    pub org: Option<&'a str>,
    /// `key_id`.
    pub key_id: Option<&'a str>,
    /// `expires`.
    pub expires: Option<&'a str>,
    /// `signature`.
    pub signature: Option<&'a str>,
}

impl LinkSigner {
    /// A signer under `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
        }
    }

    /// A signer under 32 random bytes: links die with the process.
    pub fn random() -> Self {
        Self::new(&rand::random::<[u8; 32]>())
    }

    fn mac(&self, link: &Link) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(canonical(link).as_bytes());
        mac
    }

    /// The base64url signature of `link`.
    pub fn signature(&self, link: &Link) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(link).finalize().into_bytes())
    }

    /// The query string of `link` (without `?`), `start` and `end` appended when given.
    pub fn query(&self, link: &Link, start: Option<&str>, end: Option<&str>) -> String {
        let mut query = format!(
            "integration_id={}&org={}&key_id={}&expires={}&signature={}",
            link.integration_id,
            link.organization_id,
            link.key_id,
            link.expires,
            self.signature(link)
        );
        for (name, value) in [("start", start), ("end", end)] {
            if let Some(value) = value {
                query.push_str(&format!("&{name}={}", query_escape(value)));
            }
        }
        query
    }

    /// The link the parameters make, if its signature is right (compared in constant time) and
    /// `now` is before its expiry.
    pub fn verify(&self, params: &LinkParams<'_>, now: OffsetDateTime) -> Result<Link, LinkError> {
        let id = |raw: Option<&str>, prefix: &str, name: &'static str| {
            let raw = raw.ok_or(LinkError::Malformed(name))?;
            Id::parse(prefix, raw).map_err(|_| LinkError::Malformed(name))
        };
        let link = Link {
            organization_id: id(params.org, "org", "org")?,
            integration_id: id(params.integration_id, "int", "integration_id")?,
            key_id: id(params.key_id, "key", "key_id")?,
            expires: params
                .expires
                .and_then(|raw| raw.parse::<i64>().ok())
                .ok_or(LinkError::Malformed("expires"))?,
        };
        let signature = params
            .signature
            .and_then(|raw| URL_SAFE_NO_PAD.decode(raw).ok())
            .ok_or(LinkError::Malformed("signature"))?;
        self.mac(&link)
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        if now.unix_timestamp() >= link.expires {
            let at = OffsetDateTime::from_unix_timestamp(link.expires)
                .ok()
                .and_then(|at| {
                    at.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| link.expires.to_string());
            return Err(LinkError::Expired(at));
        }
        Ok(link)
    }
}

/// The signed text of `link`.
pub fn canonical(link: &Link) -> String {
    format!(
        "{VERSION}\n{}\n{}\n{}\n{}\n",
        link.organization_id, link.integration_id, link.key_id, link.expires
    )
}

/// `value` percent-encoded for a query (everything but unreserved characters).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
