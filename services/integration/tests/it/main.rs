//! Integration tests of the integration service: the gRPC server on 127.0.0.1:0 behind the auth
//! layer, a real store (PostgreSQL and SQLite) and AWS through the in-process emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

mod auth;
mod concurrent_retries;
mod harness;
mod idempotency;
mod lifecycle;
mod paging;
mod partitions;
mod template;
mod tenancy;
mod validation;
mod verify;
