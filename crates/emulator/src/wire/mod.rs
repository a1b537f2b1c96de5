//! Wire-protocol helpers shared by every emulated service.
//!
//! Owner: emulator core. The error type [`ApiError`] is protocol-neutral: build it once, then
//! render it for the protocol the request came in on with [`ApiError::into_response`]:
//!
//! | protocol | error body | status |
//! |---|---|---|
//! | awsJson1_0 / awsJson1_1 | `{"__type": Name, "message": ...}` + `x-amzn-ErrorType` | per shape |
//! | rpcv2Cbor | CBOR map `{"__type", "message"}` + `smithy-protocol: rpc-v2-cbor` | per shape |
//! | restJson1 | `{"Message": ...}` + `x-amzn-ErrorType` | per shape |
//! | awsQuery | `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` | per shape |
//!
//! Every response carries an `x-amzn-RequestId` header (see [`request_id`]).

pub mod cbor;
pub mod error;
pub mod json;
pub mod query;
pub mod rest;
pub mod sigv4;

pub use error::{ApiError, Protocol};

/// The header AWS uses for the request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// A fresh request id (UUID v4, as AWS uses; from the thread-local RNG).
pub fn request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// Makes the `x-amzn-RequestId` header carry the error's modelled `requestId` member, when it
/// has one, so a client sees one id in both places.
pub(crate) fn echo_request_id(response: &mut axum::response::Response, error: &ApiError) {
    if let Some(id) = error
        .member("requestId")
        .and_then(serde_json::Value::as_str)
        .and_then(|id| http::HeaderValue::from_str(id).ok())
    {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
}

/// Feeds one input to every request decoder and operation parser (used by the fuzz target and
/// the garbage-input unit test): none may panic, whatever the bytes.
pub fn exercise_decoders(emulator: &crate::Emulator, data: &[u8]) {
    let _ = cbor::decode_request(data);
    let _ = json::parse_body::<serde_json::Value>(data);
    let _ = query::parse_form(data);
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
    if let Ok(form) = query::parse_form(data)
        && let Some(action) = query::form_value(&form, "Action")
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
