//! CSVLogger: one line per epoch with every logged value.

use super::{Callback, Logs, ModelHandle};
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// Writes `epoch,<key>,<key>...` and one line per epoch to a CSV file,
/// flushed after every line (Keras' `CSVLogger`).
///
/// ```
/// use neurite::callbacks::CsvLogger;
/// let logger = CsvLogger::new("training.csv").append(true);
/// ```
#[derive(Debug)]
pub struct CsvLogger {
    path: PathBuf,
    append: bool,
    file: Option<File>,
    keys: Vec<String>,
}

impl CsvLogger {
    /// Logs to `path` (truncated at the start of training unless `append`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLogger {
            path: path.into(),
            append: false,
            file: None,
            keys: Vec::new(),
        }
    }

    /// Appends to an existing file instead of truncating it.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }
}

impl Callback for CsvLogger {
    fn on_train_begin(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        let had_content = self.append && self.path.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        self.file = Some(file);
        self.keys.clear();
        if had_content {
            // Keep the existing header's column order.
            if let Ok(text) = std::fs::read_to_string(&self.path) {
                if let Some(header) = text.lines().next() {
                    self.keys = header.split(',').skip(1).map(str::to_string).collect();
                }
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut dyn ModelHandle) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let mut out = String::new();
        if self.keys.is_empty() {
            self.keys = logs.keys().cloned().collect();
            out.push_str("epoch");
            for k in &self.keys {
                out.push(',');
                out.push_str(k);
            }
            out.push('\n');
        }
        out.push_str(&epoch.to_string());
        for k in &self.keys {
            out.push(',');
            if let Some(v) = logs.get(k) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
        file.write_all(out.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    fn on_train_end(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        self.file = None;
        Ok(())
    }
}
