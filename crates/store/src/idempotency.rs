//! Idempotency keys: a mutating RPC retried with the same key gets the first response back.
//!
//! Inside the RPC's transaction a service calls [`lookup`]; on a hit it returns the stored
//! response unchanged; on a miss it does the work and calls [`store`] with the encoded response
//! before committing, so the change and the remembered response commit together. A key reused
//! with a different request fails with `Conflict` ("idempotency key reused with a different
//! request"). Two concurrent requests with the same new key: the second one's [`store`] fails with
//! `Conflict` and its transaction must roll back; its retry replays the first one's response.
//!
//! ```ignore
//! let key = IdempotencyKey { organization_id: org, scope: "metering.v1.ReportUsage", key: &req.idempotency_key };
//! let hash = idempotency::request_hash(&req.encode_to_vec());
//! let mut tx = store.begin_write().await?;
//! if let Some(response) = idempotency::lookup(&mut tx, &key, &hash).await? {
//!     return Ok(decode(response));
//! }
//! /* ... the work ... */
//! idempotency::store(&mut tx, &key, &hash, &response.encode_to_vec(), clock.now()).await?;
//! tx.commit().await.map_err(souk_store::map_sqlx_error)?;
//! ```

use souk_core::clock::to_unix_millis;
use souk_core::{Error, ErrorCode};
use sqlx::{Any, Executor, Row};
use time::OffsetDateTime;

use crate::Result;
use crate::error::{classify, map_sqlx_error};

/// Where a key lives: keys are unique per organisation and RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyKey<'a> {
    /// The caller's organisation.
    pub organization_id: &'a str,
    /// The RPC (for example `souk.metering.v1.MeteringService/ReportUsage`).
    pub scope: &'a str,
    /// The caller's idempotency key.
    pub key: &'a str,
}

/// The message of the `Conflict` error for a key reused with another request.
pub const REUSED_MESSAGE: &str = "idempotency key reused with a different request";

/// Hex SHA-256 of the encoded request (without its idempotency key or other volatile fields).
pub use souk_core::idempotency::request_hash;

/// The stored response for `key`, if the request was seen before.
///
/// `Conflict` with [`REUSED_MESSAGE`] when the key was used for a request whose hash differs
/// from `request_hash`.
pub async fn lookup<'c, E>(
    executor: E,
    key: &IdempotencyKey<'_>,
    request_hash: &str,
) -> Result<Option<Vec<u8>>>
where
    E: Executor<'c, Database = Any>,
{
    let row = sqlx::query(
        "SELECT request_hash, response FROM idempotency \
         WHERE organization_id = $1 AND scope = $2 AND idempotency_key = $3",
    )
    .bind(key.organization_id)
    .bind(key.scope)
    .bind(key.key)
    .fetch_optional(executor)
    .await
    .map_err(map_sqlx_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored_hash: String = row.try_get("request_hash").map_err(map_sqlx_error)?;
    if stored_hash != request_hash {
        return Err(Error::new(ErrorCode::Conflict, REUSED_MESSAGE));
    }
    let response: Vec<u8> = row.try_get("response").map_err(map_sqlx_error)?;
    Ok(Some(response))
}

/// Remembers `response` for `key` (call inside the RPC's transaction, after the work).
///
/// `Conflict` when the key is already stored (a concurrent request with the same key won):
/// roll back, the retry will replay the winner's response.
pub async fn store<'c, E>(
    executor: E,
    key: &IdempotencyKey<'_>,
    request_hash: &str,
    response: &[u8],
    at: OffsetDateTime,
) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    let result = sqlx::query(
        "INSERT INTO idempotency \
             (organization_id, scope, idempotency_key, request_hash, response, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.organization_id)
    .bind(key.scope)
    .bind(key.key)
    .bind(request_hash)
    .bind(response)
    .bind(to_unix_millis(at))
    .execute(executor)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) if classify(&err) == ErrorCode::Conflict => Err(Error::new(
            ErrorCode::Conflict,
            "a concurrent request with the same idempotency key is in progress",
        )),
        Err(err) => Err(map_sqlx_error(err)),
    }
}

/// Forgets keys stored before `before` (retention); returns how many.
pub async fn purge_before<'c, E>(executor: E, before: OffsetDateTime) -> Result<u64>
where
    E: Executor<'c, Database = Any>,
{
    let done = sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
        .bind(to_unix_millis(before))
        .execute(executor)
        .await
        .map_err(map_sqlx_error)?;
    Ok(done.rows_affected())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_hash_is_hex_sha256() {
        assert_eq!(
            request_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(request_hash(b"a"), request_hash(b"b"));
    }
}
