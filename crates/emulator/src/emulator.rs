//! The emulator handle: the [`World`] behind one mutex (never held across an await), the
//! configuration, the emulator clock and the state file's journal. What the handle does lives
//! with the layer that does it: serving in [`crate::server`], loading and persisting in
//! [`crate::persist`], moving time in [`crate::advance`].

use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::EmulatorClock;
use crate::config::EmulatorConfig;
use crate::state::World;

/// A running emulator's handle; cheap to clone.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: EmulatorConfig,
    clock: EmulatorClock,
    world: Mutex<World>,
    /// The state file's journal, opened by [`Emulator::load`] or by the first save.
    journal: tokio::sync::Mutex<Option<crate::persist::Journal>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A fresh emulator with an empty world.
    pub fn new(config: EmulatorConfig) -> Self {
        Self::with_world(config, World::default())
    }

    /// An emulator over an existing world (for example one loaded from a state file).
    pub fn with_world(config: EmulatorConfig, world: World) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                clock: EmulatorClock::default(),
                world: Mutex::new(world),
                journal: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The state file's journal (`None` until opened); its lock serializes writers.
    pub(crate) fn journal_slot(&self) -> &tokio::sync::Mutex<Option<crate::persist::Journal>> {
        &self.inner.journal
    }

    /// Clears the world and the clock offset (control API `reset`).
    pub fn reset(&self) {
        *self.world() = World::default();
        self.clock().set_offset_millis(0);
    }

    /// The configuration.
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The emulator clock (wall clock plus an offset the control API can advance).
    pub fn clock(&self) -> &EmulatorClock {
        &self.inner.clock
    }

    /// Locks the world. Never hold the guard across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.inner
            .world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
