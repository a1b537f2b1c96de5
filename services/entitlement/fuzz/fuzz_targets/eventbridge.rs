//! Fuzzes the EventBridge endpoint path of the entitlement service: `cargo +nightly fuzz run
//! eventbridge` from `services/entitlement`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    souk_entitlement::notifications::fuzz::eventbridge(data);
});
