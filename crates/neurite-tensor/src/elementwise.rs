//! Binary element-wise arithmetic with NumPy broadcasting.
//!
//! Every binary op here has the same shape rules as NumPy (`broadcast_shape`):
//! trailing axes are aligned and each pair must be equal or contain a 1.
//!
//! Three code paths, chosen per call:
//! - **equal shapes, both contiguous**: a flat loop over the two slices
//!   (auto-vectorised), split over rayon's pool above [`PAR_THRESHOLD`] elements;
//! - **one operand has a single element** (a scalar or a `[1, 1]` array whose
//!   broadcast shape is the other operand's): a map over the other operand;
//! - **general broadcasting**: both operands are broadcast as strided views (no copy)
//!   and combined with `ndarray::Zip`.
//!
//! ```
//! use neurite_tensor::{elementwise::add, Tensor};
//! let a = Tensor::from_shape_vec(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
//! let b = Tensor::from_shape_vec(vec![3], vec![10.0, 20.0, 30.0]).unwrap();
//! let c = add(&a, &b)?;
//! assert_eq!(c.as_slice().unwrap(), &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::broadcast::broadcast_shape;
use crate::error::{Result, TensorError};
use crate::Tensor;
use ndarray::{IxDyn, Zip};
use rayon::prelude::*;

/// Number of elements above which contiguous element-wise kernels split their
/// work over rayon's thread pool.
///
/// Chosen conservatively: on the 2-core development machine, measured while other
/// builds kept it loaded (load average 7-8, see `docs/benchmarks.md`, section
/// "Element-wise parallel threshold"), rayon gave no gain at any size from 16k to
/// 4M elements, so small and medium tensors (a batch of activations is usually
/// below 256k) never pay the fork/join cost; on idle cores the large ones gain.
pub const PAR_THRESHOLD: usize = 1 << 18;

/// Rayon chunk length (elements) used by the parallel paths: large enough that a
/// chunk costs far more than a task spawn, small enough to balance two cores.
pub(crate) const PAR_CHUNK: usize = 1 << 15;

/// Applies `f` to every element of `x` into a new tensor of the same shape
/// (standard layout when `x` is contiguous), in parallel above [`PAR_THRESHOLD`].
pub(crate) fn map_tensor<F>(x: &Tensor, f: F) -> Tensor
where
    F: Fn(f32) -> f32 + Sync + Send,
{
    match x.as_slice() {
        Some(src) if src.len() >= PAR_THRESHOLD => {
            // Collected in place: no zero-filled buffer written first.
            let out: Vec<f32> = src.par_iter().with_min_len(PAR_CHUNK).map(|&v| f(v)).collect();
            Tensor::from_shape_vec(IxDyn(x.shape()), out).expect("length equals the shape's size")
        }
        _ => x.mapv(f),
    }
}

/// Combines `a` and `b` element by element with `f` under NumPy broadcasting.
///
/// This is the engine behind every binary op of this module and of
/// [`crate::compare`]; `op` names the operation in errors.
pub(crate) fn broadcast_binary<F>(op: &'static str, a: &Tensor, b: &Tensor, f: F) -> Result<Tensor>
where
    F: Fn(f32, f32) -> f32 + Sync + Send,
{
    if a.shape() == b.shape() {
        if let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice()) {
            // Collected in place: no zero-filled buffer written first.
            let out: Vec<f32> = if sa.len() >= PAR_THRESHOLD {
                sa.par_iter()
                    .zip(sb.par_iter())
                    .with_min_len(PAR_CHUNK)
                    .map(|(&x, &y)| f(x, y))
                    .collect()
            } else {
                sa.iter().zip(sb).map(|(&x, &y)| f(x, y)).collect()
            };
            return Ok(Tensor::from_shape_vec(IxDyn(a.shape()), out).expect("length equals the shape's size"));
        }
        return Ok(Zip::from(a).and(b).map_collect(|&x, &y| f(x, y)));
    }
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    if b.len() == 1 && shape == a.shape() {
        let s = b.iter().next().copied().expect("one element");
        return Ok(map_tensor(a, |x| f(x, s)));
    }
    if a.len() == 1 && shape == b.shape() {
        let s = a.iter().next().copied().expect("one element");
        return Ok(map_tensor(b, |y| f(s, y)));
    }
    let av = a
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| TensorError::shape(op, a.shape(), b.shape(), "cannot broadcast the first operand"))?;
    let bv = b
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| TensorError::shape(op, a.shape(), b.shape(), "cannot broadcast the second operand"))?;
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

/// NaN-propagating maximum (as NumPy's `maximum`): NaN if either input is NaN.
#[inline]
pub(crate) fn max_nan(a: f32, b: f32) -> f32 {
    if a > b || a.is_nan() {
        a
    } else {
        b
    }
}

/// NaN-propagating minimum (as NumPy's `minimum`): NaN if either input is NaN.
#[inline]
pub(crate) fn min_nan(a: f32, b: f32) -> f32 {
    if a < b || a.is_nan() {
        a
    } else {
        b
    }
}

/// `max(a + b, 0)` element-wise, with broadcasting, in one pass: a residual
/// connection and the ReLU after it. Equal to [`add`] then
/// [`crate::unary::relu`] bit for bit (NaN stays NaN, `-0.0` stays `-0.0`).
///
/// ```
/// use neurite_tensor::{elementwise::add_relu, Tensor};
/// let a = Tensor::from_shape_vec(vec![3], vec![1.0, -4.0, 0.5]).unwrap();
/// let b = Tensor::from_shape_vec(vec![3], vec![1.0, 1.0, -0.25]).unwrap();
/// assert_eq!(add_relu(&a, &b)?.as_slice().unwrap(), &[2.0, 0.0, 0.25]);
/// assert!(add_relu(&a, &Tensor::zeros(vec![2])).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn add_relu(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("add_relu", a, b, |x, y| {
        let s = x + y;
        if s < 0.0 {
            0.0
        } else {
            s
        }
    })
}

/// `a + b` element-wise, with broadcasting.
///
/// ```
/// use neurite_tensor::{elementwise::add, Tensor};
/// let a = Tensor::from_elem(vec![2, 2], 1.0);
/// let b = Tensor::from_elem(vec![], 2.0); // rank-0 scalar
/// assert!(add(&a, &b)?.iter().all(|&v| v == 3.0));
/// assert!(add(&a, &Tensor::zeros(vec![3])).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("add", a, b, |x, y| x + y)
}

/// `a - b` element-wise, with broadcasting.
///
/// ```
/// use neurite_tensor::{elementwise::sub, Tensor};
/// let a = Tensor::from_elem(vec![2, 1], 5.0);
/// let b = Tensor::from_shape_vec(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
/// let c = sub(&a, &b)?;
/// assert_eq!(c.shape(), &[2, 3]);
/// assert_eq!(c[[1, 2]], 2.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("sub", a, b, |x, y| x - y)
}

/// `a * b` element-wise (Hadamard product), with broadcasting.
///
/// ```
/// use neurite_tensor::{elementwise::mul, Tensor};
/// let a = Tensor::from_elem(vec![2, 3], 2.0);
/// let b = Tensor::from_elem(vec![2, 3], 4.0);
/// assert!(mul(&a, &b)?.iter().all(|&v| v == 8.0));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("mul", a, b, |x, y| x * y)
}

/// `a / b` element-wise, with broadcasting (IEEE semantics: `1/0 = inf`, `0/0 = NaN`).
///
/// ```
/// use neurite_tensor::{elementwise::div, Tensor};
/// let a = Tensor::from_elem(vec![3], 1.0);
/// let b = Tensor::from_shape_vec(vec![3], vec![2.0, 4.0, 0.0]).unwrap();
/// let c = div(&a, &b)?;
/// assert_eq!(c[[0]], 0.5);
/// assert!(c[[2]].is_infinite());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("div", a, b, |x, y| x / y)
}

/// `a ^ b` element-wise (`f32::powf`), with broadcasting.
///
/// ```
/// use neurite_tensor::{elementwise::pow, Tensor};
/// let a = Tensor::from_shape_vec(vec![2], vec![2.0, 9.0]).unwrap();
/// let b = Tensor::from_shape_vec(vec![2], vec![3.0, 0.5]).unwrap();
/// assert_eq!(pow(&a, &b)?.as_slice().unwrap(), &[8.0, 3.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn pow(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("pow", a, b, f32::powf)
}

/// Element-wise maximum, with broadcasting. NaN in either operand gives NaN (as NumPy).
///
/// ```
/// use neurite_tensor::{elementwise::maximum, Tensor};
/// let a = Tensor::from_shape_vec(vec![3], vec![1.0, 5.0, f32::NAN]).unwrap();
/// let b = Tensor::from_elem(vec![], 2.0);
/// let c = maximum(&a, &b)?;
/// assert_eq!(&c.as_slice().unwrap()[..2], &[2.0, 5.0]);
/// assert!(c[[2]].is_nan());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn maximum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("maximum", a, b, max_nan)
}

/// Element-wise minimum, with broadcasting. NaN in either operand gives NaN (as NumPy).
///
/// ```
/// use neurite_tensor::{elementwise::minimum, Tensor};
/// let a = Tensor::from_shape_vec(vec![2], vec![1.0, 5.0]).unwrap();
/// let b = Tensor::from_elem(vec![1], 2.0);
/// assert_eq!(minimum(&a, &b)?.as_slice().unwrap(), &[1.0, 2.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn minimum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    broadcast_binary("minimum", a, b, min_nan)
}

/// `x * s` for every element.
///
/// ```
/// use neurite_tensor::{elementwise::scale, Tensor};
/// let x = Tensor::from_elem(vec![2, 2], 3.0);
/// assert!(scale(&x, 0.5).iter().all(|&v| v == 1.5));
/// ```
pub fn scale(x: &Tensor, s: f32) -> Tensor {
    map_tensor(x, |v| v * s)
}

/// `x + s` for every element.
///
/// ```
/// use neurite_tensor::{elementwise::add_scalar, Tensor};
/// let x = Tensor::from_elem(vec![3], 1.0);
/// assert!(add_scalar(&x, -1.0).iter().all(|&v| v == 0.0));
/// ```
pub fn add_scalar(x: &Tensor, s: f32) -> Tensor {
    map_tensor(x, |v| v + s)
}
