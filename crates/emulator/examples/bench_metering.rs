//! BatchMeterUsage throughput: calls/s sustained (25 records per call, official Rust SDK over
//! loopback) against the emulator without a state file and with a 1 MB and a 10 MB state file
//! (every call journaled and fsynced before it is answered), next to a floor measured in the same
//! run: a bare axum handler on loopback that returns a canned 25-result response.
//!
//! `cargo run --release -p souk-emulator --example bench_metering`
//! (`BENCH_SECS` = seconds per phase, default 5; `BENCH_CONCURRENCY` = in-flight calls, default 8).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_marketplacemetering::config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_sdk_marketplacemetering::types::UsageRecord;
use aws_smithy_types::DateTime;
use serde_json::json;

const PRODUCT: &str = "bench-product";
const CUSTOMERS: u64 = 500;
/// Metered dimensions: with 500 customers and 5 hours, 500,000 distinct customer/dimension/hour
/// keys, so every call bills 25 new records (and writes them to the state file) for as long as
/// a phase lasts, instead of re-sending billed hours that change nothing.
const DIMENSIONS: u64 = 200;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client(url: &str) -> aws_sdk_marketplacemetering::Client {
    let config = aws_sdk_marketplacemetering::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDBENCH",
            "secret",
            None,
            None,
            "bench",
        ))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_marketplacemetering::Client::from_conf(config)
}

fn account(i: u64) -> String {
    format!("{:012}", 200_000_000_000 + i)
}

fn dimension(d: u64) -> String {
    format!("d{d:03}")
}

/// 25 records for call number `n`: distinct customer/dimension/hour keys for as long as possible.
fn records(n: u64, now: i64) -> Vec<UsageRecord> {
    (0..25)
        .filter_map(|i| {
            let k = n * 25 + i;
            let hour = i64::try_from((k / (CUSTOMERS * DIMENSIONS)) % 5).unwrap_or(0);
            UsageRecord::builder()
                .customer_aws_account_id(account(k % CUSTOMERS))
                .dimension(dimension((k / CUSTOMERS) % DIMENSIONS))
                .quantity(1)
                .timestamp(DateTime::from_secs(now - 60 - hour * 3600))
                .build()
                .ok()
        })
        .collect()
}

/// Calls/s over `seconds`; call numbers (hence usage keys) continue from `next`, so a
/// measurement after a warm-up bills new hours too.
async fn run(url: &str, seconds: u64, concurrency: u64, now: i64, next: &Arc<AtomicU64>) -> f64 {
    let client = client(url);
    let calls = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let not_billed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, calls, errors, not_billed, next) = (
            client.clone(),
            calls.clone(),
            errors.clone(),
            not_billed.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                calls.fetch_add(1, Ordering::Relaxed);
                let result = client
                    .batch_meter_usage()
                    .product_code(PRODUCT)
                    .set_usage_records(Some(records(n, now)))
                    .send()
                    .await;
                match result {
                    Ok(out) => {
                        let failed = out
                            .results()
                            .iter()
                            .filter(|r| r.status().is_none_or(|s| s.as_str() != "Success"))
                            .count();
                        not_billed.fetch_add(failed as u64, Ordering::Relaxed);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        eprintln!("  {errors} calls failed");
    }
    let not_billed = not_billed.load(Ordering::Relaxed);
    if not_billed > 0 {
        eprintln!("  {not_billed} records not Success");
    }
    calls.load(Ordering::Relaxed) as f64 / elapsed
}

async fn floor_server() -> std::io::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let canned: Vec<serde_json::Value> = (0..25)
        .map(|i| {
            json!({
                "UsageRecord": {"Timestamp": 1_700_000_000, "CustomerAWSAccountId": account(i), "Dimension": "users", "Quantity": 1},
                "MeteringRecordId": uuid::Uuid::new_v4().to_string(), "Status": "Success"
            })
        })
        .collect();
    let body =
        bytes::Bytes::from(json!({ "Results": canned, "UnprocessedRecords": [] }).to_string());
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |_body: bytes::Bytes| {
            let body = body.clone();
            async move { ([("content-type", "application/x-amz-json-1.1")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok((url, tx))
}

/// An emulator with the bench product and its subscribers; with a state file when `state` is
/// given, whose ledger is first filled to about `state_bytes` of JSON (entries of another
/// product, as a long-running emulator accumulates them).
async fn emulator(
    state: Option<&std::path::Path>,
    state_bytes: usize,
) -> std::io::Result<souk_emulator::RunningEmulator> {
    let config = souk_emulator::EmulatorConfig {
        state_file: state.map(|dir| dir.join("state.json")),
        ..Default::default()
    };
    let emulator = souk_emulator::spawn(config).await?;
    {
        let mut world = emulator.emulator.world();
        let config = emulator.emulator.config().clone();
        let product = souk_emulator::market::NewProduct {
            product_code: Some(PRODUCT.to_owned()),
            dimensions: (0..DIMENSIONS)
                .map(|d| souk_emulator::market::Dimension {
                    name: dimension(d),
                    kind: souk_emulator::market::DimensionKind::Metered,
                    description: String::new(),
                })
                .collect(),
            ..Default::default()
        };
        souk_emulator::market::create_product(&mut world, product)
            .map_err(std::io::Error::other)?;
        let now = emulator.emulator.clock().now_at() - time::Duration::hours(6);
        for i in 0..CUSTOMERS {
            let request = souk_emulator::market::SubscribeRequest {
                product_code: PRODUCT.to_owned(),
                customer_aws_account_id: account(i),
                ..Default::default()
            };
            souk_emulator::market::subscribe(&mut world, &config, request, now)
                .map_err(std::io::Error::other)?;
        }
        world.notify.pending.clear();
        let filler = |i: usize| {
            let entry = souk_emulator::metering::LedgerEntry {
                metering_record_id: uuid::Uuid::new_v4().to_string(),
                source: "BatchMeterUsage".to_owned(),
                product_code: "filler-product".to_owned(),
                license_arn: None,
                customer_aws_account_id: format!("{:012}", 300_000_000_000 + i),
                customer_identifier: format!("filler-customer-{i:08}"),
                dimension: "users".to_owned(),
                hour: 1_700_000_000 / 3600 * 3600,
                timestamp: 1_700_000_000,
                quantity: 1,
                quantity_micros: Some(1_000_000),
                allocations: Vec::new(),
                recorded_at: 1_700_000_000,
            };
            (format!("filler-product|-|{i}|users|0"), entry)
        };
        // Size one entry as the state file stores it (key, value, separators).
        let (key, entry) = filler(0);
        let per_entry = serde_json::to_vec(&entry).map_or(500, |v| v.len()) + key.len() + 4;
        let base = serde_json::to_vec(&*world).map_or(0, |v| v.len());
        for i in 0..state_bytes.saturating_sub(base) / per_entry {
            let (key, entry) = filler(i);
            world.metering.ledger.insert(key, entry);
        }
    }
    let Some(_) = state else {
        return Ok(emulator);
    };
    // Persist the set-up, then restart from the file (compacting it into the snapshot) so the
    // measurement starts from a state file of the intended size and an empty journal.
    emulator.stop().await?;
    let config = souk_emulator::EmulatorConfig {
        state_file: state.map(|dir| dir.join("state.json")),
        ..Default::default()
    };
    souk_emulator::spawn(config).await
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let seconds = env_number("BENCH_SECS", 5);
    let concurrency = env_number("BENCH_CONCURRENCY", 8);
    let (floor_url, stop_floor) = floor_server().await?;

    println!(
        "BatchMeterUsage, 25 records/call, {concurrency} in flight, {seconds}s per phase, official Rust SDK over loopback"
    );
    let floor_calls = Arc::new(AtomicU64::new(0));
    let _warm = run(&floor_url, 1, concurrency, now_secs(), &floor_calls).await;
    let floor = run(&floor_url, seconds, concurrency, now_secs(), &floor_calls).await;
    println!(
        "floor (bare axum, canned response):     {floor:>8.0} calls/s  {:>8.0} records/s",
        floor * 25.0
    );
    let mut no_state = 0.0;
    for (label, size) in [
        ("no state file", None),
        ("state file, 1 MB", Some(1usize << 20)),
        ("state file, 10 MB", Some(10usize << 20)),
    ] {
        let dir = tempfile::tempdir()?;
        let state = size.map(|_| dir.path());
        let emulator = emulator(state, size.unwrap_or(0)).await?;
        let file_bytes = std::fs::metadata(dir.path().join("state.json"))
            .map(|m| m.len())
            .unwrap_or(0);
        let now = emulator.emulator.clock().now().unix_timestamp();
        let next = Arc::new(AtomicU64::new(0));
        let _warm = run(&emulator.url, 1, concurrency, now, &next).await;
        let emu = run(&emulator.url, seconds, concurrency, now, &next).await;
        if size.is_none() {
            no_state = emu;
        }
        println!(
            "emulator, {label:<18} {:>7.1} MB: {emu:>8.0} calls/s  {:>8.0} records/s  ({:.2} of no state file)",
            file_bytes as f64 / 1e6,
            emu * 25.0,
            if no_state > 0.0 { emu / no_state } else { 0.0 }
        );
        emulator.stop().await?;
    }
    let _ = stop_floor.send(());
    Ok(())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}
