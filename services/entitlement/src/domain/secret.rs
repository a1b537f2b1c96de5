//! Secrets Souk generates (hand-off and EventBridge secrets) and the one-way hash under which a
//! registration token is remembered (never the token itself).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A generated secret: `prefix` + 32 random bytes, base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new random secret starting with `prefix`.
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }
}

/// SHA-256 of a registration token, hex: enough to recognise it again, useless to replay.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_not_printed() {
        let a = Secret::generate("souk_hs_");
        let b = Secret::generate("souk_hs_");
        assert!(a.0.starts_with("souk_hs_"));
        assert_eq!(a.0.len(), "souk_hs_".len() + 43);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "Secret(..)");
    }
}
