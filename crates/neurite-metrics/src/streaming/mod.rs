//! Streaming metrics: accumulators that a training loop feeds batch by batch.
//!
//! Every accumulator implements [`StreamingMetric`]: `update` with one batch,
//! `result` at the end of the epoch, `reset` before the next one. The value
//! after any split of a data set into batches is the value computed on the
//! whole set at once (counts are exact; sums are accumulated sample by sample
//! in the same order as the whole-set functions, so they agree bit for bit).
//!
//! Inputs follow the Keras conventions: `y_pred` holds probabilities or
//! scores of shape `(n, classes)`, or `(n, 1)` / `(n,)` for a binary task;
//! `y_true` holds class indices as `f32` (`(n,)` or `(n, 1)`), one-hot rows
//! `(n, classes)`, binary labels `0`/`1`, or real targets for regression.
//! Non-finite values in either array are an error.

mod accuracy;
mod confusion;
mod probabilistic;
mod regression;

pub(crate) use accuracy::check_k_below_classes;
pub use accuracy::{Accuracy, AccuracyKind, TopKAccuracy};
pub use confusion::{ConfusionMatrixMetric, Summary};
pub use probabilistic::{AveragePrecision, LogLoss, RocAuc};
pub use regression::{Mae, Mape, Mse, R2Score, Rmse};

use ndarray::ArrayViewD;

use crate::error::{MetricError, Result};

/// A metric computed over batches: `update` per batch, `result` at the end.
///
/// `result` never returns NaN: before any sample was seen, or when the metric
/// is undefined on what was seen (e.g. ROC AUC with a single class), it
/// returns `0.0`; [`try_result`](StreamingMetric::try_result) returns the
/// error instead.
///
/// ```
/// use ndarray::{array, ArrayD};
/// use neurite_metrics::streaming::{Accuracy, StreamingMetric};
///
/// let mut acc = Accuracy::auto();
/// // two batches of a 3-class problem, sparse labels
/// let (t1, p1) = (array![0.0f32, 2.0], array![[0.9f32, 0.1, 0.0], [0.2, 0.7, 0.1]]);
/// let (t2, p2) = (array![1.0f32], array![[0.1f32, 0.8, 0.1]]);
/// acc.update(t1.view().into_dyn(), p1.view().into_dyn())?;
/// acc.update(t2.view().into_dyn(), p2.view().into_dyn())?;
/// assert_eq!(acc.name(), "accuracy");
/// assert!((acc.result() - 2.0 / 3.0).abs() < 1e-12);
/// acc.reset();
/// assert_eq!(acc.result(), 0.0);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub trait StreamingMetric: Send {
    /// Keras-like name for logs, e.g. `"accuracy"`, `"mse"`.
    fn name(&self) -> &str;

    /// Adds one batch. On error the accumulator is left unchanged.
    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<(), MetricError>;

    /// The value over everything seen since the last reset, or the reason it
    /// has none ([`MetricError::Empty`] before any sample).
    fn try_result(&self) -> Result<f64, MetricError>;

    /// The value over everything seen since the last reset; `0.0` where
    /// [`try_result`](StreamingMetric::try_result) returns an error.
    fn result(&self) -> f64 {
        self.try_result().unwrap_or(0.0)
    }

    /// Forgets everything seen, as if newly built (with the same options).
    fn reset(&mut self);
}
