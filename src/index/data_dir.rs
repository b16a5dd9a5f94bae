//! The data directory: which index is live, and atomic swaps to a new one.
//!
//! ```text
//! DATA/
//!   CURRENT                 name of the live index directory (replaced atomically)
//!   indexes/index-<ms>-<pid>/           a complete index: tantivy files + clerk-schema.toml
//!   indexes/index-<ms>-<pid>.building/  a build in progress (removed if it fails)
//!   build-locks/index-<ms>-<pid>.building.lock  locked by that build's process
//! ```
//! A build writes a new directory beside the live one and, only once it is complete
//! and synced, points `CURRENT` at it with a rename. A crash or failure at any point
//! leaves `CURRENT` naming the old, complete index. Servers watching the directory
//! notice the new `CURRENT` and switch.
//!
//! A build holds an advisory lock ([`super::file_lock`]) on its lock file from before
//! its directory exists until it is renamed or removed. A `.building` directory whose
//! lock can be taken was left by a process that is gone (killed, even one not yet
//! reaped, or one whose pid was reused since), and the next build or `clerk serve`
//! removes it. Leftovers from before the locks existed have no lock file; for those
//! the pid in the name still decides.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::file_lock::FileLock;
use crate::error::{Error, Result};

const CURRENT: &str = "CURRENT";
const INDEXES: &str = "indexes";
/// Where each build in progress keeps its lock file.
const BUILD_LOCKS: &str = "build-locks";
const LOCK_SUFFIX: &str = ".lock";
const BUILDING_SUFFIX: &str = ".building";
/// Name of the schema snapshot inside an index directory.
pub const SCHEMA_SNAPSHOT: &str = "clerk-schema.toml";
/// The schema's name (`demo`, `icecat`), beside its snapshot.
pub const SCHEMA_NAME: &str = "clerk-schema.name";
/// How many complete index directories to keep (the live one and its predecessor,
/// which a server may still be reading from while it switches).
const KEEP_INDEXES: usize = 2;

/// A build in progress: its directory, and the lock that says its process is alive.
#[derive(Debug)]
pub struct Building {
    dir: PathBuf,
    lock: FileLock,
    lock_path: PathBuf,
}

impl Building {
    /// The directory the build writes into.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Releases the lock once the directory is renamed or removed.
    fn release(self) {
        drop(self.lock);
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// A clerk data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The live index directory, or `None` when nothing was ever indexed here.
    pub fn current_index(&self) -> Result<Option<PathBuf>> {
        let pointer = self.root.join(CURRENT);
        match fs::read_to_string(&pointer) {
            Ok(name) => {
                let name = name.trim();
                let dir = self.root.join(INDEXES).join(name);
                if name.is_empty() || name.contains('/') || !dir.is_dir() {
                    return Err(Error::Internal(format!(
                        "{} names \"{name}\", which is not an index directory",
                        pointer.display()
                    )));
                }
                Ok(Some(dir))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", pointer.display()), e)),
        }
    }

    /// Creates an empty directory for a new build, locked as this process's.
    pub fn begin_build(&self) -> Result<Building> {
        let indexes = self.root.join(INDEXES);
        let locks = self.root.join(BUILD_LOCKS);
        for dir in [&indexes, &locks] {
            fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        self.remove_abandoned_builds();
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let name = format!("index-{millis}-{}{BUILDING_SUFFIX}", std::process::id());
        // Locked before the directory exists, so nobody sees it unlocked.
        let lock_path = locks.join(format!("{name}{LOCK_SUFFIX}"));
        let lock = FileLock::try_exclusive(&lock_path)?
            .ok_or_else(|| Error::Internal(format!("{} is locked already", lock_path.display())))?;
        let dir = indexes.join(name);
        fs::create_dir(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Building {
            dir,
            lock,
            lock_path,
        })
    }

    /// Makes a finished build the live index; returns its final directory.
    pub fn activate(&self, build: Building) -> Result<PathBuf> {
        let building = build.path();
        let name = building
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(BUILDING_SUFFIX))
            .ok_or_else(|| {
                Error::Internal(format!("{} is not a build directory", building.display()))
            })?
            .to_string();
        let done = building.with_file_name(&name);
        fs::rename(building, &done)
            .map_err(|e| Error::io(format!("renaming {}", building.display()), e))?;
        sync_dir(done.parent().unwrap_or(&self.root));
        build.release();
        let tmp = self.root.join(format!("{CURRENT}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(name.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, self.root.join(CURRENT))
        };
        write().map_err(|e| Error::io(format!("updating {}/{CURRENT}", self.root.display()), e))?;
        sync_dir(&self.root);
        self.remove_old_indexes(&done);
        Ok(done)
    }

    /// Removes a failed build.
    pub fn abandon(&self, build: Building) {
        if let Err(e) = fs::remove_dir_all(build.path()) {
            tracing::warn!(
                "could not remove failed build {}: {e}",
                build.path().display()
            );
        }
        build.release();
    }

    /// Removes `.building` directories left by builds whose process is gone (a killed
    /// `clerk index`), and their lock files; returns how many. Builds of running
    /// processes are kept.
    pub fn remove_abandoned_builds(&self) -> usize {
        let Ok(entries) = fs::read_dir(self.root.join(INDEXES)) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !name.ends_with(BUILDING_SUFFIX) {
                continue;
            }
            let Some(_lock) = self.abandoned(&name) else {
                continue;
            };
            match fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!("removed {name}, left by an interrupted build");
                    removed += 1;
                }
                Err(e) => tracing::warn!("could not remove {name}: {e}"),
            }
            let _ = fs::remove_file(self.lock_path(&name));
        }
        removed
    }

    /// Whether the build `name` (a `.building` directory) was abandoned: `Some` holds
    /// its lock while it is removed. Without a lock file (a build from before the
    /// locks), the pid in its name decides.
    fn abandoned(&self, name: &str) -> Option<Option<FileLock>> {
        let lock_path = self.lock_path(name);
        if lock_path.exists() {
            return match FileLock::try_exclusive(&lock_path) {
                Ok(Some(lock)) => Some(Some(lock)),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!("cannot tell whether {name} is still being built: {e}");
                    None
                }
            };
        }
        let pid = name
            .strip_suffix(BUILDING_SUFFIX)
            .and_then(|n| n.rsplit('-').next())
            .and_then(|p| p.parse::<u32>().ok())?;
        (!process_alive(pid)).then_some(None)
    }

    fn lock_path(&self, build_name: &str) -> PathBuf {
        self.root
            .join(BUILD_LOCKS)
            .join(format!("{build_name}{LOCK_SUFFIX}"))
    }

    /// Deletes stale builds and all but the newest complete indexes.
    fn remove_old_indexes(&self, live: &Path) {
        let Ok(entries) = fs::read_dir(self.root.join(INDEXES)) else {
            return;
        };
        let mut complete: Vec<PathBuf> = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            // Builds in progress are not ours to judge here (see remove_abandoned_builds).
            if !name.ends_with(BUILDING_SUFFIX) && path != live {
                complete.push(path);
            }
        }
        self.remove_abandoned_builds();
        complete.sort();
        let excess = complete.len().saturating_sub(KEEP_INDEXES - 1);
        for old in complete.into_iter().take(excess) {
            if let Err(e) = fs::remove_dir_all(&old) {
                tracing::warn!("could not remove old index {}: {e}", old.display());
            }
        }
    }
}

/// Whether a process with this id exists (the owner of a build from before the
/// locks; a zombie or a reused pid counts as alive).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks for existence; no signal is sent.
        let result = unsafe { libc::kill(pid, 0) };
        result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(file) = fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_moves_current_and_keeps_one_predecessor() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        assert_eq!(data.current_index().unwrap(), None);
        let mut lives = Vec::new();
        for _ in 0..3 {
            let building = data.begin_build().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
            lives.push(data.activate(building).unwrap());
            assert_eq!(data.current_index().unwrap().as_ref(), lives.last());
        }
        assert!(!lives[0].exists(), "oldest index removed");
        assert!(lives[1].exists() && lives[2].exists());
        let locks = fs::read_dir(tmp.path().join(BUILD_LOCKS)).unwrap().count();
        assert_eq!(locks, 0, "lock files go with their builds");
    }

    #[test]
    fn abandoned_build_leaves_current_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let first = data.activate(data.begin_build().unwrap()).unwrap();
        let failed = data.begin_build().unwrap();
        let failed_dir = failed.path().to_path_buf();
        data.abandon(failed);
        assert!(!failed_dir.exists());
        assert_eq!(data.current_index().unwrap(), Some(first));
    }

    #[test]
    fn leftovers_whose_lock_is_free_are_removed_whatever_their_pid() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let ours = data.begin_build().unwrap();
        let indexes = tmp.path().join(INDEXES);
        // Named with a pid that is alive (ours, as after pid reuse) but unlocked: dead.
        let reused = format!("index-1-{}{BUILDING_SUFFIX}", std::process::id());
        fs::create_dir(indexes.join(&reused)).unwrap();
        fs::write(data.lock_path(&reused), b"").unwrap();
        // A build held by another open file (another process, as far as flock goes).
        let held = format!("index-2-{}{BUILDING_SUFFIX}", std::process::id());
        fs::create_dir(indexes.join(&held)).unwrap();
        let _holder = FileLock::exclusive(&data.lock_path(&held)).unwrap();
        // From before the locks: no lock file, a pid far above any pid_max.
        let legacy = format!("index-3-4000000000{BUILDING_SUFFIX}");
        fs::create_dir(indexes.join(&legacy)).unwrap();

        assert_eq!(data.remove_abandoned_builds(), 2);
        assert!(!indexes.join(&reused).exists());
        assert!(!data.lock_path(&reused).exists());
        assert!(!indexes.join(&legacy).exists());
        assert!(indexes.join(&held).exists(), "a locked build is kept");
        assert!(ours.path().exists(), "a running build is kept");
    }
}
