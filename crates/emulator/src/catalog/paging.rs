//! Opaque pagination tokens (`NextToken`) for list operations.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::error::{CatalogError, CatalogResult};

/// The token for a page starting at `offset`.
pub fn token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("souk:{offset}"))
}

/// Decodes a token produced by [`token`].
pub fn decode(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("souk:")?.parse().ok()
}

/// The page's start offset from the request's `NextToken`.
pub fn start(map: &Map<String, Value>, field: &str) -> CatalogResult<usize> {
    match super::doc::opt_str(map, "NextToken", field)? {
        None => Ok(0),
        Some(t) => decode(t).ok_or_else(|| CatalogError::validation("The NextToken is invalid.")),
    }
}
