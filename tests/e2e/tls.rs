//! TLS on both listeners: the CLI speaks TLS to `https://` servers (system roots plus
//! `--ca-cert`), refuses to send its key to an `https://` address that answers in plaintext,
//! and presents a client certificate to a server that requires one.

use std::path::Path;

use souk_e2e::{SoukProcess, souk, start_dev};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files in `dir`.
fn certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let named = |names: Vec<String>, common_name: &str| {
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = named(Vec::new(), "Souk test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server = named(
        vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
        "souk server",
    )
    .signed_by(&server_key, &issuer)
    .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = named(vec!["souk-cli".to_owned()], "souk cli")
        .signed_by(&client_key, &issuer)
        .unwrap();
    for (name, pem) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server.pem()),
        ("server.key", server_key.serialize_pem()),
        ("client.pem", client.pem()),
        ("client.key", client_key.serialize_pem()),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

/// `souk dev` over TLS with certificates made in `dir` (requiring client certificates with
/// `mtls`); returns it with its data directory and the CA file.
async fn start_tls_dev(dir: &Path, mtls: bool) -> (SoukProcess, String, String) {
    certificates(dir);
    let data_dir = path(dir, "souk");
    let (cert, key, ca) = (
        path(dir, "server.pem"),
        path(dir, "server.key"),
        path(dir, "ca.pem"),
    );
    let mut envs = vec![
        ("SOUK_TLS_CERT_FILE", cert.as_str()),
        ("SOUK_TLS_KEY_FILE", key.as_str()),
    ];
    if mtls {
        envs.push(("SOUK_TLS_CLIENT_CA_FILE", ca.as_str()));
    }
    let dev = start_dev(&data_dir, false, &envs).await;
    (dev, data_dir, ca)
}

#[tokio::test]
async fn the_cli_and_the_listeners_speak_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (dev, data_dir, ca) = start_tls_dev(dir.path(), false).await;
    let grpc = dev.endpoint("grpc").to_owned();
    assert!(grpc.starts_with("https://127.0.0.1:"), "{grpc}");
    let env = [("SOUK_DATA_DIR", data_dir.as_str())];

    let listed = souk(
        &[
            "integration",
            "list",
            "--server",
            &grpc,
            "--ca-cert",
            &ca,
            "-o",
            "json",
        ],
        &env,
    )
    .await
    .unwrap();
    assert!(listed.success, "{listed:?}");

    // A certificate the client does not trust: refused before any request (and key) is sent.
    let untrusted = souk(&["integration", "list", "--server", &grpc], &env)
        .await
        .unwrap();
    assert!(!untrusted.success, "{untrusted:?}");

    // The HTTP port serves TLS too.
    let health = tokio::process::Command::new("curl")
        .args(["-sS", "--cacert", &ca])
        .arg(format!("{}/healthz", dev.endpoint("http")))
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&health.stdout),
        "ok\n",
        "{health:?}"
    );
    dev.terminate().await.unwrap();

    // A plaintext server at an https:// address: the CLI fails instead of sending the key.
    let plain_dir = path(dir.path(), "plain");
    let plain = start_dev(&plain_dir, false, &[]).await;
    let address = plain.endpoint("grpc").replace("http://", "https://");
    let refused = souk(
        &[
            "integration",
            "list",
            "--server",
            &address,
            "--ca-cert",
            &ca,
        ],
        &[("SOUK_DATA_DIR", plain_dir.as_str())],
    )
    .await
    .unwrap();
    assert!(!refused.success, "{refused:?}");
    plain.terminate().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (dev, data_dir, ca) = start_tls_dev(dir.path(), true).await;
    let grpc = dev.endpoint("grpc").to_owned();
    let env = [("SOUK_DATA_DIR", data_dir.as_str())];

    let without = souk(
        &["integration", "list", "--server", &grpc, "--ca-cert", &ca],
        &env,
    )
    .await
    .unwrap();
    assert!(!without.success, "{without:?}");

    let (client_cert, client_key) = (
        path(dir.path(), "client.pem"),
        path(dir.path(), "client.key"),
    );
    let with = souk(
        &[
            "integration",
            "list",
            "--server",
            &grpc,
            "--ca-cert",
            &ca,
            "--client-cert",
            &client_cert,
            "--client-key",
            &client_key,
        ],
        &env,
    )
    .await
    .unwrap();
    assert!(with.success, "{with:?}");
    dev.terminate().await.unwrap();
}

#[tokio::test]
async fn a_half_configured_tls_fails_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = path(dir.path(), "souk");
    let started = souk(
        &[
            "dev",
            "--data-dir",
            &data_dir,
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ],
        &[("SOUK_TLS_CERT_FILE", "/nonexistent/cert.pem")],
    )
    .await
    .unwrap();
    assert!(!started.success, "{started:?}");
    assert!(
        started
            .stderr
            .contains("TLS needs both tls_cert_file and tls_key_file"),
        "{started:?}"
    );
}
