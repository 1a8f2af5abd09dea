//! The lock of a checkpoint directory: `<dir>/.neurite.lock`, an advisory
//! file lock (`flock` on Unix, `LockFileEx` on Windows) held exclusively by a
//! save and shared by a load, so that saves to one directory run one after
//! another (across threads and processes) and a load never sees a save half
//! way. The operating system releases it when its holder dies, so a killed
//! writer never leaves a directory locked.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// The lock file's name inside a checkpoint directory. Its presence also
/// marks the directory as one neurite manages.
pub(crate) const LOCK_FILE: &str = ".neurite.lock";

/// A held lock; released when dropped.
pub(crate) struct DirLock {
    file: File,
}

impl DirLock {
    /// Takes the exclusive lock of `dir` (creating the lock file), waiting
    /// for any other holder.
    pub(crate) fn exclusive(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(DirLock { file })
    }

    /// Takes the shared lock of `dir` when its lock file exists and can be
    /// opened (a directory saved by an older neurite, or on a read-only
    /// medium, has none: then there is nothing to wait for).
    pub(crate) fn shared(dir: &Path) -> Option<DirLock> {
        let file = File::open(dir.join(LOCK_FILE)).ok()?;
        file.lock_shared().ok()?;
        Some(DirLock { file })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}
