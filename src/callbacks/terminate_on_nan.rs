//! TerminateOnNaN: stop with an error as soon as a batch loss is NaN or infinite.

use super::{Callback, Logs, ModelHandle};
use crate::error::{Error, Result};

/// Stops training with [`Error::NonFiniteLoss`] naming the epoch and batch
/// whose loss is NaN or infinite (Keras' `TerminateOnNaN`).
///
/// (`fit` also refuses to apply an update computed from a non-finite loss,
/// with or without this callback, so the weights are never corrupted.)
///
/// ```
/// use neurite::callbacks::{Callback, TerminateOnNan};
/// let _cb: Box<dyn Callback> = Box::new(TerminateOnNan);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminateOnNan;

impl Callback for TerminateOnNan {
    fn on_batch_end(
        &mut self,
        epoch: usize,
        batch: usize,
        logs: &Logs,
        _model: &mut dyn ModelHandle,
    ) -> Result<()> {
        match logs.get("loss") {
            Some(&loss) if !loss.is_finite() => Err(Error::NonFiniteLoss {
                epoch,
                batch,
                value: loss as f32,
            }),
            _ => Ok(()),
        }
    }
}
