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
        .timestamp(DateTime::from_secs(a_moment_ago(env, 60)))
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

/// Not a test on its own: with `SOUK_KILL_TEST_STATE` set, serves an emulator on that state
/// file and prints its URL, until killed (the child of
/// [`a_kill_9_loses_nothing_acknowledged_and_leaves_no_stray_files`]).
#[tokio::test]
async fn kill_test_child() {
    let Ok(path) = std::env::var("SOUK_KILL_TEST_STATE") else {
        return;
    };
    let config = EmulatorConfig {
        state_file: Some(path.into()),
        ..EmulatorConfig::default()
    };
    let emu = souk_emulator::spawn(config)
        .await
        .unwrap_or_else(|err| panic!("spawn: {err}"));
    println!("SOUK_URL={}", emu.url);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

#[tokio::test]
async fn a_kill_9_loses_nothing_acknowledged_and_leaves_no_stray_files() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    let state = dir.path().join("state.json");
    let exe = std::env::current_exe().unwrap_or_else(|err| panic!("current_exe: {err}"));
    let mut child = std::process::Command::new(exe)
        .args([
            "persistence::kill_test_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SOUK_KILL_TEST_STATE", &state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn child: {err}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    // libtest prints the test's name on the same line first.
    let read_url = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split_once("SOUK_URL=")
                    .map(|(_, url)| url.trim().to_owned())
            })
    });
    let url = tokio::time::timeout(std::time::Duration::from_secs(60), read_url)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let Some(url) = url else {
        let _ = child.kill();
        panic!("the child printed no URL");
    };

    let dimensions: Vec<serde_json::Value> = (0..50)
        .map(|d| serde_json::json!({ "name": format!("d{d:02}"), "type": "metered" }))
        .collect();
    control_ok(
        &url,
        "POST",
        "/_souk/products",
        serde_json::json!({ "product_code": PRODUCT, "dimensions": dimensions }),
    )
    .await;
    let buyers: Vec<String> = (0..20)
        .map(|b| format!("{:012}", 400_000_000_000_u64 + b))
        .collect();
    for buyer in &buyers {
        subscribe(&url, PRODUCT, buyer).await;
    }
    let now = {
        let clock = control_ok(&url, "GET", "/_souk/clock", Value::Null).await;
        clock["epoch_seconds"].as_i64().unwrap_or_default()
    };
    // A minute ago, but within the subscriptions' hour: AWS refuses usage of an hour before it.
    let recent = (now - 60).max(now - now.rem_euclid(3600));
    let metering = metering_client(&url, creds("AKIDKILL"));
    // Four writers, still writing when the kill comes (5,000 distinct keys); whatever was
    // answered Success must survive it.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (metering, acknowledged, buyers) =
            (metering.clone(), acknowledged.clone(), buyers.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..1250 {
                let k = w * 1250 + i;
                let buyer = buyers[usize::try_from(k % 20).unwrap_or(0)].clone();
                let (dimension, hour) = (format!("d{:02}", (k / 20) % 50), k / 1000);
                let record = UsageRecord::builder()
                    .customer_aws_account_id(&buyer)
                    .dimension(&dimension)
                    .quantity(1 + k)
                    .timestamp(DateTime::from_secs(recent - i64::from(hour) * 3600))
                    .build()
                    .unwrap_or_else(|err| panic!("record: {err}"));
                let Ok(out) = metering
                    .batch_meter_usage()
                    .product_code(PRODUCT)
                    .usage_records(record)
                    .send()
                    .await
                else {
                    return;
                };
                if out.results().first().and_then(|r| r.status())
                    == Some(&UsageRecordResultStatus::Success)
                    && let Ok(mut acked) = acknowledged.lock()
                {
                    acked.push((buyer, dimension, 1 + i64::from(k)));
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    child.kill().unwrap_or_else(|err| panic!("kill: {err}"));
    let _ = child.wait();
    for writer in writers {
        let _ = writer.await;
    }
    let acknowledged = acknowledged.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(
        !acknowledged.is_empty(),
        "nothing was metered before the kill"
    );
    assert!(acknowledged.len() < 5000, "the kill came after every write");

    let again = env_with(config(dir.path())).await;
    let ledger = metering_ledger(&again.emu.url).await;
    let stored: Vec<(String, String, i64)> = ledger["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["customer_aws_account_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["dimension"].as_str().unwrap_or_default().to_owned(),
                r["quantity"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    for acked in &acknowledged {
        assert!(
            stored.contains(acked),
            "{acked:?} was acknowledged, then lost"
        );
    }
    assert_eq!(files(dir.path()), ["state.json", "state.json.journal"]);
}
