//! The gRPC adapter: `souk.integration.v1.IntegrationService` over the domain's use cases.

pub mod convert;
mod error;
mod service;

pub use service::IntegrationApi;
