//! Integration tests of the metering service: the service on a fresh SQLite file and a fresh
//! PostgreSQL database (every test runs on both), served through the real gRPC stack, shipping
//! through the real AWS SDK to a fresh in-process emulator per test.

mod harness;

mod hours;
mod idempotency;
mod meters;
mod properties;
mod shipping;
mod stream;
mod tenancy;
mod validation;
