//! Curves of binary scores: ROC curve and AUC, precision-recall curve and
//! average precision (scikit-learn's `roc_curve`, `roc_auc_score`,
//! `precision_recall_curve`, `average_precision_score`).
//!
//! `y_true` holds labels `0` (negative) and `1` (positive), `y_score` a score
//! per sample where larger means "more positive" (a probability, a logit).

use crate::error::{MetricError, Result};
use crate::input::{check_finite, check_labels, check_len, check_non_empty};

/// Cumulative false and true positives at each distinct threshold, from the
/// highest score down.
struct ThresholdCounts {
    fps: Vec<f64>,
    tps: Vec<f64>,
    thresholds: Vec<f64>,
}

fn binary_clf_curve(metric: &'static str, y_true: &[usize], y_score: &[f32]) -> Result<ThresholdCounts> {
    check_len(metric, y_true.len(), y_score.len())?;
    check_non_empty(metric, y_true.len())?;
    check_labels(metric, y_true, 2)?;
    check_finite(metric, y_score)?;
    let mut order: Vec<usize> = (0..y_true.len()).collect();
    order.sort_by(|&a, &b| y_score[b].total_cmp(&y_score[a]));
    let mut out = ThresholdCounts {
        fps: Vec::new(),
        tps: Vec::new(),
        thresholds: Vec::new(),
    };
    let (mut tp, mut fp) = (0.0, 0.0);
    for (pos, &i) in order.iter().enumerate() {
        if y_true[i] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_group = order.get(pos + 1).is_none_or(|&next| y_score[next] != y_score[i]);
        if last_of_group {
            out.fps.push(fp);
            out.tps.push(tp);
            out.thresholds.push(y_score[i] as f64);
        }
    }
    Ok(out)
}

/// A receiver operating characteristic curve: false positive rate `fpr[i]`
/// and true positive rate `tpr[i]` when predicting positive for scores
/// `>= thresholds[i]`. The first point is `(0, 0)` at threshold `+inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False positive rates, increasing from 0 to 1.
    pub fpr: Vec<f64>,
    /// True positive rates, increasing from 0 to 1.
    pub tpr: Vec<f64>,
    /// Decreasing thresholds; the first is `f64::INFINITY`.
    pub thresholds: Vec<f64>,
}

impl RocCurve {
    /// Area under the curve by the trapezoidal rule.
    pub fn auc(&self) -> f64 {
        self.fpr
            .windows(2)
            .zip(self.tpr.windows(2))
            .map(|(x, y)| (x[1] - x[0]) * (y[1] + y[0]) / 2.0)
            .sum()
    }
}

/// The ROC curve of binary scores, with collinear intermediate points
/// dropped (scikit-learn's default `drop_intermediate=True`).
/// [`MetricError::Undefined`] if `y_true` lacks positives or negatives.
///
/// ```
/// use neurite_metrics::roc_curve;
/// // scikit-learn's `roc_curve` documentation example (with pos_label=2
/// // there; here class 2 is written 1 and class 1 is written 0)
/// let roc = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8])?;
/// assert_eq!(roc.fpr, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
/// assert_eq!(roc.tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
/// assert_eq!(roc.thresholds[0], f64::INFINITY);
/// assert_eq!(roc.thresholds[1..], [0.8f32 as f64, 0.4f32 as f64, 0.35f32 as f64, 0.1f32 as f64]);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn roc_curve(y_true: &[usize], y_score: &[f32]) -> Result<RocCurve> {
    let metric = "roc_curve";
    let c = binary_clf_curve(metric, y_true, y_score)?;
    let (fp_total, tp_total) = (*c.fps.last().unwrap_or(&0.0), *c.tps.last().unwrap_or(&0.0));
    if tp_total == 0.0 {
        return Err(MetricError::Undefined {
            metric,
            reason: "y_true holds no positive sample (label 1)",
        });
    }
    if fp_total == 0.0 {
        return Err(MetricError::Undefined {
            metric,
            reason: "y_true holds no negative sample (label 0)",
        });
    }
    let n = c.fps.len();
    let keep = |i: usize| {
        i == 0
            || i + 1 == n
            || c.fps[i - 1] - 2.0 * c.fps[i] + c.fps[i + 1] != 0.0
            || c.tps[i - 1] - 2.0 * c.tps[i] + c.tps[i + 1] != 0.0
    };
    let mut roc = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for i in (0..n).filter(|&i| keep(i)) {
        roc.fpr.push(c.fps[i] / fp_total);
        roc.tpr.push(c.tps[i] / tp_total);
        roc.thresholds.push(c.thresholds[i]);
    }
    Ok(roc)
}

/// Area under the ROC curve of binary scores. `0.5` is chance, `1.0` a
/// perfect ranking, `0.0` a perfectly inverted one; tied scores count half.
/// [`MetricError::Undefined`] if `y_true` lacks positives or negatives.
///
/// ```
/// // scikit-learn's `roc_auc_score` documentation example: 0.75
/// let auc = neurite_metrics::roc_auc_score(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8])?;
/// assert!((auc - 0.75).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn roc_auc_score(y_true: &[usize], y_score: &[f32]) -> Result<f64> {
    roc_curve(y_true, y_score)
        .map(|roc| roc.auc())
        .map_err(|e| rename(e, "roc_auc"))
}

/// Names the score, not the curve it is computed from, in `Undefined` and `Empty`.
fn rename(e: MetricError, metric: &'static str) -> MetricError {
    match e {
        MetricError::Undefined { reason, .. } => MetricError::Undefined { metric, reason },
        MetricError::Empty { .. } => MetricError::Empty { metric },
        other => other,
    }
}

/// A precision-recall curve: `precision[i]` and `recall[i]` when predicting
/// positive for scores `>= thresholds[i]`, thresholds increasing. The arrays
/// of precision and recall have one more entry, the point `(recall 0,
/// precision 1)`, which has no threshold (as in scikit-learn).
#[derive(Debug, Clone, PartialEq)]
pub struct PrecisionRecallCurve {
    /// Precision at each threshold, then 1.
    pub precision: Vec<f64>,
    /// Recall at each threshold (decreasing), then 0.
    pub recall: Vec<f64>,
    /// Increasing distinct scores.
    pub thresholds: Vec<f64>,
}

impl PrecisionRecallCurve {
    /// Average precision `Σ (R_i - R_{i+1}) P_i`: precision at each
    /// threshold weighted by the recall it adds (no interpolation).
    pub fn average_precision(&self) -> f64 {
        self.recall
            .windows(2)
            .zip(&self.precision)
            .map(|(r, p)| (r[0] - r[1]) * p)
            .sum()
    }
}

/// The precision-recall curve of binary scores.
/// [`MetricError::Undefined`] if `y_true` holds no positive sample.
///
/// ```
/// use neurite_metrics::precision_recall_curve;
/// // scikit-learn's `precision_recall_curve` documentation example
/// let pr = precision_recall_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8])?;
/// assert_eq!(pr.recall, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
/// let expected = [0.5, 0.6666666666666666, 0.5, 1.0, 1.0];
/// assert!(pr.precision.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12));
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn precision_recall_curve(y_true: &[usize], y_score: &[f32]) -> Result<PrecisionRecallCurve> {
    let metric = "precision_recall_curve";
    let c = binary_clf_curve(metric, y_true, y_score)?;
    let tp_total = *c.tps.last().unwrap_or(&0.0);
    if tp_total == 0.0 {
        return Err(MetricError::Undefined {
            metric,
            reason: "y_true holds no positive sample (label 1)",
        });
    }
    let mut curve = PrecisionRecallCurve {
        precision: Vec::new(),
        recall: Vec::new(),
        thresholds: Vec::new(),
    };
    for i in (0..c.tps.len()).rev() {
        // tps + fps >= 1 at every threshold: each group holds a sample.
        curve.precision.push(c.tps[i] / (c.tps[i] + c.fps[i]));
        curve.recall.push(c.tps[i] / tp_total);
        curve.thresholds.push(c.thresholds[i]);
    }
    curve.precision.push(1.0);
    curve.recall.push(0.0);
    Ok(curve)
}

/// Average precision of binary scores (scikit-learn's
/// `average_precision_score`). [`MetricError::Undefined`] if `y_true` holds
/// no positive sample.
///
/// ```
/// // scikit-learn's `average_precision_score` documentation example: 0.83...
/// let ap = neurite_metrics::average_precision_score(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8])?;
/// assert!((ap - 0.8333333333333333).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn average_precision_score(y_true: &[usize], y_score: &[f32]) -> Result<f64> {
    precision_recall_curve(y_true, y_score)
        .map(|c| c.average_precision())
        .map_err(|e| rename(e, "average_precision"))
}
