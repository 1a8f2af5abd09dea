//! Rectifiers with parameters, forward and backward in one pass each:
//! Keras' `ReLU` layer (`max_value`, `negative_slope`, `threshold`) and
//! `PReLU` (a learned slope per element of the sample, shared along some axes).
//!
//! ```
//! use neurite_tensor::rectifier::{relu_ext, ReluParams};
//! let p = ReluParams { max_value: Some(6.0), negative_slope: 0.5, threshold: 1.0 };
//! let x = ndarray::arr1(&[-1.0f32, 0.5, 3.0, 9.0]).into_dyn();
//! assert_eq!(relu_ext(&x, &p)?, ndarray::arr1(&[-1.0f32, -0.25, 3.0, 6.0]).into_dyn());
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::broadcast::sum_to_shape;
use crate::error::{Result, TensorError};
use crate::Tensor;
use ndarray::{Axis, Zip};
use rayon::prelude::*;

/// Elements per rayon task at least (smaller arrays run on one thread).
const PAR_MIN: usize = 1 << 15;

/// Parameters of Keras' `ReLU`:
/// `f(x) = min(x, max_value)` for `x > threshold`,
/// `negative_slope * (x - threshold)` otherwise.
///
/// ```
/// let p = neurite_tensor::rectifier::ReluParams::default();
/// assert_eq!((p.max_value, p.negative_slope, p.threshold), (None, 0.0, 0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReluParams {
    /// Upper clip (`None`: unbounded); must be `>= 0`.
    pub max_value: Option<f32>,
    /// Slope below the threshold; must be `>= 0`.
    pub negative_slope: f32,
    /// Where the function turns from the slope to the identity; must be `>= 0`.
    pub threshold: f32,
}

impl ReluParams {
    /// Errors (naming `op` and the field) unless every field is finite and `>= 0`, as Keras requires.
    ///
    /// ```
    /// use neurite_tensor::rectifier::ReluParams;
    /// assert!(ReluParams { negative_slope: -1.0, ..Default::default() }.check("relu").is_err());
    /// assert!(ReluParams { max_value: Some(f32::NAN), ..Default::default() }.check("relu").is_err());
    /// ```
    pub fn check(&self, op: &'static str) -> Result<()> {
        let fields = [
            ("max_value", self.max_value.unwrap_or(0.0)),
            ("negative_slope", self.negative_slope),
            ("threshold", self.threshold),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TensorError::invalid(
                    op,
                    format!("{name} must be a finite number >= 0, found {v}"),
                ));
            }
        }
        Ok(())
    }

    /// `f(x)`.
    #[inline]
    fn value(&self, x: f32) -> f32 {
        if x > self.threshold {
            match self.max_value {
                Some(m) if x > m => m,
                _ => x,
            }
        } else if self.negative_slope == 0.0 {
            0.0
        } else {
            self.negative_slope * (x - self.threshold)
        }
    }

    /// `f'(x)`: `negative_slope` at and below the threshold, 1 above it up
    /// to and including `max_value` (as TensorFlow's clip), 0 above that.
    #[inline]
    fn slope(&self, x: f32) -> f32 {
        if x > self.threshold {
            match self.max_value {
                Some(m) if x > m => 0.0,
                _ => 1.0,
            }
        } else {
            self.negative_slope
        }
    }
}

/// Keras' `ReLU` with parameters `p` (see [`ReluParams`]), element-wise.
/// Errors if a parameter is negative or not finite.
///
/// ```
/// use neurite_tensor::rectifier::{relu_ext, ReluParams};
/// let x = ndarray::arr1(&[-10.0f32, -5.0, 0.0, 5.0, 10.0]).into_dyn();
/// let p = ReluParams { max_value: Some(10.0), negative_slope: 0.5, threshold: 0.0 };
/// assert_eq!(relu_ext(&x, &p)?, ndarray::arr1(&[-5.0f32, -2.5, 0.0, 5.0, 10.0]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn relu_ext(x: &Tensor, p: &ReluParams) -> Result<Tensor> {
    p.check("relu_ext")?;
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let out: Vec<f32> = src
        .par_iter()
        .with_min_len(PAR_MIN)
        .map(|&v| p.value(v))
        .collect();
    Tensor::from_shape_vec(x.raw_dim(), out).map_err(|e| TensorError::invalid("relu_ext", e.to_string()))
}

/// The gradient of [`relu_ext`]: `g * f'(x)` (see [`ReluParams`] for the
/// derivative at the kinks). Errors if `g` and `x` differ in shape.
///
/// ```
/// use neurite_tensor::rectifier::{relu_ext_backward, ReluParams};
/// let x = ndarray::arr1(&[-1.0f32, 2.0, 8.0]).into_dyn();
/// let g = ndarray::arr1(&[1.0f32, 1.0, 1.0]).into_dyn();
/// let p = ReluParams { max_value: Some(6.0), negative_slope: 0.1, threshold: 0.0 };
/// assert_eq!(relu_ext_backward(&g, &x, &p)?, ndarray::arr1(&[0.1f32, 1.0, 0.0]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn relu_ext_backward(g: &Tensor, x: &Tensor, p: &ReluParams) -> Result<Tensor> {
    if g.shape() != x.shape() {
        return Err(TensorError::shape(
            "relu_ext_backward",
            g.shape(),
            x.shape(),
            "the gradient must have the input's shape",
        ));
    }
    let (gs, xs) = (g.as_standard_layout(), x.as_standard_layout());
    let (gv, xv) = (
        gs.as_slice().expect("standard layout is contiguous"),
        xs.as_slice().expect("standard layout is contiguous"),
    );
    let out: Vec<f32> = gv
        .par_iter()
        .zip(xv)
        .with_min_len(PAR_MIN)
        .map(|(&g, &v)| g * p.slope(v))
        .collect();
    Tensor::from_shape_vec(x.raw_dim(), out)
        .map_err(|e| TensorError::invalid("relu_ext_backward", e.to_string()))
}

/// Checks that `alpha` broadcasts over each sample of `x`: `alpha` has
/// `x`'s rank minus the batch axis, each axis equal or 1.
fn check_alpha(op: &'static str, x: &Tensor, alpha: &Tensor) -> Result<()> {
    let (xs, a) = (x.shape(), alpha.shape());
    let ok = xs.len() == a.len() + 1 && a.iter().zip(&xs[1..]).all(|(&d, &s)| d == s || d == 1);
    if !ok {
        return Err(TensorError::shape(
            op,
            xs,
            a,
            "alpha must have the shape of one sample (the input without its batch axis), with 1 on shared axes",
        ));
    }
    Ok(())
}

/// Parametric ReLU: `x` where `x >= 0`, `alpha * x` elsewhere, `alpha`
/// broadcast over each sample (shape of `x` without the batch axis, 1 on
/// shared axes). Errors if `alpha` does not fit.
///
/// ```
/// use neurite_tensor::rectifier::prelu;
/// let x = ndarray::arr2(&[[-2.0f32, -2.0], [3.0, -1.0]]).into_dyn();
/// let alpha = ndarray::arr1(&[0.5f32, 0.25]).into_dyn();
/// assert_eq!(prelu(&x, &alpha)?, ndarray::arr2(&[[-1.0f32, -0.5], [3.0, -0.25]]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn prelu(x: &Tensor, alpha: &Tensor) -> Result<Tensor> {
    check_alpha("prelu", x, alpha)?;
    let mut out = x.to_owned();
    let sample = &x.shape()[1..];
    let a = alpha
        .broadcast(sample)
        .ok_or_else(|| TensorError::shape("prelu", alpha.shape(), sample, "alpha does not broadcast"))?;
    out.axis_iter_mut(Axis(0)).for_each(|mut s| {
        Zip::from(&mut s).and(&a).for_each(|y, &al| {
            if *y < 0.0 {
                *y *= al
            }
        })
    });
    Ok(out)
}

/// The gradients of [`prelu`]: `(dx, dalpha)` with `dx = g` where `x >= 0`
/// and `g * alpha` elsewhere, `dalpha` the sum of `g * x` over the batch
/// and the shared axes where `x < 0`.
///
/// ```
/// use neurite_tensor::rectifier::prelu_backward;
/// let x = ndarray::arr2(&[[-2.0f32, 1.0], [-3.0, -1.0]]).into_dyn();
/// let g = ndarray::Array2::<f32>::ones((2, 2)).into_dyn();
/// let alpha = ndarray::arr1(&[0.5f32]).into_dyn(); // shared across the feature axis
/// let (dx, da) = prelu_backward(&g, &x, &alpha)?;
/// assert_eq!(dx, ndarray::arr2(&[[0.5f32, 1.0], [0.5, 0.5]]).into_dyn());
/// assert_eq!(da, ndarray::arr1(&[-6.0f32]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn prelu_backward(g: &Tensor, x: &Tensor, alpha: &Tensor) -> Result<(Tensor, Tensor)> {
    check_alpha("prelu_backward", x, alpha)?;
    if g.shape() != x.shape() {
        return Err(TensorError::shape(
            "prelu_backward",
            g.shape(),
            x.shape(),
            "the gradient must have the input's shape",
        ));
    }
    let sample = &x.shape()[1..];
    let a = alpha.broadcast(sample).ok_or_else(|| {
        TensorError::shape(
            "prelu_backward",
            alpha.shape(),
            sample,
            "alpha does not broadcast",
        )
    })?;
    let mut dx = g.to_owned();
    let mut da_full = Tensor::zeros(sample);
    for ((mut d, xs), gs) in dx
        .axis_iter_mut(Axis(0))
        .zip(x.axis_iter(Axis(0)))
        .zip(g.axis_iter(Axis(0)))
    {
        Zip::from(&mut d)
            .and(&xs)
            .and(&gs)
            .and(&a)
            .and(&mut da_full)
            .for_each(|d, &xv, &gv, &al, da| {
                if xv < 0.0 {
                    *d = gv * al;
                    *da += gv * xv;
                }
            });
    }
    let da = sum_to_shape(&da_full, alpha.shape())?;
    Ok((dx, da))
}
