//! Crash-safe writing of a model directory.
//!
//! A save writes every file into a fresh sibling directory
//! `.<name>.partial-<pid>-<n>`, syncs it, moves any existing `<name>` aside
//! to `<name>.previous`, renames the new directory into place and removes
//! the old one. A crash at any point leaves either the old or the new
//! checkpoint complete: before the first rename `<name>` is untouched;
//! between the two renames `<name>.previous` holds the old checkpoint, and
//! [`resolve`] falls back to it.

use crate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn sibling(dir: &Path, suffix: &str, hidden: bool) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::Model(format!("save: {} is not a directory name", dir.display())))?
        .to_string_lossy()
        .to_string();
    let file = if hidden {
        format!(".{name}{suffix}")
    } else {
        format!("{name}{suffix}")
    };
    Ok(dir.with_file_name(file))
}

/// Where the previous checkpoint is kept while a new one is moved into place.
pub(crate) fn previous_path(dir: &Path) -> Result<PathBuf> {
    sibling(dir, ".previous", false)
}

/// Writes `files` (name, bytes) as the directory `dir`, atomically replacing any existing one.
pub(crate) fn write_dir(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let partial = sibling(dir, &format!(".partial-{}-{n}", std::process::id()), true)?;
    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
    }
    fs::create_dir(&partial).map_err(|e| Error::io(&partial, e))?;
    let written = (|| -> Result<()> {
        for (name, bytes) in files {
            let path = partial.join(name);
            let mut f = fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&partial);
        return Err(e);
    }
    let previous = previous_path(dir)?;
    if dir.exists() {
        if previous.exists() {
            fs::remove_dir_all(&previous).map_err(|e| Error::io(&previous, e))?;
        }
        fs::rename(dir, &previous).map_err(|e| Error::io(dir, e))?;
    }
    fs::rename(&partial, dir).map_err(|e| Error::io(dir, e))?;
    if previous.exists() {
        fs::remove_dir_all(&previous).map_err(|e| Error::io(&previous, e))?;
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The directory to load from: `dir`, or `<dir>.previous` when a save was
/// interrupted between its two renames.
pub(crate) fn resolve(dir: &Path) -> Result<PathBuf> {
    if dir.join("config.json").exists() || dir.join("model.safetensors").exists() {
        return Ok(dir.to_path_buf());
    }
    let previous = previous_path(dir)?;
    if previous.join("config.json").exists() {
        return Ok(previous);
    }
    Err(Error::io(
        dir,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no saved model here (config.json and model.safetensors are missing)",
        ),
    ))
}

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}
