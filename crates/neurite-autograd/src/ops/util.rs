//! Small helpers shared by the op families (argument checks, gradient reduction).

use crate::error::Result;
use neurite_tensor::broadcast::sum_to_shape;
use neurite_tensor::{Tensor, TensorError};

/// Error unless `axis < ndim`.
pub(crate) fn check_axis(op: &'static str, ndim: usize, axis: usize) -> Result<()> {
    if axis >= ndim {
        return Err(TensorError::invalid(
            op,
            format!("axis {axis} is out of range for a tensor of rank {ndim}"),
        )
        .into());
    }
    Ok(())
}

/// Sums a gradient down to `shape` (the gradient of a broadcast), moving it
/// through untouched when the shapes already agree.
pub(crate) fn reduce_to(g: Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        Ok(g)
    } else {
        reduce_ref(&g, shape)
    }
}

/// Sums a borrowed gradient down to `shape`, copying only when the shapes agree.
///
/// Fast path for the common bias pattern (the target is a suffix of the
/// gradient's shape, maybe with leading 1s, so whole leading axes are summed):
/// one pass over contiguous rows instead of ndarray's per-row `sum_axis`.
pub(crate) fn reduce_ref(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let trimmed = {
        let lead_ones = shape.iter().take_while(|&&d| d == 1).count();
        &shape[lead_ones..]
    };
    let gs = g.shape();
    if trimmed.len() <= gs.len() && gs[gs.len() - trimmed.len()..] == *trimmed {
        if let Some(src) = g.as_slice() {
            let inner: usize = trimmed.iter().product();
            let mut out = vec![0.0f32; inner];
            if inner > 0 {
                for row in src.chunks_exact(inner) {
                    for (o, &v) in out.iter_mut().zip(row) {
                        *o += v;
                    }
                }
            }
            return Tensor::from_shape_vec(ndarray::IxDyn(shape), out)
                .map_err(|e| TensorError::invalid("sum_to_shape", e.to_string()).into());
        }
    }
    Ok(sum_to_shape(g, shape)?)
}

/// `f(a, b)` element-wise when `b`'s shape is a suffix of `a`'s (equal shapes
/// included) and both are contiguous: the bias-add pattern, as one pass over
/// rows. `None` when the fast path does not apply.
pub(crate) fn trailing_broadcast(a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32) -> Option<Tensor> {
    let (sa, sb) = (a.shape(), b.shape());
    if sb.len() > sa.len() || sa[sa.len() - sb.len()..] != *sb {
        return None;
    }
    let (xa, xb) = (a.as_slice()?, b.as_slice()?);
    let inner = xb.len();
    if inner == 0 {
        return Some(a.clone());
    }
    let mut out = Vec::with_capacity(xa.len());
    for row in xa.chunks_exact(inner) {
        out.extend(row.iter().zip(xb).map(|(&x, &y)| f(x, y)));
    }
    Tensor::from_shape_vec(a.raw_dim(), out).ok()
}

/// `x` (any layout) reshaped to `shape` in row-major order, as a new standard-layout tensor.
pub(crate) fn reshaped(op: &'static str, x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    Ok(x.to_shape(ndarray::IxDyn(shape))
        .map_err(|e| TensorError::shape(op, x.shape(), shape, e.to_string()))?
        .into_owned())
}

/// Owned `x` reshaped to `shape` in row-major order, without a copy when it is contiguous.
pub(crate) fn into_reshaped(op: &'static str, x: Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.is_standard_layout() {
        let from = x.shape().to_vec();
        x.into_shape_with_order(ndarray::IxDyn(shape))
            .map_err(|e| TensorError::shape(op, &from, shape, e.to_string()).into())
    } else {
        reshaped(op, &x, shape)
    }
}
