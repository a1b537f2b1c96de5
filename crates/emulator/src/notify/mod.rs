//! Lifecycle notifications: legacy SNS envelopes (signed for real, SignatureVersion 1 and 2) and
//! EventBridge-shaped events, delivered to emulator SQS queues and/or HTTP endpoints.
//! Other modules only call [`NotifyState::emit`].
//!
//! Delivery model: `emit` queues a [`Notification`] in the world and wakes the background
//! delivery task ([`start_delivery`], started by the server next to the listener). The task takes
//! the pending notifications under the world lock, builds and signs the envelopes without it,
//! enqueues SQS deliveries under the lock again, and POSTs HTTP deliveries with a timeout and a
//! bounded exponential backoff ([`Settings`]). [`flush`] runs one delivery pass on demand (the
//! control API's `POST /_souk/notifications/flush`, and tests).

mod control;

mod delivery;
pub mod eventbridge;
pub mod http;
pub mod model;
mod routes;
pub mod signing;
pub mod sns;
pub mod subscription;

pub use control::control_router;
pub use delivery::{FlushSummary, flush, start_delivery};
pub use model::{DeliveryRecord, DeliveryStatus, Notification, NotifyState, Outgoing, Settings};
pub use routes::router;
pub use subscription::{Feed, SnsTopic, Status, Subscription, Target};

use crate::Emulator;
use crate::at::At;

/// The emulator's base URL as clients reach it (settings, else `http://localhost:4566`).
pub fn public_url(emu: &Emulator) -> String {
    let configured = emu.world().notify.settings.public_url.clone();
    configured
        .unwrap_or_else(|| "http://localhost:4566".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Sets the base URL used in queue URLs and SNS links; the server calls this once it has bound.
pub fn set_public_url(emu: &Emulator, url: &str) {
    emu.world().notify.settings.public_url = Some(url.trim_end_matches('/').to_owned());
}

/// The wall clock's now (retry scheduling is real time, not emulator time).
pub(crate) fn wall_now() -> At {
    At::from_offset_datetime(time::OffsetDateTime::now_utc())
}
