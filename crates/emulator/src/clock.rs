//! The emulator clock: the wall clock plus an offset that the control API advances.
//!
//! Owner: emulator core.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// Wall clock plus an adjustable offset (milliseconds).
#[derive(Debug, Default)]
pub struct EmulatorClock {
    offset_millis: AtomicI64,
}

impl EmulatorClock {
    /// The emulator's "now", in UTC.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::milliseconds(self.offset_millis.load(Ordering::SeqCst))
    }

    /// Moves the emulator's time forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        let millis = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.offset_millis.fetch_add(millis, Ordering::SeqCst);
    }

    /// The current offset from the wall clock, in milliseconds (persisted with the state).
    pub fn offset_millis(&self) -> i64 {
        self.offset_millis.load(Ordering::SeqCst)
    }

    /// Sets the offset (restoring a persisted state, or `reset`).
    pub fn set_offset_millis(&self, millis: i64) {
        self.offset_millis.store(millis, Ordering::SeqCst);
    }
}
