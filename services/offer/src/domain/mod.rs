//! The offer rules: what an offer is, what AWS would refuse (checked before AWS sees it), the
//! Catalog change set an offer becomes, and its lifecycle from draft to accepted. No tonic,
//! sqlx, NATS or AWS SDK here.

pub mod change_set;
pub mod dates;
pub mod error;
pub mod event;
pub mod failure;
#[cfg(test)]
pub(crate) mod fakes;
pub mod import;
pub mod model;
pub mod ports;
pub mod resale;
pub mod service;
pub mod tracker;
pub mod validate;

pub use error::Error;
pub use service::{CloneChanges, ImportReport, Offers};
pub use tracker::{TrackOptions, TrackReport, Tracker};
