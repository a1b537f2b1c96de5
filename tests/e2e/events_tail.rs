//! `souk events tail` against `souk dev`: the organisation's events from WatchEvents, from the
//! start and as they happen, and the server's refusal of a malformed cursor.

use std::time::Duration;

use serde_json::Value;
use souk_e2e::souk;

use crate::common::Dev;

#[tokio::test]
async fn events_tail_streams_events_and_refuses_bad_cursors() {
    let dev = Dev::start(&[]).await;
    dev.cli(&["integration", "create", "--name", "tailed-1"])
        .await;

    // From the start, as JSON: one object per line, the integration's creation among them.
    let out = souk(
        &[
            "events",
            "tail",
            "--from-start",
            "--count",
            "1",
            "-o",
            "json",
            "--type",
            "integration.created",
        ],
        &dev.env(),
    )
    .await
    .unwrap();
    assert!(out.success, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    let event: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["type"], "integration.created", "{event}");
    assert!(
        event["integration_id"]
            .as_str()
            .unwrap()
            .starts_with("int_")
    );
    assert!(!event["id"].as_str().unwrap().is_empty(), "{event}");
    assert!(!event["cursor"].as_str().unwrap().is_empty(), "{event}");
    assert!(
        event["occurred_at"].as_str().unwrap().ends_with('Z'),
        "{event}"
    );
    assert_eq!(
        event["data"]["type_url"],
        "type.googleapis.com/souk.events.v1.IntegrationCreated"
    );

    // The table prints one line per event and the cursor to resume with on stderr.
    let out = souk(
        &[
            "events",
            "tail",
            "--from-start",
            "--count",
            "1",
            "--type",
            "integration.",
        ],
        &dev.env(),
    )
    .await
    .unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert!(out.stdout.contains(" integration."), "{out:?}");
    assert!(out.stderr.contains("resume with --cursor "), "{out:?}");

    // Without a cursor only new events come: create integrations until the tail saw one.
    let env: Vec<(String, String)> = dev
        .env()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let tail = tokio::spawn(async move {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        souk(
            &[
                "events",
                "tail",
                "--count",
                "1",
                "-o",
                "json",
                "--type",
                "integration.created",
            ],
            &env,
        )
        .await
        .unwrap()
    });
    let mut created = Vec::new();
    for n in 0..30 {
        if tail.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let name = format!("tailed-live-{n}");
        let integration = dev.cli(&["integration", "create", "--name", &name]).await;
        created.push(integration["id"].as_str().unwrap().to_owned());
    }
    let out = tail.await.unwrap();
    assert!(out.success, "{out:?}");
    let event: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(event["type"], "integration.created", "{event}");
    let id = event["integration_id"].as_str().unwrap();
    assert!(
        created.iter().any(|c| c == id),
        "{id} is not one of the integrations created while tailing: {created:?}"
    );

    // A malformed cursor: the server's message, a failure exit code, nothing on stdout.
    let out = souk(&["events", "tail", "--cursor", "garbage"], &dev.env())
        .await
        .unwrap();
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("cursor"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}
