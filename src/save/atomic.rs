//! Crash-safe writing of a checkpoint directory that never touches a file
//! neurite did not write.
//!
//! A checkpoint directory holds neurite's files (`config.json`,
//! `model.safetensors`, `optimizer.safetensors`), its lock `.neurite.lock`,
//! and transiently `.neurite-previous/` and `.neurite-staging-*/`. Any other
//! file in it (a CSV log, notes) is left alone. A save:
//!
//! 1. refuses a target that is a regular file, or a non-empty directory that
//!    is not a checkpoint (no `.neurite.lock`, no neurite `config.json`),
//!    before changing anything;
//! 2. takes the directory's exclusive lock (saves to one directory run one
//!    after another, across threads and processes);
//! 3. removes `.neurite-staging-*` directories left by writers that died
//!    (only lock holders create them, so under the lock all are stale);
//! 4. writes and syncs every new file in `.neurite-staging-<pid>-<n>/`;
//! 5. hard-links (or copies) the current checkpoint's files into a staging
//!    directory and renames it to `.neurite-previous` — unless that backup
//!    already exists, which means the last save was cut short mid-swap and the
//!    backup is the last complete checkpoint;
//! 6. renames the new files over the old ones, `config.json` last, removing
//!    neurite files the new checkpoint no longer has (an uncompiled model has no
//!    optimizer state) just before;
//! 7. renames `.neurite-previous` to a staging name and removes it.
//!
//! `.neurite-previous` therefore exists only while a swap may be half done,
//! and then it is complete. `config.json` records the size and CRC-32 of the
//! other files, so a loader tells a complete directory from a mixed one and
//! falls back to the backup ([`super::checkpoint`]).

use super::lock::{DirLock, LOCK_FILE};
use crate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The files a checkpoint consists of; only these are ever replaced or removed.
pub(crate) const CHECKPOINT_FILES: [&str; 3] = ["config.json", "model.safetensors", "optimizer.safetensors"];
/// The backup kept while a save swaps files.
pub(crate) const PREVIOUS_DIR: &str = ".neurite-previous";
/// Prefix of the directories a save writes into before swapping.
const STAGING_PREFIX: &str = ".neurite-staging-";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn refused(dir: &Path, reason: impl Into<String>) -> Error {
    Error::SaveRefused {
        path: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// Whether `dir/config.json` is a neurite model config.
pub(crate) fn has_neurite_config(dir: &Path) -> bool {
    let path = dir.join("config.json");
    super::checkpoint::read_limited(&path, super::checkpoint::MAX_CONFIG_BYTES)
        .and_then(|b| super::checkpoint::parse_config(&path, &b))
        .is_ok()
}

/// Makes sure `dir` can hold a checkpoint without harming anything there:
/// creates it (and its parents) when missing; accepts an empty directory or
/// one that already is a checkpoint; refuses anything else, changing
/// nothing. Returns with `dir` existing as a directory marked as a
/// checkpoint (its lock file created).
pub(crate) fn claim(dir: &Path) -> Result<()> {
    check_target(dir)?;
    let lock = dir.join(LOCK_FILE);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map(drop)
        .map_err(|e| Error::io(&lock, e))
}

/// The checks of [`claim`], creating `dir` when missing.
fn check_target(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.file_name().is_none() {
        return Err(refused(
            dir,
            "a model is saved as a directory: give a directory name (e.g. \"my_model\")",
        ));
    }
    match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent);
            }
            Ok(())
        }
        Err(e) => Err(Error::io(dir, e)),
        Ok(meta) if !meta.is_dir() => Err(refused(
            dir,
            "this is an existing file, not a directory; a model is saved as a directory, \
             so nothing was written (choose another path)",
        )),
        Ok(_) => {
            let names = entry_names(dir)?;
            if names.is_empty() || names.iter().any(|n| n == LOCK_FILE) || has_neurite_config(dir) {
                Ok(())
            } else {
                let mut shown: Vec<&str> = names.iter().map(String::as_str).take(5).collect();
                shown.sort_unstable();
                Err(refused(
                    dir,
                    format!(
                        "the directory is not empty and is not a neurite checkpoint (it holds {}{}); \
                         nothing was written: save into a new or empty directory",
                        shown.join(", "),
                        if names.len() > 5 { ", ..." } else { "" }
                    ),
                ))
            }
        }
    }
}

fn entry_names(dir: &Path) -> Result<Vec<String>> {
    fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| {
            e.map(|e| e.file_name().to_string_lossy().into_owned())
                .map_err(|err| Error::io(dir, err))
        })
        .collect()
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn staging_path(dir: &Path, tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{STAGING_PREFIX}{}-{n}{tag}", std::process::id()))
}

/// Removes staging directories of writers that died (called under the lock).
fn remove_stale_staging(dir: &Path) -> Result<()> {
    for name in entry_names(dir)? {
        if name.starts_with(STAGING_PREFIX) {
            let path = dir.join(&name);
            if path.is_dir() {
                fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
    }
    Ok(())
}

/// Removes the sibling `.<name>.partial-<pid>-<n>` directories that saves of
/// neurite 0.1 left when killed, when their writer is gone and they hold
/// nothing but checkpoint files.
fn remove_legacy_partials(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!(".{}.partial-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || !writer_is_gone(pid) {
            continue;
        }
        let path = entry.path();
        let only_ours = fs::read_dir(&path).is_ok_and(|it| {
            it.flatten()
                .all(|e| CHECKPOINT_FILES.contains(&e.file_name().to_string_lossy().as_ref()))
        });
        if only_ours {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Whether process `pid` is known to have exited (only where `/proc` tells).
fn writer_is_gone(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Links (or, where links are unsupported, copies) the current checkpoint's
/// files into a fresh `.neurite-previous`.
fn back_up(dir: &Path, attachments: &[&str]) -> Result<()> {
    let tmp = staging_path(dir, "-backup");
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    for name in CHECKPOINT_FILES.iter().chain(attachments) {
        let from = dir.join(name);
        if from.is_file() {
            let to = tmp.join(name);
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
                fs::File::open(&to)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io(&to, e))?;
            }
        }
    }
    sync_dir(&tmp);
    let previous = dir.join(PREVIOUS_DIR);
    fs::rename(&tmp, &previous).map_err(|e| Error::io(&previous, e))?;
    sync_dir(dir);
    Ok(())
}

/// Renames the backup to a staging name (one atomic step), then removes it:
/// a removal cut short leaves stale staging, never a partial backup.
fn retire(dir: &Path, previous: &Path) -> Result<()> {
    let old = staging_path(dir, "-old");
    fs::rename(previous, &old).map_err(|e| Error::io(previous, e))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Writes `files` (name, bytes; `config.json` last) as the checkpoint in
/// `dir`, replacing the checkpoint files there and nothing else.
pub(crate) fn write_dir(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    write_dir_with(dir, files, &[])
}

/// [`write_dir`] for a checkpoint with attachments: files beside the model's
/// (e.g. a `TextModel`'s `vectorizer.json`, listed in `files` before
/// `config.json`), which the backup then holds too, so that a save cut short
/// leaves the previous model and its attachments together.
pub(crate) fn write_dir_with(dir: &Path, files: &[(&str, Vec<u8>)], attachments: &[&str]) -> Result<()> {
    debug_assert_eq!(files.last().map(|f| f.0), Some("config.json"));
    claim(dir)?;
    let _lock = DirLock::exclusive(dir)?;
    remove_stale_staging(dir)?;
    remove_legacy_partials(dir);

    let staging = staging_path(dir, "");
    fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
    let written = files
        .iter()
        .try_for_each(|(name, bytes)| write_synced(&staging.join(name), bytes));
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    sync_dir(&staging);

    let previous = dir.join(PREVIOUS_DIR);
    if previous.exists() && super::checkpoint::is_complete(dir) {
        // The last save was cut short after its swap: the backup is older than
        // the complete checkpoint in place, which becomes the backup instead.
        retire(dir, &previous)?;
    }
    if !previous.exists() && dir.join("config.json").is_file() {
        if let Err(e) = back_up(dir, attachments) {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    }
    for (name, _) in files {
        if *name == "config.json" {
            for old in CHECKPOINT_FILES {
                let path = dir.join(old);
                if !files.iter().any(|(n, _)| *n == old) && path.is_file() {
                    fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                }
            }
        }
        let target = dir.join(name);
        fs::rename(staging.join(name), &target).map_err(|e| Error::io(&target, e))?;
    }
    sync_dir(dir);
    if previous.exists() {
        retire(dir, &previous)?;
    }
    let _ = fs::remove_dir_all(&staging);
    remove_legacy_previous(dir);
    Ok(())
}

/// Removes the sibling `<name>.previous` that neurite 0.1 kept while
/// swapping, once `dir` holds a complete checkpoint again, when it holds
/// nothing but checkpoint files.
fn remove_legacy_previous(dir: &Path) {
    let Some(name) = dir.file_name() else {
        return;
    };
    let legacy = dir.with_file_name(format!("{}.previous", name.to_string_lossy()));
    let only_ours = fs::read_dir(&legacy).is_ok_and(|it| {
        it.flatten()
            .all(|e| CHECKPOINT_FILES.contains(&e.file_name().to_string_lossy().as_ref()))
    });
    if only_ours && has_neurite_config(&legacy) {
        let _ = fs::remove_dir_all(&legacy);
    }
}
