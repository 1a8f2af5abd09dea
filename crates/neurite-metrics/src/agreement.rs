//! Matthews correlation coefficient and Cohen's kappa.

use crate::confusion::ConfusionMatrix;
use crate::error::Result;
use crate::input::check_non_empty;

/// Weights of disagreements in Cohen's kappa.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KappaWeights {
    /// Every disagreement weighs 1 (plain kappa).
    #[default]
    Unweighted,
    /// Disagreement between classes `i` and `j` weighs `|i - j|`.
    Linear,
    /// Disagreement between classes `i` and `j` weighs `(i - j)²`.
    Quadratic,
}

impl ConfusionMatrix {
    /// Matthews correlation coefficient, in `[-1, 1]` (scikit-learn's
    /// multi-class formula). When truth or prediction is a single class the
    /// coefficient is undefined and `0.0` is returned, as scikit-learn does.
    /// [`crate::MetricError::Empty`] when the matrix holds no sample.
    ///
    /// ```
    /// use neurite_metrics::ConfusionMatrix;
    /// // scikit-learn's `matthews_corrcoef` documentation example: -0.33...
    /// let cm = ConfusionMatrix::from_labels(&[1, 1, 1, 0], &[1, 0, 1, 1], 2)?;
    /// assert!((cm.matthews_corrcoef()? + 1.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn matthews_corrcoef(&self) -> Result<f64> {
        check_non_empty("matthews_corrcoef", self.total() as usize)?;
        let t: Vec<f64> = self.support().iter().map(|&v| v as f64).collect();
        let p: Vec<f64> = self.predicted().iter().map(|&v| v as f64).collect();
        let n = self.total() as f64;
        let correct = self.counts().diag().sum() as f64;
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let cov_tp = correct * n - dot(&t, &p);
        let cov_pp = n * n - dot(&p, &p);
        let cov_tt = n * n - dot(&t, &t);
        if cov_pp * cov_tt == 0.0 {
            return Ok(0.0);
        }
        Ok((cov_tp / (cov_tt * cov_pp).sqrt()).clamp(-1.0, 1.0))
    }

    /// Cohen's kappa between truth and prediction (scikit-learn's
    /// `cohen_kappa_score`), `1 - observed / expected` weighted disagreement.
    /// When the expected disagreement is zero (both use one and the same
    /// class only) kappa is undefined and `0.0` is returned, the same
    /// convention as for [`matthews_corrcoef`](ConfusionMatrix::matthews_corrcoef).
    /// [`crate::MetricError::Empty`] when the matrix holds no sample.
    ///
    /// ```
    /// use neurite_metrics::{ConfusionMatrix, KappaWeights};
    /// let cm = ConfusionMatrix::from_labels(&[0, 0, 1, 1], &[0, 1, 1, 1], 2)?;
    /// assert!((cm.cohen_kappa(KappaWeights::Unweighted)? - 0.5).abs() < 1e-12);
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn cohen_kappa(&self, weights: KappaWeights) -> Result<f64> {
        check_non_empty("cohen_kappa", self.total() as usize)?;
        let k = self.n_classes();
        let t = self.support();
        let p = self.predicted();
        let n = self.total() as f64;
        let w = |i: usize, j: usize| -> f64 {
            let d = i.abs_diff(j) as f64;
            match weights {
                KappaWeights::Unweighted => f64::from(u8::from(i != j)),
                KappaWeights::Linear => d,
                KappaWeights::Quadratic => d * d,
            }
        };
        let (mut observed, mut expected) = (0.0, 0.0);
        let counts = self.counts();
        for i in 0..k {
            for j in 0..k {
                observed += w(i, j) * counts[[i, j]] as f64;
                expected += w(i, j) * t[i] as f64 * p[j] as f64 / n;
            }
        }
        if expected == 0.0 {
            return Ok(0.0);
        }
        Ok(1.0 - observed / expected)
    }
}

/// Matthews correlation coefficient of label vectors (see
/// [`ConfusionMatrix::matthews_corrcoef`]).
///
/// ```
/// // scikit-learn's `matthews_corrcoef` documentation example: -0.33...
/// let mcc = neurite_metrics::matthews_corrcoef(&[1, 1, 1, 0], &[1, 0, 1, 1], 2)?;
/// assert!((mcc + 0.3333333333333333).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn matthews_corrcoef(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<f64> {
    ConfusionMatrix::from_labels_for("matthews_corrcoef", y_true, y_pred, n_classes)?.matthews_corrcoef()
}

/// Cohen's kappa of label vectors (see [`ConfusionMatrix::cohen_kappa`]).
///
/// ```
/// use neurite_metrics::{cohen_kappa_score, KappaWeights};
/// // scikit-learn's `cohen_kappa_score` documentation example: 0.6875, with
/// // labels negative = 0, neutral = 1, positive = 2
/// let k = cohen_kappa_score(&[0, 2, 0, 1, 2], &[0, 2, 0, 1, 0], 3, KappaWeights::Unweighted)?;
/// assert!((k - 0.6875).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn cohen_kappa_score(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
    weights: KappaWeights,
) -> Result<f64> {
    ConfusionMatrix::from_labels_for("cohen_kappa", y_true, y_pred, n_classes)?.cohen_kappa(weights)
}
