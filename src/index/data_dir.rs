//! The data directory: which index is live, and atomic swaps to a new one.
//!
//! ```text
//! DATA/
//!   CURRENT                 name of the live index directory (replaced atomically)
//!   indexes/index-<ms>-<pid>/           a complete index: tantivy files + clerk-schema.toml
//!   indexes/index-<ms>-<pid>.building/  a build in progress (removed if it fails)
//! ```
//! A build writes a new directory beside the live one and, only once it is complete
//! and synced, points `CURRENT` at it with a rename. A crash or failure at any point
//! leaves `CURRENT` naming the old, complete index. Servers watching the directory
//! notice the new `CURRENT` and switch.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

const CURRENT: &str = "CURRENT";
const INDEXES: &str = "indexes";
const BUILDING_SUFFIX: &str = ".building";
/// Name of the schema snapshot inside an index directory.
pub const SCHEMA_SNAPSHOT: &str = "clerk-schema.toml";
/// The schema's name (`demo`, `icecat`), beside its snapshot.
pub const SCHEMA_NAME: &str = "clerk-schema.name";
/// How many complete index directories to keep (the live one and its predecessor,
/// which a server may still be reading from while it switches).
const KEEP_INDEXES: usize = 2;

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

    /// Creates an empty directory for a new build.
    pub fn begin_build(&self) -> Result<PathBuf> {
        let indexes = self.root.join(INDEXES);
        fs::create_dir_all(&indexes)
            .map_err(|e| Error::io(format!("creating {}", indexes.display()), e))?;
        self.remove_abandoned_builds();
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let dir = indexes.join(format!(
            "index-{millis}-{}{BUILDING_SUFFIX}",
            std::process::id()
        ));
        fs::create_dir(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(dir)
    }

    /// Makes a finished build the live index; returns its final directory.
    pub fn activate(&self, building: &Path) -> Result<PathBuf> {
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
    pub fn abandon(&self, building: &Path) {
        if let Err(e) = fs::remove_dir_all(building) {
            tracing::warn!("could not remove failed build {}: {e}", building.display());
        }
    }

    /// Removes `.building` directories left by builds whose process is gone (a killed
    /// `clerk index`); returns how many. Builds of running processes are kept.
    pub fn remove_abandoned_builds(&self) -> usize {
        let Ok(entries) = fs::read_dir(self.root.join(INDEXES)) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(pid) = name
                .strip_suffix(BUILDING_SUFFIX)
                .and_then(|n| n.rsplit('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if process_alive(pid) {
                continue;
            }
            match fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!("removed {name}, left by an interrupted build");
                    removed += 1;
                }
                Err(e) => tracing::warn!("could not remove {name}: {e}"),
            }
        }
        removed
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
            if name.ends_with(BUILDING_SUFFIX) {
                // Another process may still be building; only remove our own leftovers.
                if name.contains(&format!("-{}{BUILDING_SUFFIX}", std::process::id())) {
                    let _ = fs::remove_dir_all(&path);
                }
            } else if path != live {
                complete.push(path);
            }
        }
        complete.sort();
        let excess = complete.len().saturating_sub(KEEP_INDEXES - 1);
        for old in complete.into_iter().take(excess) {
            if let Err(e) = fs::remove_dir_all(&old) {
                tracing::warn!("could not remove old index {}: {e}", old.display());
            }
        }
    }
}

/// Whether a process with this id exists (a build directory's owner).
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
            lives.push(data.activate(&building).unwrap());
            assert_eq!(data.current_index().unwrap().as_ref(), lives.last());
        }
        assert!(!lives[0].exists(), "oldest index removed");
        assert!(lives[1].exists() && lives[2].exists());
    }

    #[test]
    fn abandoned_build_leaves_current_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let first = data.activate(&data.begin_build().unwrap()).unwrap();
        let failed = data.begin_build().unwrap();
        data.abandon(&failed);
        assert!(!failed.exists());
        assert_eq!(data.current_index().unwrap(), Some(first));
    }

    #[test]
    fn leftovers_of_dead_builders_are_removed_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let indexes = tmp.path().join(INDEXES);
        fs::create_dir_all(&indexes).unwrap();
        // A pid far above any pid_max: no such process.
        let dead = indexes.join(format!("index-1-4000000000{BUILDING_SUFFIX}"));
        let ours = data.begin_build().unwrap();
        fs::create_dir(&dead).unwrap();
        assert_eq!(data.remove_abandoned_builds(), 1);
        assert!(!dead.exists());
        assert!(ours.exists(), "a running build is kept");
    }
}
