//! Whole-set accuracies: on label vectors, and on Keras-style arrays.

use ndarray::{ArrayView, ArrayView2, Dimension};

use crate::error::{MetricError, Result};
use crate::input::{check_labels, check_len, check_non_empty};
use crate::streaming::{Accuracy, StreamingMetric, TopKAccuracy};

/// Fraction of positions where `y_pred` equals `y_true` (scikit-learn's
/// `accuracy_score`). Empty input is [`MetricError::Empty`].
///
/// ```
/// use neurite_metrics::accuracy_score;
/// // scikit-learn's `accuracy_score` documentation example: 0.5
/// assert_eq!(accuracy_score(&[0, 1, 2, 3], &[0, 2, 1, 3])?, 0.5);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn accuracy_score(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_len("accuracy", y_true.len(), y_pred.len())?;
    check_non_empty("accuracy", y_true.len())?;
    let hits = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
    Ok(hits as f64 / y_true.len() as f64)
}

/// Runs a streaming accuracy over one "batch" holding the whole set.
fn whole_set<M: StreamingMetric, D1: Dimension, D2: Dimension>(
    mut metric: M,
    name: &'static str,
    y_true: ArrayView<f32, D1>,
    y_pred: ArrayView<f32, D2>,
) -> Result<f64> {
    metric.update(y_true.into_dyn(), y_pred.into_dyn())?;
    metric
        .try_result()
        .map_err(|_| MetricError::Empty { metric: name })
}

/// Keras' `binary_accuracy`: the fraction of elements where
/// `(y_pred > threshold)` equals the label (`0` or `1`, else an error).
/// A non-finite `threshold` is [`MetricError::InvalidArgument`].
/// `y_true` and `y_pred` hold the same number of values, e.g. `(n,)` and `(n, 1)`.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::binary_accuracy;
/// let acc = binary_accuracy(array![1.0f32, 0.0, 1.0].view(), array![0.9f32, 0.5, 0.2].view(), 0.5)?;
/// assert!((acc - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn binary_accuracy<D1: Dimension, D2: Dimension>(
    y_true: ArrayView<f32, D1>,
    y_pred: ArrayView<f32, D2>,
    threshold: f32,
) -> Result<f64> {
    whole_set(
        Accuracy::binary_with_threshold(threshold),
        "binary_accuracy",
        y_true,
        y_pred,
    )
}

/// Keras' `categorical_accuracy`: `argmax(y_true) == argmax(y_pred)` per row,
/// both of shape `(n, classes)`.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::categorical_accuracy;
/// let y_true = array![[0.0f32, 1.0], [1.0, 0.0]];
/// let y_pred = array![[0.3f32, 0.7], [0.4, 0.6]];
/// assert_eq!(categorical_accuracy(y_true.view(), y_pred.view())?, 0.5);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn categorical_accuracy(y_true: ArrayView2<f32>, y_pred: ArrayView2<f32>) -> Result<f64> {
    whole_set(Accuracy::categorical(), "categorical_accuracy", y_true, y_pred)
}

/// Keras' `sparse_categorical_accuracy`: `y_true == argmax(y_pred)` per row,
/// with class indices stored as `f32` in `y_true` (`(n,)` or `(n, 1)`).
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::sparse_categorical_accuracy;
/// let y_true = array![1.0f32, 0.0, 2.0];
/// let y_pred = array![[0.1f32, 0.8, 0.1], [0.6, 0.3, 0.1], [0.5, 0.3, 0.2]];
/// assert!((sparse_categorical_accuracy(y_true.view(), y_pred.view())? - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn sparse_categorical_accuracy<D: Dimension>(
    y_true: ArrayView<f32, D>,
    y_pred: ArrayView2<f32>,
) -> Result<f64> {
    whole_set(Accuracy::sparse(), "sparse_categorical_accuracy", y_true, y_pred)
}

/// Top-k accuracy (scikit-learn's `top_k_accuracy_score`) for class indices
/// `y_true` and scores `y_score` of shape `(n, classes)`. Ties at the k-th
/// place count as hits (see [`TopKAccuracy`]). `k` must be below the number
/// of classes (else every sample is a hit): [`MetricError::InvalidArgument`].
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::top_k_accuracy;
/// // scikit-learn's `top_k_accuracy_score` documentation example: 0.75
/// let y_score = array![[0.5f32, 0.2, 0.2], [0.3, 0.4, 0.2], [0.2, 0.4, 0.3], [0.7, 0.2, 0.1]];
/// assert_eq!(top_k_accuracy(&[0, 1, 2, 2], y_score.view(), 2)?, 0.75);
/// assert!(top_k_accuracy(&[0, 1, 2, 2], y_score.view(), 3).is_err());
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn top_k_accuracy(y_true: &[usize], y_score: ArrayView2<f32>, k: usize) -> Result<f64> {
    let metric = TopKAccuracy::new(k)?;
    check_len("top_k_accuracy", y_true.len(), y_score.nrows())?;
    crate::streaming::check_k_below_classes("top_k_accuracy", k, y_score.ncols())?;
    check_labels("top_k_accuracy", y_true, y_score.ncols())?;
    // Labels are below the class count, so they are exact in f32.
    let labels: Vec<f32> = y_true.iter().map(|&l| l as f32).collect();
    whole_set(
        metric,
        "top_k_accuracy",
        ndarray::ArrayView1::from(&labels),
        y_score,
    )
}
