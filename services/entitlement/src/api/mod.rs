//! The gRPC adapter: authorise, convert, call one use case (or the snapshot), convert back.

mod convert;
mod service;

pub use service::EntitlementApi;

souk_service::status_from_service_error!(crate::domain::Error);
