//! EarlyStopping: stop when a monitored value stops improving.

use super::monitor::{Mode, Monitor};
use super::{Callback, Logs, ModelHandle};
use crate::error::Result;
use neurite_tensor::Tensor;

/// Stops training when `monitor` has not improved by more than `min_delta`
/// for `patience` epochs; optionally restores the best epoch's weights
/// (Keras' `EarlyStopping`, same defaults: `val_loss`, 0, 0, auto, false).
///
/// ```
/// use neurite::callbacks::EarlyStopping;
/// let es = EarlyStopping::new("val_loss").patience(3).restore_best_weights(true);
/// assert_eq!(es.stopped_epoch(), None);
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    restore_best: bool,
    wait: usize,
    best_weights: Option<Vec<(String, Tensor)>>,
    best_epoch: Option<usize>,
    stopped_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Watches the logged value `monitor` (e.g. `"val_loss"`, `"val_accuracy"`).
    pub fn new(monitor: &str) -> Self {
        EarlyStopping {
            monitor: Monitor::new(monitor, Mode::Auto, 0.0),
            patience: 0,
            restore_best: false,
            wait: 0,
            best_weights: None,
            best_epoch: None,
            stopped_epoch: None,
        }
    }

    /// Epochs without improvement after which training stops.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Minimum change that counts as an improvement.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.monitor.min_delta = min_delta.abs();
        self
    }

    /// Whether lower or higher is better.
    pub fn mode(mut self, mode: Mode) -> Self {
        let (key, delta) = (self.monitor.key.clone(), self.monitor.min_delta);
        self.monitor = Monitor::new(&key, mode, delta);
        self
    }

    /// Restore the weights of the best epoch when training stops or ends.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best = restore;
        self
    }

    /// The epoch (0-based) at which training was stopped, if it was.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch (0-based) with the best monitored value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }
}

impl Callback for EarlyStopping {
    /// Checks the settings before training starts (Keras raises on them at construction).
    fn prepare(&mut self) -> Result<()> {
        if !self.monitor.min_delta.is_finite() {
            return Err(crate::Error::Model(format!(
                "EarlyStopping: min_delta must be finite, found {}",
                self.monitor.min_delta
            )));
        }
        Ok(())
    }

    fn on_train_begin(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        self.wait = 0;
        self.monitor.best = None;
        self.best_weights = None;
        self.best_epoch = None;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut dyn ModelHandle) -> Result<()> {
        // Keras: a monitored value that is not logged is warned about, and training goes on.
        let Some(value) =
            self.monitor
                .value_or_warn(logs, "EarlyStopping", "training goes on without early stopping")
        else {
            return Ok(());
        };
        if self.monitor.improved(value) {
            self.wait = 0;
            self.best_epoch = Some(epoch);
            if self.restore_best {
                self.best_weights = Some(model.get_weights_by_name());
            }
            return Ok(());
        }
        self.wait += 1;
        // Keras: stop once `patience` epochs in a row brought no improvement.
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            model.stop_training();
        }
        Ok(())
    }

    /// As Keras 3: the best epoch's weights are restored when training ends
    /// (stopped early or not) if `restore_best_weights` is set.
    fn on_train_end(&mut self, model: &mut dyn ModelHandle) -> Result<()> {
        if let Some(weights) = self.best_weights.take() {
            model.set_weights_by_name(&weights)?;
        }
        Ok(())
    }
}
