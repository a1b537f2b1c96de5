//! Retrying a whole transaction when the database says "try again".
//!
//! Serialization failures and deadlocks (PostgreSQL), `SQLITE_BUSY` and pool timeouts map to
//! `Unavailable`; the right reaction is to run the whole transaction again after a short,
//! jittered pause. [`with_retries`] does that for a closure that opens, runs and commits its own
//! transaction.

use std::future::Future;
use std::time::Duration;

use souk_core::ErrorCode;

use crate::Result;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (at least 1).
    pub attempts: u32,
    /// Pause before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of a pause.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1` (`attempt` counts from 1): exponential, capped,
    /// with "equal jitter" (half fixed, half random) so that colliding writers spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1_u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let random = uuid::Uuid::new_v4().as_u128() as u64;
        let jitter_nanos = match u64::try_from(half.as_nanos()) {
            Ok(0) | Err(_) => 0,
            Ok(span) => random % span,
        };
        half + Duration::from_nanos(jitter_nanos)
    }
}

/// Runs `transaction` until it succeeds, fails with an error that is not `Unavailable`, or
/// `policy.attempts` are spent (then the last error is returned).
///
/// The closure must do the whole unit of work, `begin` to `commit`, so a retry starts clean.
pub async fn with_retries<T, F, Fut>(policy: RetryPolicy, mut transaction: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match transaction().await {
            Err(err) if err.code == ErrorCode::Unavailable && attempt < policy.attempts => {
                let pause = policy.backoff(attempt);
                tracing::debug!(attempt, ?pause, error = %err, "retrying transaction");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use souk_core::Error;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
        };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(5) && first < Duration::from_millis(10));
            let late = policy.backoff(9);
            assert!(late >= Duration::from_millis(50) && late < Duration::from_millis(100));
        }
    }

    #[tokio::test]
    async fn retries_only_unavailable() {
        let policy = RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::ZERO,
            ..RetryPolicy::default()
        };
        let calls = AtomicU32::new(0);
        let result = with_retries(policy, || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                Err(Error::new(ErrorCode::Unavailable, "busy"))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(result, Ok(2));

        let calls = AtomicU32::new(0);
        let result: Result<()> = with_retries(policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::new(ErrorCode::Conflict, "taken"))
        })
        .await;
        assert_eq!(result.unwrap_err().code, ErrorCode::Conflict);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let result: Result<()> = with_retries(policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::new(ErrorCode::Unavailable, "busy"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
