//! The confusion matrix: counts of (true class, predicted class) pairs.

use ndarray::{Array2, ArrayView2, Axis};

use crate::error::{MetricError, Result};
use crate::input::{check_labels, check_len, check_n_classes, check_non_empty, shape_str};

/// A confusion matrix `C` where `C[[i, j]]` counts the samples of true class
/// `i` predicted as class `j` (rows: truth, columns: prediction — as
/// scikit-learn's `confusion_matrix`).
///
/// It is itself an accumulator: [`add`](ConfusionMatrix::add) batches or
/// [`merge`](ConfusionMatrix::merge) matrices, then read precision, recall,
/// F-scores, MCC, kappa or a report from it.
///
/// ```
/// use neurite_metrics::ConfusionMatrix;
///
/// // scikit-learn's `confusion_matrix` documentation example
/// let cm = ConfusionMatrix::from_labels(&[2, 0, 2, 2, 0, 1], &[0, 0, 2, 2, 0, 2], 3)?;
/// assert_eq!(cm.counts(), ndarray::array![[2u64, 0, 0], [0, 0, 1], [1, 0, 2]]);
/// assert_eq!(cm.total(), 6);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    counts: Array2<u64>,
    /// The sum of `counts`, kept up to date (it always fits in a `u64`).
    total: u64,
}

/// The largest number of classes a [`ConfusionMatrix`] is built for: its
/// `k x k` counts take `8 k²` bytes (512 MiB at this bound), and every
/// score reads all of them. A larger `n_classes` is a
/// [`MetricError::InvalidArgument`], not an allocation that aborts the process.
///
/// ```
/// use neurite_metrics::{ConfusionMatrix, MetricError, MAX_CLASSES};
/// assert!(ConfusionMatrix::new(10).is_ok());
/// let err = ConfusionMatrix::new(MAX_CLASSES + 1).unwrap_err();
/// assert!(matches!(err, MetricError::InvalidArgument { name: "n_classes", .. }));
/// ```
pub const MAX_CLASSES: usize = 8192;

/// The error of a count that no longer fits in a `u64`.
fn count_overflow(found: String) -> MetricError {
    MetricError::InvalidArgument {
        metric: "confusion_matrix",
        name: "counts",
        expected: format!("a total number of samples of at most {}", u64::MAX),
        found,
    }
}

impl ConfusionMatrix {
    /// An all-zero matrix for `n_classes` classes, `1 <= n_classes <=`
    /// [`MAX_CLASSES`].
    ///
    /// ```
    /// use neurite_metrics::ConfusionMatrix;
    /// assert_eq!(ConfusionMatrix::new(3)?.n_classes(), 3);
    /// assert!(ConfusionMatrix::new(0).is_err() && ConfusionMatrix::new(usize::MAX).is_err());
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn new(n_classes: usize) -> Result<Self> {
        check_n_classes("confusion_matrix", n_classes, 1)?;
        if n_classes > MAX_CLASSES {
            return Err(MetricError::InvalidArgument {
                metric: "confusion_matrix",
                name: "n_classes",
                expected: format!(
                    "at most {MAX_CLASSES} classes (the matrix holds n_classes² counts of 8 bytes)"
                ),
                found: n_classes.to_string(),
            });
        }
        Ok(ConfusionMatrix {
            counts: Array2::zeros((n_classes, n_classes)),
            total: 0,
        })
    }

    /// Counts the pairs `(y_true[i], y_pred[i])`; labels must be `< n_classes`.
    pub fn from_labels(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Self> {
        let mut cm = Self::new(n_classes)?;
        cm.add(y_true, y_pred)?;
        Ok(cm)
    }

    /// Wraps existing counts; they must form a non-empty square matrix whose
    /// sum fits in a `u64` (else every total and score would wrap around).
    ///
    /// ```
    /// use neurite_metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::from_counts(ndarray::array![[3u64, 1], [0, 2]])?;
    /// assert_eq!(cm.total(), 6);
    /// assert!(ConfusionMatrix::from_counts(ndarray::array![[u64::MAX, 1], [0, 0]]).is_err());
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn from_counts(counts: Array2<u64>) -> Result<Self> {
        if counts.nrows() != counts.ncols() || counts.nrows() == 0 {
            return Err(MetricError::ShapeMismatch {
                metric: "confusion_matrix",
                expected: "a square (k, k) matrix with k >= 1".to_string(),
                found: shape_str(counts.shape()),
            });
        }
        let total = counts
            .iter()
            .try_fold(0u64, |sum, &c| sum.checked_add(c))
            .ok_or_else(|| count_overflow("counts whose sum overflows a u64".to_string()))?;
        Ok(ConfusionMatrix { counts, total })
    }

    /// [`from_labels`](Self::from_labels) for a score computed from label
    /// vectors: its errors name that score (`metric`), not the matrix.
    pub(crate) fn from_labels_for(
        metric: &'static str,
        y_true: &[usize],
        y_pred: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        Self::from_labels(y_true, y_pred, n_classes).map_err(|e| e.for_metric(metric))
    }

    /// Adds one batch of label pairs. On error nothing is added.
    ///
    /// ```
    /// use neurite_metrics::{ConfusionMatrix, MetricError};
    /// let mut cm = ConfusionMatrix::new(2)?;
    /// cm.add(&[0, 1], &[0, 0])?;
    /// assert!(matches!(cm.add(&[0, 2], &[0, 0]), Err(MetricError::LabelOutOfRange { label: 2, .. })));
    /// assert_eq!(cm.total(), 2);
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn add(&mut self, y_true: &[usize], y_pred: &[usize]) -> Result<()> {
        let metric = "confusion_matrix";
        check_len(metric, y_true.len(), y_pred.len())?;
        check_labels(metric, y_true, self.n_classes())?;
        check_labels(metric, y_pred, self.n_classes())?;
        // No count exceeds the total, so a total that fits means no count overflows.
        let total = self
            .total
            .checked_add(y_true.len() as u64)
            .ok_or_else(|| count_overflow(format!("{} + {} samples", self.total, y_true.len())))?;
        for (&t, &p) in y_true.iter().zip(y_pred) {
            self.counts[[t, p]] += 1;
        }
        self.total = total;
        Ok(())
    }

    /// Adds the counts of `other`, which must have as many classes, as long
    /// as the total still fits in a `u64`. On error nothing is added.
    ///
    /// ```
    /// use neurite_metrics::ConfusionMatrix;
    /// let mut a = ConfusionMatrix::from_labels(&[0, 1], &[0, 1], 2)?;
    /// a.merge(&ConfusionMatrix::from_labels(&[1], &[0], 2)?)?;
    /// assert_eq!(a.counts(), ndarray::array![[1u64, 0], [1, 1]]);
    /// assert!(a.merge(&ConfusionMatrix::new(3)?).is_err());
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn merge(&mut self, other: &ConfusionMatrix) -> Result<()> {
        if other.n_classes() != self.n_classes() {
            return Err(MetricError::ShapeMismatch {
                metric: "confusion_matrix",
                expected: shape_str(self.counts.shape()),
                found: shape_str(other.counts.shape()),
            });
        }
        let total = self
            .total
            .checked_add(other.total)
            .ok_or_else(|| count_overflow(format!("{} + {} samples", self.total, other.total)))?;
        self.counts += &other.counts;
        self.total = total;
        Ok(())
    }

    /// Sets every count to zero.
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }

    /// Number of classes `k` (the matrix is `k x k`).
    pub fn n_classes(&self) -> usize {
        self.counts.nrows()
    }

    /// The counts, rows = true class, columns = predicted class.
    pub fn counts(&self) -> ArrayView2<'_, u64> {
        self.counts.view()
    }

    /// Number of samples counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Samples of each true class (row sums), scikit-learn's "support".
    pub fn support(&self) -> Vec<u64> {
        self.counts.sum_axis(Axis(1)).to_vec()
    }

    /// Samples predicted as each class (column sums).
    pub fn predicted(&self) -> Vec<u64> {
        self.counts.sum_axis(Axis(0)).to_vec()
    }

    /// Correct predictions of each class (the diagonal).
    pub fn true_positives(&self) -> Vec<u64> {
        self.counts.diag().to_vec()
    }

    /// Row-normalised matrix: each row divided by its sum, so entry `[i, j]`
    /// is the fraction of class `i` predicted as `j` (the recall of class `i`
    /// on the diagonal). A class with no sample gets a row of zeros, as
    /// scikit-learn's `normalize="true"`.
    ///
    /// ```
    /// use neurite_metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::from_labels(&[0, 0, 0, 1], &[0, 0, 1, 1], 3)?;
    /// let n = cm.normalized();
    /// assert_eq!(n.row(0).to_vec(), vec![2.0 / 3.0, 1.0 / 3.0, 0.0]);
    /// assert_eq!(n.row(2).to_vec(), vec![0.0, 0.0, 0.0]);
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn normalized(&self) -> Array2<f64> {
        let mut out = self.counts.mapv(|c| c as f64);
        for mut row in out.rows_mut() {
            let sum: f64 = row.sum();
            if sum > 0.0 {
                row /= sum;
            }
        }
        out
    }

    /// Fraction of samples on the diagonal. [`MetricError::Empty`] when no sample.
    pub fn accuracy(&self) -> Result<f64> {
        check_non_empty("accuracy", self.total() as usize)?;
        Ok(self.counts.diag().sum() as f64 / self.total() as f64)
    }
}

/// The confusion matrix of label vectors (scikit-learn's `confusion_matrix`
/// with `labels=range(n_classes)`). See [`ConfusionMatrix`].
///
/// ```
/// let cm = neurite_metrics::confusion_matrix(&[1, 0, 1], &[1, 1, 1], 2)?;
/// assert_eq!(cm.counts(), ndarray::array![[0u64, 1], [0, 2]]);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<ConfusionMatrix> {
    ConfusionMatrix::from_labels(y_true, y_pred, n_classes)
}
