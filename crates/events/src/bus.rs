//! [`InProcessBus`]: the broker of standalone mode (`souk dev`), a bounded tokio broadcast
//! channel fed by the same outbox relay as JetStream.
//!
//! The relay waits while the slowest live subscriber is a full queue behind, so a subscriber
//! that keeps up never loses an event. Nothing is stored: a subscriber sees what is published
//! while it is subscribed, and resumable reading is the job of `WatchEvents` (the outbox).

use std::time::Duration;

use async_trait::async_trait;
use prost::Message;
use souk_proto::events::Event;
use tokio::sync::broadcast;

use crate::Error;
use crate::publisher::{OutgoingEvent, PublishReceipt, Publisher};

/// Default number of events a subscriber may fall behind before the relay waits.
pub const DEFAULT_BUS_CAPACITY: usize = 1024;
/// Default time the relay waits for room on the bus before reporting it full.
pub const DEFAULT_BUS_FULL_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a publisher re-checks a full bus.
const FULL_POLL: Duration = Duration::from_millis(2);

/// A bounded in-process broadcast of events. Cheap to clone; clones share the channel.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<OutgoingEvent>,
    capacity: usize,
    full_timeout: Duration,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(DEFAULT_BUS_CAPACITY)
    }
}

impl InProcessBus {
    /// A bus whose subscribers may each fall `capacity` events behind (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (sender, _) = broadcast::channel(capacity);
        Self {
            sender,
            capacity,
            full_timeout: DEFAULT_BUS_FULL_TIMEOUT,
        }
    }

    /// Changes how long `publish` waits for room before failing with [`Error::BusFull`].
    pub fn with_full_timeout(mut self, full_timeout: Duration) -> Self {
        self.full_timeout = full_timeout;
        self
    }

    /// A new subscriber that sees every event published from now on.
    pub fn subscribe(&self) -> BusSubscription {
        BusSubscription {
            receiver: self.sender.subscribe(),
        }
    }

    /// How many subscribers are listening.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }

    async fn wait_for_room(&self) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + self.full_timeout;
        while self.sender.len() >= self.capacity {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::BusFull);
            }
            tokio::time::sleep(FULL_POLL).await;
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for InProcessBus {
    async fn publish(&self, event: &OutgoingEvent) -> Result<PublishReceipt, Error> {
        if self.sender.receiver_count() == 0 {
            // Nobody listens in process; the outbox (WatchEvents) still holds the event.
            return Ok(PublishReceipt { duplicate: false });
        }
        self.wait_for_room().await?;
        // A send error only means every subscriber went away meanwhile.
        let _ = self.sender.send(event.clone());
        Ok(PublishReceipt { duplicate: false })
    }
}

/// What a bus subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum BusDelivery {
    /// A well-formed event.
    Event {
        /// The event.
        event: Box<Event>,
        /// The subject it was published on.
        subject: String,
    },
    /// A payload that is not a `souk.events.v1.Event`; the consumer must park it.
    Malformed {
        /// The event id from the outbox row.
        id: String,
        /// The subject it was published on.
        subject: String,
        /// Why it could not be decoded.
        reason: String,
        /// The raw payload.
        payload: bytes::Bytes,
    },
    /// The subscriber fell so far behind that `skipped` events were lost to it.
    Lagged {
        /// How many events were skipped.
        skipped: u64,
    },
}

/// One subscriber of the [`InProcessBus`].
#[derive(Debug)]
pub struct BusSubscription {
    receiver: broadcast::Receiver<OutgoingEvent>,
}

impl BusSubscription {
    /// The next delivery; `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<BusDelivery> {
        match self.receiver.recv().await {
            Ok(raw) => Some(decode_delivery(raw)),
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                Some(BusDelivery::Lagged { skipped })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

fn decode_delivery(raw: OutgoingEvent) -> BusDelivery {
    match Event::decode(raw.payload.clone()) {
        Ok(event) if event.id.is_empty() || event.r#type.is_empty() => BusDelivery::Malformed {
            id: raw.id,
            subject: raw.subject,
            reason: "no id or type".to_owned(),
            payload: raw.payload,
        },
        Ok(event) => BusDelivery::Event {
            event: Box::new(event),
            subject: raw.subject,
        },
        Err(err) => BusDelivery::Malformed {
            id: raw.id,
            subject: raw.subject,
            reason: err.to_string(),
            payload: raw.payload,
        },
    }
}
