//! Fuzzing entry points: the `request_decoders` cargo-fuzz target and the garbage-input unit
//! tests below call the same function, so CI (without a nightly toolchain) exercises it too.

/// Feeds one input to every request decoder and operation parser (used by the fuzz target and
/// the garbage-input unit test): none may panic, whatever the bytes.
pub fn exercise_decoders(emulator: &crate::Emulator, data: &[u8]) {
    let _ = crate::wire::cbor::decode_request(data);
    let _ = crate::wire::json::parse_body::<serde_json::Value>(data);
    let _ = crate::wire::query::parse_form(data);
    for operation in [
        "BatchMeterUsage",
        "MeterUsage",
        "RegisterUsage",
        "ResolveCustomer",
        "Unknown",
    ] {
        let _ = crate::metering::handle(emulator, operation, data, None, None);
    }
    let _ = crate::entitlement::handle_json(emulator, "GetEntitlements", data);
    let _ = crate::entitlement::handle_cbor(emulator, "GetEntitlements", data);
    if let Ok(form) = crate::wire::query::parse_form(data)
        && let Some(action) = crate::wire::query::form_value(&form, "Action")
    {
        let _ = crate::sts::handle(emulator, action, &form, None, None);
    }
}

#[cfg(test)]
mod garbage {
    use rand::{Rng as _, SeedableRng as _};

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let emulator = crate::Emulator::new(crate::EmulatorConfig::default());
        let seeds: [&[u8]; 6] = [
            br#"{"ProductCode":"p","UsageRecords":[{"Timestamp":1700000000,"CustomerAWSAccountId":"1","Dimension":"d","Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantity":1,"Tags":[{"Key":"k","Value":"v"}]}]}]}"#,
            br#"{"ProductCode":"p","Filter":{"DIMENSION":["a"]},"MaxResults":5,"NextToken":"djE6MTphYg"}"#,
            br#"{"ProductCode":"p","Timestamp":1.5e9,"UsageDimension":"d","ClientToken":"t"}"#,
            b"\xbf\x6bProductCode\x65prod1\x66Filter\xbf\x69DIMENSION\x9f\x61a\xff\xff\xff",
            b"Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/R&RoleSessionName=s&DurationSeconds=900",
            b"\xa1\x6bProductCode\xc1\xfb\x41\xd9\x50\xb6\x00\x00\x00\x00",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for round in 0..4000 {
            let mut data = seeds[round % seeds.len()].to_vec();
            for _ in 0..rng.random_range(0..8) {
                if data.is_empty() {
                    break;
                }
                let at = rng.random_range(0..data.len());
                match rng.random_range(0..3) {
                    0 => data[at] = rng.random(),
                    1 => {
                        data.remove(at);
                    }
                    _ => data.insert(at, rng.random()),
                }
            }
            if round % 5 == 0 {
                data = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
            }
            super::exercise_decoders(&emulator, &data);
        }
    }

    #[test]
    fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
        let emulator = crate::Emulator::new(crate::EmulatorConfig::default());
        let cbor = vec![0x81; 100_000];
        let json: Vec<u8> = std::iter::repeat_n(b'[', 100_000).collect();
        super::exercise_decoders(&emulator, &cbor);
        super::exercise_decoders(&emulator, &json);
    }
}
