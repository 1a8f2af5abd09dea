//! A streaming confusion matrix, reporting one summary number per epoch.

use ndarray::ArrayViewD;

use super::StreamingMetric;
use crate::agreement::KappaWeights;
use crate::confusion::ConfusionMatrix;
use crate::error::{MetricError, Result};
use crate::input::{argmax_rows, as_2d, binary_label, check_finite, check_len, shape_str, sparse_labels};
use crate::prf::{Average, ZeroDivision};

/// The number a [`ConfusionMatrixMetric`] reports as its `result`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Summary {
    /// Fraction on the diagonal. Name `"accuracy"`.
    Accuracy,
    /// Precision with this averaging (zero division gives 0). Name `"precision"`.
    Precision(Average),
    /// Recall with this averaging (zero division gives 0). Name `"recall"`.
    Recall(Average),
    /// F-beta with this averaging (zero division gives 0). Name `"f1_score"`
    /// when `beta == 1`, `"fbeta_score"` otherwise.
    FBeta {
        /// Weight of recall relative to precision.
        beta: f64,
        /// How classes are combined.
        average: Average,
    },
    /// Matthews correlation coefficient. Name `"matthews_corrcoef"`.
    MatthewsCorrcoef,
    /// Cohen's kappa. Name `"cohen_kappa"`.
    CohenKappa(KappaWeights),
}

impl Summary {
    fn name(&self) -> &'static str {
        match self {
            Summary::Accuracy => "accuracy",
            Summary::Precision(_) => "precision",
            Summary::Recall(_) => "recall",
            Summary::FBeta { beta, .. } if *beta == 1.0 => "f1_score",
            Summary::FBeta { .. } => "fbeta_score",
            Summary::MatthewsCorrcoef => "matthews_corrcoef",
            Summary::CohenKappa(_) => "cohen_kappa",
        }
    }
}

/// Streaming confusion matrix over `n_classes` classes.
///
/// Each batch is read as Keras would: `y_pred` `(n, classes)` is turned into
/// classes by argmax; `y_pred` `(n,)` or `(n, 1)` is binary, thresholded at
/// 0.5 (needs `n_classes == 2`); `y_true` of the shape of `y_pred` with more
/// than one column is one-hot (argmax), otherwise it holds class indices.
///
/// The full matrix is available through [`matrix`](Self::matrix) (for a
/// report or a picture at the end of an epoch); `result` reports the chosen
/// [`Summary`] (accuracy by default), `0.0` before any sample.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::streaming::{ConfusionMatrixMetric, StreamingMetric, Summary};
/// use neurite_metrics::Average;
///
/// let mut m = ConfusionMatrixMetric::new(3)?.with_summary(Summary::Recall(Average::Macro))?;
/// let y_true = array![0.0f32, 1.0, 2.0];
/// let y_pred = array![[0.8f32, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]];
/// m.update(y_true.view().into_dyn(), y_pred.view().into_dyn())?;
/// assert_eq!(m.name(), "recall");
/// assert!((m.result() - 2.0 / 3.0).abs() < 1e-12);
/// assert_eq!(m.matrix().counts()[[2, 1]], 1);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConfusionMatrixMetric {
    matrix: ConfusionMatrix,
    summary: Summary,
}

impl ConfusionMatrixMetric {
    /// An empty matrix for `n_classes >= 1` classes, reporting accuracy.
    pub fn new(n_classes: usize) -> Result<Self> {
        Ok(ConfusionMatrixMetric {
            matrix: ConfusionMatrix::new(n_classes)?,
            summary: Summary::Accuracy,
        })
    }

    /// Reports `summary` as `result`. Fails if a `pos_label` is not a class
    /// or an F-beta `beta` is negative or not finite.
    pub fn with_summary(mut self, summary: Summary) -> Result<Self> {
        let n_classes = self.matrix.n_classes();
        let average = match summary {
            Summary::Precision(a) | Summary::Recall(a) => Some(a),
            Summary::FBeta { beta, average } => {
                if !(beta.is_finite() && beta >= 0.0) {
                    return Err(MetricError::InvalidArgument {
                        metric: summary.name(),
                        name: "beta",
                        expected: "a finite number >= 0".to_string(),
                        found: beta.to_string(),
                    });
                }
                Some(average)
            }
            _ => None,
        };
        if let Some(Average::Binary { pos_label }) = average {
            if pos_label >= n_classes {
                return Err(MetricError::LabelOutOfRange {
                    metric: summary.name(),
                    label: pos_label,
                    n_classes,
                });
            }
        }
        self.summary = summary;
        Ok(self)
    }

    /// The counts accumulated since the last reset.
    pub fn matrix(&self) -> &ConfusionMatrix {
        &self.matrix
    }

    /// The summary reported by `result`.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Reads one batch into `(true classes, predicted classes)`.
    fn classes(&self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<(Vec<usize>, Vec<usize>)> {
        let metric = "confusion_matrix";
        let n_classes = self.matrix.n_classes();
        check_finite(metric, y_true.iter())?;
        check_finite(metric, y_pred.iter())?;
        let p = as_2d(metric, y_pred)?;
        if p.ncols() == 1 {
            if n_classes != 2 {
                return Err(MetricError::ShapeMismatch {
                    metric,
                    expected: format!(
                        "y_pred of shape (n, {n_classes}) for {n_classes} classes (binary scores (n, 1) need 2 classes)"
                    ),
                    found: shape_str(p.shape()),
                });
            }
            check_len(metric, y_true.len(), p.nrows())?;
            let truth = y_true
                .iter()
                .enumerate()
                .map(|(i, &t)| binary_label(metric, i, t).map(usize::from))
                .collect::<Result<Vec<_>>>()?;
            let pred = p.iter().map(|&v| usize::from(v > 0.5)).collect();
            return Ok((truth, pred));
        }
        if p.ncols() != n_classes {
            return Err(MetricError::ShapeMismatch {
                metric,
                expected: format!("y_pred of shape (n, {n_classes}) or binary (n, 1)"),
                found: shape_str(p.shape()),
            });
        }
        let truth = if y_true.shape() == p.shape() {
            argmax_rows(as_2d(metric, y_true)?)
        } else {
            sparse_labels(metric, y_true, n_classes)?
        };
        check_len(metric, truth.len(), p.nrows())?;
        Ok((truth, argmax_rows(p)))
    }
}

impl StreamingMetric for ConfusionMatrixMetric {
    fn name(&self) -> &str {
        self.summary.name()
    }

    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
        let (truth, pred) = self.classes(y_true, y_pred)?;
        self.matrix.add(&truth, &pred)
    }

    fn try_result(&self) -> Result<f64> {
        let m = &self.matrix;
        let zd = ZeroDivision::Zero;
        match self.summary {
            Summary::Accuracy => m.accuracy(),
            Summary::Precision(a) => m.precision(a, zd),
            Summary::Recall(a) => m.recall(a, zd),
            Summary::FBeta { beta, average } => m.fbeta(beta, average, zd),
            Summary::MatthewsCorrcoef => m.matthews_corrcoef(),
            Summary::CohenKappa(w) => m.cohen_kappa(w),
        }
    }

    fn reset(&mut self) {
        self.matrix.reset();
    }
}
