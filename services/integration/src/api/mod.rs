//! The gRPC adapter: `souk.integration.v1.IntegrationService` over the domain and the store.

pub mod convert;
mod error;
mod service;

pub use service::IntegrationGrpc;
