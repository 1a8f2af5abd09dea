//! Element-wise comparisons (giving `1.0` for true, `0.0` for false) and
//! `where_select`, all with NumPy broadcasting.
//!
//! Comparisons follow IEEE 754: any comparison with NaN is false, except
//! `not_equal`, which is true.
//!
//! ```
//! use neurite_tensor::{compare::greater, Tensor};
//! let a = Tensor::from_shape_vec(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
//! let m = greater(&a, &Tensor::from_elem(vec![], 1.5))?;
//! assert_eq!(m.as_slice().unwrap(), &[0.0, 1.0, 1.0]);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::broadcast::broadcast_shape;
use crate::elementwise::broadcast_binary;
use crate::error::{Result, TensorError};
use crate::Tensor;
use ndarray::{IxDyn, Zip};

#[inline]
fn indicator(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `1.0` where `a > b`, else `0.0`, with broadcasting.
///
/// ```
/// use neurite_tensor::{compare::greater, Tensor};
/// let m = greater(&Tensor::from_elem(vec![2], 1.0), &Tensor::from_elem(vec![2, 1], 0.0))?;
/// assert_eq!(m.shape(), &[2, 2]);
/// assert!(m.iter().all(|&v| v == 1.0));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn greater(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("greater", a, b, |x, y| indicator(x > y))
}

/// `1.0` where `a >= b`, else `0.0`, with broadcasting.
///
/// ```
/// use neurite_tensor::{compare::greater_equal, Tensor};
/// let m = greater_equal(&Tensor::from_elem(vec![1], 1.0), &Tensor::from_elem(vec![1], 1.0))?;
/// assert_eq!(m[[0]], 1.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn greater_equal(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("greater_equal", a, b, |x, y| indicator(x >= y))
}

/// `1.0` where `a < b`, else `0.0`, with broadcasting.
///
/// ```
/// use neurite_tensor::{compare::less, Tensor};
/// let m = less(&Tensor::from_elem(vec![1], 1.0), &Tensor::from_elem(vec![1], 1.0))?;
/// assert_eq!(m[[0]], 0.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn less(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("less", a, b, |x, y| indicator(x < y))
}

/// `1.0` where `a <= b`, else `0.0`, with broadcasting.
///
/// ```
/// use neurite_tensor::{compare::less_equal, Tensor};
/// let m = less_equal(&Tensor::from_elem(vec![1], 1.0), &Tensor::from_elem(vec![1], 1.0))?;
/// assert_eq!(m[[0]], 1.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn less_equal(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("less_equal", a, b, |x, y| indicator(x <= y))
}

/// `1.0` where `a == b`, else `0.0`, with broadcasting.
///
/// ```
/// use neurite_tensor::{compare::equal, Tensor};
/// let a = Tensor::from_shape_vec(vec![2], vec![1.0, f32::NAN]).unwrap();
/// assert_eq!(equal(&a, &a)?.as_slice().unwrap(), &[1.0, 0.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn equal(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("equal", a, b, |x, y| indicator(x == y))
}

/// `1.0` where `a != b`, else `0.0`, with broadcasting.
///
/// ```
/// use neurite_tensor::{compare::not_equal, Tensor};
/// let a = Tensor::from_shape_vec(vec![2], vec![1.0, 2.0]).unwrap();
/// assert_eq!(not_equal(&a, &Tensor::from_elem(vec![], 1.0))?.as_slice().unwrap(), &[0.0, 1.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn not_equal(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("not_equal", a, b, |x, y| indicator(x != y))
}

/// Picks `a` where `cond != 0` and `b` elsewhere; all three broadcast together
/// (NaN in `cond` counts as true, since `NaN != 0`).
///
/// ```
/// use neurite_tensor::{compare::where_select, Tensor};
/// let cond = Tensor::from_shape_vec(vec![3], vec![1.0, 0.0, 1.0]).unwrap();
/// let a = Tensor::from_shape_vec(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
/// let b = Tensor::from_elem(vec![], -1.0);
/// assert_eq!(where_select(&cond, &a, &b)?.as_slice().unwrap(), &[1.0, -1.0, 3.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn where_select(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    const OP: &str = "where_select";
    let ab = broadcast_shape(OP, a.shape(), b.shape())?;
    let shape = broadcast_shape(OP, cond.shape(), &ab)?;
    fn view<'a>(t: &'a Tensor, shape: &[usize], what: &str) -> Result<ndarray::ArrayViewD<'a, f32>> {
        t.broadcast(IxDyn(shape))
            .ok_or_else(|| TensorError::shape(OP, t.shape(), shape, format!("cannot broadcast {what}")))
    }
    let (cv, av, bv) = (
        view(cond, &shape, "cond")?,
        view(a, &shape, "a")?,
        view(b, &shape, "b")?,
    );
    Ok(Zip::from(&cv)
        .and(&av)
        .and(&bv)
        .map_collect(|&c, &x, &y| if c != 0.0 { x } else { y }))
}
