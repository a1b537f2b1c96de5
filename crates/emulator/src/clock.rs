//! The emulator clock: the wall clock plus an offset that the control API advances.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

use crate::at::At;

/// The furthest the emulator clock may run ahead of the wall clock: about 100 years. Far enough
/// for any contract a test can write, near enough that `now` stays a valid date (year < 9999)
/// and no arithmetic on it overflows.
pub const MAX_OFFSET_SECONDS: i64 = 100 * 366 * 24 * 3600;

/// Why the clock refused to move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvanceError {
    /// A negative step: the clock only moves forward.
    #[error("the clock only moves forward")]
    Backwards,
    /// The step would put the clock more than [`MAX_OFFSET_SECONDS`] ahead of the wall clock.
    #[error(
        "the clock may run at most {MAX_OFFSET_SECONDS} seconds (about 100 years) ahead of the wall clock; it is {current} seconds ahead"
    )]
    TooFar {
        /// The current offset in seconds.
        current: i64,
    },
}

/// Wall clock plus an adjustable offset (milliseconds).
#[derive(Debug, Default)]
pub struct EmulatorClock {
    offset_millis: AtomicI64,
}

impl EmulatorClock {
    /// The emulator's "now": the only source of time inside the emulator.
    pub fn now_at(&self) -> At {
        At::from_offset_datetime(OffsetDateTime::now_utc())
            + time::Duration::milliseconds(self.offset_millis.load(Ordering::SeqCst))
    }

    /// [`EmulatorClock::now_at`] as a `time` value, for callers outside the emulator (the CLI,
    /// tests) that do calendar arithmetic; the same instant, to the millisecond.
    pub fn now(&self) -> OffsetDateTime {
        self.now_at().to_offset_datetime()
    }

    /// Moves the emulator's time forward by `by`, stopping at [`MAX_OFFSET_SECONDS`] ahead of the
    /// wall clock (negative steps do nothing). See [`EmulatorClock::try_advance`].
    pub fn advance(&self, by: time::Duration) {
        let seconds = by.whole_seconds().max(0);
        let by = seconds.min(MAX_OFFSET_SECONDS).saturating_mul(1000);
        let _ = self
            .offset_millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                Some(current.saturating_add(by).min(MAX_OFFSET_SECONDS * 1000))
            });
    }

    /// Moves the emulator's time forward by `seconds`; refuses (leaving the clock as it was)
    /// steps that are negative or would take it past [`MAX_OFFSET_SECONDS`].
    pub fn try_advance(&self, seconds: i64) -> Result<(), AdvanceError> {
        if seconds < 0 {
            return Err(AdvanceError::Backwards);
        }
        let by = seconds.saturating_mul(1000);
        self.offset_millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                current
                    .checked_add(by)
                    .filter(|next| *next <= MAX_OFFSET_SECONDS * 1000)
            })
            .map(|_| ())
            .map_err(|current| AdvanceError::TooFar {
                current: current / 1000,
            })
    }

    /// The current offset from the wall clock, in milliseconds (persisted with the state).
    pub fn offset_millis(&self) -> i64 {
        self.offset_millis.load(Ordering::SeqCst)
    }

    /// Sets the offset (restoring a persisted state, or `reset`), clamped to
    /// `0..=`[`MAX_OFFSET_SECONDS`] so a hand-edited state file cannot break the clock.
    pub fn set_offset_millis(&self, millis: i64) {
        self.offset_millis
            .store(millis.clamp(0, MAX_OFFSET_SECONDS * 1000), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_is_bounded_and_leaves_the_clock_alone_when_refused() {
        let clock = EmulatorClock::default();
        assert_eq!(clock.try_advance(-1), Err(AdvanceError::Backwards));
        assert!(matches!(
            clock.try_advance(70_000_000 * 3600),
            Err(AdvanceError::TooFar { current: 0 })
        ));
        assert!(matches!(
            clock.try_advance(i64::MAX),
            Err(AdvanceError::TooFar { .. })
        ));
        assert_eq!(clock.offset_millis(), 0);
        assert_eq!(clock.try_advance(3600), Ok(()));
        assert_eq!(clock.offset_millis(), 3_600_000);
        clock.advance(time::Duration::seconds(i64::MAX));
        assert_eq!(clock.offset_millis(), MAX_OFFSET_SECONDS * 1000);
        let _ = clock.now();
    }
}
