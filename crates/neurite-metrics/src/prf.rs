//! Precision, recall, F1 and F-beta, per class and averaged.

use crate::confusion::ConfusionMatrix;
use crate::error::{MetricError, Result};
use crate::input::check_non_empty;

/// How per-class scores are combined into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// The score of class `pos_label` alone (scikit-learn's `average="binary"`).
    Binary {
        /// The class whose score is returned (usually 1).
        pos_label: usize,
    },
    /// Unweighted mean over all classes `0..n_classes`, including classes
    /// with no sample (their score is the [`ZeroDivision`] value).
    Macro,
    /// Counts summed over classes first; equals accuracy for single-label data.
    Micro,
    /// Mean over classes weighted by support (number of true samples).
    Weighted,
}

/// The value of a ratio whose denominator is zero, e.g. the precision of a
/// class that is never predicted (scikit-learn's `zero_division`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroDivision {
    /// Use 0.0 (scikit-learn's default, `"warn"`, without the warning).
    #[default]
    Zero,
    /// Use 1.0.
    One,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
        }
    }
}

/// Per-class precision, recall, F-beta and support (scikit-learn's
/// `precision_recall_fscore_support(average=None)`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScores {
    /// `tp / (tp + fp)` per class.
    pub precision: Vec<f64>,
    /// `tp / (tp + fn)` per class.
    pub recall: Vec<f64>,
    /// `(1 + b²) tp / ((1 + b²) tp + b² fn + fp)` per class.
    pub f_score: Vec<f64>,
    /// Number of true samples per class.
    pub support: Vec<u64>,
}

fn ratio(num: f64, den: f64, zd: ZeroDivision) -> f64 {
    if den == 0.0 {
        zd.value()
    } else {
        num / den
    }
}

/// F-beta from counts; scikit-learn >= 1.3 computes it this way too.
/// For a `beta` so large that `(1 + b²) tp` overflows (and the plain
/// formula gives `inf / inf = NaN`), the same ratio divided through by
/// `1 + b²` is used: `tp / (tp + (1 - w) fn + w fp)` with `w = 1 / (1 + b²)`,
/// which tends to recall as `beta` grows.
fn f_beta(tp: f64, fp: f64, fn_: f64, beta: f64, zd: ZeroDivision) -> f64 {
    let b2 = beta * beta;
    let (num, den) = ((1.0 + b2) * tp, (1.0 + b2) * tp + b2 * fn_ + fp);
    if num.is_finite() && den.is_finite() {
        return ratio(num, den, zd);
    }
    let w = 1.0 / (1.0 + b2);
    ratio(tp, tp + (1.0 - w) * fn_ + w * fp, zd)
}

fn check_beta(beta: f64) -> Result<()> {
    if !(beta.is_finite() && beta >= 0.0) {
        return Err(MetricError::InvalidArgument {
            metric: "fbeta_score",
            name: "beta",
            expected: "a finite number >= 0".to_string(),
            found: beta.to_string(),
        });
    }
    Ok(())
}

/// Which of the three scores to average.
#[derive(Clone, Copy)]
enum Which {
    Precision,
    Recall,
    F,
}

impl ConfusionMatrix {
    /// `(tp, fp, fn)` of each class as `f64`.
    fn tp_fp_fn(&self) -> Vec<(f64, f64, f64)> {
        let tp = self.true_positives();
        let pred = self.predicted();
        let sup = self.support();
        (0..self.n_classes())
            .map(|c| (tp[c] as f64, (pred[c] - tp[c]) as f64, (sup[c] - tp[c]) as f64))
            .collect()
    }

    /// Per-class precision, recall, F-beta and support. `beta` must be a
    /// finite number `>= 0` (`beta = 1` gives F1). [`MetricError::Empty`]
    /// when the matrix holds no sample.
    ///
    /// ```
    /// use neurite_metrics::{ConfusionMatrix, ZeroDivision};
    /// let cm = ConfusionMatrix::from_labels(&[0, 1, 2, 0, 1, 2], &[0, 2, 1, 0, 0, 1], 3)?;
    /// let s = cm.class_scores(1.0, ZeroDivision::Zero)?;
    /// assert_eq!(s.recall, vec![1.0, 0.0, 0.0]);
    /// assert_eq!(s.support, vec![2, 2, 2]);
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn class_scores(&self, beta: f64, zero_division: ZeroDivision) -> Result<ClassScores> {
        check_beta(beta)?;
        check_non_empty("precision_recall_fscore", self.total() as usize)?;
        let counts = self.tp_fp_fn();
        Ok(ClassScores {
            precision: counts
                .iter()
                .map(|&(tp, fp, _)| ratio(tp, tp + fp, zero_division))
                .collect(),
            recall: counts
                .iter()
                .map(|&(tp, _, fn_)| ratio(tp, tp + fn_, zero_division))
                .collect(),
            f_score: counts
                .iter()
                .map(|&(tp, fp, fn_)| f_beta(tp, fp, fn_, beta, zero_division))
                .collect(),
            support: self.support(),
        })
    }

    fn averaged(
        &self,
        metric: &'static str,
        which: Which,
        beta: f64,
        average: Average,
        zd: ZeroDivision,
    ) -> Result<f64> {
        check_beta(beta)?;
        check_non_empty(metric, self.total() as usize)?;
        let counts = self.tp_fp_fn();
        let score = |(tp, fp, fn_): (f64, f64, f64)| match which {
            Which::Precision => ratio(tp, tp + fp, zd),
            Which::Recall => ratio(tp, tp + fn_, zd),
            Which::F => f_beta(tp, fp, fn_, beta, zd),
        };
        Ok(match average {
            Average::Binary { pos_label } => {
                if pos_label >= self.n_classes() {
                    return Err(MetricError::LabelOutOfRange {
                        metric,
                        label: pos_label,
                        n_classes: self.n_classes(),
                    });
                }
                score(counts[pos_label])
            }
            Average::Macro => counts.iter().map(|&c| score(c)).sum::<f64>() / counts.len() as f64,
            Average::Micro => {
                let sum = counts
                    .iter()
                    .fold((0.0, 0.0, 0.0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
                score(sum)
            }
            Average::Weighted => {
                let support = self.support();
                let total: u64 = support.iter().sum();
                counts
                    .iter()
                    .zip(&support)
                    .map(|(&c, &s)| score(c) * s as f64)
                    .sum::<f64>()
                    / total as f64
            }
        })
    }

    /// Averaged precision `tp / (tp + fp)`.
    ///
    /// ```
    /// use neurite_metrics::{Average, ConfusionMatrix, ZeroDivision};
    /// // scikit-learn's `precision_score` documentation example
    /// let cm = ConfusionMatrix::from_labels(&[0, 1, 2, 0, 1, 2], &[0, 2, 1, 0, 0, 1], 3)?;
    /// let p = cm.precision(Average::Macro, ZeroDivision::Zero)?;
    /// assert!((p - 0.2222222222222222).abs() < 1e-12);
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn precision(&self, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        self.averaged("precision", Which::Precision, 1.0, average, zero_division)
    }

    /// Averaged recall `tp / (tp + fn)`.
    pub fn recall(&self, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        self.averaged("recall", Which::Recall, 1.0, average, zero_division)
    }

    /// Averaged F1 score (F-beta with `beta = 1`).
    pub fn f1(&self, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        self.averaged("f1_score", Which::F, 1.0, average, zero_division)
    }

    /// Averaged F-beta score; `beta > 1` favours recall, `beta < 1` precision.
    pub fn fbeta(&self, beta: f64, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        self.averaged("fbeta_score", Which::F, beta, average, zero_division)
    }
}

/// Precision of label vectors over classes `0..n_classes`, with
/// `zero_division = 0` (use [`ConfusionMatrix::precision`] for the other).
///
/// ```
/// use neurite_metrics::{precision_score, Average};
/// // scikit-learn's `precision_score` documentation example:
/// // macro 0.22..., micro 0.33..., weighted 0.22...
/// let (t, p) = ([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]);
/// assert!((precision_score(&t, &p, 3, Average::Micro)? - 1.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn precision_score(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
    average: Average,
) -> Result<f64> {
    ConfusionMatrix::from_labels_for("precision", y_true, y_pred, n_classes)?
        .precision(average, ZeroDivision::Zero)
}

/// Recall of label vectors over classes `0..n_classes`, with `zero_division = 0`.
///
/// ```
/// use neurite_metrics::{recall_score, Average};
/// // scikit-learn's `recall_score` documentation example: macro 0.33...
/// let r = recall_score(&[0, 1, 2, 0, 1, 2], &[0, 2, 1, 0, 0, 1], 3, Average::Macro)?;
/// assert!((r - 1.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn recall_score(y_true: &[usize], y_pred: &[usize], n_classes: usize, average: Average) -> Result<f64> {
    ConfusionMatrix::from_labels_for("recall", y_true, y_pred, n_classes)?.recall(average, ZeroDivision::Zero)
}

/// F1 score of label vectors over classes `0..n_classes`, with `zero_division = 0`.
///
/// ```
/// use neurite_metrics::{f1_score, Average};
/// // scikit-learn's `f1_score` documentation example: macro 0.26...
/// let f = f1_score(&[0, 1, 2, 0, 1, 2], &[0, 2, 1, 0, 0, 1], 3, Average::Macro)?;
/// assert!((f - 0.26666666666666666).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn f1_score(y_true: &[usize], y_pred: &[usize], n_classes: usize, average: Average) -> Result<f64> {
    ConfusionMatrix::from_labels_for("f1_score", y_true, y_pred, n_classes)?.f1(average, ZeroDivision::Zero)
}

/// F-beta score of label vectors over classes `0..n_classes`, with `zero_division = 0`.
///
/// ```
/// use neurite_metrics::{fbeta_score, Average};
/// // scikit-learn's `fbeta_score` documentation example: macro, beta 0.5: 0.23...
/// let f = fbeta_score(&[0, 1, 2, 0, 1, 2], &[0, 2, 1, 0, 0, 1], 3, 0.5, Average::Macro)?;
/// assert!((f - 0.23809523809523808).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn fbeta_score(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
    beta: f64,
    average: Average,
) -> Result<f64> {
    ConfusionMatrix::from_labels_for("fbeta_score", y_true, y_pred, n_classes)?.fbeta(
        beta,
        average,
        ZeroDivision::Zero,
    )
}
