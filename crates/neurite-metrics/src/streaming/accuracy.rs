//! Streaming accuracies: binary, categorical, sparse, automatic, and top-k.

use ndarray::ArrayViewD;

use super::StreamingMetric;
use crate::error::{MetricError, Result};
use crate::input::{
    argmax_rows, as_2d, binary_label, check_finite, check_len, check_rows, check_values_per_sample,
    is_sparse_shape, shape_str, sparse_labels,
};

/// Which accuracy an [`Accuracy`] computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AccuracyKind {
    /// Decide from the shapes of the first batch (as Keras' `"accuracy"`):
    /// `y_pred` of rank 1 or last dimension 1 gives `Binary { threshold: 0.5 }`;
    /// `y_true` of the same shape as `y_pred` with more than one class gives
    /// `Categorical`; anything else gives `Sparse`.
    Auto,
    /// Element-wise: the prediction `p > threshold` must equal the label
    /// (`0` or `1`). Works for multi-label `(n, k)` too, counting elements.
    Binary {
        /// Probabilities strictly above it count as class 1.
        threshold: f32,
    },
    /// `argmax(y_true) == argmax(y_pred)` per row, for one-hot `y_true`.
    Categorical,
    /// `y_true == argmax(y_pred)` per row, for class indices in `y_true`.
    Sparse,
}

/// Streaming accuracy (fraction of correct predictions).
///
/// `result` is `0.0` before any sample. `reset` also forgets the kind chosen
/// by [`Accuracy::auto`], which is decided again on the next update.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::streaming::{Accuracy, AccuracyKind, StreamingMetric};
///
/// // Binary: a single sigmoid output per sample.
/// let mut acc = Accuracy::auto();
/// let y_true = array![1.0f32, 0.0, 1.0, 0.0];
/// let y_pred = array![[0.8f32], [0.4], [0.3], [0.6]];
/// acc.update(y_true.view().into_dyn(), y_pred.view().into_dyn())?;
/// assert_eq!(acc.kind(), Some(AccuracyKind::Binary { threshold: 0.5 }));
/// assert_eq!(acc.result(), 0.5);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Accuracy {
    requested: AccuracyKind,
    resolved: Option<AccuracyKind>,
    correct: u64,
    total: u64,
    name: &'static str,
}

impl Accuracy {
    fn with_kind(kind: AccuracyKind, name: &'static str) -> Self {
        let resolved = if kind == AccuracyKind::Auto {
            None
        } else {
            Some(kind)
        };
        Accuracy {
            requested: kind,
            resolved,
            correct: 0,
            total: 0,
            name,
        }
    }

    /// Keras' `metrics=["accuracy"]`: the kind is chosen from the shapes of
    /// the first batch (see [`AccuracyKind::Auto`]). Name `"accuracy"`.
    pub fn auto() -> Self {
        Self::with_kind(AccuracyKind::Auto, "accuracy")
    }

    /// Binary accuracy with threshold 0.5. Name `"binary_accuracy"`.
    pub fn binary() -> Self {
        Self::binary_with_threshold(0.5)
    }

    /// Binary accuracy with a custom threshold. Name `"binary_accuracy"`.
    /// A non-finite threshold (NaN would call every prediction negative) is
    /// refused by the first `update` with [`MetricError::InvalidArgument`].
    pub fn binary_with_threshold(threshold: f32) -> Self {
        Self::with_kind(AccuracyKind::Binary { threshold }, "binary_accuracy")
    }

    /// Categorical accuracy for one-hot targets. Name `"categorical_accuracy"`.
    pub fn categorical() -> Self {
        Self::with_kind(AccuracyKind::Categorical, "categorical_accuracy")
    }

    /// Accuracy for class-index targets. Name `"sparse_categorical_accuracy"`.
    pub fn sparse() -> Self {
        Self::with_kind(AccuracyKind::Sparse, "sparse_categorical_accuracy")
    }

    /// The kind in use: `None` for an automatic accuracy not yet updated.
    pub fn kind(&self) -> Option<AccuracyKind> {
        self.resolved
    }

    /// Number of correct predictions seen (elements for binary, rows otherwise).
    pub fn correct(&self) -> u64 {
        self.correct
    }

    /// Number of predictions seen (elements for binary, rows otherwise).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Chooses the kind from the shapes, as described at [`AccuracyKind::Auto`].
    pub fn infer_kind(y_true_shape: &[usize], y_pred_shape: &[usize]) -> AccuracyKind {
        let last = y_pred_shape.last().copied().unwrap_or(1);
        if y_pred_shape.len() <= 1 || last == 1 {
            AccuracyKind::Binary { threshold: 0.5 }
        } else if y_true_shape == y_pred_shape {
            AccuracyKind::Categorical
        } else {
            AccuracyKind::Sparse
        }
    }

    /// Counts `(correct, total)` in one batch without changing `self`.
    fn count(
        &self,
        kind: AccuracyKind,
        y_true: ArrayViewD<f32>,
        y_pred: ArrayViewD<f32>,
    ) -> Result<(u64, u64)> {
        let metric = self.name;
        check_finite(metric, y_true.iter())?;
        check_finite(metric, y_pred.iter())?;
        match kind {
            AccuracyKind::Binary { threshold } => {
                if !threshold.is_finite() {
                    return Err(MetricError::InvalidArgument {
                        metric,
                        name: "threshold",
                        expected: "a finite number".to_string(),
                        found: threshold.to_string(),
                    });
                }
                check_values_per_sample(metric, y_pred.shape())?;
                let nt = y_true.shape().first().copied().unwrap_or(1);
                let np = y_pred.shape().first().copied().unwrap_or(1);
                check_len(metric, nt, np)?;
                if y_true.len() != y_pred.len() {
                    return Err(MetricError::ShapeMismatch {
                        metric,
                        expected: format!(
                            "y_pred with as many values as y_true {}",
                            shape_str(y_true.shape())
                        ),
                        found: shape_str(y_pred.shape()),
                    });
                }
                let mut correct = 0;
                for (index, (&t, &p)) in y_true.iter().zip(y_pred.iter()).enumerate() {
                    if binary_label(metric, index, t)? == (p > threshold) {
                        correct += 1;
                    }
                }
                Ok((correct, y_true.len() as u64))
            }
            AccuracyKind::Categorical => {
                let p = as_2d(metric, y_pred)?;
                if y_true.shape() != p.shape() {
                    return Err(MetricError::ShapeMismatch {
                        metric,
                        expected: format!("one-hot y_true of the shape of y_pred {}", shape_str(p.shape())),
                        found: shape_str(y_true.shape()),
                    });
                }
                check_rows(metric, p.nrows(), &p)?;
                let t = as_2d(metric, y_true)?;
                let hits = argmax_rows(t)
                    .iter()
                    .zip(argmax_rows(p))
                    .filter(|(a, b)| **a == *b)
                    .count();
                Ok((hits as u64, t.nrows() as u64))
            }
            AccuracyKind::Sparse => sparse_hits(metric, y_true, y_pred, None),
            AccuracyKind::Auto => unreachable!("Auto is resolved before counting"),
        }
    }
}

/// `(hits, n)`. With `top_k = None` a hit is `y_true == argmax(y_pred)`
/// (ties broken by the first index). With `Some(k)` a hit is a true class
/// whose score is beaten by fewer than `k` other classes, so ties at the
/// boundary count as hits, like TensorFlow's `in_top_k`.
fn sparse_hits(
    metric: &'static str,
    y_true: ArrayViewD<f32>,
    y_pred: ArrayViewD<f32>,
    top_k: Option<usize>,
) -> Result<(u64, u64)> {
    let p = as_2d(metric, y_pred)?;
    if y_true.ndim() == 0 || !is_sparse_shape(y_true.shape()) {
        return Err(MetricError::ShapeMismatch {
            metric,
            expected: "class indices of shape (n,) or (n, 1)".to_string(),
            found: shape_str(y_true.shape()),
        });
    }
    check_rows(metric, y_true.len(), &p)?;
    if let Some(k) = top_k {
        check_k_below_classes(metric, k, p.ncols())?;
    }
    let labels = sparse_labels(metric, y_true, p.ncols())?;
    let hits = match top_k {
        None => argmax_rows(p).iter().zip(&labels).filter(|(a, b)| a == b).count(),
        Some(k) => labels
            .iter()
            .zip(p.rows())
            .filter(|(&l, row)| row.iter().filter(|&&s| s > row[l]).count() < k)
            .count(),
    };
    Ok((hits as u64, labels.len() as u64))
}

/// Top-k with `k >= classes` counts every prediction as a hit: a
/// meaningless 1.0 (scikit-learn warns about it), so it is an error here.
pub(crate) fn check_k_below_classes(metric: &'static str, k: usize, n_classes: usize) -> Result<()> {
    if k >= n_classes {
        return Err(MetricError::InvalidArgument {
            metric,
            name: "k",
            expected: format!(
                "k < {n_classes}, the number of classes in y_pred (with k >= {n_classes} every prediction is a hit)"
            ),
            found: k.to_string(),
        });
    }
    Ok(())
}

impl Default for Accuracy {
    fn default() -> Self {
        Self::auto()
    }
}

impl StreamingMetric for Accuracy {
    fn name(&self) -> &str {
        self.name
    }

    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
        let kind = match self.resolved {
            Some(kind) => kind,
            None => Self::infer_kind(y_true.shape(), y_pred.shape()),
        };
        let (correct, total) = self.count(kind, y_true, y_pred)?;
        self.resolved = Some(kind);
        self.correct += correct;
        self.total += total;
        Ok(())
    }

    fn try_result(&self) -> Result<f64> {
        if self.total == 0 {
            return Err(MetricError::Empty { metric: self.name });
        }
        Ok(self.correct as f64 / self.total as f64)
    }

    fn reset(&mut self) {
        *self = Self::with_kind(self.requested, self.name);
    }
}

/// Streaming top-k accuracy: the true class is among the `k` highest scores.
///
/// `y_true` holds class indices (`(n,)` or `(n, 1)`) or one-hot rows of the
/// shape of `y_pred` `(n, classes)`. A tie at the k-th place counts as a hit
/// (TensorFlow's `in_top_k` convention; scikit-learn breaks ties by index).
/// With `k >= classes` every prediction would be a hit, a meaningless 1.0:
/// the first `update` whose `y_pred` shows the number of classes fails with
/// [`MetricError::InvalidArgument`] naming `k` and the number of classes.
/// Name `"top_k_accuracy"`.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::streaming::{StreamingMetric, TopKAccuracy};
///
/// // scikit-learn's `top_k_accuracy_score` documentation example: 0.75
/// let y_true = array![0.0f32, 1.0, 2.0, 2.0];
/// let y_score = array![[0.5f32, 0.2, 0.2], [0.3, 0.4, 0.2], [0.2, 0.4, 0.3], [0.7, 0.2, 0.1]];
/// let mut top2 = TopKAccuracy::new(2)?;
/// top2.update(y_true.view().into_dyn(), y_score.view().into_dyn())?;
/// assert_eq!(top2.result(), 0.75);
///
/// // k = 3 of 3 classes would always hit: an error, and nothing is counted.
/// let mut top3 = TopKAccuracy::new(3)?;
/// let err = top3.update(y_true.view().into_dyn(), y_score.view().into_dyn()).unwrap_err();
/// assert!(err.to_string().contains("top_k_accuracy") && err.to_string().contains("k < 3"));
/// assert!(top3.try_result().is_err());
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TopKAccuracy {
    k: usize,
    hits: u64,
    total: u64,
}

impl TopKAccuracy {
    /// A top-`k` accuracy; `k` must be at least 1.
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(MetricError::InvalidArgument {
                metric: "top_k_accuracy",
                name: "k",
                expected: "at least 1".to_string(),
                found: "0".to_string(),
            });
        }
        Ok(TopKAccuracy { k, hits: 0, total: 0 })
    }

    /// The `k` of this metric.
    pub fn k(&self) -> usize {
        self.k
    }
}

impl StreamingMetric for TopKAccuracy {
    fn name(&self) -> &str {
        "top_k_accuracy"
    }

    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
        let metric = "top_k_accuracy";
        check_finite(metric, y_true.iter())?;
        check_finite(metric, y_pred.iter())?;
        let (hits, total) = if y_true.ndim() == 2 && y_true.shape() == y_pred.shape() && y_true.shape()[1] > 1
        {
            let labels: Vec<f32> = argmax_rows(as_2d(metric, y_true)?)
                .into_iter()
                .map(|l| l as f32)
                .collect();
            let labels = ndarray::ArrayView1::from(&labels).into_dyn();
            sparse_hits(metric, labels, y_pred, Some(self.k))?
        } else {
            sparse_hits(metric, y_true, y_pred, Some(self.k))?
        };
        self.hits += hits;
        self.total += total;
        Ok(())
    }

    fn try_result(&self) -> Result<f64> {
        if self.total == 0 {
            return Err(MetricError::Empty {
                metric: "top_k_accuracy",
            });
        }
        Ok(self.hits as f64 / self.total as f64)
    }

    fn reset(&mut self) {
        self.hits = 0;
        self.total = 0;
    }
}
