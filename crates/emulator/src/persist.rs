//! Persisting the world to [`crate::EmulatorConfig::state_file`] so it survives restarts, at a
//! cost that depends on what a request changed, not on how much is stored.
//!
//! Two files:
//!
//! * `<state_file>`: a snapshot, JSON `{"version": 2, "generation": g, "clock_offset_millis": ..,
//!   "world": {..}}` (version 1 files, without `generation`, still load);
//! * `<state_file>.journal`: one JSON line per persisted request,
//!   `{"generation": g, "clock_offset_millis": .., "changes": [..]}`, appended and fsynced
//!   before the response leaves, holding only what the request changed
//!   ([`crate::World::drain_changes`]).
//!
//! When the journal outgrows the snapshot (and at start-up) it is compacted: the world is written
//! to `<state_file>.compacting`, fsynced and renamed over the snapshot with the next generation,
//! then the journal is emptied. A kill -9 at any point loses nothing acknowledged: a torn last
//! journal line was never acknowledged and is dropped; journal lines of an older generation than
//! the snapshot are already in it; a leftover `.compacting` file is an unfinished compaction and
//! is removed at the next start.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Emulator;
use crate::at::At;
use crate::config::EmulatorConfig;
use crate::state::World;
use crate::tracked::{Change, apply};

/// The journal is compacted once it is larger than this many times the last snapshot (and at
/// least [`MIN_COMPACT_BYTES`]), which keeps the amortized cost per change constant.
const COMPACT_RATIO: u64 = 4;
const MIN_COMPACT_BYTES: u64 = 8 << 20;

#[derive(Serialize)]
struct SnapshotRef<'a> {
    version: u32,
    generation: u64,
    clock_offset_millis: i64,
    world: &'a World,
}

#[derive(Deserialize)]
struct Snapshot {
    version: u32,
    #[serde(default)]
    generation: u64,
    #[serde(default)]
    clock_offset_millis: i64,
    world: Value,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    generation: u64,
    clock_offset_millis: i64,
    changes: Vec<Change>,
}

/// The open journal of an emulator with a state file.
#[derive(Debug)]
pub(crate) struct Journal {
    snapshot: PathBuf,
    file: File,
    generation: u64,
    journal_bytes: u64,
    snapshot_bytes: u64,
    /// The clock offset last written.
    offset: i64,
    /// A write failed: the next save rewrites the whole world.
    must_compact: bool,
}

fn journal_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

fn compacting_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".compacting");
    PathBuf::from(name)
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {message}", path.display()),
    )
}

/// Makes a rename durable: fsyncs the directory holding `path` (where the platform allows).
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match File::open(parent) {
        Ok(dir) => dir.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

impl Journal {
    /// Writes `world` as the next snapshot and empties the journal.
    fn compact(&mut self, world: &mut World, clock_offset_millis: i64) -> io::Result<()> {
        let generation = self.generation + 1;
        // The snapshot holds every change so far: nothing is left to journal.
        world.drain_changes().map_err(io::Error::other)?;
        let bytes = serde_json::to_vec(&SnapshotRef {
            version: 2,
            generation,
            clock_offset_millis,
            world,
        })
        .map_err(io::Error::other)?;
        write_snapshot(&self.snapshot, &bytes)?;
        self.file.set_len(0)?;
        self.file.sync_all()?;
        self.generation = generation;
        self.journal_bytes = 0;
        self.snapshot_bytes = bytes.len() as u64;
        self.offset = clock_offset_millis;
        Ok(())
    }

    fn wants_compaction(&self) -> bool {
        self.journal_bytes > MIN_COMPACT_BYTES.max(self.snapshot_bytes * COMPACT_RATIO)
    }
}

fn write_snapshot(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = compacting_path(path);
    {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    sync_parent(path)
}

/// Reads the snapshot and replays the journal: the world, the clock offset and the generation.
/// A missing snapshot is `Ok(None)`.
pub fn load(path: &Path) -> io::Result<Option<(World, i64)>> {
    Ok(read(path)?.map(|(world, offset, _)| (world, offset)))
}

fn read(path: &Path) -> io::Result<Option<(World, i64, u64)>> {
    // An unfinished compaction: the snapshot and journal it would have replaced are intact.
    match std::fs::remove_file(compacting_path(path)) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|err| invalid(path, err))?;
    if !matches!(snapshot.version, 1 | 2) {
        return Err(invalid(
            path,
            format!("unsupported state file version {}", snapshot.version),
        ));
    }
    let mut world = snapshot.world;
    let mut offset = snapshot.clock_offset_millis;
    let journal = journal_path(path);
    match File::open(&journal) {
        Ok(file) => {
            let mut lines = io::BufReader::new(file).split(b'\n').peekable();
            while let Some(line) = lines.next() {
                let line = line?;
                let entry: Entry = match serde_json::from_slice(&line) {
                    Ok(entry) => entry,
                    // A torn write of the last line: that request was never acknowledged.
                    Err(_) if lines.peek().is_none() => break,
                    Err(err) => return Err(invalid(&journal, err)),
                };
                if entry.generation != snapshot.generation {
                    continue;
                }
                offset = entry.clock_offset_millis;
                for change in entry.changes {
                    apply(&mut world, change);
                }
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let world: World = serde_json::from_value(world).map_err(|err| invalid(path, err))?;
    Ok(Some((world, offset, snapshot.generation)))
}

/// Opens the journal of `emulator` (whose world was just loaded or created), compacting the
/// world into a fresh snapshot first so every run starts from one file and an empty journal.
pub(crate) fn open(emulator: &Emulator, path: &Path, generation: u64) -> io::Result<Journal> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let journal = journal_path(path);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal)?;
    let mut opened = Journal {
        snapshot: path.to_owned(),
        file,
        generation,
        journal_bytes: 0,
        snapshot_bytes: 0,
        offset: 0,
        must_compact: false,
    };
    let offset = emulator.clock().offset_millis();
    opened.compact(&mut emulator.world(), offset)?;
    Ok(opened)
}

/// Restores a world from its state file (snapshot plus journal): the world, the clock offset
/// and the snapshot's generation; `None` without a state file.
pub(crate) fn restore(path: &Path) -> io::Result<Option<(World, i64, u64)>> {
    read(path)
}

/// A generation for a journal opened over a world that was not loaded from its file: newer
/// than any earlier run's, so stale journal lines are never replayed onto it.
fn fresh_generation() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Journals what changed since the last call (no-op without a state file or without changes).
/// Returns once the change is durable: callers are serialized, and one whose change another
/// caller already wrote returns after that write.
pub async fn save(emulator: &Emulator) -> io::Result<()> {
    let Some(path) = emulator.config().state_file.clone() else {
        return Ok(());
    };
    let mut slot = emulator.journal_slot().lock().await;
    let opened = slot.take();
    let emu = emulator.clone();
    // File work blocks: keep it off the async workers (the slot's lock stays held meanwhile).
    let (journal, result) = tokio::task::spawn_blocking(move || match opened {
        None => match open(&emu, &path, fresh_generation()) {
            Ok(journal) => (Some(journal), Ok(())),
            Err(err) => (None, Err(err)),
        },
        Some(mut journal) => {
            let result = journal.persist(&emu);
            if result.is_err() {
                // What was drained may not be on disk: rewrite everything next time.
                journal.must_compact = true;
            }
            (Some(journal), result)
        }
    })
    .await
    .map_err(io::Error::other)?;
    *slot = journal;
    result
}

impl Journal {
    /// Appends what changed (and compacts when due).
    fn persist(&mut self, emulator: &Emulator) -> io::Result<()> {
        let offset = emulator.clock().offset_millis();
        if self.must_compact || self.wants_compaction() {
            self.compact(&mut emulator.world(), offset)?;
            self.must_compact = false;
            return Ok(());
        }
        let line = {
            let mut world = emulator.world();
            let changes = world.drain_changes().map_err(io::Error::other)?;
            if changes.is_empty() && offset == self.offset {
                return Ok(());
            }
            let mut line = serde_json::to_vec(&Entry {
                generation: self.generation,
                clock_offset_millis: offset,
                changes,
            })
            .map_err(io::Error::other)?;
            line.push(b'\n');
            line
        };
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.journal_bytes += line.len() as u64;
        self.offset = offset;
        Ok(())
    }
}

impl Emulator {
    /// An emulator restored from `config.state_file` (snapshot, journal and clock offset) when
    /// the file exists, otherwise a fresh one; with a state file, its journal is open (and
    /// compacted) on return.
    pub fn load(config: EmulatorConfig) -> std::io::Result<Self> {
        let Some(path) = config.state_file.clone() else {
            return Ok(Self::new(config));
        };
        let (emulator, generation) = match restore(&path)? {
            Some((mut world, offset, generation)) => {
                world.migrate();
                world.market.recompute_next_transition(At::MIN);
                let emulator = Self::with_world(config, world);
                emulator.clock().set_offset_millis(offset);
                (emulator, generation)
            }
            None => (Self::new(config), 0),
        };
        let journal = open(&emulator, &path, generation)?;
        // Nobody else holds the emulator yet, so the lock is free (and `blocking_lock` would
        // panic inside a runtime).
        if let Ok(mut slot) = emulator.journal_slot().try_lock() {
            *slot = Some(journal);
        }
        Ok(emulator)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::load;
    use crate::at::At;

    /// A version-2 snapshot written before instants were [`At`], with every time field of the
    /// world populated (market, metering, STS, catalog, agreements, SQS, notification retries,
    /// feeds). Sub-millisecond digits are cut from it: the clock no longer has them.
    const BEFORE_AT: &str = include_str!("../tests/fixtures/state-v2.json");

    #[test]
    fn a_snapshot_written_before_at_loads_and_is_written_back_in_the_same_form() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        std::fs::write(&path, BEFORE_AT).expect("write");
        let (world, offset) = load(&path).expect("load").expect("a snapshot");
        let before: Value = serde_json::from_str(BEFORE_AT).expect("fixture");
        assert_eq!(Some(offset), before["clock_offset_millis"].as_i64());
        assert_eq!(
            serde_json::to_value(&world).expect("serialize"),
            before["world"]
        );

        // Each unit was read as what it is.
        let session = world.sts.sessions.values().next().expect("a session");
        assert_eq!(
            Some(session.expiration.seconds()),
            before["world"]["sts"]["sessions"]
                .as_object()
                .and_then(|s| s.values().next())
                .and_then(|s| s["expiration"].as_i64())
        );
        let queue = &world.sqs.queues["111122223333/fixture"];
        let received = queue
            .messages
            .iter()
            .find_map(|m| m.first_receive)
            .expect("a received message");
        assert!(
            received >= queue.created_at && received < queue.created_at + time::Duration::MINUTE
        );
        let agreement = world
            .agreements
            .agreements
            .values()
            .next()
            .expect("an agreement");
        assert!(agreement.start_time > At::from_seconds(1_700_000_000));
        assert_eq!(
            agreement.end_time.map(At::rfc3339),
            before["world"]["agreements"]["agreements"]
                .as_object()
                .and_then(|a| a.values().next())
                .and_then(|a| a["end_time"].as_str())
                .map(str::to_owned)
        );
    }
}
