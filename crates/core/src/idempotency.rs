//! The identity of an idempotent request and the outcome of running it.
//!
//! A mutating RPC with an idempotency key is run once: a retry with the same key and the same
//! request gets the first response back (replayed byte for byte), a retry with another request
//! is refused. The store keeps the key with the response in the transaction of the change.

use sha2::{Digest, Sha256};

/// One idempotent request: the RPC, the caller's key, and a hash of the request without its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The RPC, `souk.integration.v1.IntegrationService/CreateIntegration`.
    pub scope: &'static str,
    /// The caller's key.
    pub key: String,
    /// Hex SHA-256 of the encoded request without its key.
    pub request_hash: String,
}

impl Idempotency {
    /// The identity of a request to `scope` with `key`, `request` being the encoded request
    /// without the key.
    pub fn new(scope: &'static str, key: String, request: &[u8]) -> Self {
        Self {
            scope,
            key,
            request_hash: request_hash(request),
        }
    }
}

/// Hex SHA-256 of an encoded request.
pub fn request_hash(request: &[u8]) -> String {
    hex::encode(Sha256::digest(request))
}

/// The result of a mutation: done now, or the stored response of an earlier identical call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Done by this call.
    Done(T),
    /// Replayed: the encoded response of the first call.
    Replayed(Vec<u8>),
}

impl<T> Outcome<T> {
    /// Maps the value of a call done now.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Done(value) => Outcome::Done(f(value)),
            Self::Replayed(bytes) => Outcome::Replayed(bytes),
        }
    }
}
