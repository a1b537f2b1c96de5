//! The in-process bus: the relay feeds it from the outbox; a slow subscriber slows the relay
//! down instead of losing events.

use std::time::Duration;

use bytes::Bytes;
use souk_events::{BusDelivery, InProcessBus, OutboxRelay, OutgoingEvent, Publisher, RelayConfig};
use souk_testkit::both_backends;

use crate::support::{append, cancel_pending, eventually, migrated, pending};

both_backends!(
    relay_feeds_the_bus_without_losing_events,
    |store| async move {
        let store = migrated(store).await;
        let bus = InProcessBus::new(4);
        let mut subscriber = bus.subscribe();
        let namespace = souk_events::Namespace::default();
        let mut ids = Vec::new();
        for _ in 0..20 {
            let event = cancel_pending("acme");
            append(&store, &namespace, &event).await;
            ids.push(event.id);
        }
        let relay = OutboxRelay::new(store.clone(), bus.clone(), RelayConfig::default()).start();
        let mut received = Vec::new();
        while received.len() < ids.len() {
            // A slow subscriber: the bus holds 4, the relay waits for room.
            tokio::time::sleep(Duration::from_millis(5)).await;
            match tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await? {
                Some(BusDelivery::Event { event, subject }) => {
                    assert_eq!(subject, format!("souk.acme.subscription.cancel_pending"));
                    received.push(event.id);
                }
                other => panic!("unexpected delivery {other:?}"),
            }
        }
        assert_eq!(received, ids);
        assert!(
            eventually(Duration::from_secs(5), || async {
                pending(&store).await == 0
            })
            .await
        );
        relay.shutdown().await;
        anyhow::Ok(())
    }
);

#[tokio::test]
async fn a_full_bus_fails_the_publish_after_its_timeout() {
    let bus = InProcessBus::new(1).with_full_timeout(Duration::from_millis(50));
    let _idle = bus.subscribe();
    let event = OutgoingEvent {
        id: "e1".into(),
        subject: "souk.acme.offer.created".into(),
        event_type: "offer.created".into(),
        organization_id: "acme".into(),
        payload: Bytes::new(),
    };
    bus.publish(&event).await.unwrap();
    let err = bus.publish(&event).await.unwrap_err();
    assert!(matches!(err, souk_events::Error::BusFull));
    // Without subscribers nothing is held up.
    let lonely = InProcessBus::new(1);
    lonely.publish(&event).await.unwrap();
    lonely.publish(&event).await.unwrap();
}
