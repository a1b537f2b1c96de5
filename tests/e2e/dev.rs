//! `souk dev --emulate-aws`, driven as a newcomer following the README would.

use souk_e2e::{grpc_health, http_get, souk, start_dev};
use souk_testkit::reflection::{reflected_services, reflected_services_v1alpha};

#[tokio::test]
async fn quick_start_with_emulated_aws() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let data_dir = data_dir.to_str().unwrap();
    let dev = start_dev(data_dir, true, &[]).await;
    assert!(
        dev.banner
            .iter()
            .any(|l| l.starts_with("first start: created organisation \"default\"")),
        "{:?}",
        dev.banner
    );
    assert!(dev.endpoint("emulator").starts_with("http://127.0.0.1:"));
    let grpc = dev.endpoint("grpc").to_owned();
    let env = [("SOUK_SERVER", grpc.as_str()), ("SOUK_DATA_DIR", data_dir)];

    // Health, readiness and metrics on HTTP; gRPC health for every served service.
    assert_eq!(
        http_get(dev.endpoint("http"), "/healthz").await.unwrap().0,
        200
    );
    let (status, readiness) = http_get(dev.endpoint("http"), "/readyz").await.unwrap();
    assert_eq!(status, 200, "{readiness}");
    assert!(readiness.starts_with("ready\n"), "{readiness}");
    assert!(
        readiness.contains("outbox integration: "),
        "the outbox backlog is part of readiness: {readiness}"
    );
    // A refused request is counted; the backlog and the refusals are metrics.
    let (_, metrics) = http_get(dev.endpoint("http"), "/metrics").await.unwrap();
    assert!(
        metrics.contains("souk_outbox_unpublished_rows{store=\"integration\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("souk_outbox_oldest_unpublished_age_seconds{store=\"integration\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("souk_auth_failures{reason=\"missing\"}"),
        "{metrics}"
    );
    let mut services = reflected_services(&grpc).await.unwrap();
    services.sort();
    assert_eq!(
        services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "souk.entitlement.v1.EntitlementService",
            "souk.events.v1.EventService",
            "souk.integration.v1.IntegrationService",
            "souk.metering.v1.MeteringService",
            "souk.offer.v1.OfferService",
            "souk.reporting.v1.ReportingService",
        ]
    );
    // The same services through reflection v1alpha, with its own reflection service.
    let mut services_v1alpha = reflected_services_v1alpha(&grpc).await.unwrap();
    services_v1alpha.sort();
    assert_eq!(
        services_v1alpha,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            "souk.entitlement.v1.EntitlementService",
            "souk.events.v1.EventService",
            "souk.integration.v1.IntegrationService",
            "souk.metering.v1.MeteringService",
            "souk.offer.v1.OfferService",
            "souk.reporting.v1.ReportingService",
        ]
    );
    for service in [
        "",
        "souk.integration.v1.IntegrationService",
        "souk.metering.v1.MeteringService",
    ] {
        assert_eq!(
            grpc_health(&grpc, service).await.unwrap(),
            1,
            "{service} is not SERVING"
        );
    }

    // The demo integration exists and verifies against the emulator.
    let list = souk(&["integration", "list", "--output", "json"], &env)
        .await
        .unwrap();
    assert!(list.success, "{list:?}");
    let integrations = list.json().unwrap();
    let demo = &integrations.as_array().unwrap()[0];
    assert_eq!(demo["name"], "demo");
    assert_eq!(
        demo["role_arn"],
        "arn:aws:iam::111122223333:role/SoukDemoRole"
    );
    let id = demo["id"].as_str().unwrap();
    let external_id = demo["external_id"].as_str().unwrap();

    let verify = souk(&["integration", "verify", id, "--output", "json"], &env)
        .await
        .unwrap();
    assert!(verify.success, "{verify:?}");
    let report = verify.json().unwrap();
    assert_eq!(report["role_assumed"], true, "{report}");
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    for check in checks {
        assert_eq!(check["status"], "ok", "{check}");
    }

    // The onboarding template requires the integration's ExternalId.
    let template = souk(&["integration", "template", id, "--notifications"], &env)
        .await
        .unwrap();
    assert!(template.success, "{template:?}");
    assert!(
        template.stdout.contains("sts:ExternalId"),
        "{}",
        template.stdout
    );
    assert!(template.stdout.contains(external_id));

    // A read-only key can read but not change anything; a wrong key is refused.
    let key = souk(
        &[
            "key",
            "create",
            "reader",
            "--scope",
            "read-only",
            "--output",
            "json",
        ],
        &env,
    )
    .await
    .unwrap();
    assert!(key.success, "{key:?}");
    let secret = key.json().unwrap()["secret"].as_str().unwrap().to_owned();
    let reader = [
        ("SOUK_SERVER", grpc.as_str()),
        ("SOUK_API_KEY", secret.as_str()),
    ];
    assert!(
        souk(&["integration", "get", id], &reader)
            .await
            .unwrap()
            .success
    );
    let denied = souk(&["integration", "delete", id], &reader).await.unwrap();
    assert!(!denied.success);
    assert!(
        denied.stderr.contains("PermissionDenied"),
        "{}",
        denied.stderr
    );
    let wrong = [
        ("SOUK_SERVER", grpc.as_str()),
        (
            "SOUK_API_KEY",
            "souk_wrongwrongwrongwrongwrongwrongwrongwrong",
        ),
    ];
    let refused = souk(&["integration", "list"], &wrong).await.unwrap();
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("Unauthenticated"),
        "{}",
        refused.stderr
    );

    // Graceful shutdown, then a restart on the same data keeps everything and creates nothing.
    let (status, rest) = dev.terminate().await.unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(rest.contains("souk dev stopped"), "{rest}");

    let again = start_dev(data_dir, true, &[]).await;
    assert!(
        !again.banner.iter().any(|l| l.starts_with("first start")),
        "{:?}",
        again.banner
    );
    let grpc = again.endpoint("grpc").to_owned();
    let env = [("SOUK_SERVER", grpc.as_str()), ("SOUK_DATA_DIR", data_dir)];
    let list = souk(&["integration", "list", "--output", "json"], &env)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], id);
    let verify = souk(&["integration", "verify", id, "--output", "json"], &env)
        .await
        .unwrap();
    assert_eq!(verify.json().unwrap()["role_assumed"], true);
    again.terminate().await.unwrap();
}

#[tokio::test]
async fn a_busy_port_fails_start_up_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = souk(
        &[
            "dev",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--grpc-addr",
            &addr,
        ],
        &[],
    )
    .await
    .unwrap();
    assert!(!output.success);
    assert_eq!(
        output.code,
        Some(7),
        "a busy port is a conflict: {output:?}"
    );
    assert!(
        output
            .stderr
            .contains(&format!("error: cannot listen for gRPC on {addr}")),
        "{}",
        output.stderr
    );
}
