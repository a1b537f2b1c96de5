//! Development-only helpers for Souk's tests: a fresh PostgreSQL database or SQLite directory per
//! test ([`db`]), one store test suite run on both backends ([`both_backends!`]), a NATS client
//! and per-test subject prefixes ([`nats`]), services and the emulator spawned on port 0
//! ([`spawn`]) with in-memory API keys ([`keys`]).
//!
//! Never a dependency of production code: only `[dev-dependencies]` and the end-to-end tests use
//! it. It talks to the real PostgreSQL and NATS of the development machine (or CI), never to mocks.

pub mod clock;
pub mod db;
pub mod keys;
pub mod nats;
pub mod reflection;
pub mod rpc;
pub mod spawn;

pub use db::TestDb;
