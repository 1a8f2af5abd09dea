//! Callbacks: code that runs at the start/end of training, epochs and
//! batches, and can stop training, change the learning rate or save the model.

mod csv_logger;
mod early_stopping;
mod lr;
mod model_checkpoint;
mod monitor;
mod terminate_on_nan;

pub use csv_logger::CsvLogger;
pub use early_stopping::EarlyStopping;
pub use lr::{LearningRateScheduler, ReduceLrOnPlateau};
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::Mode;
pub use terminate_on_nan::TerminateOnNan;

use crate::error::Result;
use neurite_tensor::Tensor;
use std::collections::BTreeMap;
use std::path::Path;

/// Values logged for an epoch or batch: `"loss"`, `"accuracy"`,
/// `"val_loss"`, `"val_accuracy"`, `"lr"`, ...
pub type Logs = BTreeMap<String, f64>;

/// What a callback may do to the model being trained.
pub trait ModelHandle {
    /// A copy of every variable, by name (`Model::get_weights_by_name`).
    fn get_weights_by_name(&self) -> Vec<(String, Tensor)>;
    /// Sets every variable by name (`Model::set_weights_by_name`).
    fn set_weights_by_name(&mut self, weights: &[(String, Tensor)]) -> Result<()>;
    /// The optimizer's current learning rate.
    fn learning_rate(&self) -> Option<f32>;
    /// Replaces the optimizer's learning rate by a constant.
    fn set_learning_rate(&mut self, lr: f32);
    /// Stops training after the current epoch.
    fn stop_training(&mut self);
    /// Saves the whole model (architecture, weights, optimizer state) atomically to `dir`.
    fn save(&self, dir: &Path) -> Result<()>;
}

/// A hook into `fit`, as Keras' `Callback`. Every method has a default that does nothing.
///
/// ```
/// use neurite::callbacks::{Callback, Logs, ModelHandle};
/// struct PrintLoss;
/// impl Callback for PrintLoss {
///     fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut dyn ModelHandle) -> neurite::Result<()> {
///         println!("epoch {epoch}: loss {:?}", logs.get("loss"));
///         Ok(())
///     }
/// }
/// ```
pub trait Callback {
    /// Whether, in data-parallel training ([`crate::distributed`]), only rank 0
    /// runs this callback: true for callbacks that only write files
    /// (ModelCheckpoint, CSVLogger); callbacks that take decisions run on every
    /// rank, from the same logs. Default false.
    ///
    /// ```
    /// use neurite::callbacks::{Callback, CsvLogger, EarlyStopping};
    /// assert!(CsvLogger::new("log.csv").root_only());
    /// assert!(!EarlyStopping::new("val_loss").root_only());
    /// ```
    fn root_only(&self) -> bool {
        false
    }
    /// Called once per `fit`, before any callback's `on_train_begin`, to
    /// check or claim what the callback will write to, so that a setting
    /// that cannot work fails before training starts (ModelCheckpoint claims
    /// its directory here, before another callback can put a file in it).
    fn prepare(&mut self) -> Result<()> {
        Ok(())
    }
    /// Before the first epoch.
    fn on_train_begin(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        Ok(())
    }
    /// Before each epoch (0-based).
    fn on_epoch_begin(&mut self, _epoch: usize, _model: &mut dyn ModelHandle) -> Result<()> {
        Ok(())
    }
    /// After each training batch; `logs` holds the batch's `"loss"`.
    fn on_batch_end(
        &mut self,
        _epoch: usize,
        _batch: usize,
        _logs: &Logs,
        _model: &mut dyn ModelHandle,
    ) -> Result<()> {
        Ok(())
    }
    /// After each epoch, with the epoch's training and validation values.
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &Logs, _model: &mut dyn ModelHandle) -> Result<()> {
        Ok(())
    }
    /// After the last epoch (also after an early stop).
    fn on_train_end(&mut self, _model: &mut dyn ModelHandle) -> Result<()> {
        Ok(())
    }
}
