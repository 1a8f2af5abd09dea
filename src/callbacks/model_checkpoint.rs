//! ModelCheckpoint: save the model during training.

use super::monitor::{Mode, Monitor};
use super::{Callback, Logs, ModelHandle};
use crate::error::Result;
use std::path::PathBuf;

/// Saves the model to a directory at the end of epochs (Keras'
/// `ModelCheckpoint`): every `period` epochs, or only when `monitor`
/// improves (`save_best_only`). `{epoch}` in the path is replaced by the
/// 1-based epoch number. Saves are atomic: a crash mid-save leaves the
/// previous checkpoint loadable.
///
/// ```
/// use neurite::callbacks::ModelCheckpoint;
/// let best = ModelCheckpoint::new("checkpoints/best").monitor("val_accuracy").save_best_only(true);
/// let every = ModelCheckpoint::new("checkpoints/epoch-{epoch}").period(5);
/// ```
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    path: String,
    monitor: Monitor,
    save_best_only: bool,
    period: usize,
    saved: Vec<PathBuf>,
}

impl ModelCheckpoint {
    /// Checkpoints to `path` (a directory; may contain `{epoch}`).
    pub fn new(path: impl Into<String>) -> Self {
        ModelCheckpoint {
            path: path.into(),
            monitor: Monitor::new("val_loss", Mode::Auto, 0.0),
            save_best_only: false,
            period: 1,
            saved: Vec::new(),
        }
    }
    /// The logged value watched by `save_best_only` (default `val_loss`).
    pub fn monitor(mut self, key: &str) -> Self {
        self.monitor = Monitor::new(key, Mode::Auto, 0.0);
        self
    }
    /// Whether lower or higher is better.
    pub fn mode(mut self, mode: Mode) -> Self {
        let key = self.monitor.key.clone();
        self.monitor = Monitor::new(&key, mode, 0.0);
        self
    }
    /// Save only when the monitored value improves.
    pub fn save_best_only(mut self, yes: bool) -> Self {
        self.save_best_only = yes;
        self
    }
    /// Save every `n` epochs (default 1).
    pub fn period(mut self, n: usize) -> Self {
        self.period = n.max(1);
        self
    }
    /// The directories written so far.
    pub fn saved(&self) -> &[PathBuf] {
        &self.saved
    }
}

impl Callback for ModelCheckpoint {
    fn root_only(&self) -> bool {
        true
    }

    /// Claims the checkpoint directory before training (unless its path is a
    /// `{epoch}` template): a path that is a file, or a directory holding
    /// other things, is refused now rather than after an epoch of training,
    /// and a new directory is marked as a checkpoint before another callback
    /// (a CSV log) puts a file in it.
    fn prepare(&mut self) -> Result<()> {
        if self.path.contains("{epoch}") {
            return Ok(());
        }
        crate::save::claim_checkpoint_dir(std::path::Path::new(&self.path))
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut dyn ModelHandle) -> Result<()> {
        if !(epoch + 1).is_multiple_of(self.period) {
            return Ok(());
        }
        if self.save_best_only {
            let Some(value) =
                self.monitor
                    .value_or_warn(logs, "ModelCheckpoint(save_best_only)", "no checkpoint is saved")
            else {
                return Ok(());
            };
            if !self.monitor.improved(value) {
                return Ok(());
            }
        }
        let path = PathBuf::from(self.path.replace("{epoch}", &(epoch + 1).to_string()));
        model.save(&path)?;
        self.saved.push(path);
        Ok(())
    }
}
