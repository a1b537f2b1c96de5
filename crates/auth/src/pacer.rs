//! Pacing of calls under an AWS per-account quota (GetEntitlements: 20 requests per second,
//! BatchMeterUsage: 10): each key's (integration's) calls are spaced at least `1 / rate` apart,
//! across every task of the process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Spaces calls per key.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// At most `per_second` calls per second per key (at least 1).
    pub fn new(per_second: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the next slot of `key`.
    pub async fn wait(&self, key: &str) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.get(key).copied().filter(|at| *at > now).unwrap_or(now);
            next.insert(key.to_owned(), slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_of_one_key_are_spaced_and_keys_are_independent() {
        let pacer = Pacer::new(20);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait("a").await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        let other = Instant::now();
        pacer.wait("b").await;
        assert_eq!(other.elapsed(), Duration::ZERO);
    }
}
