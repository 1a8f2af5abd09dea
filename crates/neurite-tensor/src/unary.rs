//! Unary element-wise functions and activations.
//!
//! All functions are infallible, take any shape (rank 0 included) and return a
//! new tensor of the same shape. Contiguous inputs above
//! [`crate::elementwise::PAR_THRESHOLD`] elements are processed in parallel on
//! rayon's pool.
//!
//! ```
//! use neurite_tensor::{unary, Tensor};
//! let x = Tensor::from_shape_vec(vec![3], vec![-1.0, 0.0, 2.0]).unwrap();
//! assert_eq!(unary::relu(&x).as_slice().unwrap(), &[0.0, 0.0, 2.0]);
//! ```

use crate::elementwise::map_tensor;
use crate::Tensor;

/// SELU's `alpha` (Klambauer et al. 2017, as in Keras).
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// SELU's `scale` (Klambauer et al. 2017, as in Keras).
pub const SELU_SCALE: f32 = 1.050_701;

/// The error function `erf(x)` in `f32`.
///
/// For `|x| < 0.5` the Maclaurin series `2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))`
/// truncated after the `x^11` term (truncation error below `3e-8` relative). For
/// `|x| >= 0.5`, `erf = 1 - erfc` with the Chebyshev-fitted `erfc` of *Numerical
/// Recipes in C*, 2nd ed. (Press et al. 1992), section 6.2, function `erfcc`:
/// `erfc(z) = t exp(-z^2 - 1.26551223 + t (1.00002368 + ...))`, `t = 1 / (1 + z/2)`,
/// fractional error below `1.2e-7` everywhere. Measured against an f64 reference on
/// `[-3.5, 3.5]` in steps of `1e-4` (test `ops_unary`): max absolute error `1.52e-7`
/// (f32 rounding included); relative error below `1e-6` for `|x| < 0.5`.
///
/// ```
/// use neurite_tensor::unary::erf;
/// assert!((erf(1.0) - 0.842_700_8).abs() < 2e-7);
/// assert_eq!(erf(0.0), 0.0);
/// assert_eq!(erf(-10.0), -1.0);
/// ```
pub fn erf(x: f32) -> f32 {
    let z = x.abs();
    if z < 0.5 {
        // 2/sqrt(pi) * x * (1 - x^2/3 + x^4/10 - x^6/42 + x^8/216 - x^10/1320)
        let q = x * x;
        let poly =
            1.0 + q * (-1.0 / 3.0 + q * (1.0 / 10.0 + q * (-1.0 / 42.0 + q * (1.0 / 216.0 - q / 1320.0))));
        return std::f32::consts::FRAC_2_SQRT_PI * x * poly;
    }
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_2 + t * 0.170_872_77))))))));
    let erfc = t * (-z * z + poly).exp();
    (1.0 - erfc).copysign(x)
}

/// Numerically stable logistic function of one value: never overflows, exact 0/1 limits.
#[inline]
pub(crate) fn sigmoid_scalar(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `e^x`.
///
/// ```
/// use neurite_tensor::{unary::exp, Tensor};
/// assert_eq!(exp(&Tensor::zeros(vec![2]))[[0]], 1.0);
/// ```
pub fn exp(x: &Tensor) -> Tensor {
    map_tensor(x, f32::exp)
}

/// Natural logarithm (`ln 0 = -inf`, negative input gives NaN).
///
/// ```
/// use neurite_tensor::{unary::ln, Tensor};
/// assert_eq!(ln(&Tensor::ones(vec![2]))[[1]], 0.0);
/// ```
pub fn ln(x: &Tensor) -> Tensor {
    map_tensor(x, f32::ln)
}

/// Square root (negative input gives NaN).
///
/// ```
/// use neurite_tensor::{unary::sqrt, Tensor};
/// assert_eq!(sqrt(&Tensor::from_elem(vec![1], 9.0))[[0]], 3.0);
/// ```
pub fn sqrt(x: &Tensor) -> Tensor {
    map_tensor(x, f32::sqrt)
}

/// Absolute value.
///
/// ```
/// use neurite_tensor::{unary::abs, Tensor};
/// assert_eq!(abs(&Tensor::from_elem(vec![1], -2.5))[[0]], 2.5);
/// ```
pub fn abs(x: &Tensor) -> Tensor {
    map_tensor(x, f32::abs)
}

/// Negation `-x`.
///
/// ```
/// use neurite_tensor::{unary::neg, Tensor};
/// assert_eq!(neg(&Tensor::from_elem(vec![1], 2.0))[[0]], -2.0);
/// ```
pub fn neg(x: &Tensor) -> Tensor {
    map_tensor(x, |v| -v)
}

/// `x * x`.
///
/// ```
/// use neurite_tensor::{unary::square, Tensor};
/// assert_eq!(square(&Tensor::from_elem(vec![1], -3.0))[[0]], 9.0);
/// ```
pub fn square(x: &Tensor) -> Tensor {
    map_tensor(x, |v| v * v)
}

/// Hyperbolic tangent.
///
/// ```
/// use neurite_tensor::{unary::tanh, Tensor};
/// assert_eq!(tanh(&Tensor::from_elem(vec![1], 100.0))[[0]], 1.0);
/// ```
pub fn tanh(x: &Tensor) -> Tensor {
    map_tensor(x, f32::tanh)
}

/// Logistic sigmoid `1 / (1 + e^-x)`, computed without overflow for any `x`
/// (`e^x / (1 + e^x)` for negative `x`).
///
/// ```
/// use neurite_tensor::{unary::sigmoid, Tensor};
/// let y = sigmoid(&Tensor::from_shape_vec(vec![3], vec![-1e30, 0.0, 1e30]).unwrap());
/// assert_eq!(y.as_slice().unwrap(), &[0.0, 0.5, 1.0]);
/// ```
pub fn sigmoid(x: &Tensor) -> Tensor {
    map_tensor(x, sigmoid_scalar)
}

/// Rectified linear unit `max(x, 0)`; NaN stays NaN.
///
/// ```
/// use neurite_tensor::{unary::relu, Tensor};
/// assert_eq!(relu(&Tensor::from_elem(vec![1], -2.0))[[0]], 0.0);
/// ```
pub fn relu(x: &Tensor) -> Tensor {
    map_tensor(x, |v| if v < 0.0 { 0.0 } else { v })
}

/// GELU, exact form `0.5 x (1 + erf(x / sqrt 2))` (Keras' default `approximate=False`),
/// with [`erf`] (series near 0, Numerical Recipes' `erfcc` elsewhere).
///
/// ```
/// use neurite_tensor::{unary::gelu, Tensor};
/// let y = gelu(&Tensor::from_elem(vec![1], 1.0));
/// assert!((y[[0]] - 0.841_344_7).abs() < 1e-6);
/// ```
pub fn gelu(x: &Tensor) -> Tensor {
    map_tensor(x, |v| 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2)))
}

/// Softplus `ln(1 + e^x)`, computed stably as `max(x, 0) + ln(1 + e^-|x|)`.
///
/// ```
/// use neurite_tensor::{unary::softplus, Tensor};
/// let y = softplus(&Tensor::from_shape_vec(vec![2], vec![1000.0, -1000.0]).unwrap());
/// assert_eq!(y.as_slice().unwrap(), &[1000.0, 0.0]);
/// ```
pub fn softplus(x: &Tensor) -> Tensor {
    map_tensor(x, |v| v.max(0.0) + (-v.abs()).exp().ln_1p())
}

/// SELU: `scale * x` for `x > 0`, `scale * alpha * (e^x - 1)` otherwise
/// ([`SELU_ALPHA`], [`SELU_SCALE`]).
///
/// ```
/// use neurite_tensor::{unary::{selu, SELU_SCALE}, Tensor};
/// assert_eq!(selu(&Tensor::from_elem(vec![1], 1.0))[[0]], SELU_SCALE);
/// ```
pub fn selu(x: &Tensor) -> Tensor {
    map_tensor(x, |v| {
        if v > 0.0 {
            SELU_SCALE * v
        } else {
            SELU_SCALE * SELU_ALPHA * v.exp_m1()
        }
    })
}

/// Swish / SiLU `x * sigmoid(x)`.
///
/// ```
/// use neurite_tensor::{unary::swish, Tensor};
/// assert_eq!(swish(&Tensor::zeros(vec![1]))[[0]], 0.0);
/// ```
pub fn swish(x: &Tensor) -> Tensor {
    map_tensor(x, |v| v * sigmoid_scalar(v))
}

/// Leaky ReLU: `x` for `x >= 0`, `alpha * x` otherwise.
///
/// ```
/// use neurite_tensor::{unary::leaky_relu, Tensor};
/// assert_eq!(leaky_relu(&Tensor::from_elem(vec![1], -2.0), 0.3)[[0]], -0.6);
/// ```
pub fn leaky_relu(x: &Tensor, alpha: f32) -> Tensor {
    map_tensor(x, |v| if v < 0.0 { alpha * v } else { v })
}

/// ELU: `x` for `x > 0`, `alpha * (e^x - 1)` otherwise.
///
/// ```
/// use neurite_tensor::{unary::elu, Tensor};
/// let y = elu(&Tensor::from_elem(vec![1], -1e30), 1.0);
/// assert_eq!(y[[0]], -1.0);
/// ```
pub fn elu(x: &Tensor, alpha: f32) -> Tensor {
    map_tensor(x, |v| if v > 0.0 { v } else { alpha * v.exp_m1() })
}

/// Clips every element to `[min, max]`. NaN stays NaN; never panics: when
/// `min > max`, values below `min` become `min` and all others become `max`.
/// A NaN bound makes every element NaN (as NumPy's `clip` and PyTorch's
/// `clamp`), rather than silently leaving that side unclipped.
///
/// ```
/// use neurite_tensor::{unary::clip, Tensor};
/// let x = Tensor::from_shape_vec(vec![3], vec![-5.0, 0.5, 5.0]).unwrap();
/// assert_eq!(clip(&x, 0.0, 1.0).as_slice().unwrap(), &[0.0, 0.5, 1.0]);
/// assert!(clip(&x, f32::NAN, 1.0).iter().all(|v| v.is_nan()));
/// ```
pub fn clip(x: &Tensor, min: f32, max: f32) -> Tensor {
    if min.is_nan() || max.is_nan() {
        return x.mapv(|_| f32::NAN);
    }
    map_tensor(x, |v| {
        if v < min {
            min
        } else if v > max {
            max
        } else {
            v
        }
    })
}
