//! Callbacks that change the learning rate between epochs.

use super::monitor::{Mode, Monitor};
use super::{Callback, Logs, ModelHandle};
use crate::error::Result;

/// Sets the learning rate at the start of every epoch from `schedule(epoch, current_lr)`
/// (Keras' `LearningRateScheduler`).
///
/// ```
/// use neurite::callbacks::LearningRateScheduler;
/// let halve_every_10 = LearningRateScheduler::new(|epoch, lr| if epoch > 0 && epoch % 10 == 0 { lr * 0.5 } else { lr });
/// ```
pub struct LearningRateScheduler {
    schedule: Box<dyn FnMut(usize, f32) -> f32>,
}

impl LearningRateScheduler {
    /// A scheduler from a function of the epoch (0-based) and the current rate.
    pub fn new(schedule: impl FnMut(usize, f32) -> f32 + 'static) -> Self {
        LearningRateScheduler {
            schedule: Box::new(schedule),
        }
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, epoch: usize, model: &mut dyn ModelHandle) -> Result<()> {
        if let Some(lr) = model.learning_rate() {
            let new_lr = (self.schedule)(epoch, lr);
            if !(new_lr.is_finite() && new_lr >= 0.0) {
                return Err(crate::Error::Model(format!(
                    "LearningRateScheduler: the schedule returned the learning rate {new_lr} for epoch {epoch}; \
                     it must be finite and non-negative"
                )));
            }
            model.set_learning_rate(new_lr);
        }
        Ok(())
    }
}

/// Multiplies the learning rate by `factor` when `monitor` has not improved
/// for `patience` epochs (Keras' `ReduceLROnPlateau`, same defaults:
/// `val_loss`, factor 0.1, patience 10, min_delta 1e-4, cooldown 0, min_lr 0).
///
/// ```
/// use neurite::callbacks::ReduceLrOnPlateau;
/// let cb = ReduceLrOnPlateau::new("val_loss").factor(0.5).patience(2).min_lr(1e-5);
/// ```
#[derive(Debug, Clone)]
pub struct ReduceLrOnPlateau {
    monitor: Monitor,
    factor: f32,
    patience: usize,
    cooldown: usize,
    min_lr: f32,
    wait: usize,
    cooldown_left: usize,
}

impl ReduceLrOnPlateau {
    /// Watches the logged value `monitor`.
    pub fn new(monitor: &str) -> Self {
        ReduceLrOnPlateau {
            monitor: Monitor::new(monitor, Mode::Auto, 1e-4),
            factor: 0.1,
            patience: 10,
            cooldown: 0,
            min_lr: 0.0,
            wait: 0,
            cooldown_left: 0,
        }
    }
    /// Factor the rate is multiplied by (in (0, 1)).
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }
    /// Epochs without improvement before reducing.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }
    /// Epochs to wait after a reduction before watching again.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }
    /// Lower bound of the rate.
    pub fn min_lr(mut self, min_lr: f32) -> Self {
        self.min_lr = min_lr;
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
}

impl Callback for ReduceLrOnPlateau {
    /// Checks the settings before training starts (Keras raises on them at construction).
    fn prepare(&mut self) -> Result<()> {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(crate::Error::Model(format!(
                "ReduceLROnPlateau: factor must be in (0, 1), found {}",
                self.factor
            )));
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0) {
            return Err(crate::Error::Model(format!(
                "ReduceLROnPlateau: min_lr must be finite and non-negative, found {}",
                self.min_lr
            )));
        }
        if !self.monitor.min_delta.is_finite() {
            return Err(crate::Error::Model(format!(
                "ReduceLROnPlateau: min_delta must be finite, found {}",
                self.monitor.min_delta
            )));
        }
        Ok(())
    }

    fn on_train_begin(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        self.monitor.best = None;
        self.wait = 0;
        self.cooldown_left = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, model: &mut dyn ModelHandle) -> Result<()> {
        let Some(value) =
            self.monitor
                .value_or_warn(logs, "ReduceLROnPlateau", "the learning rate is left as it is")
        else {
            return Ok(());
        };
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if self.monitor.improved(value) {
            self.wait = 0;
        } else if self.cooldown_left == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                if let Some(lr) = model.learning_rate() {
                    let new_lr = (lr * self.factor).max(self.min_lr);
                    if new_lr < lr {
                        model.set_learning_rate(new_lr);
                    }
                }
                self.cooldown_left = self.cooldown;
                self.wait = 0;
            }
        }
        Ok(())
    }
}
