//! Exponential backoff with jitter, shared by the relay and the consumers.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: `base * 2^(attempt-1)`, capped at `max`, then jittered to a random
/// value in its upper half so that replicas retrying together spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the second attempt (before jitter).
    pub base: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The un-jittered delay after `attempt` failures (`attempt` starts at 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        self.base.saturating_mul(1_u32 << exponent).min(self.max)
    }

    /// The jittered delay after `attempt` failures: uniform in `[ceiling / 2, ceiling]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let floor = ceiling / 2;
        if ceiling <= floor {
            return ceiling;
        }
        rand::rng().random_range(floor..=ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_is_capped_and_jittered() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(backoff.ceiling(1), Duration::from_millis(100));
        assert_eq!(backoff.ceiling(3), Duration::from_millis(400));
        assert_eq!(backoff.ceiling(10), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(1));
        for attempt in 1..8 {
            let delay = backoff.delay(attempt);
            assert!(delay <= backoff.ceiling(attempt) && delay >= backoff.ceiling(attempt) / 2);
        }
    }
}
