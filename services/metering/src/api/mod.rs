//! The gRPC adapter: authorise, convert, call one use case, convert back.

mod convert;
mod service;

pub use service::MeteringApi;

souk_service::status_from_service_error!(crate::domain::Error);
