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
        Ok(sum_to_shape(&g, shape)?)
    }
}

/// Sums a borrowed gradient down to `shape`, copying only when the shapes agree.
pub(crate) fn reduce_ref(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        Ok(g.clone())
    } else {
        Ok(sum_to_shape(g, shape)?)
    }
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
