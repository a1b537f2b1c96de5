//! WatchEvents over a real gRPC server: resumes from a cursor without gaps or repeats, follows
//! new commits, merges the outboxes of several services, stays inside the caller's
//! organisation, filters by type prefix, and refuses cursors it cannot honour.

use std::time::Duration;

use souk_events::{Namespace, OutboxWaker, WatchConfig, WatchEventsService};
use souk_proto::events::event_service_client::EventServiceClient;
use souk_proto::events::event_service_server::EventServiceServer;
use souk_proto::events::{Event, WatchEventsRequest, WatchEventsResponse};
use souk_store::Store;
use souk_testkit::both_backends;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Request, Status, Streaming};

use crate::support::{append, cancel_pending, migrated};

/// The organisation of a request, from the `x-org` header (auth is out of scope here).
fn org_from_header<T>(request: &Request<T>) -> Result<String, Status> {
    request
        .metadata()
        .get("x-org")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Status::unauthenticated("missing organisation"))
}

struct Server {
    client: EventServiceClient<Channel>,
    waker: OutboxWaker,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(stores: Vec<Store>) -> Server {
    let waker = OutboxWaker::new();
    let config = WatchConfig {
        poll_interval: Duration::from_secs(30),
        ..WatchConfig::default()
    };
    let service =
        WatchEventsService::new(stores, org_from_header, config).with_waker(waker.clone());
    let streams = service.shutdown_token();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        let server = tonic::transport::Server::builder()
            .add_service(EventServiceServer::new(service))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                stop.cancelled().await;
                streams.cancel();
            });
        server.await.unwrap();
    });
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = EventServiceClient::new(channel);
    Server {
        client,
        waker,
        shutdown,
        task,
    }
}

impl Server {
    async fn watch(
        &mut self,
        org: &str,
        cursor: &str,
        types: &[&str],
    ) -> Result<Streaming<WatchEventsResponse>, Status> {
        let mut request = Request::new(WatchEventsRequest {
            cursor: cursor.into(),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
        });
        request.metadata_mut().insert("x-org", org.parse().unwrap());
        Ok(self.client.watch_events(request).await?.into_inner())
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}

async fn next(stream: &mut Streaming<WatchEventsResponse>) -> WatchEventsResponse {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

async fn nothing_more(stream: &mut Streaming<WatchEventsResponse>) {
    let more = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(more.is_err(), "unexpected event: {more:?}");
}

fn id(response: &WatchEventsResponse) -> String {
    response
        .event
        .as_ref()
        .map(|e: &Event| e.id.clone())
        .unwrap_or_default()
}

both_backends!(
    watch_resumes_from_a_cursor_without_gaps_or_repeats,
    |store| async move {
        let store = migrated(store).await;
        let namespace = Namespace::default();
        let mut acme = Vec::new();
        for i in 0..5 {
            let event = cancel_pending("acme");
            append(&store, &namespace, &event).await;
            acme.push(event.id);
            if i % 2 == 0 {
                append(&store, &namespace, &cancel_pending("globex")).await;
            }
        }
        let mut server = serve(vec![store.clone()]).await;

        let mut stream = server.watch("acme", "0", &[]).await?;
        let mut seen = Vec::new();
        let mut cursor = String::new();
        for _ in 0..3 {
            let response = next(&mut stream).await;
            seen.push(id(&response));
            cursor = response.cursor;
        }
        drop(stream);
        assert_eq!(seen, acme[..3]);

        // Resume after the third: the fourth and fifth, then new commits as they happen.
        let mut stream = server.watch("acme", &cursor, &[]).await?;
        assert_eq!(id(&next(&mut stream).await), acme[3]);
        assert_eq!(id(&next(&mut stream).await), acme[4]);
        for _ in 0..2 {
            let event = cancel_pending("acme");
            append(&store, &namespace, &event).await;
            append(&store, &namespace, &cancel_pending("globex")).await;
            server.waker.wake();
            acme.push(event.id);
        }
        assert_eq!(id(&next(&mut stream).await), acme[5]);
        let last = next(&mut stream).await;
        assert_eq!(id(&last), acme[6]);
        nothing_more(&mut stream).await;
        drop(stream);

        // Resuming after the last event gives nothing old; "" starts from now.
        let mut resumed = server.watch("acme", &last.cursor, &[]).await?;
        let mut from_now = server.watch("acme", "", &[]).await?;
        nothing_more(&mut resumed).await;
        let event = cancel_pending("acme");
        append(&store, &namespace, &event).await;
        server.waker.wake();
        assert_eq!(id(&next(&mut resumed).await), event.id);
        assert_eq!(id(&next(&mut from_now).await), event.id);
        drop((resumed, from_now));

        // Another organisation sees only its own events.
        let mut globex = server.watch("globex", "0", &[]).await?;
        for _ in 0..5 {
            let response = next(&mut globex).await;
            assert_eq!(response.event.unwrap().organization_id, "globex");
        }
        nothing_more(&mut globex).await;
        drop(globex);
        server.stop().await;
        anyhow::Ok(())
    }
);

both_backends!(
    watch_filters_types_and_rejects_bad_input,
    |store| async move {
        let store = migrated(store).await;
        let namespace = Namespace::default();
        let cancel = cancel_pending("acme");
        let mut offer = cancel_pending("acme");
        offer.r#type = "offer.created".into();
        append(&store, &namespace, &cancel).await;
        append(&store, &namespace, &offer).await;
        let mut server = serve(vec![store.clone()]).await;

        let mut offers = server.watch("acme", "0", &["offer."]).await?;
        assert_eq!(id(&next(&mut offers).await), offer.id);
        nothing_more(&mut offers).await;
        drop(offers);

        let mut both = server
            .watch("acme", "0", &["offer.created", "subscription.cancel"])
            .await?;
        assert_eq!(id(&next(&mut both).await), cancel.id);
        assert_eq!(id(&next(&mut both).await), offer.id);
        drop(both);

        for bad in ["not-a-cursor", "-4", "17"] {
            let err = server.watch("acme", bad, &[]).await.unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
            assert_eq!(
                err.message(),
                "invalid cursor: use the cursor of a previous response, \"0\" for the oldest event or \"\" for new events only"
            );
        }
        let err = server.watch("acme", "0", &["Offer*"]).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let mut request = Request::new(WatchEventsRequest::default());
        request.metadata_mut().insert("x-nothing", "1".parse()?);
        let err = server.client.watch_events(request).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        server.stop().await;
        anyhow::Ok(())
    }
);

both_backends!(watch_merges_every_service_outbox, |db: TestDb| async move {
    let integration = migrated(db.store("integration").await?).await;
    let metering = migrated(db.store("metering").await?).await;
    let namespace = Namespace::default();
    let mut expected = Vec::new();
    for i in 0..6 {
        let store = if i % 3 == 0 { &integration } else { &metering };
        let event = cancel_pending("acme");
        append(store, &namespace, &event).await;
        expected.push(event.id);
        append(store, &namespace, &cancel_pending("globex")).await;
        // Distinct instants, so that the merge order is the order of the appends.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut server = serve(vec![integration.clone(), metering.clone()]).await;

    let mut stream = server.watch("acme", "0", &[]).await?;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..4 {
        let response = next(&mut stream).await;
        seen.push(id(&response));
        cursor = response.cursor;
    }
    drop(stream);
    assert_eq!(seen, expected[..4]);
    assert!(cursor.starts_with("c1."), "{cursor}");
    assert!(!cursor.contains("acme"), "{cursor}");

    // Resuming reads both outboxes from where the cursor left each.
    let mut resumed = server.watch("acme", &cursor, &[]).await?;
    let mut from_now = server.watch("acme", "", &[]).await?;
    assert_eq!(id(&next(&mut resumed).await), expected[4]);
    assert_eq!(id(&next(&mut resumed).await), expected[5]);
    nothing_more(&mut from_now).await;
    let event = cancel_pending("acme");
    append(&integration, &namespace, &event).await;
    server.waker.wake();
    assert_eq!(id(&next(&mut resumed).await), event.id);
    assert_eq!(id(&next(&mut from_now).await), event.id);
    drop((resumed, from_now));
    server.stop().await;
    db.cleanup().await?;
    anyhow::Ok(())
});

both_backends!(
    watch_refuses_foreign_and_stale_cursors,
    |db: TestDb| async move {
        let integration = migrated(db.store("integration").await?).await;
        let namespace = Namespace::default();
        let acme = cancel_pending("acme");
        append(&integration, &namespace, &acme).await;
        append(&integration, &namespace, &cancel_pending("acme")).await;
        let mut server = serve(vec![integration.clone()]).await;
        let mut stream = server.watch("acme", "0", &[]).await?;
        let cursor = next(&mut stream).await.cursor;
        drop(stream);

        // Another organisation's cursor, or one naming another organisation's event.
        let err = server.watch("globex", &cursor, &[]).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(
            err.message(),
            "invalid cursor: it was issued to another organisation"
        );
        let forged = souk_events::cursor::Cursor {
            organization_id: "globex".into(),
            positions: [("integration".to_owned(), acme.id.clone())].into(),
        }
        .encode();
        let err = server.watch("globex", &forged, &[]).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);

        // After a data reset the cursor's event is gone: refused, not a stream that never delivers.
        sqlx::query("DELETE FROM outbox")
            .execute(integration.pool())
            .await?;
        let err = server.watch("acme", &cursor, &[]).await.unwrap_err();
        assert_eq!(err.code(), Code::OutOfRange);
        assert_eq!(
            err.message(),
            format!(
                "the cursor is past what Souk holds: the integration service has no event {} (its data was reset, or the cursor comes from another deployment); start again with \"0\" for the oldest event or \"\" for new events only",
                acme.id
            )
        );
        server.stop().await;
        db.cleanup().await?;
        anyhow::Ok(())
    }
);
