//! A state change and its event commit together; a rolled-back transaction publishes nothing.

use souk_events::{Area, Namespace, OutboxRelay, RelayConfig, outbox_record};
use souk_proto::events::Event;
use souk_store::{Store, Tx, outbox};
use souk_testkit::both_backends;
use tokio_util::sync::CancellationToken;

use crate::support::{
    cancel_pending, delete_streams, migrated, pending, publisher, stream_len, unique_settings,
};

/// Inserts widget `id` and appends `event` to the outbox in one open transaction, returned for
/// the caller to commit or roll back.
async fn add_widget(
    store: &Store,
    namespace: &Namespace,
    id: &str,
    event: &Event,
) -> anyhow::Result<Tx> {
    let mut tx = store.begin_write().await?;
    sqlx::query("INSERT INTO widgets (id) VALUES ($1)")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    outbox::append(&mut tx, &outbox_record(namespace, event)?).await?;
    Ok(tx)
}

both_backends!(state_change_and_event_commit_together, |store| async move {
    let store = migrated(store).await;
    sqlx::query("CREATE TABLE widgets (id TEXT PRIMARY KEY)")
        .execute(store.pool())
        .await?;
    let settings = unique_settings();
    let publisher = publisher(&settings).await;
    let namespace = &settings.namespace;

    let committed = cancel_pending("acme");
    let tx = add_widget(&store, namespace, "w1", &committed).await?;
    tx.commit().await?;

    let rolled_back = cancel_pending("acme");
    let tx = add_widget(&store, namespace, "w2", &rolled_back).await?;
    tx.rollback().await?;

    let relay = OutboxRelay::new(store.clone(), publisher.clone(), RelayConfig::default());
    let pass = relay.run_once(&CancellationToken::new()).await?;
    assert_eq!((pass.leased, pass.published), (1, 1));
    assert_eq!(pending(&store).await, 0);

    let widgets: Vec<String> = sqlx::query_scalar("SELECT id FROM widgets")
        .fetch_all(store.pool())
        .await?;
    assert_eq!(widgets, vec!["w1".to_string()]);

    let context = publisher.context().clone();
    assert_eq!(stream_len(&context, &settings, Area::Subscription).await, 1);
    let stream = context
        .get_stream(settings.namespace.stream_name(Area::Subscription))
        .await?;
    let subject = namespace.subject_for_type("acme", "subscription.cancel_pending")?;
    let stored = stream.get_last_raw_message_by_subject(&subject).await?;
    let msg_id = stored
        .headers
        .get(async_nats::header::NATS_MESSAGE_ID)
        .map(|v| v.as_str().to_owned());
    assert_eq!(msg_id.as_deref(), Some(committed.id.as_str()));
    assert_eq!(
        <Event as prost::Message>::decode(stored.payload)?,
        committed
    );

    // A second pass finds nothing to do.
    let pass = relay.run_once(&CancellationToken::new()).await?;
    assert_eq!(pass.leased, 0);
    delete_streams(&context, &settings).await;
    anyhow::Ok(())
});

both_backends!(bad_events_never_reach_the_outbox, |store| async move {
    let store = migrated(store).await;
    let settings = unique_settings();
    let mut event = cancel_pending("acme");
    event.r#type = "subscription.Cancel".into();
    assert!(outbox_record(&settings.namespace, &event).is_err());
    let mut event = cancel_pending("acme");
    event.organization_id = "acme.*".into();
    assert!(outbox_record(&settings.namespace, &event).is_err());
    let mut event = cancel_pending("acme");
    event.id = "not-a-uuid".into();
    assert!(outbox_record(&settings.namespace, &event).is_err());
    assert_eq!(pending(&store).await, 0);
    anyhow::Ok(())
});
