//! Integration tests of souk-auth: role assumption through the emulator's STS with the official
//! SDK, and the tower layer in front of a service.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

mod layer;
mod roles;
