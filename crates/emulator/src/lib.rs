//! A faithful local AWS Marketplace: Metering, Entitlement (JSON and CBOR), Catalog, Agreement,
//! STS, the SQS subset a consumer needs, SNS-signed and EventBridge-shaped notifications, and
//! Seller Data Feed files generated from the emulator's own ledger, all on one HTTP listener that
//! the official SDK clients (and boto3) reach by endpoint URL alone. A control API under
//! `/_souk/` drives buyers, the clock and injected faults.
//!
//! This crate depends on no other Souk crate: sellers can run it against their own code.

pub mod advance;
pub mod agreement;
pub mod at;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod control;
pub mod emulator;
pub mod entitlement;
pub mod faults;
pub mod feeds;
pub mod fuzz;
pub mod market;
pub mod metering;
pub mod notify;
pub mod persist;
pub mod s3;
pub mod server;
pub mod sqs;
pub mod state;
pub mod sts;
pub mod support;
pub mod tracked;
pub mod wire;

pub use at::At;
pub use config::EmulatorConfig;
pub use emulator::Emulator;
pub use server::{RunningEmulator, spawn};
pub use state::World;
