//! Runs the boto3 harness (`tests/boto3/test_emulator.py`, pytest) against a spawned emulator:
//! every emulator operation driven by the Python SDK as well as by the Rust SDK.

use std::path::PathBuf;
use std::process::Command;

const INSTALL: &str = "python3 -m pip install -r crates/emulator/tests/boto3/requirements.txt";

#[tokio::test(flavor = "multi_thread")]
async fn boto3_drives_every_operation() {
    let emulator = crate::support::sqs::spawn().await;
    let harness = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("boto3");
    let url = emulator.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        let probe = Command::new("python3").args(["-c", "import boto3, pytest"]).output();
        match probe {
            Ok(probe) if probe.status.success() => {}
            Ok(probe) => {
                return Err(format!(
                    "boto3/pytest are not installed for python3 ({}); install them with `{INSTALL}`",
                    String::from_utf8_lossy(&probe.stderr).trim()
                ));
            }
            Err(error) => return Err(format!("python3 is not available ({error}); install Python 3 and run `{INSTALL}`")),
        }
        Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no"])
            .arg(harness.join("test_emulator.py"))
            .env("SOUK_EMULATOR_URL", &url)
            .env("AWS_ACCESS_KEY_ID", "AKIDBOTO3TEST")
            .env("AWS_SECRET_ACCESS_KEY", "boto3-secret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .map_err(|error| format!("could not run pytest: {error}"))
    })
    .await
    .expect("pytest runner");
    let output = output.unwrap_or_else(|message| panic!("{message}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "boto3 harness failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
