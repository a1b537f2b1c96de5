//! Spawning Souk services and the AWS Marketplace emulator on port 0 for tests.
//!
//! Not written yet: the owners of `crates/emulator`, `crates/cli` and `services/*` fill this in
//! (adding their crates to this crate's `[dependencies]`). Expected shape: an async constructor
//! that binds `127.0.0.1:0`, returns the bound address and a guard that shuts the task down on
//! drop.
