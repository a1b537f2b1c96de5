//! Headless Chromium for the tests that look at Souk's pages as a browser does (the fulfilment
//! page, the revenue page). Chromium comes from scripts/test-tools.sh (Debian's `chromium`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The Chromium binary; fails the test with the way to install it when there is none.
pub(crate) fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "chromium is not installed: run scripts/test-tools.sh (it installs Debian's chromium), \
         which scripts/test.sh runs before the tests"
    )
}

/// Runs headless Chromium on `url` with the profile directory `profile` and the extra `args`
/// (`--dump-dom`, `--screenshot=…`, a window size), once the page's own navigation settled;
/// its standard output.
pub(crate) async fn headless(url: &str, profile: &Path, args: &[&str]) -> String {
    let run = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=10000",
        ])
        .args(args)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium took more than 90 s")
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
