//! Malformed S3 requests never panic and never leave the feed directory.

use http::Method;
use souk_emulator::{Emulator, EmulatorConfig};

use crate::sqs_malformed::Noise;

const SEGMENTS: &[&str] = &[
    "souk-seller-data-feeds",
    "other",
    "",
    ".",
    "..",
    "%2e%2e",
    "%",
    "%zz",
    "%e2%82",
    "billing_event_v1",
    "year=2026",
    "data.csv",
    "\u{1F600}",
    "a\\b",
    "%00",
    "etc",
    "passwd",
];
const QUERIES: &[&str] = &[
    "",
    "list-type=2",
    "list-type=2&prefix=b",
    "max-keys=0",
    "max-keys=-1",
    "max-keys=99999999999999999999",
    "continuation-token=%ff",
    "delimiter=/",
    "delimiter=",
    "encoding-type=url",
    "marker=zzz",
    "%%%",
    "prefix=%e2",
];

#[tokio::test(flavor = "multi_thread")]
async fn random_paths_and_queries_are_answered() {
    let emulator = Emulator::new(EmulatorConfig::default());
    souk_emulator::feeds::generate(&emulator)
        .await
        .expect("generate");
    let mut noise = Noise(0xfeed_5eed_0000_0001);
    for _ in 0..3000 {
        let mut path = String::new();
        for _ in 0..(1 + noise.next() % 5) {
            path.push('/');
            path.push_str(noise.pick(SEGMENTS));
        }
        let query = noise.pick(QUERIES);
        let method = if noise.next().is_multiple_of(2) {
            Method::GET
        } else {
            Method::HEAD
        };
        let response = souk_emulator::s3::handle(&emulator, &method, &path, Some(query));
        let status = response.status().as_u16();
        assert!(
            matches!(status, 200 | 404),
            "{method} {path}?{query}: {status}"
        );
        if path.contains("passwd") {
            assert_eq!(status, 404, "{path}");
        }
    }
}
