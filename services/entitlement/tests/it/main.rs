//! Integration tests of the entitlement service: one binary, a fresh SQLite store and emulator
//! per test.

mod harness;
mod notifications;
