//! The authenticated [`Caller`] of a gRPC request. The access vocabulary itself (secrets,
//! hashes, scopes, permissions) lives in `souk_core::access` so that domain code can use it
//! without tonic; it is re-exported here.

pub use souk_core::access::{
    ApiKeySecret, Caller, DISPLAY_PREFIX_LEN, KeyHash, Permission, SECRET_PREFIX,
    SECRET_RANDOM_LEN, Scope, generate_external_id,
};

/// Reads the [`Caller`] that the [`AuthLayer`](crate::AuthLayer) put into a request.
pub trait CallerExt {
    /// The authenticated caller; `UNAUTHENTICATED` when the server was built without the layer.
    fn caller(&self) -> Result<Caller, tonic::Status>;
}

impl<T> CallerExt for tonic::Request<T> {
    fn caller(&self) -> Result<Caller, tonic::Status> {
        caller(self).cloned()
    }
}

/// The authenticated caller of `request`; `UNAUTHENTICATED` when the server was built without
/// the [`AuthLayer`](crate::AuthLayer).
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&Caller, tonic::Status> {
    request
        .extensions()
        .get::<Caller>()
        .ok_or_else(|| tonic::Status::unauthenticated("request was not authenticated"))
}

/// The caller of `request` if it holds `permission`; `PERMISSION_DENIED` naming the scope needed
/// otherwise.
pub fn authorized<T>(
    request: &tonic::Request<T>,
    permission: Permission,
) -> Result<&Caller, tonic::Status> {
    let caller = caller(request)?;
    caller
        .require(permission)
        .map_err(|e| tonic::Status::permission_denied(e.message))?;
    Ok(caller)
}
