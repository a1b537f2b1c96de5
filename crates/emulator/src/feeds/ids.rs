//! Deterministic identifiers, so regenerated feeds are stable (feed data is immutable).

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A 40-character billing event id derived from `key`.
pub fn event_id(key: &str) -> String {
    hex::encode(Sha1::digest(key.as_bytes()))
}

/// The `account_id` join key (GUID-shaped) of an AWS account id.
pub fn account_id(aws_account_id: &str) -> String {
    guid(&format!("account|{aws_account_id}"))
}

/// A GUID-shaped id derived from `key`.
pub fn guid(key: &str) -> String {
    let hex = hex::encode(Sha256::digest(key.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
