//! Fuzzes the SQS poller path of the entitlement service (envelope, raw legacy message or
//! EventBridge event): `cargo +nightly fuzz run sqs_body` from `services/entitlement`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    souk_entitlement::notifications::fuzz::sqs_body(data);
});
