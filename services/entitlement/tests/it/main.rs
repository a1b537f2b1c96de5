//! Integration tests of the entitlement service: one binary, a fresh SQLite store and emulator
//! per test.

mod expiry;
mod harness;
mod notifications;
mod plans;
mod rpc_harness;
mod staleness;
mod tenancy;
mod validation;
