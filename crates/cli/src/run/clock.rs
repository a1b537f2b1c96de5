//! Which clock Souk runs on. In the sandbox it is the emulator's, so that advancing the
//! emulator's clock (`souk sandbox advance-clock 2h`) moves Souk too: deadlines pass, hours
//! close, entitlements expire. `souk dev --emulate-aws` reads the in-process emulator's clock;
//! a process beside a separate `souk emulator` follows its `GET /_souk/clock` offset with
//! `clock_source = "emulator"`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use souk_core::{Clock, SharedClock};
use souk_emulator::Emulator;

use crate::emulator_control::EmulatorClient;
use time::OffsetDateTime;

/// The in-process emulator's clock.
#[derive(Clone)]
pub struct InProcessEmulatorClock(pub Emulator);

impl std::fmt::Debug for InProcessEmulatorClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessEmulatorClock")
    }
}

impl Clock for InProcessEmulatorClock {
    fn now(&self) -> OffsetDateTime {
        self.0.clock().now()
    }
}

/// The wall clock plus the offset a separate emulator reports, refreshed every `interval`.
#[derive(Debug, Clone)]
pub struct RemoteEmulatorClock {
    offset_millis: Arc<AtomicI64>,
}

impl Clock for RemoteEmulatorClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::milliseconds(self.offset_millis.load(Ordering::Relaxed))
    }
}

/// How often a process re-reads a separate emulator's clock.
pub const REMOTE_CLOCK_INTERVAL: Duration = Duration::from_millis(200);

impl RemoteEmulatorClock {
    /// Reads the emulator's clock at `emulator_url` once (failing if it cannot), then every
    /// [`REMOTE_CLOCK_INTERVAL`] in the background.
    pub async fn follow(emulator_url: &str) -> anyhow::Result<Self> {
        // One client for every read: its pool keeps the connection to the emulator open.
        let emulator = EmulatorClient::new(emulator_url)?;
        let offset = read_offset(&emulator).await.map_err(|error| {
            anyhow::anyhow!(
                "clock_source = \"emulator\": cannot read the clock of {emulator_url}: {error}"
            )
        })?;
        let clock = Self {
            offset_millis: Arc::new(AtomicI64::new(offset)),
        };
        let shared = Arc::clone(&clock.offset_millis);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REMOTE_CLOCK_INTERVAL).await;
                match read_offset(&emulator).await {
                    Ok(offset) => shared.store(offset, Ordering::Relaxed),
                    Err(error) => tracing::debug!(%error, "reading the emulator clock failed"),
                }
            }
        });
        Ok(clock)
    }
}

/// `offset_seconds` of the emulator's `GET /_souk/clock`, in milliseconds.
async fn read_offset(emulator: &EmulatorClient) -> anyhow::Result<i64> {
    let body = emulator
        .call(http::Method::GET, "/_souk/clock", None)
        .await?;
    let seconds = body
        .get("offset_seconds")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| anyhow::anyhow!("the answer has no offset_seconds"))?;
    Ok(seconds.saturating_mul(1000))
}

/// The clock of a process: the in-process emulator's, a separate emulator's, or the wall clock.
pub async fn clock_of(
    in_process: Option<&Emulator>,
    source: crate::config::ClockSource,
    aws_endpoint_url: Option<&str>,
) -> anyhow::Result<SharedClock> {
    if let Some(emulator) = in_process {
        return Ok(Arc::new(InProcessEmulatorClock(emulator.clone())));
    }
    match source {
        crate::config::ClockSource::System => Ok(Arc::new(souk_core::SystemClock)),
        crate::config::ClockSource::Emulator => {
            let url = aws_endpoint_url.ok_or_else(|| {
                anyhow::anyhow!(
                    "clock_source = \"emulator\" needs aws_endpoint_url (the emulator's URL)"
                )
            })?;
            Ok(Arc::new(RemoteEmulatorClock::follow(url).await?))
        }
    }
}
