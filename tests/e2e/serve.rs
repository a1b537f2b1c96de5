//! `souk bootstrap` and `souk serve integration` against PostgreSQL and NATS JetStream.

use futures::StreamExt;
use souk_e2e::{SoukProcess, grpc_health, souk};
use souk_testkit::db::TestDb;

#[tokio::test]
async fn serve_integration_on_postgres_publishes_events_to_jetstream() {
    let db = TestDb::postgres().await.unwrap();
    let url = db.url().to_owned();
    let nats_url = souk_testkit::nats::url();
    let env = [
        ("SOUK_DATABASE_URL", url.as_str()),
        ("SOUK_NATS_URL", nats_url.as_str()),
    ];

    let missing = souk(&["serve", "integration"], &[("SOUK_DATABASE_URL", "")])
        .await
        .unwrap();
    assert!(!missing.success);
    assert!(
        missing
            .stderr
            .contains("SOUK_DATABASE_URL must be a postgres:// URL"),
        "{}",
        missing.stderr
    );

    let boot = souk(&["bootstrap", "--org-name", "acme"], &env)
        .await
        .unwrap();
    assert!(boot.success, "{boot:?}");
    let secret = boot
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin API key (shown once): "))
        .unwrap()
        .to_owned();
    let twice = souk(&["bootstrap"], &env).await.unwrap();
    assert!(!twice.success);
    assert!(
        twice.stderr.contains("already has an organisation"),
        "{}",
        twice.stderr
    );

    let server = SoukProcess::start(
        &[
            "serve",
            "integration",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ],
        &env,
    )
    .await
    .unwrap();
    let grpc = server.endpoint("grpc").to_owned();
    assert_eq!(
        grpc_health(&grpc, "souk.integration.v1.IntegrationService")
            .await
            .unwrap(),
        1
    );

    let org = souk(
        &[
            "org",
            "get",
            "--output",
            "json",
            "--server",
            &grpc,
            "--api-key",
            &secret,
        ],
        &[],
    )
    .await
    .unwrap();
    let org_id = org.json().unwrap()["id"].as_str().unwrap().to_owned();

    let js = async_nats::jetstream::new(souk_testkit::nats::connect().await.unwrap());

    // The bootstrap key's event waited in the outbox; the serving process published it.
    let bootstrap_event = js
        .get_stream("SOUK_INTEGRATION")
        .await
        .unwrap()
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: format!("souk.{org_id}.integration.api_key_created"),
            ..Default::default()
        })
        .await
        .unwrap()
        .fetch()
        .max_messages(1)
        .expires(std::time::Duration::from_secs(10))
        .messages()
        .await
        .unwrap()
        .next()
        .await
        .expect("the bootstrap api_key_created event")
        .unwrap();
    let event =
        <souk_proto::events::Event as prost::Message>::decode(bootstrap_event.payload.clone())
            .unwrap();
    assert_eq!(event.r#type, "integration.api_key_created");
    assert_eq!(event.organization_id, org_id);
    let subject = format!("souk.{org_id}.integration.created");
    let consumer = js
        .get_stream("SOUK_INTEGRATION")
        .await
        .unwrap()
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: subject.clone(),
            ..Default::default()
        })
        .await
        .unwrap();

    let created = souk(
        &[
            "integration",
            "create",
            "--name",
            "acme-prod",
            "--role-arn",
            "arn:aws:iam::210987654321:role/Souk",
            "--product-code",
            "abc123",
            "--output",
            "json",
            "--server",
            &grpc,
            "--api-key",
            &secret,
        ],
        &[],
    )
    .await
    .unwrap();
    assert!(created.success, "{created:?}");
    let integration_id = created.json().unwrap()["id"].as_str().unwrap().to_owned();

    let mut messages = consumer
        .fetch()
        .max_messages(1)
        .expires(std::time::Duration::from_secs(10))
        .messages()
        .await
        .unwrap();
    let message = messages
        .next()
        .await
        .expect("an integration.created event")
        .unwrap();
    assert_eq!(message.subject.as_str(), subject);
    let event =
        <souk_proto::events::Event as prost::Message>::decode(message.payload.clone()).unwrap();
    assert_eq!(event.r#type, "integration.created");
    assert_eq!(event.integration_id, integration_id);
    assert_eq!(
        message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_owned()),
        Some(event.id)
    );

    let (status, _) = server.terminate().await.unwrap();
    assert!(status.success(), "{status}");
    db.cleanup().await.unwrap();
}
