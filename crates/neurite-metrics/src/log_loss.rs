//! Log loss (cross-entropy of predicted probabilities).

use ndarray::ArrayView2;

use crate::error::{MetricError, Result};
use crate::input::{check_labels, check_len};
use crate::streaming::{LogLoss, StreamingMetric};

/// Probabilities are clipped to `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` before
/// the logarithm, so a confident wrong prediction costs about 34.5, not
/// infinity (scikit-learn's former default `eps=1e-15`).
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// `-ln(p)` with `p` clipped to `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]`.
pub(crate) fn neg_log(p: f64) -> f64 {
    -p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS).ln()
}

/// Mean negative log-likelihood of the true classes (scikit-learn's
/// `log_loss`). `y_prob` is `(n, classes)` with a probability per class, or
/// `(n, 1)` with the probability of class 1 for a binary task. Rows are not
/// renormalised; every value must lie in `[0, 1]`.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::log_loss;
/// // scikit-learn's `log_loss` documentation example (ham = 0, spam = 1): 0.21616...
/// let y_prob = array![[0.1f32, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]];
/// let loss = log_loss(&[1, 0, 0, 1], y_prob.view())?;
/// assert!((loss - 0.21616187468057912).abs() < 1e-6); // f32 inputs
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn log_loss(y_true: &[usize], y_prob: ArrayView2<f32>) -> Result<f64> {
    let metric = "log_loss";
    check_len(metric, y_true.len(), y_prob.nrows())?;
    let n_classes = y_prob.ncols().max(2);
    check_labels(metric, y_true, n_classes)?;
    // Labels are below the class count, so they are exact in f32.
    let labels: Vec<f32> = y_true.iter().map(|&l| l as f32).collect();
    let mut m = if y_prob.ncols() == 1 {
        LogLoss::binary()
    } else {
        LogLoss::sparse()
    };
    m.update(ndarray::ArrayView1::from(&labels).into_dyn(), y_prob.into_dyn())?;
    m.try_result().map_err(|_| MetricError::Empty { metric })
}
