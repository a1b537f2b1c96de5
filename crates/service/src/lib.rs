//! The service kit: what every Souk gRPC service shares, written once.
//!
//! * [`preamble`]: the caller and its permission, the idempotency of a request, replies that
//!   replay a stored response.
//! * [`status`]: `tonic::Status` with `google.rpc.BadRequest` field violations; each service
//!   keeps its own short exhaustive match from its domain error onto these builders.
//! * [`convert`]: ids, pages and timestamps between proto and domain.
//! * [`server`]: the one gRPC server stack (tracing, metrics, authentication, health,
//!   reflection v1 and v1alpha) used by `souk dev`, `souk serve` and the test kit alike, and
//!   [`metrics`] behind it.
//! * [`tls`]: rustls for both listeners, optionally requiring client certificates.
//! * [`html`]: escaping and the protective headers of server-rendered pages.
//! * [`parts`]: what a service hands the binary to be served ([`ServiceParts`]).
//! * [`config`]: per-service configuration sections (`[metering]` in TOML,
//!   `SOUK_METERING__<KEY>` in the environment).
//!
//! It depends on the shared crates (core, proto, auth, store) and never on a service.

pub mod config;
pub mod convert;
pub mod decode_errors;
pub mod html;
pub mod metrics;
pub mod parts;
pub mod preamble;
pub mod server;
pub mod status;
pub mod tls;

pub use parts::ServiceParts;
pub use preamble::{authenticated, authorize, idempotency, reply};
