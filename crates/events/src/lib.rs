//! Souk events: envelope, subjects, outbox relay to NATS JetStream or the in-process bus, durable consumers with dead-lettering, WatchEvents.
