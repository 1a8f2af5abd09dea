//! Shared strategies and helpers.

use ndarray::{Array2, ArrayD, Axis, Slice};
use neurite_metrics::streaming::StreamingMetric;
use neurite_metrics::MetricError;
use proptest::prelude::*;

/// `(n_classes, y_true, y_pred)` with labels in `0..n_classes`.
pub fn labels(max_classes: usize, max_len: usize) -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>)> {
    (1..=max_classes).prop_flat_map(move |k| {
        prop::collection::vec((0..k, 0..k), 0..max_len).prop_map(move |pairs| {
            let (t, p) = pairs.into_iter().unzip();
            (k, t, p)
        })
    })
}

/// A `(rows, cols)` matrix of values in `[0, 1]`, some repeated to make ties.
pub fn matrix(rows: usize, cols: usize) -> impl Strategy<Value = Array2<f32>> {
    prop::collection::vec(prop_oneof![0.0f32..=1.0, Just(0.5f32), Just(0.0f32)], rows * cols)
        .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).unwrap())
}

/// `(y_true class indices, y_pred probabilities (n, k))`.
pub fn sparse_problem(
    max_classes: usize,
    max_len: usize,
) -> impl Strategy<Value = (Vec<usize>, Array2<f32>)> {
    (2..=max_classes, 0..max_len).prop_flat_map(|(k, n)| (prop::collection::vec(0..k, n), matrix(n, k)))
}

/// Sorted cut points in `0..=n` splitting a set into batches.
pub fn cuts(n: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=n, 0..5).prop_map(|mut c| {
        c.sort_unstable();
        c
    })
}

/// Feeds `y_true`/`y_pred` to `metric` in batches split along axis 0 at
/// `cuts`, after a reset, and returns `try_result`.
pub fn run_split<M: StreamingMetric>(
    metric: &mut M,
    y_true: &ArrayD<f32>,
    y_pred: &ArrayD<f32>,
    cuts: &[usize],
) -> Result<f64, MetricError> {
    metric.reset();
    let n = y_true.len_of(Axis(0));
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().map(|&c| c.min(n)));
    bounds.push(n);
    for w in bounds.windows(2) {
        let s = Slice::from(w[0]..w[1]);
        metric.update(y_true.slice_axis(Axis(0), s), y_pred.slice_axis(Axis(0), s))?;
    }
    metric.try_result()
}

/// Labels as an `f32` column `(n,)`.
pub fn label_array(labels: &[usize]) -> ArrayD<f32> {
    ndarray::Array1::from_iter(labels.iter().map(|&l| l as f32)).into_dyn()
}

/// One-hot rows `(n, k)`.
pub fn one_hot(labels: &[usize], k: usize) -> Array2<f32> {
    let mut out = Array2::zeros((labels.len(), k));
    for (i, &l) in labels.iter().enumerate() {
        out[[i, l]] = 1.0;
    }
    out
}

/// `|a - b| <= tol * max(1, |a|, |b|)`.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * 1f64.max(a.abs()).max(b.abs())
}
