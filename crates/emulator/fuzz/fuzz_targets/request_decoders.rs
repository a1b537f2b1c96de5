//! Fuzzes every request decoder and operation parser of the emulator (awsJson, rpcv2Cbor,
//! awsQuery): `cargo +nightly fuzz run request_decoders` from `crates/emulator`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use souk_emulator::{Emulator, EmulatorConfig};

fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| Emulator::new(EmulatorConfig::default()))
}

fuzz_target!(|data: &[u8]| {
    souk_emulator::fuzz::exercise_decoders(emulator(), data);
});
