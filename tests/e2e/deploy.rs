//! Deploy checks: the Kubernetes manifests validate against the Kubernetes schemas offline
//! (`kubernetes-validate --strict`), and `checkov` finds nothing on the manifests, the
//! Dockerfile and every onboarding CloudFormation template Souk renders. Findings that do not
//! apply are suppressed in place, each with its reason. The tools come from
//! scripts/requirements-deploy-checks.txt (scripts/test-tools.sh installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

use souk_e2e::{souk, start_dev};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// A tool of the deploy-check virtualenv (`SOUK_DEPLOY_TOOLS`, else
/// `~/.cache/souk/deploy-checks`), else from `PATH`.
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("SOUK_DEPLOY_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // Where scripts/test-tools.sh installs them (HOME, else /tmp, as the script does).
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
            PathBuf::from(home).join(".cache/souk/deploy-checks")
        });
    let path = venv.join("bin").join(name);
    if path.exists() {
        return path;
    }
    let on_path = Command::new(name).arg("--version").output();
    assert!(
        on_path.is_ok_and(|o| o.status.success()),
        "{name} is not installed: run scripts/test-tools.sh (it installs \
         scripts/requirements-deploy-checks.txt into ~/.cache/souk/deploy-checks)"
    );
    PathBuf::from(name)
}

/// Runs checkov on `args` and returns the failed checks as "ID resource file" lines.
fn checkov(args: &[&str]) -> Vec<String> {
    let output = Command::new(tool("checkov"))
        .args(args)
        .args([
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ])
        // No telemetry or guideline downloads: the checks run offline.
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_SKIP_DOWNLOAD", "TRUE")
        .output()
        .expect("run checkov");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    // One report per framework (a list), or one object; `{"passed": 0, ...}` when nothing
    // was found to scan.
    let reports = match value {
        serde_json::Value::Array(reports) => reports,
        other => vec![other],
    };
    let mut failed = Vec::new();
    let mut scanned = 0;
    for report in &reports {
        if let Some(summary) = report.get("summary") {
            scanned += summary["passed"].as_u64().unwrap_or(0)
                + summary["failed"].as_u64().unwrap_or(0)
                + summary["skipped"].as_u64().unwrap_or(0);
            assert_eq!(summary["parsing_errors"], 0, "{summary}");
        }
        for check in report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            failed.push(format!(
                "{} {} {}",
                check["check_id"].as_str().unwrap_or(""),
                check["resource"].as_str().unwrap_or(""),
                check["file_path"].as_str().unwrap_or("")
            ));
        }
    }
    assert!(scanned > 0, "checkov checked nothing: {reports:?}");
    failed
}

#[test]
fn kubernetes_manifests_validate_against_the_schemas() {
    let dir = repo_root().join("deploy/kubernetes");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // Kustomize's own file is not a Kubernetes object.
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    manifests.sort();
    let output = Command::new(tool("kubernetes-validate"))
        .args(["--strict", "--quiet"])
        .args(&manifests)
        .output()
        .expect("run kubernetes-validate");
    assert!(
        output.status.success(),
        "kubernetes-validate failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Every manifest is listed in the kustomization, and a platform team finds what it expects.
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    let mut all = String::new();
    for manifest in &manifests {
        let name = manifest.file_name().unwrap().to_str().unwrap();
        assert!(
            kustomization.contains(&format!("- {name}")),
            "{name} is not in kustomization.yaml"
        );
        all.push_str(&std::fs::read_to_string(manifest).unwrap());
    }
    for kind in [
        "kind: PodDisruptionBudget",
        "kind: HorizontalPodAutoscaler",
        "kind: NetworkPolicy",
    ] {
        assert!(all.contains(kind), "no {kind}");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("gRPC load balancing"),
        "README lacks the mesh note"
    );
}

#[test]
fn checkov_finds_nothing_in_the_manifests_and_the_dockerfile() {
    let root = repo_root();
    let manifests = root.join("deploy/kubernetes");
    let failed = checkov(&[
        "--directory",
        manifests.to_str().unwrap(),
        "--framework",
        "kubernetes",
    ]);
    assert!(
        failed.is_empty(),
        "checkov findings:\n{}",
        failed.join("\n")
    );
    let dockerfile = root.join("deploy/Dockerfile");
    let failed = checkov(&[
        "--file",
        dockerfile.to_str().unwrap(),
        "--framework",
        "dockerfile",
    ]);
    assert!(
        failed.is_empty(),
        "checkov findings:\n{}",
        failed.join("\n")
    );
}

#[tokio::test]
async fn checkov_finds_nothing_in_any_onboarding_template() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let data_dir = data_dir.to_str().unwrap();
    let dev = start_dev(data_dir, true, &[]).await;
    let grpc = dev.endpoint("grpc").to_owned();
    let env = [("SOUK_SERVER", grpc.as_str()), ("SOUK_DATA_DIR", data_dir)];

    // One integration with SNS-subscribed queues and a data feed bucket, one on EventBridge.
    let mut ids = Vec::new();
    for extra in [
        vec![
            "--product-code",
            "prodcode-one",
            "--product-code",
            "prodcode-two",
            "--sqs-queue-url",
            "https://sqs.us-east-1.amazonaws.com/111122223333/existing",
            "--data-feed-bucket",
            "acme-marketplace-feeds",
        ],
        vec!["--product-code", "prodcode-three", "--eventbridge"],
    ] {
        let name = format!("checked-{}", ids.len());
        let mut args = vec!["integration", "create", "--name", &name, "-o", "json"];
        args.extend(extra);
        let created = souk(&args, &env).await.unwrap();
        assert!(created.success, "{created:?}");
        ids.push(created.json().unwrap()["id"].as_str().unwrap().to_owned());
    }

    let templates = tempfile::tempdir().unwrap();
    let mut rendered = 0;
    for id in &ids {
        for notifications in [false, true] {
            for data_feed in [false, true] {
                let mut args = vec!["integration", "template", id.as_str()];
                if notifications {
                    args.push("--notifications");
                }
                if data_feed {
                    args.push("--data-feed");
                }
                let template = souk(&args, &env).await.unwrap();
                assert!(template.success, "{template:?}");
                let file = templates
                    .path()
                    .join(format!("{id}-n{notifications}-d{data_feed}.yaml"));
                std::fs::write(&file, &template.stdout).unwrap();
                rendered += 1;
            }
        }
    }
    assert_eq!(rendered, 8);
    let failed = checkov(&[
        "--directory",
        templates.path().to_str().unwrap(),
        "--framework",
        "cloudformation",
    ]);
    assert!(
        failed.is_empty(),
        "checkov findings:\n{}",
        failed.join("\n")
    );
    dev.terminate().await.unwrap();
}
