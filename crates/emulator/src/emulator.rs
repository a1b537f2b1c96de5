//! The emulator handle: the [`World`] behind one mutex (never held across an await), the
//! configuration, the emulator clock and the state file's journal; serving, advancing and
//! persisting go through it.

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

    /// An emulator restored from `config.state_file` (snapshot, journal and clock offset) when
    /// the file exists, otherwise a fresh one; with a state file, its journal is open (and
    /// compacted) on return.
    pub fn load(config: EmulatorConfig) -> std::io::Result<Self> {
        let Some(path) = config.state_file.clone() else {
            return Ok(Self::new(config));
        };
        let (emulator, generation) = match crate::persist::restore(&path)? {
            Some((mut world, offset, generation)) => {
                world.migrate();
                world.market.recompute_next_transition(i64::MIN);
                let emulator = Self::with_world(config, world);
                emulator.clock().set_offset_millis(offset);
                (emulator, generation)
            }
            None => (Self::new(config), 0),
        };
        let journal = crate::persist::open(&emulator, &path, generation)?;
        // Nobody else holds the emulator yet, so the lock is free (and `blocking_lock` would
        // panic inside a runtime).
        if let Ok(mut slot) = emulator.inner.journal.try_lock() {
            *slot = Some(journal);
        }
        Ok(emulator)
    }

    /// The HTTP router serving every protocol and the control API.
    pub fn router(&self) -> axum::Router {
        crate::server::router(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes, with the notification delivery task
    /// running alongside; drains in-flight requests before returning.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut delivery_stop = stop_rx.clone();
        let delivery = crate::notify::start_delivery(self.clone(), async move {
            let _ = delivery_stop.wait_for(|stop| *stop).await;
        });
        let mut server_stop = stop_rx;
        let result = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .await;
        watcher.abort();
        delivery.abort();
        // Changes made outside requests (notification deliveries) since the last one.
        if let Err(err) = crate::persist::save(&self).await {
            tracing::error!(error = %err, "could not persist the emulator state");
        }
        result
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

    /// Applies every transition due at the emulator clock's "now" ([`crate::advance::advance`]).
    pub fn advance_world(&self) {
        let now = self.clock().now();
        let mut world = self.world();
        crate::advance::advance(&mut world, self.config(), now);
    }

    /// Locks the world. Never hold the guard across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.inner
            .world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
