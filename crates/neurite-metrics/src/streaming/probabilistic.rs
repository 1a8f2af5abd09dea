//! Streaming metrics of probabilities and scores: log loss, ROC AUC and
//! average precision.

use ndarray::ArrayViewD;

use super::StreamingMetric;
use crate::error::{MetricError, Result};
use crate::input::{
    as_2d, binary_label, check_finite, check_len, check_rows, check_values_per_sample, shape_str,
    sparse_labels,
};
use crate::log_loss::neg_log;
use crate::ranking::{average_precision_score, roc_auc_score};

/// How a [`LogLoss`] reads its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Auto,
    /// Probability of class 1 per value, labels 0/1 (same number of values).
    Binary,
    /// `y_true` rows of class weights (one-hot or soft) of the shape of `y_pred`.
    Categorical,
    /// Class indices in `y_true`, probabilities `(n, classes)` in `y_pred`.
    Sparse,
}

/// Streaming log loss (cross-entropy of probabilities), the mean over
/// samples of `-Σ_j y_j ln p_j`, probabilities clipped to
/// `[1e-15, 1 - 1e-15]` (see [`crate::LOG_LOSS_EPS`]). Name `"log_loss"`.
///
/// The input kind is chosen as for [`super::Accuracy::auto`]: `y_pred` of rank
/// 1 or last dimension 1 is binary (each value the probability of class 1,
/// averaged per value), `y_true` of the shape of `y_pred` is one-hot (or
/// soft) targets, anything else is class indices. Probabilities, and the
/// class weights of one-hot or soft targets, must lie in `[0, 1]`.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::streaming::{LogLoss, StreamingMetric};
/// let mut m = LogLoss::auto();
/// m.update(array![1.0f32, 0.0].view().into_dyn(), array![[0.8f32], [0.4]].view().into_dyn())?;
/// let expected = -(0.8f64.ln() + 0.6f64.ln()) / 2.0;
/// assert!((m.result() - expected).abs() < 1e-6);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LogLoss {
    requested: Mode,
    resolved: Option<Mode>,
    sum: f64,
    count: u64,
}

impl LogLoss {
    fn with_mode(mode: Mode) -> Self {
        let resolved = if mode == Mode::Auto { None } else { Some(mode) };
        LogLoss {
            requested: mode,
            resolved,
            sum: 0.0,
            count: 0,
        }
    }

    /// Chooses binary, categorical or sparse from the first batch's shapes.
    pub fn auto() -> Self {
        Self::with_mode(Mode::Auto)
    }

    /// Binary: `y_pred` holds the probability of class 1, `y_true` 0 or 1.
    pub fn binary() -> Self {
        Self::with_mode(Mode::Binary)
    }

    /// Categorical: one-hot (or soft) `y_true` of the shape of `y_pred`.
    pub fn categorical() -> Self {
        Self::with_mode(Mode::Categorical)
    }

    /// Sparse: class indices in `y_true`, probabilities `(n, classes)` in `y_pred`.
    pub fn sparse() -> Self {
        Self::with_mode(Mode::Sparse)
    }

    fn infer(y_true: &[usize], y_pred: &[usize]) -> Mode {
        if y_pred.len() <= 1 || y_pred.last() == Some(&1) {
            Mode::Binary
        } else if y_true == y_pred {
            Mode::Categorical
        } else {
            Mode::Sparse
        }
    }

    /// Per-sample losses of one batch, without changing `self`.
    fn losses(mode: Mode, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<Vec<f64>> {
        let metric = "log_loss";
        check_finite(metric, y_true.iter())?;
        check_finite(metric, y_pred.iter())?;
        for (index, &p) in y_pred.iter().enumerate() {
            if !(0.0..=1.0).contains(&p) {
                return Err(MetricError::InvalidValue {
                    metric,
                    index,
                    value: p as f64,
                    expected: "a probability in [0, 1]",
                });
            }
        }
        match mode {
            Mode::Binary => {
                check_values_per_sample(metric, y_pred.shape())?;
                check_len(metric, y_true.len(), y_pred.len())?;
                let mut out = Vec::with_capacity(y_true.len());
                for (index, (&t, &p)) in y_true.iter().zip(y_pred.iter()).enumerate() {
                    let p = p as f64;
                    out.push(if binary_label(metric, index, t)? {
                        neg_log(p)
                    } else {
                        neg_log(1.0 - p)
                    });
                }
                Ok(out)
            }
            Mode::Categorical => {
                let p = as_2d(metric, y_pred)?;
                if y_true.shape() != p.shape() {
                    return Err(MetricError::ShapeMismatch {
                        metric,
                        expected: format!("y_true of the shape of y_pred {}", shape_str(p.shape())),
                        found: shape_str(y_true.shape()),
                    });
                }
                check_rows(metric, p.nrows(), &p)?;
                // Class weights outside [0, 1] would make the loss negative.
                if let Some((index, &w)) = y_true.iter().enumerate().find(|(_, w)| !(0.0..=1.0).contains(*w))
                {
                    return Err(MetricError::InvalidValue {
                        metric,
                        index,
                        value: w as f64,
                        expected: "a target class weight in [0, 1] (one-hot or soft labels)",
                    });
                }
                let t = as_2d(metric, y_true)?;
                Ok(t.rows()
                    .into_iter()
                    .zip(p.rows())
                    .map(|(tr, pr)| {
                        tr.iter()
                            .zip(pr)
                            .map(|(&w, &q)| w as f64 * neg_log(q as f64))
                            .sum()
                    })
                    .collect())
            }
            Mode::Sparse => {
                let p = as_2d(metric, y_pred)?;
                check_rows(metric, y_true.shape().first().copied().unwrap_or(1), &p)?;
                let labels = sparse_labels(metric, y_true, p.ncols())?;
                Ok(labels
                    .iter()
                    .zip(p.rows())
                    .map(|(&l, row)| neg_log(row[l] as f64))
                    .collect())
            }
            Mode::Auto => unreachable!("Auto is resolved before computing losses"),
        }
    }
}

impl StreamingMetric for LogLoss {
    fn name(&self) -> &str {
        "log_loss"
    }

    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
        let mode = self
            .resolved
            .unwrap_or_else(|| Self::infer(y_true.shape(), y_pred.shape()));
        let losses = Self::losses(mode, y_true, y_pred)?;
        self.resolved = Some(mode);
        self.count += losses.len() as u64;
        for l in losses {
            self.sum += l;
        }
        Ok(())
    }

    fn try_result(&self) -> Result<f64> {
        if self.count == 0 {
            return Err(MetricError::Empty { metric: "log_loss" });
        }
        Ok(self.sum / self.count as f64)
    }

    fn reset(&mut self) {
        *self = Self::with_mode(self.requested);
    }
}

/// Reads a batch of binary labels and scores: `y_pred` `(n,)` or `(n, 1)`,
/// `y_true` with as many values, each 0 or 1.
fn binary_batch(
    metric: &'static str,
    y_true: ArrayViewD<f32>,
    y_pred: ArrayViewD<f32>,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let p = as_2d(metric, y_pred)?;
    if p.ncols() != 1 {
        return Err(MetricError::ShapeMismatch {
            metric,
            expected: "binary scores of shape (n,) or (n, 1)".to_string(),
            found: shape_str(p.shape()),
        });
    }
    check_len(metric, y_true.len(), p.nrows())?;
    check_finite(metric, y_true.iter())?;
    check_finite(metric, p.iter())?;
    let labels = y_true
        .iter()
        .enumerate()
        .map(|(i, &t)| binary_label(metric, i, t).map(usize::from))
        .collect::<Result<Vec<_>>>()?;
    Ok((labels, p.iter().copied().collect()))
}

/// Streaming area under the ROC curve of binary scores. Name `"auc"`.
///
/// It keeps every label and score seen (8 bytes per sample) and computes
/// [`crate::roc_auc_score`] on them, so the value is exact for any batch
/// split. `result` is `0.0` while only one class was seen (undefined);
/// `try_result` says why.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::streaming::{RocAuc, StreamingMetric};
/// let mut auc = RocAuc::new();
/// auc.update(array![0.0f32, 0.0].view().into_dyn(), array![0.1f32, 0.4].view().into_dyn())?;
/// auc.update(array![1.0f32, 1.0].view().into_dyn(), array![0.35f32, 0.8].view().into_dyn())?;
/// assert!((auc.result() - 0.75).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RocAuc {
    labels: Vec<usize>,
    scores: Vec<f32>,
}

impl RocAuc {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamingMetric for RocAuc {
    fn name(&self) -> &str {
        "auc"
    }

    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
        let (labels, scores) = binary_batch("auc", y_true, y_pred)?;
        self.labels.extend(labels);
        self.scores.extend(scores);
        Ok(())
    }

    fn try_result(&self) -> Result<f64> {
        roc_auc_score(&self.labels, &self.scores)
    }

    fn reset(&mut self) {
        self.labels.clear();
        self.scores.clear();
    }
}

/// Streaming average precision of binary scores. Name `"average_precision"`.
///
/// Keeps every label and score seen and computes
/// [`crate::average_precision_score`], exact for any batch split. `result`
/// is `0.0` while no positive sample was seen (undefined).
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::streaming::{AveragePrecision, StreamingMetric};
/// let mut ap = AveragePrecision::new();
/// ap.update(array![0.0f32, 0.0, 1.0, 1.0].view().into_dyn(), array![0.1f32, 0.4, 0.35, 0.8].view().into_dyn())?;
/// assert!((ap.result() - 0.8333333333333333).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AveragePrecision {
    labels: Vec<usize>,
    scores: Vec<f32>,
}

impl AveragePrecision {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamingMetric for AveragePrecision {
    fn name(&self) -> &str {
        "average_precision"
    }

    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
        let (labels, scores) = binary_batch("average_precision", y_true, y_pred)?;
        self.labels.extend(labels);
        self.scores.extend(scores);
        Ok(())
    }

    fn try_result(&self) -> Result<f64> {
        average_precision_score(&self.labels, &self.scores)
    }

    fn reset(&mut self) {
        self.labels.clear();
        self.scores.clear();
    }
}
