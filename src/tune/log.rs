//! The results log: one JSON object per trial, appended whole and synced,
//! read back to resume an interrupted search.

use super::trial::Trial;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An open results log.
pub(crate) struct ResultsLog {
    path: PathBuf,
    file: File,
}

impl ResultsLog {
    /// Opens (creating) `path` and reads the trials already in it. A last
    /// line without its newline is a write cut short by a crash: it is cut
    /// off (that trial runs again). Any other line that is not a trial is
    /// an error naming the file and line; nothing is changed then.
    pub(crate) fn open(path: &Path) -> Result<(Self, BTreeMap<usize, Trial>)> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut trials = BTreeMap::new();
        for (n, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let trial: Trial = serde_json::from_slice(line).map_err(|e| {
                Error::format(
                    path,
                    format!("line {}: not a trial of a neurite search: {e}", n + 1),
                )
            })?;
            if trials.insert(trial.index, trial).is_some() {
                return Err(Error::format(
                    path,
                    format!("line {}: a second line for one trial", n + 1),
                ));
            }
        }
        if complete < bytes.len() {
            file.set_len(complete as u64).map_err(|e| Error::io(path, e))?;
            file.sync_all().map_err(|e| Error::io(path, e))?;
        }
        file.seek(SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
        Ok((
            ResultsLog {
                path: path.to_path_buf(),
                file,
            },
            trials,
        ))
    }

    /// Appends one trial as one line with a single write (the file is
    /// opened for appending), then syncs it to disk.
    pub(crate) fn append(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }
}
