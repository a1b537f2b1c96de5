//! Fuzzes the SNS endpoint path of the entitlement service (envelope, string to sign, the
//! message inside, the certificate URL policy, the fetched certificate's parser): `cargo
//! +nightly fuzz run sns_envelope` from `services/entitlement`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    souk_entitlement::notifications::fuzz::sns_envelope(data);
    souk_entitlement::notifications::fuzz::certificate(data);
});
