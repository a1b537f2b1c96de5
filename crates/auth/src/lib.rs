//! Who is calling, and as whom Souk calls AWS.
//!
//! * **Callers**: API keys (`souk_` + 40 base62 characters, stored only as a SHA-256 hash) resolve
//!   to a [`Caller`] (organisation, key, scopes) through a [`KeyStore`] that the integration
//!   service implements on its tables; the [`AuthLayer`] (a tower layer for tonic servers)
//!   authenticates every gRPC request and handlers check [`Permission`]s with
//!   [`Caller::require`].
//! * **AWS**: the [`RoleAssumer`] assumes each seller integration's IAM role with STS AssumeRole
//!   and its ExternalId, caches and refreshes the temporary credentials, and builds the SDK
//!   clients (metering, entitlement, catalog, agreement, SQS) acting as that role; the
//!   [`Pacer`] spaces each integration's calls under AWS's per-account quotas.
//!
//! This crate must not depend on any Souk service, on the store or on gRPC contracts beyond
//! `tonic::Status`: services depend on it, never the other way round.

pub mod authenticator;
pub mod aws;
pub mod keys;
pub mod layer;
pub mod pacer;

pub use authenticator::{
    AuthError, AuthOptions, Authenticator, KeyRevocations, KeyStore, StoredKey,
};
pub use aws::{
    AwsClients, AwsError, ErrorResponse, IntegrationRole, RoleAssumer, RoleAssumerOptions,
    classify_sdk_error, error_response,
};
pub use keys::{
    ApiKeySecret, Caller, CallerExt, KeyHash, Permission, Scope, authorized, caller,
    generate_external_id,
};
pub use layer::{AuthLayer, AuthService, EXEMPT_PATH_PREFIXES};
pub use pacer::Pacer;
