//! `FitOptions`: everything `fit` takes besides the data.

use super::arrays::Arrays;
use crate::callbacks::Callback;
use neurite_data::Augment;
use std::collections::HashMap;

/// Options of [`crate::Model::fit`], with Keras' defaults: 1 epoch, batch
/// 32, shuffling on, verbose 1.
///
/// ```
/// use neurite::FitOptions;
/// let opts = FitOptions::new().epochs(10).batch_size(64).validation_split(0.1).verbose(2);
/// assert_eq!(opts.get_epochs(), 10);
/// ```
pub struct FitOptions<'a> {
    pub(crate) epochs: usize,
    pub(crate) batch_size: usize,
    pub(crate) shuffle: bool,
    pub(crate) verbose: u8,
    pub(crate) validation_data: Option<(Arrays<'a>, Arrays<'a>)>,
    pub(crate) validation_split: f32,
    pub(crate) class_weight: Option<HashMap<usize, f32>>,
    pub(crate) sample_weight: Option<&'a [f32]>,
    pub(crate) initial_epoch: Option<usize>,
    pub(crate) callbacks: Vec<&'a mut dyn Callback>,
    pub(crate) augmentation: Option<&'a dyn Augment>,
    pub(crate) steps_per_epoch: Option<usize>,
    pub(crate) validation_steps: Option<usize>,
    pub(crate) validation_stream: Option<super::DataStream>,
}

impl Default for FitOptions<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> FitOptions<'a> {
    /// Keras' defaults.
    pub fn new() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            verbose: 1,
            validation_data: None,
            validation_split: 0.0,
            class_weight: None,
            sample_weight: None,
            initial_epoch: None,
            callbacks: Vec::new(),
            augmentation: None,
            steps_per_epoch: None,
            validation_steps: None,
            validation_stream: None,
        }
    }
    /// The epoch to stop before, as Keras' `epochs`: one `fit` trains
    /// epochs `initial_epoch..epochs` (`0..epochs` by default).
    ///
    /// ```
    /// assert_eq!(neurite::FitOptions::new().epochs(3).get_epochs(), 3);
    /// ```
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// The configured epoch count.
    pub fn get_epochs(&self) -> usize {
        self.epochs
    }
    /// Samples per gradient step.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Reshuffle the training samples every epoch (seeded by the model seed and epoch).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }
    /// 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }
    /// Data evaluated at the end of every epoch (logged as `val_*`): one
    /// array each, or one per input/output as for `fit` ([`Arrays`]).
    ///
    /// ```
    /// let (x, y) = (neurite::tensor::Tensor::zeros(ndarray::IxDyn(&[4, 2])), neurite::tensor::Tensor::zeros(ndarray::IxDyn(&[4, 1])));
    /// let opts = neurite::FitOptions::new().validation_data(&x, [("out", &y)]);
    /// # let _ = opts;
    /// ```
    pub fn validation_data(mut self, x: impl Into<Arrays<'a>>, y: impl Into<Arrays<'a>>) -> Self {
        self.validation_data = Some((x.into(), y.into()));
        self
    }
    /// Hold out this fraction of the training data (the last samples, before shuffling, as Keras) for
    /// validation. Ignored when [`FitOptions::validation_data`] is given, as in Keras.
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }
    /// Weight of each class in the loss (class index -> weight); missing classes weigh 1.
    pub fn class_weight(mut self, weights: HashMap<usize, f32>) -> Self {
        self.class_weight = Some(weights);
        self
    }
    /// Weight of each training sample in the loss.
    pub fn sample_weight(mut self, weights: &'a [f32]) -> Self {
        self.sample_weight = Some(weights);
        self
    }
    /// Start at this epoch (0-based; Keras' `initial_epoch`, default 0). To
    /// resume a loaded checkpoint as if training had never stopped, pass
    /// `model.epochs_done()` and the same `epochs` as the first run.
    ///
    /// ```
    /// let opts = neurite::FitOptions::new().epochs(10).initial_epoch(4);
    /// assert_eq!(opts.get_epochs(), 10);
    /// ```
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = Some(epoch);
        self
    }
    /// Adds a callback.
    pub fn callback(mut self, callback: &'a mut dyn Callback) -> Self {
        self.callbacks.push(callback);
        self
    }
    /// Augments every training batch (NHWC images) before the step, e.g. with a
    /// `neurite::data::Pipeline` of random flips and crops. Each batch's
    /// randomness is derived from the model seed, the epoch and the batch index.
    pub fn augmentation(mut self, augment: &'a dyn Augment) -> Self {
        self.augmentation = Some(augment);
        self
    }
}
