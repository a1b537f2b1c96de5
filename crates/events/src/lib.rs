//! Souk events: the `souk.events.v1.Event` envelope and its NATS subjects
//! (`souk.<org>.<area>.<event>`, one JetStream stream per area), the relay that publishes the
//! transactional outbox of a service's store to NATS JetStream or to the in-process bus of
//! standalone mode, durable consumers that acknowledge explicitly and park what they cannot
//! handle in the dead-letter table, and the `WatchEvents` gRPC stream over the outbox.
//!
//! It depends on `souk-core`, `souk-proto` and `souk-store` (for the outbox and dead-letter
//! tables), never on a service crate: services depend on it.
//!
//! Delivery is at least once end to end; consumers must be idempotent on the event id.
//!
//! ```ignore
//! // wiring: one relay per store, to JetStream (or an `InProcessBus` in `souk dev`); it wakes
//! // on the store's outbox waker
//! let publisher = JetStreamPublisher::start(nats_client, StreamSettings::default()).await?;
//! let relay = OutboxRelay::new(store.clone(), publisher.clone(), RelayConfig::default()).start();
//!
//! // a service: the state change and its event in one unit of work; the commit wakes the relay
//! let events = EventFactory::new(clock, Namespace::default());
//! let Begun::Fresh(mut work) = store.unit_of_work(&org, idempotency.as_ref()).await? else { .. };
//! /* ... update the subscription with work.tx() ... */
//! work.emit(events.record("subscription.cancel_pending", &org, &integration, payload)?);
//! work.commit(|| response.encode_to_vec(), clock.now()).await?;
//!
//! // a consumer: durable, explicit acks, dead letters in the store
//! let config = ConsumerConfig::new("metering-subscriptions", Area::Subscription);
//! let consumer = start_jetstream_consumer(
//!     publisher.context().clone(), publisher.settings(), config, handler, store.clone(),
//! ).await?;
//!
//! // shutdown
//! consumer.shutdown().await;
//! relay.shutdown().await;
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod backoff;
pub mod bus;
pub mod consumer;
pub mod cursor;
pub mod dead_letter;
pub mod envelope;
mod error;
pub mod factory;
pub mod jetstream;
pub mod publisher;
pub mod relay;
pub mod subject;
pub mod watch;

pub use backoff::Backoff;
pub use bus::{BusDelivery, BusSubscription, InProcessBus};
pub use consumer::{
    ConsumerConfig, ConsumerHandle, EventHandler, HandlerError, start_bus_consumer,
    start_jetstream_consumer,
};
pub use dead_letter::DeadLetterSink;
pub use envelope::{event_with, new_event, outbox_record};
pub use error::Error;
pub use factory::EventFactory;
pub use jetstream::JetStreamPublisher;
pub use publisher::{OutgoingEvent, PublishReceipt, Publisher};
pub use relay::{OutboxRelay, OutboxWaker, RelayConfig, RelayHandle, RelayPass};
pub use subject::{Area, Namespace, StreamSettings, subject_for};
pub use watch::{WatchConfig, WatchEventsService};
