//! The first and last lines of every RPC: who is calling with which permission, whether the
//! request is a retry, and the reply (fresh, or the stored response of the first call).

use prost::Message;
use souk_core::access::{Caller, Permission};
use souk_core::{Idempotency, Outcome};
use tonic::{Request, Response, Status};

/// The caller of `request` if it holds `permission` (`PERMISSION_DENIED` naming the scope
/// needed otherwise), and the request message.
pub fn authorize<T>(request: Request<T>, permission: Permission) -> Result<(Caller, T), Status> {
    let caller = souk_auth::authorized(&request, permission)?.clone();
    Ok((caller, request.into_inner()))
}

/// The caller of `request`, whatever its scopes, and the request message.
pub fn authenticated<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    let caller = souk_auth::caller(&request)?.clone();
    Ok((caller, request.into_inner()))
}

/// The idempotency of `request` to `rpc` (`/package.Service/Method` without the slash):
/// `None` without a key; the hash covers the request without it. `key` names the request's
/// idempotency key field.
pub fn idempotency<M: Message + Clone>(
    rpc: &'static str,
    request: &M,
    key: impl FnOnce(&mut M) -> &mut String,
) -> Option<Idempotency> {
    let mut hashed = request.clone();
    let key = std::mem::take(key(&mut hashed));
    if key.is_empty() {
        return None;
    }
    Some(Idempotency::new(rpc, key, &hashed.encode_to_vec()))
}

/// The reply to a mutation: `build` of the value of a call done now, or the stored response of
/// an earlier identical call, decoded.
pub fn reply<T, M: Message + Default>(
    outcome: Outcome<T>,
    build: impl FnOnce(T) -> M,
) -> Result<Response<M>, Status> {
    match outcome {
        Outcome::Done(value) => Ok(Response::new(build(value))),
        Outcome::Replayed(bytes) => M::decode(bytes.as_slice()).map(Response::new).map_err(|e| {
            tracing::error!(error = %e, "stored idempotent response is unreadable");
            Status::internal("internal error")
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use souk_proto::integration::CreateIntegrationRequest;

    #[test]
    fn the_key_is_not_part_of_the_hash_and_no_key_means_none() {
        let request = |key: &str, name: &str| CreateIntegrationRequest {
            name: name.into(),
            idempotency_key: key.into(),
            ..Default::default()
        };
        let rpc = "souk.integration.v1.IntegrationService/CreateIntegration";
        let a = idempotency(rpc, &request("k1", "a"), |r| &mut r.idempotency_key).unwrap();
        let b = idempotency(rpc, &request("k2", "a"), |r| &mut r.idempotency_key).unwrap();
        let c = idempotency(rpc, &request("k1", "b"), |r| &mut r.idempotency_key).unwrap();
        assert_eq!(a.key, "k1");
        assert_eq!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, c.request_hash);
        assert!(idempotency(rpc, &request("", "a"), |r| &mut r.idempotency_key).is_none());
    }

    #[test]
    fn replies_replay_the_stored_bytes() {
        let stored = CreateIntegrationRequest {
            name: "first".into(),
            ..Default::default()
        };
        let replayed: Response<CreateIntegrationRequest> =
            reply(Outcome::<()>::Replayed(stored.encode_to_vec()), |()| {
                unreachable!("a replay builds nothing")
            })
            .unwrap();
        assert_eq!(replayed.into_inner(), stored);
        let status = reply::<(), CreateIntegrationRequest>(Outcome::Replayed(vec![0xff]), |()| {
            CreateIntegrationRequest::default()
        })
        .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
    }
}
