//! Numerically stable softmax, log-softmax and log-sum-exp along one axis.
//!
//! Every lane is shifted by its maximum before `exp`, so finite logits of any
//! magnitude (tested up to `±1e30`) never overflow: `softmax` stays in `[0, 1]`
//! and sums to 1, `log_softmax` and `logsumexp` stay finite. A lane whose
//! maximum is `-inf` (all `-inf`) is shifted by 0 instead: `logsumexp` is then
//! `-inf` and `softmax` NaN (`0 / 0`), as in PyTorch. A `+inf` or NaN logit
//! gives NaN in its lane.
//!
//! The last axis of a contiguous (standard-layout) tensor takes a fast path: a
//! flat loop per row, rows split over rayon above
//! [`crate::elementwise::PAR_THRESHOLD`] elements. Other axes and layouts go
//! through whole-array passes (max, `exp`, sum) that stream memory in order.
//!
//! ```
//! use neurite_tensor::{softmax::softmax, Tensor};
//! let x = Tensor::from_shape_vec(vec![1, 3], vec![1e30, 0.0, -1e30]).unwrap();
//! let y = softmax(&x, 1)?;
//! assert_eq!(y.as_slice().unwrap(), &[1.0, 0.0, 0.0]);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::elementwise::{max_nan, PAR_CHUNK, PAR_THRESHOLD};
use crate::error::{Result, TensorError};
use crate::Tensor;
use ndarray::{Axis, IxDyn};
use rayon::prelude::*;

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

/// The shift used for a lane with maximum `m`: `m`, or 0 when `m` is `-inf`.
#[inline]
fn shift_of(m: f32) -> f32 {
    if m == f32::NEG_INFINITY {
        0.0
    } else {
        m
    }
}

/// `(shift, sum of exp(v - shift))` of one contiguous row.
#[inline]
fn row_stats(row: &[f32]) -> (f32, f32) {
    let m = shift_of(row.iter().fold(f32::NEG_INFINITY, |a, &v| max_nan(a, v)));
    let s = row.iter().map(|&v| (v - m).exp()).sum::<f32>();
    (m, s)
}

#[derive(Clone, Copy)]
enum Kind {
    Softmax,
    LogSoftmax,
}

fn row_kernel(kind: Kind, src: &[f32], dst: &mut [f32]) {
    match kind {
        Kind::Softmax => {
            let m = shift_of(src.iter().fold(f32::NEG_INFINITY, |a, &v| max_nan(a, v)));
            let mut s = 0.0f32;
            for (d, &v) in dst.iter_mut().zip(src) {
                let e = (v - m).exp();
                *d = e;
                s += e;
            }
            let inv = 1.0 / s;
            dst.iter_mut().for_each(|d| *d *= inv);
        }
        Kind::LogSoftmax => {
            let (m, s) = row_stats(src);
            let lse = m + s.ln();
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v - lse;
            }
        }
    }
}

/// Runs `row_kernel` over the rows of a contiguous tensor whose last axis has length `n > 0`.
fn rows_same_shape(kind: Kind, src: &[f32], n: usize, shape: &[usize]) -> Tensor {
    let mut out = vec![0.0f32; src.len()];
    if src.len() >= PAR_THRESHOLD {
        let rows_per_task = (PAR_CHUNK / n).max(1);
        out.par_chunks_mut(n * rows_per_task)
            .zip(src.par_chunks(n * rows_per_task))
            .for_each(|(o, s)| {
                for (o, s) in o.chunks_exact_mut(n).zip(s.chunks_exact(n)) {
                    row_kernel(kind, s, o);
                }
            });
    } else {
        for (o, s) in out.chunks_exact_mut(n).zip(src.chunks_exact(n)) {
            row_kernel(kind, s, o);
        }
    }
    Tensor::from_shape_vec(IxDyn(shape), out).expect("length equals the shape's size")
}

/// Per-lane shift along `axis` (keepdims), for the generic path. The axis is non-empty.
fn lane_shift(x: &Tensor, axis: usize) -> Tensor {
    x.fold_axis(Axis(axis), f32::NEG_INFINITY, |&a, &v| max_nan(a, v))
        .mapv(shift_of)
        .insert_axis(Axis(axis))
}

/// `(shift, sum of exp(x - shift))` along `axis`, both keepdims, for the generic path.
fn lane_stats(x: &Tensor, axis: usize) -> (Tensor, Tensor) {
    let m = lane_shift(x, axis);
    let mut e = x - &m;
    e.mapv_inplace(f32::exp);
    let s = e.sum_axis(Axis(axis)).insert_axis(Axis(axis));
    (m, s)
}

fn is_fast_path(x: &Tensor, axis: usize) -> bool {
    axis + 1 == x.ndim() && x.is_standard_layout()
}

/// Softmax along `axis`: `exp(x - max) / sum(exp(x - max))`. Error if `axis >= rank`.
///
/// ```
/// use neurite_tensor::{softmax::softmax, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 2], vec![0.0, 0.0, 1.0, 1.0]).unwrap();
/// let y = softmax(&x, 0)?;
/// assert!((y[[0, 0]] - 0.268_941_43).abs() < 1e-6);
/// assert!(softmax(&x, 2).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn softmax(x: &Tensor, axis: usize) -> Result<Tensor> {
    check_axis("softmax", x, axis)?;
    if x.is_empty() {
        return Ok(x.clone());
    }
    if is_fast_path(x, axis) {
        let src = x.as_slice().expect("standard layout");
        return Ok(rows_same_shape(
            Kind::Softmax,
            src,
            x.len_of(Axis(axis)),
            x.shape(),
        ));
    }
    let m = lane_shift(x, axis);
    let mut e = x - &m;
    e.mapv_inplace(f32::exp);
    let s = e.sum_axis(Axis(axis)).insert_axis(Axis(axis));
    Ok(e / &s)
}

/// Log-softmax along `axis`: `x - logsumexp(x)`, finite for finite logits.
/// Error if `axis >= rank`.
///
/// ```
/// use neurite_tensor::{softmax::log_softmax, Tensor};
/// let x = Tensor::from_shape_vec(vec![2], vec![1e30, -1e30]).unwrap();
/// let y = log_softmax(&x, 0)?;
/// assert_eq!(y[[0]], 0.0);
/// assert_eq!(y[[1]], -2e30);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn log_softmax(x: &Tensor, axis: usize) -> Result<Tensor> {
    check_axis("log_softmax", x, axis)?;
    if x.is_empty() {
        return Ok(x.clone());
    }
    if is_fast_path(x, axis) {
        let src = x.as_slice().expect("standard layout");
        return Ok(rows_same_shape(
            Kind::LogSoftmax,
            src,
            x.len_of(Axis(axis)),
            x.shape(),
        ));
    }
    let (m, s) = lane_stats(x, axis);
    let lse = m + s.mapv(f32::ln);
    Ok(x - &lse)
}

/// `log(sum(exp(x)))` along `axis`, computed as `max + log(sum(exp(x - max)))`.
/// An axis of length 0 gives `-inf` (the log of an empty sum). Error if `axis >= rank`.
///
/// ```
/// use neurite_tensor::{softmax::logsumexp, Tensor};
/// let x = Tensor::from_shape_vec(vec![2, 2], vec![0.0, 0.0, 1e30, 1e30]).unwrap();
/// let y = logsumexp(&x, 1, false)?;
/// assert!((y[[0]] - std::f32::consts::LN_2).abs() < 1e-6);
/// assert_eq!(y[[1]], 1e30);
/// assert_eq!(logsumexp(&x, 1, true)?.shape(), &[2, 1]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn logsumexp(x: &Tensor, axis: usize, keepdims: bool) -> Result<Tensor> {
    check_axis("logsumexp", x, axis)?;
    let n = x.len_of(Axis(axis));
    let mut out_shape = x.shape().to_vec();
    out_shape[axis] = 1;
    let out = if n == 0 {
        Tensor::from_elem(IxDyn(&out_shape), f32::NEG_INFINITY)
    } else if x.is_empty() {
        Tensor::zeros(IxDyn(&out_shape))
    } else if is_fast_path(x, axis) {
        let src = x.as_slice().expect("standard layout");
        let v: Vec<f32> = if src.len() >= PAR_THRESHOLD {
            src.par_chunks(n)
                .map(|r| {
                    let (m, s) = row_stats(r);
                    m + s.ln()
                })
                .collect()
        } else {
            src.chunks_exact(n)
                .map(|r| {
                    let (m, s) = row_stats(r);
                    m + s.ln()
                })
                .collect()
        };
        Tensor::from_shape_vec(IxDyn(&out_shape), v).expect("one value per row")
    } else {
        let (m, s) = lane_stats(x, axis);
        m + s.mapv(f32::ln)
    };
    Ok(if keepdims {
        out
    } else {
        out.remove_axis(Axis(axis))
    })
}
