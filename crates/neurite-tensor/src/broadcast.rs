//! NumPy broadcasting rules: the shape two operands broadcast to, and the
//! reverse (summing a gradient back down to an operand's shape).

use crate::error::{Result, TensorError};
use crate::size::checked_len;
use crate::Tensor;
use ndarray::{Axis, IxDyn};

/// The shape that `a` and `b` broadcast to under NumPy's rules (align
/// trailing axes; each pair must be equal or contain a 1). Errors when the
/// shapes do not broadcast, or when the result would be too large to
/// allocate (its element count overflows).
///
/// ```
/// use neurite_tensor::broadcast::broadcast_shape;
/// assert_eq!(broadcast_shape("add", &[4, 1, 3], &[5, 1]).unwrap(), vec![4, 5, 3]);
/// assert!(broadcast_shape("add", &[2, 3], &[4]).is_err());
/// assert!(broadcast_shape("add", &[1 << 40, 1], &[1, 1 << 40]).is_err());
/// ```
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::shape(
                    op,
                    a,
                    b,
                    format!("axis {i} of the broadcast result: {da} vs {db} (each pair must be equal or 1)"),
                ))
            }
        };
    }
    // Every broadcast result is allocated: its size must be representable.
    checked_len(op, "the broadcast result", &out)?;
    Ok(out)
}

/// Sums `x` over the axes that broadcasting added or stretched, so that the
/// result has `shape`. This is the gradient of a broadcast: if `y = broadcast(a)`
/// then `dL/da = sum_to_shape(dL/dy, a.shape())`.
///
/// ```
/// use neurite_tensor::broadcast::sum_to_shape;
/// let g = ndarray::ArrayD::<f32>::ones(ndarray::IxDyn(&[4, 5, 3]));
/// let s = sum_to_shape(&g, &[5, 1]).unwrap();
/// assert_eq!(s.shape(), &[5, 1]);
/// assert_eq!(s[[0, 0]], 12.0);
/// ```
pub fn sum_to_shape(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    let target = broadcast_shape("sum_to_shape", x.shape(), shape)?;
    if target != x.shape() {
        return Err(TensorError::shape(
            "sum_to_shape",
            x.shape(),
            shape,
            "the target shape must broadcast to the source shape",
        ));
    }
    let lead = x.ndim() - shape.len();
    let mut out = x.clone();
    for _ in 0..lead {
        out = out.sum_axis(Axis(0));
    }
    for (axis, &d) in shape.iter().enumerate() {
        if d == 1 && out.len_of(Axis(axis)) != 1 {
            out = out.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    out.into_shape_with_order(IxDyn(shape))
        .map_err(|e| TensorError::invalid("sum_to_shape", e.to_string()))
}
