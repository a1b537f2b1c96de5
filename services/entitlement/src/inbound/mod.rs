//! Notifications arriving from AWS: the SNS HTTPS endpoint, the EventBridge API-destination
//! endpoint and the SQS pollers. Whatever cannot be parsed or authenticated is parked with the
//! reason and counted, never dropped and never fatal.

mod endpoint;
pub mod eventbridge;
pub mod fulfilment;
pub mod pages;
pub mod park;
pub mod sns;
pub mod sqs;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::app::HttpContext;

/// Counts of parked notifications since start, by (route, reason).
#[derive(Debug, Clone, Default)]
pub struct Parked(Arc<Mutex<HashMap<(&'static str, &'static str), u64>>>);

impl Parked {
    /// Counts one parked notification.
    pub fn count(&self, route: &'static str, reason: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((route, reason))
            .or_default() += 1;
    }

    /// Every (route, reason, count).
    pub fn counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut all: Vec<_> = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((route, reason), n)| (*route, *reason, *n))
            .collect();
        all.sort_unstable();
        all
    }
}

/// The HTTP routes: the fulfilment page (`/aws/fulfilment/{integration_id}`), the SNS endpoint
/// (`/aws/sns/{integration_id}`) and the EventBridge endpoint (`/aws/eventbridge/{integration_id}`).
pub fn router(context: HttpContext) -> axum::Router {
    axum::Router::new()
        .merge(fulfilment::routes())
        .merge(sns::routes())
        .merge(eventbridge::routes())
        .with_state(context)
}
