//! The in-process emulator's clock as the services' clock, so a test that advances the
//! emulator's clock moves the service under test too.

use souk_core::Clock;
use souk_emulator::Emulator;
use time::OffsetDateTime;

/// The clock of an in-process emulator.
#[derive(Clone)]
pub struct EmulatorClock(pub Emulator);

impl std::fmt::Debug for EmulatorClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmulatorClock")
    }
}

impl Clock for EmulatorClock {
    fn now(&self) -> OffsetDateTime {
        self.0.clock().now()
    }
}
