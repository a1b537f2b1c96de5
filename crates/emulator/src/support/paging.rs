//! Opaque pagination tokens (`NextToken`) for list operations of every service.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
