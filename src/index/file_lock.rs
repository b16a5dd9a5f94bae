//! Advisory file locks (`flock(2)`, through `std::fs::File::lock`) between clerk
//! processes sharing a data directory.
//!
//! Two things are locked: the update log (`DATA/updates.lock`, so sequence numbers
//! are handed out once and a build reads whole lines), and each build in progress
//! (`DATA/build-locks/<build>.lock`, held for the whole build, so a leftover whose
//! lock can be taken belongs to a process that is gone). The kernel drops a lock when
//! its holder's files close, which happens when a process exits, even by `kill -9`
//! and before its parent reaps it; a lock never outlives its process. Locks are per
//! open file: a second open of the same file conflicts even within one process.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Opens (creating if needed) the lock file at `path`.
fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening the lock file {}", path.display()), e))
}

impl FileLock {
    /// Waits for an exclusive lock on `path`.
    pub fn exclusive(path: &Path) -> Result<FileLock> {
        let file = open(path)?;
        file.lock()
            .map_err(|e| Error::io(format!("locking {}", path.display()), e))?;
        Ok(FileLock { _file: file })
    }

    /// Waits for a shared lock on `path` (readers share; a writer excludes them).
    pub fn shared(path: &Path) -> Result<FileLock> {
        let file = open(path)?;
        file.lock_shared()
            .map_err(|e| Error::io(format!("locking {}", path.display()), e))?;
        Ok(FileLock { _file: file })
    }

    /// An exclusive lock on `path` if nobody holds one; `None` when someone does.
    pub fn try_exclusive(path: &Path) -> Result<Option<FileLock>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(Error::io(format!("locking {}", path.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_excludes_others_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = FileLock::exclusive(&path).unwrap();
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_exclusive(&path).unwrap().is_some());
        let _reader = FileLock::shared(&path).unwrap();
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
    }
}
