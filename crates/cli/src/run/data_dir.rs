//! The `souk dev` data directory: owner-only (it holds the SQLite files with every API key hash
//! and the admin key itself), and used by one process at a time (two writers on the same SQLite
//! files would each run relays and migrations against the other's state).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::exit::{Failure, Kind};

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "souk.lock";

/// The locked data directory; the lock is released when this is dropped (or the process dies).
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates `path` owner-only (0700) if missing, tightens it and the files already in it
    /// (0600), and takes an exclusive lock; fails at once if another process holds it.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        create_private_dir(path)
            .with_context(|| format!("cannot create the data directory {}", path.display()))?;
        let lock_path = path.join(LOCK_FILE);
        let mut lock = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Best effort: the pid is only there to help the user find the other process.
                let _ = lock.read_to_string(&mut holder);
                let holder = holder.trim();
                let by = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                };
                return Err(Failure::new(
                    Kind::Conflict,
                    format!(
                        "the data directory {} is in use by another souk process{by}; stop it \
                         or pass a different --data-dir",
                        path.display()
                    ),
                )
                .into());
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", lock_path.display()));
            }
        }
        lock.set_len(0)?;
        lock.rewind()?;
        writeln!(lock, "{}", std::process::id())?;
        let dir = Self {
            path: path.to_owned(),
            _lock: lock,
        };
        dir.restrict_files()?;
        Ok(dir)
    }

    /// Makes every file in the directory owner-only: SQLite creates its files (and the -wal and
    /// -shm files, with the database file's mode) as 0644 minus the umask. Call after the stores
    /// are opened; files SQLite creates later copy the database file's now private mode.
    pub fn restrict_files(&self) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for entry in std::fs::read_dir(&self.path)? {
                let entry = entry?;
                let metadata = entry.metadata()?;
                if metadata.is_file() && metadata.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))
                        .with_context(|| format!("cannot restrict {}", entry.path().display()))?;
                }
            }
        }
        Ok(())
    }

    /// Writes `contents` to `name` in the directory, created owner-only (never readable by
    /// others, not even for a moment).
    pub fn write_private(&self, name: &str, contents: &str) -> anyhow::Result<()> {
        let path = self.path.join(name);
        let mut file = private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(contents.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.restrict_files()
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(path)?;
        // An existing directory (from an older version) is tightened too.
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_fails_clearly() {
        let temp = tempfile_dir();
        let first = DataDir::open(&temp).expect("first lock");
        let error = DataDir::open(&temp).expect_err("second lock must fail");
        assert_eq!(crate::exit::kind_of(&error), Kind::Conflict);
        let message = format!("{error:#}");
        assert!(
            message.contains("is in use by another souk process"),
            "{message}"
        );
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(first);
        DataDir::open(&temp).expect("lock again after release");
        let _ = std::fs::remove_dir_all(&temp);
    }

    #[cfg(unix)]
    #[test]
    fn directory_and_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile_dir();
        std::fs::create_dir_all(&temp).expect("mkdir");
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(temp.join("integration.db"), b"").expect("write");
        let dir = DataDir::open(&temp).expect("open");
        dir.write_private("api-key", "secret\n").expect("write key");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&temp), 0o700);
        for name in ["integration.db", "api-key", LOCK_FILE] {
            assert_eq!(mode(&temp.join(name)), 0o600, "{name}");
        }
        drop(dir);
        let _ = std::fs::remove_dir_all(&temp);
    }

    fn tempfile_dir() -> PathBuf {
        std::env::temp_dir().join(format!("souk-data-dir-{}", uuid::Uuid::now_v7()))
    }
}
