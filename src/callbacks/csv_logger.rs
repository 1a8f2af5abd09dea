//! CSVLogger: one line per epoch with every logged value, written by the `csv` crate.

use super::{Callback, Logs, ModelHandle};
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Writes `epoch,<key>,<key>...` and one line per epoch to a CSV file,
/// flushed after every line (Keras' `CSVLogger`). Fields are quoted by the
/// `csv` crate when needed.
///
/// With [`append`](CsvLogger::append), a resumed run adds lines to the
/// existing file under its header (no second header) and keeps that header's
/// column order.
///
/// ```
/// use neurite::callbacks::CsvLogger;
/// let logger = CsvLogger::new("training.csv").append(true);
/// ```
#[derive(Debug)]
pub struct CsvLogger {
    path: PathBuf,
    append: bool,
    writer: Option<csv::Writer<File>>,
    keys: Vec<String>,
}

impl CsvLogger {
    /// Logs to `path` (truncated at the start of training unless `append`).
    ///
    /// ```
    /// use neurite::callbacks::CsvLogger;
    /// let logger = CsvLogger::new("training.csv");
    /// ```
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLogger {
            path: path.into(),
            append: false,
            writer: None,
            keys: Vec::new(),
        }
    }

    /// Appends to an existing file instead of truncating it.
    ///
    /// ```
    /// use neurite::callbacks::CsvLogger;
    /// let logger = CsvLogger::new("training.csv").append(true);
    /// ```
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }
}

/// The column names after `epoch` in the header of the CSV file at `path`; empty when the
/// file is empty.
fn existing_keys(path: &Path) -> Result<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::io(path, e.into()))?;
    let mut header = csv::StringRecord::new();
    reader
        .read_record(&mut header)
        .map_err(|e| Error::io(path, e.into()))?;
    Ok(header.iter().skip(1).map(str::to_string).collect())
}

impl Callback for CsvLogger {
    fn root_only(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        let had_content = self.append && self.path.metadata().map(|m| m.len() > 0).unwrap_or(false);
        // Keep the existing header's column order (and write no second header).
        self.keys = if had_content {
            existing_keys(&self.path)?
        } else {
            Vec::new()
        };
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        self.writer = Some(csv::Writer::from_writer(file));
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut dyn ModelHandle) -> Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let path = &self.path;
        let csv_error = |e: csv::Error| Error::io(path, e.into());
        if self.keys.is_empty() {
            self.keys = logs.keys().cloned().collect();
            let header = std::iter::once("epoch").chain(self.keys.iter().map(String::as_str));
            writer.write_record(header).map_err(csv_error)?;
        }
        let values = self
            .keys
            .iter()
            .map(|k| logs.get(k).map(f64::to_string).unwrap_or_default());
        writer
            .write_record(std::iter::once(epoch.to_string()).chain(values))
            .map_err(csv_error)?;
        writer.flush().map_err(|e| Error::io(path, e))
    }

    fn on_train_end(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    fn model() -> Sequential {
        Sequential::new().add(Dense::new(1).input_dim(1))
    }

    fn logs(pairs: &[(&str, f64)]) -> Logs {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn run(logger: &mut CsvLogger, epochs: &[(usize, Logs)]) {
        let mut m = model();
        logger.on_train_begin(&mut m).unwrap();
        for (epoch, l) in epochs {
            logger.on_epoch_end(*epoch, l, &mut m).unwrap();
        }
        logger.on_train_end(&mut m).unwrap();
    }

    #[test]
    fn appending_keeps_one_header_and_its_column_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        run(
            &mut CsvLogger::new(&path),
            &[(0, logs(&[("loss", 1.5), ("accuracy", 0.25)]))],
        );
        // The resumed run logs a new key and misses one: the old header rules.
        run(
            &mut CsvLogger::new(&path).append(true),
            &[(1, logs(&[("loss", 0.5), ("lr", 0.1)]))],
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "epoch,accuracy,loss\n0,0.25,1.5\n1,,0.5\n");
    }

    #[test]
    fn without_append_the_file_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, "old,content\n1,2\n").unwrap();
        run(&mut CsvLogger::new(&path), &[(0, logs(&[("loss", 2.0)]))]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,loss\n0,2\n");
    }

    #[test]
    fn a_key_with_a_comma_is_quoted_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        run(&mut CsvLogger::new(&path), &[(0, logs(&[("f1,macro", 0.5)]))]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "epoch,\"f1,macro\"\n0,0.5\n"
        );
        assert_eq!(existing_keys(&path).unwrap(), vec!["f1,macro".to_string()]);
    }

    #[test]
    fn each_epoch_is_on_disk_before_training_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let mut logger = CsvLogger::new(&path);
        let mut m = model();
        logger.on_train_begin(&mut m).unwrap();
        logger.on_epoch_end(0, &logs(&[("loss", 1.0)]), &mut m).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,loss\n0,1\n");
    }
}
