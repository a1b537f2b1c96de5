//! The tonic adapter of the offer service: authorise, convert, call one use case, convert back.

pub mod convert;
mod error;
mod service;

pub use service::OfferApi;
