//! Hardening of `souk dev` and the client commands: a private, locked data directory, distinct
//! exit codes with JSON errors under `--output json`, `integration update`.

use std::time::Duration;

use souk_e2e::{souk_bin, start_dev};

/// What one `souk` command did, with its exit code.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }
}

async fn run(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut command = tokio::process::Command::new(souk_bin().unwrap());
    command.args(args).kill_on_drop(true);
    command.env("SOUK_LOG_LEVEL", "warn");
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("souk took more than 60 s")
        .expect("run souk");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_private_and_used_by_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let data_dir_str = data_dir.to_str().unwrap();
    let dev = start_dev(data_dir_str, false, &[]).await;

    // The directory and every file in it (SQLite database, -wal, -shm, the admin key, the lock)
    // are owner-only.
    assert_eq!(mode(&data_dir), 0o700);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert_eq!(mode(&entry.path()), 0o600, "{name}");
        names.push(name);
    }
    for expected in ["integration.db", "api-key"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }

    // A second `souk dev` on the same directory fails at once, with a clear message and the
    // conflict exit code, before it binds a port or touches the files.
    let second = run(
        &[
            "dev",
            "--data-dir",
            data_dir_str,
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ],
        &[],
    )
    .await;
    assert_eq!(second.code, Some(7), "{second:?}");
    assert!(
        second.stderr.contains("is in use by another souk process"),
        "{second:?}"
    );

    // Once the first stopped, the directory can be used again.
    let (status, _) = dev.terminate().await.unwrap();
    assert!(status.success());
    let again = start_dev(data_dir_str, false, &[]).await;
    again.terminate().await.unwrap();
}

#[tokio::test]
async fn client_failures_have_distinct_exit_codes_and_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let data_dir = data_dir.to_str().unwrap();
    let dev = start_dev(data_dir, true, &[]).await;
    let grpc = dev.endpoint("grpc").to_owned();
    let env = [("SOUK_SERVER", grpc.as_str()), ("SOUK_DATA_DIR", data_dir)];

    // Not found: 5, and under --output json the error is the JSON document on stdout.
    let missing = run(
        &[
            "integration",
            "get",
            "int_0190a5a000007000800000000000000a",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(missing.code, Some(5), "{missing:?}");
    let error = &missing.json()["error"];
    assert_eq!(error["exit_code"], 5, "{error}");
    assert_eq!(error["grpc_code"], "NOT_FOUND", "{error}");

    // Invalid input: 6, with the field violations in JSON.
    let invalid = run(
        &[
            "integration",
            "create",
            "--name",
            "x",
            "--region",
            "mars-1",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(invalid.code, Some(6), "{invalid:?}");
    let violations = invalid.json()["error"]["field_violations"].clone();
    assert_eq!(violations[0]["field"], "region", "{violations}");
    // The same failure as text goes to stderr, with the violations.
    let text = run(
        &["integration", "create", "--name", "x", "--region", "mars-1"],
        &env,
    )
    .await;
    assert_eq!(text.code, Some(6));
    assert!(text.stdout.is_empty(), "{text:?}");
    assert!(
        text.stderr.contains("- region: unknown AWS region"),
        "{text:?}"
    );

    // Unauthenticated: 4. Unreachable server: 3. Bad command line: 2.
    let wrong_key = [
        ("SOUK_SERVER", grpc.as_str()),
        (
            "SOUK_API_KEY",
            "souk_wrongwrongwrongwrongwrongwrongwrongwrong",
        ),
    ];
    let refused = run(&["integration", "list", "-o", "json"], &wrong_key).await;
    assert_eq!(refused.code, Some(4), "{refused:?}");
    assert_eq!(refused.json()["error"]["grpc_code"], "UNAUTHENTICATED");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = run(
        &["integration", "list", "-o", "json"],
        &[
            ("SOUK_SERVER", closed_url.as_str()),
            ("SOUK_DATA_DIR", data_dir),
        ],
    )
    .await;
    assert_eq!(unreachable.code, Some(3), "{unreachable:?}");
    assert_eq!(unreachable.json()["error"]["kind"], "unavailable");
    assert_eq!(run(&["integration", "nope"], &env).await.code, Some(2));

    // verify: a role that cannot be assumed exits 8; the report is still the JSON output.
    let created = run(
        &[
            "integration",
            "create",
            "--name",
            "unassumable",
            "--role-arn",
            "arn:aws:iam::111122223333:role/NoSuchRole",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(created.code, Some(0), "{created:?}");
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let verify = run(&["integration", "verify", &id, "-o", "json"], &env).await;
    assert_eq!(verify.code, Some(8), "{verify:?}");
    let report = verify.json();
    assert_eq!(report["role_assumed"], false, "{report}");
    assert_eq!(report["verified"], false, "{report}");
    let verify_text = run(&["integration", "verify", &id], &env).await;
    assert_eq!(verify_text.code, Some(8));
    assert!(
        verify_text
            .stderr
            .contains("verification failed: the role could not be assumed"),
        "{verify_text:?}"
    );

    dev.terminate().await.unwrap();
}

#[tokio::test]
async fn integration_update_changes_every_mutable_field() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let data_dir = data_dir.to_str().unwrap();
    let dev = start_dev(data_dir, false, &[]).await;
    let grpc = dev.endpoint("grpc").to_owned();
    let env = [("SOUK_SERVER", grpc.as_str()), ("SOUK_DATA_DIR", data_dir)];

    // create without --role-arn: the role is set once the onboarding stack made it.
    let created = run(
        &[
            "integration",
            "create",
            "--name",
            "acme",
            "--product-code",
            "keepme",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(created.code, Some(0), "{created:?}");
    let created = created.json();
    assert_eq!(created["role_arn"], "");
    let id = created["id"].as_str().unwrap().to_owned();

    let queue = "https://sqs.eu-west-1.amazonaws.com/111122223333/souk-notifications";
    let updated = run(
        &[
            "integration",
            "update",
            &id,
            "--name",
            "acme-prod",
            "--role-arn",
            "arn:aws:iam::111122223333:role/SoukRole",
            "--region",
            "eu-west-1",
            "--product-code",
            "keepme",
            "--product-code",
            "newcode",
            "--sqs-queue-url",
            queue,
            "--eventbridge",
            "true",
            "--data-feed-bucket",
            "acme-feeds",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(updated.code, Some(0), "{updated:?}");
    let got = run(&["integration", "get", &id, "-o", "json"], &env)
        .await
        .json();
    assert_eq!(got["name"], "acme-prod");
    assert_eq!(got["role_arn"], "arn:aws:iam::111122223333:role/SoukRole");
    assert_eq!(got["aws_account_id"], "111122223333");
    assert_eq!(got["region"], "eu-west-1");
    let codes: Vec<&str> = got["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["keepme", "newcode"]);
    assert_eq!(got["notifications"]["sqs_queue_urls"][0], queue);
    assert_eq!(got["notifications"]["eventbridge"], true);
    assert_eq!(got["data_feed_bucket"], "acme-feeds");

    // Only the fields given change: --sns-https keeps the queues and EventBridge.
    let sns = run(
        &[
            "integration",
            "update",
            &id,
            "--sns-https",
            "true",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(sns.code, Some(0), "{sns:?}");
    let got = sns.json();
    assert_eq!(got["notifications"]["sns_https"], true);
    assert_eq!(got["notifications"]["sqs_queue_urls"][0], queue);
    assert_eq!(got["name"], "acme-prod");

    // Clearing: the role, the queues, the products and the bucket.
    let cleared = run(
        &[
            "integration",
            "update",
            &id,
            "--role-arn",
            "",
            "--clear-sqs-queue-urls",
            "--clear-products",
            "--data-feed-bucket",
            "",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(cleared.code, Some(0), "{cleared:?}");
    let got = cleared.json();
    assert_eq!(got["role_arn"], "");
    assert_eq!(got["products"].as_array().unwrap().len(), 0);
    assert_eq!(
        got["notifications"]["sqs_queue_urls"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(got["data_feed_bucket"], "");

    // Nothing to update is a usage error; a bad value is the server's INVALID_ARGUMENT.
    let nothing = run(&["integration", "update", &id], &env).await;
    assert_eq!(nothing.code, Some(2), "{nothing:?}");
    let bad = run(&["integration", "update", &id, "--region", "mars-1"], &env).await;
    assert_eq!(bad.code, Some(6), "{bad:?}");

    dev.terminate().await.unwrap();
}

/// Starts `souk serve integration` with stderr in a file (not a terminal) and returns its stdout
/// lines up to `ready`, then stops it and returns stderr too.
async fn serve_once(env: &[(&str, &str)]) -> (Vec<String>, String) {
    use tokio::io::AsyncBufReadExt;
    let stderr_path = tempfile::NamedTempFile::new().unwrap();
    let mut command = tokio::process::Command::new(souk_bin().unwrap());
    command
        .args([
            "serve",
            "integration",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(stderr_path.reopen().unwrap())
        .env("SOUK_LOG_LEVEL", "info")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let ready = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "ready" {
                return;
            }
            banner.push(line);
        }
        panic!("souk serve exited before it was ready");
    };
    tokio::time::timeout(Duration::from_secs(60), ready)
        .await
        .expect("souk serve was not ready within 60 s");
    child.kill().await.unwrap();
    let stderr = std::fs::read_to_string(stderr_path.path()).unwrap();
    (banner, stderr)
}

#[tokio::test]
async fn serve_on_an_empty_database_hints_at_bootstrap_and_logs_plainly() {
    let db = souk_testkit::db::TestDb::postgres().await.unwrap();
    let url = db.url().to_owned();
    let nats_url = souk_testkit::nats::url();
    let env = [
        ("SOUK_DATABASE_URL", url.as_str()),
        ("SOUK_NATS_URL", nats_url.as_str()),
    ];
    let hint = "run `souk bootstrap` with the same SOUK_DATABASE_URL";

    let (banner, stderr) = serve_once(&env).await;
    assert!(banner.iter().any(|l| l.contains(hint)), "{banner:?}");
    assert!(stderr.contains(hint), "{stderr}");
    // Not a terminal: no colour escapes.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");

    let boot = run(&["bootstrap"], &env).await;
    assert_eq!(boot.code, Some(0), "{boot:?}");

    // Second start: the migrations table exists already; PostgreSQL's "already exists,
    // skipping" notice is not logged at INFO, and there is an organisation now.
    let (banner, stderr) = serve_once(&env).await;
    assert!(!banner.iter().any(|l| l.contains(hint)), "{banner:?}");
    assert!(!stderr.contains("already exists"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(
        stderr.contains("INFO"),
        "logs at INFO were expected: {stderr}"
    );
    // `souk serve` logs JSON lines (for log collectors) unless configured otherwise.
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
}

#[tokio::test]
async fn start_up_failures_have_their_exit_codes() {
    // PostgreSQL unreachable: unavailable (3), worth retrying.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let database_url = format!("postgres://postgres@127.0.0.1:{closed_port}/souk");
    let nats_url = souk_testkit::nats::url();
    let down = run(
        &[
            "serve",
            "integration",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ],
        &[
            ("SOUK_DATABASE_URL", database_url.as_str()),
            ("SOUK_NATS_URL", nats_url.as_str()),
        ],
    )
    .await;
    assert_eq!(down.code, Some(3), "{down:?}");
}
