//! The state file: an append-only journal next to a snapshot. Writes cost what a request changed,
//! whatever the size of the state; what was acknowledged survives a kill -9 (the files as they
//! are while the emulator runs); compaction leaves no stray files.

use std::path::Path;

use aws_sdk_marketplacemetering::types::{UsageRecord, UsageRecordResultStatus};
use aws_smithy_types::DateTime;
use serde_json::Value;
use souk_emulator::EmulatorConfig;
use souk_emulator::metering::LedgerEntry;

use crate::support::*;

fn config(dir: &Path) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(dir.join("state.json")),
        ..EmulatorConfig::default()
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("read_dir: {err}"))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Copies the state files as they are on disk right now: what a kill -9 would leave.
fn crash_copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    for name in files(from) {
        std::fs::copy(from.join(&name), to.path().join(&name))
            .unwrap_or_else(|err| panic!("copy {name}: {err}"));
    }
    to
}

async fn meter(env: &Env, quantity: i32) -> UsageRecordResultStatus {
    let record = UsageRecord::builder()
        .customer_aws_account_id(BUYER)
        .dimension("users")
        .quantity(quantity)
        .timestamp(DateTime::from_secs(now(env) - 60))
        .build()
        .unwrap_or_else(|err| panic!("record: {err}"));
    let out = env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(record)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    out.results()[0]
        .status()
        .cloned()
        .unwrap_or_else(|| panic!("no status"))
}

fn filler(i: usize) -> (String, LedgerEntry) {
    let entry = LedgerEntry {
        metering_record_id: format!("{i:036}"),
        source: "BatchMeterUsage".into(),
        product_code: "filler".into(),
        license_arn: None,
        customer_aws_account_id: format!("{:012}", 300_000_000_000_usize + i),
        customer_identifier: format!("cust-{i}"),
        dimension: "users".into(),
        hour: 0,
        timestamp: 0,
        quantity: 1,
        quantity_micros: None,
        allocations: Vec::new(),
        recorded_at: 0,
    };
    (format!("filler|-|{i}|users|0"), entry)
}

#[tokio::test]
async fn acknowledged_changes_survive_a_kill_and_cost_what_they_change() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    let env = env_with(config(dir.path())).await;
    seed(&env.emu.url).await;
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    // About 5 MB of ledger, added directly (as a long-running emulator accumulates it).
    {
        let mut world = env.emu.emulator.world();
        for i in 0..20_000 {
            let (key, entry) = filler(i);
            world.metering.ledger.insert(key, entry);
        }
    }
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/clock/advance",
        serde_json::json!({"seconds": 1}),
    )
    .await;
    let journal = dir.path().join("state.json.journal");
    let before = size(&journal);
    assert!(before > 2_000_000, "the filler is journaled once: {before}");

    assert_eq!(meter(&env, 7).await, UsageRecordResultStatus::Success);
    let grew = size(&journal) - before;
    assert!(grew < 4_096, "one metered record journals {grew} bytes");

    // Kill -9 now: the files as they are hold everything acknowledged.
    let copy = crash_copy(dir.path());
    assert_eq!(files(dir.path()), ["state.json", "state.json.journal"]);
    let restored = env_with(config(copy.path())).await;
    let ledger = metering_ledger(&restored.emu.url).await;
    let records = ledger["records"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(records, 20_001);
    let ours: Vec<&Value> = ledger["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["product_code"] == PRODUCT)
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["quantity"], 7);
    assert!(restored.emu.emulator.clock().offset_millis() >= 1000);
    // Restarting compacted the journal into the snapshot; what follows is only what changed
    // since (the new public URL of the notification settings).
    let journal =
        std::fs::read_to_string(copy.path().join("state.json.journal")).unwrap_or_default();
    assert!(journal.len() < 4_096, "{journal}");
    assert!(!journal.contains("filler"), "{journal}");
    assert_eq!(files(copy.path()), ["state.json", "state.json.journal"]);
}

#[tokio::test]
async fn a_torn_journal_line_and_an_unfinished_compaction_are_harmless() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    let env = env_with(config(dir.path())).await;
    seed(&env.emu.url).await;
    subscribe(&env.emu.url, PRODUCT, BUYER).await;
    assert_eq!(meter(&env, 3).await, UsageRecordResultStatus::Success);
    let copy = crash_copy(dir.path());
    drop(env);
    // A kill -9 in the middle of a journal append, and in the middle of a compaction.
    {
        use std::io::Write as _;
        let mut journal = std::fs::OpenOptions::new()
            .append(true)
            .open(copy.path().join("state.json.journal"))
            .unwrap_or_else(|err| panic!("open: {err}"));
        journal
            .write_all(br#"{"generation":1,"clock_offset_millis":0,"chan"#)
            .unwrap_or_else(|err| panic!("write: {err}"));
        std::fs::write(copy.path().join("state.json.compacting"), b"{\"ver")
            .unwrap_or_else(|err| panic!("write: {err}"));
    }
    let restored = env_with(config(copy.path())).await;
    let ledger = metering_ledger(&restored.emu.url).await;
    assert_eq!(ledger["total_quantity"], 3, "{ledger}");
    let products = control_ok(&restored.emu.url, "GET", "/_souk/products", Value::Null).await;
    assert_eq!(products["products"].as_array().map(Vec::len), Some(2));
    assert_eq!(files(copy.path()), ["state.json", "state.json.journal"]);
}

#[tokio::test]
async fn reset_and_restarts_round_trip_through_the_journal() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    let env = env_with(config(dir.path())).await;
    seed(&env.emu.url).await;
    control_ok(&env.emu.url, "POST", "/_souk/reset", Value::Null).await;
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/products",
        serde_json::json!({"product_code": "after-reset"}),
    )
    .await;
    let copy = crash_copy(dir.path());
    let again = env_with(config(copy.path())).await;
    let products = control_ok(&again.emu.url, "GET", "/_souk/products", Value::Null).await;
    let codes: Vec<&str> = products["products"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["product_code"].as_str())
        .collect();
    assert_eq!(codes, ["after-reset"]);
    drop(again);
    // A second restart from the compacted snapshot alone.
    let third = env_with(config(copy.path())).await;
    let products = control_ok(&third.emu.url, "GET", "/_souk/products", Value::Null).await;
    assert_eq!(products["products"].as_array().map(Vec::len), Some(1));
}
