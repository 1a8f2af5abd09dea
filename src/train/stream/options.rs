//! The stream options of [`FitOptions`]: `steps_per_epoch`, `validation_steps` and a
//! validation stream.

use super::source::DataStream;
use crate::train::options::FitOptions;

impl<'a> FitOptions<'a> {
    /// Batches per epoch when training from a stream (Keras' `steps_per_epoch`): an epoch
    /// ends after this many steps and the stream goes on where it stopped at the next epoch
    /// (see [`crate::Model::fit_stream`]). Needed for an endless stream. Streams only: `fit`
    /// on arrays refuses it.
    ///
    /// ```
    /// let opts = neurite::FitOptions::new().steps_per_epoch(100).validation_steps(10);
    /// # let _ = opts;
    /// ```
    pub fn steps_per_epoch(mut self, steps: usize) -> Self {
        self.steps_per_epoch = Some(steps);
        self
    }

    /// Batches of the validation stream evaluated at the end of every epoch (Keras'
    /// `validation_steps`; default: one whole pass).
    pub fn validation_steps(mut self, steps: usize) -> Self {
        self.validation_steps = Some(steps);
        self
    }

    /// A stream evaluated at the end of every epoch (logged as `val_*`), read from its
    /// start each time (an indexed source in order, a generator called with pass 0). With
    /// [`crate::Model::fit_stream`]; `fit` on arrays takes [`FitOptions::validation_data`].
    ///
    /// ```
    /// use neurite::tensor::Tensor;
    /// let val = neurite::DataStream::generator(|_| vec![(Tensor::zeros(ndarray::IxDyn(&[2, 1])), Tensor::zeros(ndarray::IxDyn(&[2, 1])))]);
    /// let opts = neurite::FitOptions::new().validation_stream(val).validation_steps(1);
    /// # let _ = opts;
    /// ```
    pub fn validation_stream(mut self, data: impl Into<DataStream>) -> Self {
        self.validation_stream = Some(data.into());
        self
    }

    /// Whether an option only streams take is set (`fit` on arrays refuses them).
    pub(crate) fn stream_only_option(&self) -> Option<&'static str> {
        if self.steps_per_epoch.is_some() {
            Some("steps_per_epoch")
        } else if self.validation_steps.is_some() {
            Some("validation_steps")
        } else if self.validation_stream.is_some() {
            Some("validation_stream")
        } else {
            None
        }
    }
}
