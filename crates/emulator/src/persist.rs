//! Persisting the world to [`crate::EmulatorConfig::state_file`] so it survives restarts.
//!
//! Owner: emulator core. The file is JSON `{"version": 1, "clock_offset_millis": .., "world":
//! {..}}`, written after every mutating request by the server (write to a temporary file in the
//! same directory, fsync, atomic rename), and read by [`crate::Emulator::load`].

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Emulator;
use crate::state::World;

#[derive(Serialize)]
struct SnapshotRef<'a> {
    version: u32,
    clock_offset_millis: i64,
    world: &'a World,
}

#[derive(Deserialize)]
struct Snapshot {
    version: u32,
    #[serde(default)]
    clock_offset_millis: i64,
    world: World,
}

/// Writes the world to the configured state file (no-op without one). Concurrent saves are
/// serialized, and each writes the state as of its own start.
pub async fn save(emulator: &Emulator) -> io::Result<()> {
    let Some(path) = emulator.config().state_file.clone() else {
        return Ok(());
    };
    let _guard = emulator.persist_lock().lock().await;
    let bytes = {
        let world = emulator.world();
        let snapshot = SnapshotRef {
            version: 1,
            clock_offset_millis: emulator.clock().offset_millis(),
            world: &world,
        };
        serde_json::to_vec(&snapshot).map_err(io::Error::other)?
    };
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        use tokio::io::AsyncWriteExt as _;
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(&bytes).await?;
        file.sync_all().await?;
    }
    tokio::fs::rename(&tmp, &path).await
}

/// Reads a state file: the world and the clock offset. A missing file is `Ok(None)`.
pub fn load(path: &Path) -> io::Result<Option<(World, i64)>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {err}", path.display()),
        )
    })?;
    if snapshot.version != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: unsupported state file version {}",
                path.display(),
                snapshot.version
            ),
        ));
    }
    Ok(Some((snapshot.world, snapshot.clock_offset_millis)))
}
