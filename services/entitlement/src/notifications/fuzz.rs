//! Fuzzing entry points: the cargo-fuzz targets in `services/entitlement/fuzz` and the
//! garbage-input unit test below call these, so CI (without a nightly toolchain) exercises them
//! too.

use time::OffsetDateTime;

use super::{CertificatePolicy, envelope_inbound, parse_eventbridge, parse_sns_envelope};

/// The SNS endpoint path: envelope, string to sign, the message inside, the certificate URL check.
pub fn sns_envelope(bytes: &[u8]) {
    if let Ok(envelope) = parse_sns_envelope(bytes) {
        let _ = envelope.string_to_sign();
        let _ = envelope_inbound(&envelope);
        let _ = super::signature::digest(&envelope);
        let _ = super::signature::signature_bytes(&envelope);
        let _ = CertificatePolicy::aws().allows(envelope.signing_cert_url());
    }
}

/// The SQS poller path.
pub fn sqs_body(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let _ = super::parse_sqs_body(&text, "sqs-message-id", OffsetDateTime::UNIX_EPOCH);
}

/// The EventBridge endpoint path.
pub fn eventbridge(bytes: &[u8]) {
    let _ = parse_eventbridge(bytes);
}

/// What a certificate fetch returns, and the URL policy (as a URL and as an extra prefix).
pub fn certificate(bytes: &[u8]) {
    let _ = super::signature::public_key(bytes);
    let text = String::from_utf8_lossy(bytes);
    let _ = CertificatePolicy::aws().allows(&text);
    if let Ok(policy) = CertificatePolicy::aws().with_extra_prefix(&text) {
        let _ = policy.allows(&text);
        let _ = policy.allows("http://127.0.0.1:4566/_souk/sns/SimpleNotificationService-souk.pem");
    }
}

/// Every parser on the same bytes: none may panic, whatever the input.
pub fn parse_any(bytes: &[u8]) {
    sns_envelope(bytes);
    sqs_body(bytes);
    eventbridge(bytes);
    certificate(bytes);
}

#[cfg(test)]
mod garbage {
    use rand::{Rng as _, SeedableRng as _};
    use souk_emulator::notify::signing::SignatureVersion;

    use crate::notifications::fixtures;

    /// Real bodies of every shape, to mutate.
    fn seeds() -> Vec<Vec<u8>> {
        let lifecycle = fixtures::market_lifecycle(true);
        let mut seeds: Vec<Vec<u8>> = Vec::new();
        let message = fixtures::message(&lifecycle[0]);
        seeds.push(message.clone().into_bytes());
        seeds.push(
            fixtures::envelope(&message, SignatureVersion::V1)
                .to_json()
                .into_bytes(),
        );
        seeds.push(fixtures::confirmation().to_json().into_bytes());
        for notification in fixtures::agreement_events().iter().chain(&lifecycle[1..2]) {
            if matches!(
                notification,
                souk_emulator::notify::Notification::EventBridge { .. }
            ) {
                seeds.push(fixtures::event(notification).into_bytes());
            }
        }
        seeds.push(fixtures::signer().cert_pem().as_bytes().to_vec());
        seeds.push(b"http://127.0.0.1:4566/_souk/sns/".to_vec());
        seeds.push(b"https://sns.us-east-1.amazonaws.com/x.pem".to_vec());
        seeds
    }

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let seeds = seeds();
        let mut rng = rand::rngs::StdRng::seed_from_u64(20_000);
        for round in 0..20_000 {
            let mut data = seeds[round % seeds.len()].clone();
            for _ in 0..rng.random_range(0..16) {
                if data.is_empty() {
                    break;
                }
                let at = rng.random_range(0..data.len());
                match rng.random_range(0..4) {
                    0 => data[at] = rng.random(),
                    1 => {
                        data.remove(at);
                    }
                    2 => data.insert(at, rng.random()),
                    // Structural bytes make the JSON parsers go deeper than random bytes do.
                    _ => data.insert(
                        at,
                        *b"{}[]\":,\\0tn"
                            .get(rng.random_range(0..12))
                            .unwrap_or(&b'"'),
                    ),
                }
            }
            if round % 7 == 0 {
                data = (0..rng.random_range(0..256))
                    .map(|_| rng.random())
                    .collect();
            }
            super::parse_any(&data);
        }
    }

    #[test]
    fn deep_nesting_and_huge_bodies_do_not_panic() {
        super::parse_any(&[b'['; 100_000]);
        super::parse_any(&"{\"a\":".repeat(50_000).into_bytes());
        super::parse_any(&vec![b' '; crate::notifications::MAX_BODY_BYTES + 1]);
    }
}
