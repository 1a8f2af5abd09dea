//! Reductions along one axis, several axes, or the whole tensor.
//!
//! Axes are numbered from 0; an axis `>= rank` is an error naming the op, the
//! axis and the rank. With `keepdims` the reduced axis stays with length 1 (so
//! the result broadcasts against the input), otherwise it is removed.
//!
//! Reductions that have no value over zero elements (`mean`, `max`, `min`,
//! `argmax`, `argmin`, `variance`) return an error for an axis of length 0;
//! `sum` over zero elements is `0`. [`mean_all`] of an empty tensor is NaN
//! (`0 / 0`), documented there.
//!
//! NaN handling follows NumPy: `max`/`min` propagate NaN, `argmax`/`argmin`
//! return the index of the first NaN if there is one.
//!
//! ```
//! use neurite_tensor::{reduce, Tensor};
//! let x = Tensor::from_shape_vec(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
//! assert_eq!(reduce::sum_axis(&x, 1, false)?.as_slice().unwrap(), &[6.0, 15.0]);
//! assert_eq!(reduce::sum_axis(&x, 0, true)?.shape(), &[1, 3]);
//! assert!(reduce::sum_axis(&x, 2, false).is_err());
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::elementwise::{max_nan, min_nan};
use crate::error::{Result, TensorError};
use crate::Tensor;
use ndarray::{ArrayD, ArrayView1, Axis};

fn check_axis(op: &'static str, x: &Tensor, axis: usize) -> Result<()> {
    if axis >= x.ndim() {
        return Err(TensorError::invalid(
            op,
            format!(
                "axis {axis} out of range for a tensor of rank {} (shape {:?})",
                x.ndim(),
                x.shape()
            ),
        ));
    }
    Ok(())
}

fn check_nonempty_axis(op: &'static str, x: &Tensor, axis: usize) -> Result<()> {
    check_axis(op, x, axis)?;
    if x.len_of(Axis(axis)) == 0 {
        return Err(TensorError::invalid(
            op,
            format!(
                "axis {axis} of shape {:?} has length 0: nothing to reduce",
                x.shape()
            ),
        ));
    }
    Ok(())
}

fn keep(r: Tensor, axis: usize, keepdims: bool) -> Tensor {
    if keepdims {
        r.insert_axis(Axis(axis))
    } else {
        r
    }
}

/// Sum along `axis`.
///
/// ```
/// use neurite_tensor::{reduce::sum_axis, Tensor};
/// let x = Tensor::ones(vec![2, 3, 4]);
/// let s = sum_axis(&x, 1, true)?;
/// assert_eq!(s.shape(), &[2, 1, 4]);
/// assert!(s.iter().all(|&v| v == 3.0));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn sum_axis(x: &Tensor, axis: usize, keepdims: bool) -> Result<Tensor> {
    check_axis("sum_axis", x, axis)?;
    Ok(keep(x.sum_axis(Axis(axis)), axis, keepdims))
}

/// Arithmetic mean along `axis`; error if the axis has length 0.
///
/// ```
/// use neurite_tensor::{reduce::mean_axis, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!(mean_axis(&x, 0, false)?.as_slice().unwrap(), &[2.0, 3.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn mean_axis(x: &Tensor, axis: usize, keepdims: bool) -> Result<Tensor> {
    check_nonempty_axis("mean_axis", x, axis)?;
    let n = x.len_of(Axis(axis)) as f32;
    let mut s = x.sum_axis(Axis(axis));
    s.mapv_inplace(|v| v / n);
    Ok(keep(s, axis, keepdims))
}

/// Maximum along `axis` (NaN propagates); error if the axis has length 0.
///
/// ```
/// use neurite_tensor::{reduce::max_axis, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 2], vec![1.0, 5.0, 3.0, 2.0]).unwrap();
/// assert_eq!(max_axis(&x, 1, false)?.as_slice().unwrap(), &[5.0, 3.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn max_axis(x: &Tensor, axis: usize, keepdims: bool) -> Result<Tensor> {
    check_nonempty_axis("max_axis", x, axis)?;
    let r = x.fold_axis(Axis(axis), f32::NEG_INFINITY, |&acc, &v| max_nan(acc, v));
    Ok(keep(r, axis, keepdims))
}

/// Minimum along `axis` (NaN propagates); error if the axis has length 0.
///
/// ```
/// use neurite_tensor::{reduce::min_axis, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 2], vec![1.0, 5.0, 3.0, 2.0]).unwrap();
/// assert_eq!(min_axis(&x, 0, true)?.shape(), &[1, 2]);
/// assert_eq!(min_axis(&x, 0, false)?.as_slice().unwrap(), &[1.0, 2.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn min_axis(x: &Tensor, axis: usize, keepdims: bool) -> Result<Tensor> {
    check_nonempty_axis("min_axis", x, axis)?;
    let r = x.fold_axis(Axis(axis), f32::INFINITY, |&acc, &v| min_nan(acc, v));
    Ok(keep(r, axis, keepdims))
}

/// Index of the best element of `lane` under `better(candidate, best)`, the first
/// one on ties; a NaN beats everything (the first NaN is returned).
fn arg_best(lane: ArrayView1<f32>, better: impl Fn(f32, f32) -> bool) -> usize {
    let mut best_i = 0;
    let mut best = f32::NAN;
    for (i, &v) in lane.iter().enumerate() {
        if v.is_nan() {
            return i;
        }
        if i == 0 || better(v, best) {
            best = v;
            best_i = i;
        }
    }
    best_i
}

/// Index of the maximum along `axis` (first one on ties; first NaN if any);
/// the axis is removed. Error if the axis has length 0.
///
/// ```
/// use neurite_tensor::{reduce::argmax_axis, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 3], vec![0.1, 0.7, 0.2, 0.9, 0.05, 0.05]).unwrap();
/// assert_eq!(argmax_axis(&x, 1)?.as_slice().unwrap(), &[1, 0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn argmax_axis(x: &Tensor, axis: usize) -> Result<ArrayD<usize>> {
    check_nonempty_axis("argmax_axis", x, axis)?;
    Ok(x.map_axis(Axis(axis), |lane| arg_best(lane, |v, best| v > best)))
}

/// Index of the minimum along `axis` (first one on ties; first NaN if any);
/// the axis is removed. Error if the axis has length 0.
///
/// ```
/// use neurite_tensor::{reduce::argmin_axis, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 2], vec![3.0, 1.0, 1.0, 1.0]).unwrap();
/// assert_eq!(argmin_axis(&x, 1)?.as_slice().unwrap(), &[1, 0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn argmin_axis(x: &Tensor, axis: usize) -> Result<ArrayD<usize>> {
    check_nonempty_axis("argmin_axis", x, axis)?;
    Ok(x.map_axis(Axis(axis), |lane| arg_best(lane, |v, best| v < best)))
}

/// Population variance (`ddof = 0`, divide by `n`, as Keras' BatchNormalization)
/// along `axis`, computed in two passes (mean, then mean of squared deviations)
/// for accuracy. Error if the axis has length 0.
///
/// ```
/// use neurite_tensor::{reduce::variance_axis, Tensor};
/// let x = Tensor::from_shape_vec(vec![1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!(variance_axis(&x, 1, false)?.as_slice().unwrap(), &[1.25]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn variance_axis(x: &Tensor, axis: usize, keepdims: bool) -> Result<Tensor> {
    check_nonempty_axis("variance_axis", x, axis)?;
    let mean = mean_axis(x, axis, true)?;
    let dev = x - &mean;
    let n = x.len_of(Axis(axis)) as f32;
    let mut v = dev.fold_axis(Axis(axis), 0.0f32, |&acc, &d| acc + d * d);
    v.mapv_inplace(|s| s / n);
    Ok(keep(v, axis, keepdims))
}

/// Validates `axes` (each `< rank`, no repeats) and returns them sorted ascending.
fn check_axes(op: &'static str, x: &Tensor, axes: &[usize]) -> Result<Vec<usize>> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    for (i, &a) in sorted.iter().enumerate() {
        check_axis(op, x, a)?;
        if i > 0 && sorted[i - 1] == a {
            return Err(TensorError::invalid(
                op,
                format!("axis {a} given twice in {axes:?}"),
            ));
        }
    }
    Ok(sorted)
}

/// Sum over several axes at once (order irrelevant, no repeats). An empty
/// `axes` returns a copy of `x`.
///
/// ```
/// use neurite_tensor::{reduce::sum_axes, Tensor};
/// let x = Tensor::ones(vec![2, 3, 4]);
/// let s = sum_axes(&x, &[2, 0], false)?;
/// assert_eq!(s.as_slice().unwrap(), &[8.0, 8.0, 8.0]);
/// assert_eq!(sum_axes(&x, &[0, 2], true)?.shape(), &[1, 3, 1]);
/// assert!(sum_axes(&x, &[1, 1], true).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn sum_axes(x: &Tensor, axes: &[usize], keepdims: bool) -> Result<Tensor> {
    let sorted = check_axes("sum_axes", x, axes)?;
    Ok(sum_sorted_axes(x, &sorted, keepdims))
}

fn sum_sorted_axes(x: &Tensor, sorted: &[usize], keepdims: bool) -> Tensor {
    let mut out = x.clone();
    for &a in sorted.iter().rev() {
        out = out.sum_axis(Axis(a));
    }
    if keepdims {
        for &a in sorted {
            out = out.insert_axis(Axis(a));
        }
    }
    out
}

/// Mean over several axes at once (order irrelevant, no repeats). Error if the
/// selected axes hold zero elements.
///
/// ```
/// use neurite_tensor::{reduce::mean_axes, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!(mean_axes(&x, &[0, 1], false)?.into_raw_vec_and_offset().0, vec![2.5]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn mean_axes(x: &Tensor, axes: &[usize], keepdims: bool) -> Result<Tensor> {
    let sorted = check_axes("mean_axes", x, axes)?;
    let n: usize = sorted.iter().map(|&a| x.len_of(Axis(a))).product();
    if n == 0 {
        return Err(TensorError::invalid(
            "mean_axes",
            format!(
                "axes {axes:?} of shape {:?} hold no element: nothing to average",
                x.shape()
            ),
        ));
    }
    let mut s = sum_sorted_axes(x, &sorted, keepdims);
    let n = n as f32;
    s.mapv_inplace(|v| v / n);
    Ok(s)
}

/// Sum of all elements (`0.0` for an empty tensor).
///
/// ```
/// use neurite_tensor::{reduce::sum_all, Tensor};
/// assert_eq!(sum_all(&Tensor::ones(vec![3, 4])), 12.0);
/// assert_eq!(sum_all(&Tensor::zeros(vec![0])), 0.0);
/// ```
pub fn sum_all(x: &Tensor) -> f32 {
    x.sum()
}

/// Mean of all elements. An empty tensor gives NaN (`0 / 0`, as NumPy), not an
/// error: callers that can see empty input (a zero-sample batch) check for it
/// where they can name the cause.
///
/// ```
/// use neurite_tensor::{reduce::mean_all, Tensor};
/// assert_eq!(mean_all(&Tensor::from_elem(vec![2, 2], 3.0)), 3.0);
/// assert!(mean_all(&Tensor::zeros(vec![0, 3])).is_nan());
/// ```
pub fn mean_all(x: &Tensor) -> f32 {
    x.sum() / x.len() as f32
}
