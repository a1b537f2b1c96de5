//! The broker losing its streams (a NATS restarted on an empty store, a stream deleted by
//! hand): the publisher recreates them instead of failing every publish with "no stream found
//! for given subject" until a restart. And the outbox backlog that shows a stuck relay.

use std::process::Stdio;
use std::time::Duration;

use souk_events::relay::outbox_backlog;
use souk_events::{Area, JetStreamPublisher, OutboxRelay, RelayConfig};
use souk_testkit::both_backends;
use tokio_util::sync::CancellationToken;

use crate::support::{
    append, cancel_pending, delete_streams, eventually, migrated, pending, publisher, stream_len,
    unique_settings,
};

both_backends!(
    a_relay_recreates_streams_the_broker_lost,
    |store| async move {
        let store = migrated(store).await;
        let settings = unique_settings();
        let jetstream = publisher(&settings).await;
        let context = jetstream.context().clone();
        // The broker forgets every stream of the namespace.
        delete_streams(&context, &settings).await;

        let event = cancel_pending("acme");
        append(&store, &settings.namespace, &event).await;
        let relay = OutboxRelay::new(store.clone(), jetstream, RelayConfig::default());
        let pass = relay.run_once(&CancellationToken::new()).await?;
        assert_eq!(pass.broker_error, None, "{pass:?}");
        assert_eq!(pass.published, 1, "{pass:?}");
        assert_eq!(pending(&store).await, 0);
        assert_eq!(stream_len(&context, &settings, Area::Subscription).await, 1);
        delete_streams(&context, &settings).await;
        Ok::<(), anyhow::Error>(())
    }
);

both_backends!(
    the_backlog_counts_unpublished_rows_and_their_age,
    |store| async move {
        let store = migrated(store).await;
        let settings = unique_settings();
        let now = time::OffsetDateTime::now_utc();
        let empty = outbox_backlog(&store, now).await?;
        assert_eq!(empty.rows, 0);
        assert_eq!(empty.oldest_age, None);

        append(&store, &settings.namespace, &cancel_pending("acme")).await;
        append(&store, &settings.namespace, &cancel_pending("acme")).await;
        let later = time::OffsetDateTime::now_utc() + Duration::from_secs(30);
        let backlog = outbox_backlog(&store, later).await?;
        assert_eq!(backlog.rows, 2);
        let age = backlog.oldest_age.expect("an age");
        assert!(
            age >= Duration::from_secs(29) && age < Duration::from_secs(60),
            "{age:?}"
        );

        let jetstream = publisher(&settings).await;
        let context = jetstream.context().clone();
        let relay = OutboxRelay::new(store.clone(), jetstream, RelayConfig::default());
        relay.run_once(&CancellationToken::new()).await?;
        let drained = outbox_backlog(&store, later).await?;
        assert_eq!(drained.rows, 0);
        assert_eq!(drained.oldest_age, None);
        delete_streams(&context, &settings).await;
        Ok::<(), anyhow::Error>(())
    }
);

/// A NATS server of this test's own (the shared one must not be restarted), with JetStream
/// storing into `store_dir`.
fn start_nats(port: u16, store_dir: &std::path::Path) -> std::process::Child {
    std::process::Command::new(nats_server())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server")
}

fn nats_server() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| {
        [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server")
        .to_owned()
    })
}

async fn wait_for_port(port: u16) {
    let up = eventually(Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(up, "nats-server did not listen on {port}");
}

#[tokio::test]
async fn streams_come_back_after_the_broker_restarts_empty() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store_dir = std::env::temp_dir().join(format!("souk-nats-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&store_dir).unwrap();
    let mut nats = start_nats(port, &store_dir);
    wait_for_port(port).await;
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(format!("nats://127.0.0.1:{port}"))
        .await
        .unwrap();
    let settings = unique_settings();
    let publisher = JetStreamPublisher::start(client.clone(), settings.clone())
        .await
        .unwrap();
    let context = publisher.context().clone();
    let stream = settings.namespace.stream_name(Area::Subscription);
    assert!(context.get_stream(&stream).await.is_ok());

    // Restart the broker on an empty store.
    nats.kill().unwrap();
    let _ = nats.wait();
    std::fs::remove_dir_all(&store_dir).unwrap();
    std::fs::create_dir_all(&store_dir).unwrap();
    let mut nats = start_nats(port, &store_dir);
    wait_for_port(port).await;

    // Without any publish, the streams are back soon after the client reconnected: consumers
    // starting now find them.
    let back = eventually(Duration::from_secs(20), || async {
        context.get_stream(&stream).await.is_ok()
    })
    .await;
    drop(publisher);
    let _ = nats.kill();
    let _ = nats.wait();
    let _ = std::fs::remove_dir_all(&store_dir);
    assert!(back, "the streams were not recreated after the reconnect");
}
