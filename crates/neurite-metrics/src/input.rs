//! Shape and label checks shared by the metrics (crate-private).

use ndarray::{ArrayView2, ArrayViewD, Axis, Ix1, Ix2};

use crate::error::{MetricError, Result};

/// Formats a shape as `[a, b]` for error messages.
pub(crate) fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// Checks that two sample counts agree.
pub(crate) fn check_len(metric: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(MetricError::LengthMismatch {
            metric,
            expected,
            found,
        })
    }
}

/// Fails with [`MetricError::Empty`] when `n == 0`.
pub(crate) fn check_non_empty(metric: &'static str, n: usize) -> Result<()> {
    if n == 0 {
        Err(MetricError::Empty { metric })
    } else {
        Ok(())
    }
}

/// Checks that `n_classes >= min`.
pub(crate) fn check_n_classes(metric: &'static str, n_classes: usize, min: usize) -> Result<()> {
    if n_classes < min {
        return Err(MetricError::InvalidArgument {
            metric,
            name: "n_classes",
            expected: format!("at least {min}"),
            found: n_classes.to_string(),
        });
    }
    Ok(())
}

/// Checks that every label is `< n_classes`.
pub(crate) fn check_labels(metric: &'static str, labels: &[usize], n_classes: usize) -> Result<()> {
    match labels.iter().find(|&&l| l >= n_classes) {
        Some(&label) => Err(MetricError::LabelOutOfRange {
            metric,
            label,
            n_classes,
        }),
        None => Ok(()),
    }
}

/// Fails on the first non-finite value of `a`.
pub(crate) fn check_finite<'a>(
    metric: &'static str,
    values: impl IntoIterator<Item = &'a f32>,
) -> Result<()> {
    for (index, &v) in values.into_iter().enumerate() {
        if !v.is_finite() {
            return Err(MetricError::InvalidValue {
                metric,
                index,
                value: v as f64,
                expected: "a finite number",
            });
        }
    }
    Ok(())
}

/// Views an array of rank 1 `(n,)` as `(n, 1)` and an array of rank 2 as itself.
pub(crate) fn as_2d<'a>(metric: &'static str, a: ArrayViewD<'a, f32>) -> Result<ArrayView2<'a, f32>> {
    let found = shape_str(a.shape());
    let err = || MetricError::ShapeMismatch {
        metric,
        expected: "rank 1 (n,) or rank 2 (n, k)".to_string(),
        found: found.clone(),
    };
    match a.ndim() {
        1 => Ok(a
            .into_dimensionality::<Ix1>()
            .map_err(|_| err())?
            .insert_axis(Axis(1))),
        2 => a.into_dimensionality::<Ix2>().map_err(|_| err()),
        _ => Err(err()),
    }
}

/// True when `y_true` is a column of class indices: shape `(n,)` or `(n, 1)`.
pub(crate) fn is_sparse_shape(shape: &[usize]) -> bool {
    shape.len() == 1 || (shape.len() == 2 && shape[1] == 1)
}

/// Reads sparse class indices stored as `f32` (shape `(n,)` or `(n, 1)`),
/// each a non-negative integer `< n_classes`.
pub(crate) fn sparse_labels(
    metric: &'static str,
    y_true: ArrayViewD<f32>,
    n_classes: usize,
) -> Result<Vec<usize>> {
    if !is_sparse_shape(y_true.shape()) {
        return Err(MetricError::ShapeMismatch {
            metric,
            expected: "class indices of shape (n,) or (n, 1)".to_string(),
            found: shape_str(y_true.shape()),
        });
    }
    y_true
        .iter()
        .enumerate()
        .map(|(index, &v)| label_from_f32(metric, index, v, n_classes))
        .collect()
}

/// Converts one `f32` class index, checking that it is an integer in range.
pub(crate) fn label_from_f32(metric: &'static str, index: usize, v: f32, n_classes: usize) -> Result<usize> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 {
        return Err(MetricError::InvalidValue {
            metric,
            index,
            value: v as f64,
            expected: "a class index (a non-negative integer)",
        });
    }
    // Beyond `usize::MAX` the cast would saturate and the error would name
    // a label that was never given: report the value itself.
    if v as f64 >= usize::MAX as f64 {
        return Err(MetricError::InvalidValue {
            metric,
            index,
            value: v as f64,
            expected: "a class index below the number of classes",
        });
    }
    let label = v as usize;
    if label >= n_classes {
        return Err(MetricError::LabelOutOfRange {
            metric,
            label,
            n_classes,
        });
    }
    Ok(label)
}

/// Reads binary labels stored as `f32`: each must be exactly `0.0` or `1.0`.
pub(crate) fn binary_label(metric: &'static str, index: usize, v: f32) -> Result<bool> {
    if v == 0.0 {
        Ok(false)
    } else if v == 1.0 {
        Ok(true)
    } else {
        Err(MetricError::InvalidValue {
            metric,
            index,
            value: v as f64,
            expected: "a binary label 0 or 1",
        })
    }
}

/// Index of the largest value of each row; the first one wins a tie
/// (as numpy's and Keras' `argmax`). Callers check finiteness first.
pub(crate) fn argmax_rows(m: ArrayView2<f32>) -> Vec<usize> {
    m.rows()
        .into_iter()
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Fails when samples hold no value: a shape `(n, 0, ...)` with `n > 0`
/// would be read as "no sample" and silently counted as nothing.
pub(crate) fn check_values_per_sample(metric: &'static str, shape: &[usize]) -> Result<()> {
    if shape.len() >= 2 && shape[0] > 0 && shape[1..].contains(&0) {
        return Err(MetricError::ShapeMismatch {
            metric,
            expected: "at least one value per sample".to_string(),
            found: shape_str(shape),
        });
    }
    Ok(())
}

/// Checks that predictions have one row per sample: `(n, k)` with `k >= 1`.
pub(crate) fn check_rows(metric: &'static str, n_true: usize, m: &ArrayView2<f32>) -> Result<()> {
    check_len(metric, n_true, m.nrows())?;
    if m.ncols() == 0 && m.nrows() > 0 {
        return Err(MetricError::ShapeMismatch {
            metric,
            expected: "(n, k) with k >= 1 classes".to_string(),
            found: shape_str(m.shape()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, ArrayD, IxDyn};

    #[test]
    fn as_2d_accepts_rank_1_and_2_and_rejects_3() {
        let a = array![1.0f32, 2.0, 3.0].into_dyn();
        assert_eq!(as_2d("m", a.view()).unwrap().shape(), &[3, 1]);
        let b = ArrayD::<f32>::zeros(IxDyn(&[2, 3]));
        assert_eq!(as_2d("m", b.view()).unwrap().shape(), &[2, 3]);
        let c = ArrayD::<f32>::zeros(IxDyn(&[2, 3, 1]));
        assert!(matches!(
            as_2d("m", c.view()),
            Err(MetricError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn sparse_labels_validate() {
        let ok = array![0.0f32, 2.0, 1.0].into_dyn();
        assert_eq!(sparse_labels("m", ok.view(), 3).unwrap(), vec![0, 2, 1]);
        let out = array![0.0f32, 3.0].into_dyn();
        assert_eq!(
            sparse_labels("m", out.view(), 3),
            Err(MetricError::LabelOutOfRange {
                metric: "m",
                label: 3,
                n_classes: 3
            })
        );
        let frac = array![0.5f32].into_dyn();
        assert!(matches!(
            sparse_labels("m", frac.view(), 3),
            Err(MetricError::InvalidValue { .. })
        ));
        let neg = array![-1.0f32].into_dyn();
        assert!(matches!(
            sparse_labels("m", neg.view(), 3),
            Err(MetricError::InvalidValue { .. })
        ));
    }

    #[test]
    fn argmax_first_wins_ties() {
        let m = array![[0.2f32, 0.5, 0.5], [1.0, 0.0, 1.0], [0.0, 0.0, 0.1]];
        assert_eq!(argmax_rows(m.view()), vec![1, 0, 2]);
    }
}
