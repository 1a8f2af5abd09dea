//! Element-wise activations and unary functions: forward through the
//! `neurite_tensor::unary` kernels, backward as one fused pass
//! `dx = g * f'(.)` computed from the saved *output* where that is cheaper
//! (relu, sigmoid, tanh, exp, sqrt, elu, selu) and from the input otherwise.

use crate::error::Result;
use crate::var::Var;
use ndarray::Zip;
use neurite_tensor::unary::{self, erf, SELU_ALPHA, SELU_SCALE};
use neurite_tensor::{Tensor, TensorError};

/// An op whose backward is `g * df(x)`, `x` the input.
/// Errors unless the parameter `name` of `op` is finite (a NaN or infinite
/// slope would silently turn the output, or its gradient, into NaN).
fn check_finite(op: &'static str, name: &str, v: f32) -> Result<()> {
    if !v.is_finite() {
        return Err(TensorError::invalid(op, format!("{name} must be finite, found {v}")).into());
    }
    Ok(())
}

fn from_input(x: &Var, name: &'static str, value: Tensor, df: impl Fn(f32) -> f32 + Send + 'static) -> Var {
    let xc = x.clone();
    Var::from_op(
        value,
        name,
        &[x],
        Box::new(move |g| {
            let xv = xc.value();
            Ok(vec![Some(Zip::from(g).and(&*xv).map_collect(|&g, &x| g * df(x)))])
        }),
    )
}

/// An op whose backward is `g * df(y)`, `y` the output (no copy kept).
fn from_output(x: &Var, name: &'static str, value: Tensor, df: impl Fn(f32) -> f32 + Send + 'static) -> Var {
    Var::from_op_with_output(
        value,
        name,
        &[x],
        Box::new(move |g, y| Ok(vec![Some(Zip::from(g).and(y).map_collect(|&g, &y| g * df(y)))])),
    )
}

#[inline]
fn sigmoid_scalar(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Rectified linear unit `max(x, 0)`; gradient 1 where `x > 0`, else 0.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr1(&[-1.0f32, 2.0]).into_dyn());
/// let y = ops::relu(&x)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[0.0f32, 2.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[0.0f32, 1.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn relu(x: &Var) -> Result<Var> {
    let value = unary::relu(&x.value());
    Ok(from_output(x, "relu", value, |y| if y > 0.0 { 1.0 } else { 0.0 }))
}

/// Logistic sigmoid `1 / (1 + e^-x)` (stable for large `|x|`); backward `y (1 - y)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::sigmoid(&Var::scalar(0.0))?.item()?, 0.5);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sigmoid(x: &Var) -> Result<Var> {
    let value = unary::sigmoid(&x.value());
    Ok(from_output(x, "sigmoid", value, |y| y * (1.0 - y)))
}

/// Hyperbolic tangent; backward `1 - y^2`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::tanh(&Var::scalar(0.0))?.item()?, 0.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn tanh(x: &Var) -> Result<Var> {
    let value = unary::tanh(&x.value());
    Ok(from_output(x, "tanh", value, |y| 1.0 - y * y))
}

/// Leaky ReLU: `x` for `x >= 0`, `alpha * x` otherwise (Keras' `LeakyReLU`).
/// Errors if `alpha` is NaN or infinite.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert!((ops::leaky_relu(&Var::scalar(-2.0), 0.3)?.item()? + 0.6).abs() < 1e-6);
/// assert!(ops::leaky_relu(&Var::scalar(-2.0), f32::NAN).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn leaky_relu(x: &Var, alpha: f32) -> Result<Var> {
    check_finite("leaky_relu", "alpha", alpha)?;
    let value = unary::leaky_relu(&x.value(), alpha);
    Ok(from_input(x, "leaky_relu", value, move |x| {
        if x < 0.0 {
            alpha
        } else {
            1.0
        }
    }))
}

/// ELU: `x` for `x > 0`, `alpha (e^x - 1)` otherwise. Backward from the
/// output (`y + alpha` on the negative side) when `alpha >= 0`.
///
/// Errors if `alpha` is NaN or infinite.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::elu(&Var::scalar(2.0), 1.0)?.item()?, 2.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn elu(x: &Var, alpha: f32) -> Result<Var> {
    check_finite("elu", "alpha", alpha)?;
    let value = unary::elu(&x.value(), alpha);
    if alpha >= 0.0 {
        Ok(from_output(x, "elu", value, move |y| {
            if y > 0.0 {
                1.0
            } else {
                y + alpha
            }
        }))
    } else {
        Ok(from_input(x, "elu", value, move |x| {
            if x > 0.0 {
                1.0
            } else {
                alpha * x.exp()
            }
        }))
    }
}

/// SELU (self-normalising ELU, Keras' constants); backward from the output.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert!((ops::selu(&Var::scalar(1.0))?.item()? - 1.050_701).abs() < 1e-6);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn selu(x: &Var) -> Result<Var> {
    let value = unary::selu(&x.value());
    Ok(from_output(x, "selu", value, |y| {
        if y > 0.0 {
            SELU_SCALE
        } else {
            y + SELU_SCALE * SELU_ALPHA
        }
    }))
}

/// GELU, exact erf form `x Φ(x)` (Keras' default); backward `Φ(x) + x φ(x)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::gelu(&Var::scalar(0.0))?.item()?, 0.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn gelu(x: &Var) -> Result<Var> {
    let value = unary::gelu(&x.value());
    let inv_sqrt_2pi = 0.5 * std::f32::consts::FRAC_2_SQRT_PI * std::f32::consts::FRAC_1_SQRT_2;
    Ok(from_input(x, "gelu", value, move |x| {
        let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
        cdf + x * inv_sqrt_2pi * (-0.5 * x * x).exp()
    }))
}

/// Softplus `ln(1 + e^x)` (stable); backward `sigmoid(x)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert!((ops::softplus(&Var::scalar(0.0))?.item()? - 2f32.ln()).abs() < 1e-6);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn softplus(x: &Var) -> Result<Var> {
    let value = unary::softplus(&x.value());
    Ok(from_input(x, "softplus", value, sigmoid_scalar))
}

/// Swish / SiLU `x sigmoid(x)`; backward `s (1 + x (1 - s))`, `s = sigmoid(x)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::swish(&Var::scalar(0.0))?.item()?, 0.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn swish(x: &Var) -> Result<Var> {
    let value = unary::swish(&x.value());
    Ok(from_input(x, "swish", value, |x| {
        let s = sigmoid_scalar(x);
        s * (1.0 + x * (1.0 - s))
    }))
}

/// `e^x`; backward `y`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::exp(&Var::scalar(0.0))?.item()?, 1.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn exp(x: &Var) -> Result<Var> {
    let value = unary::exp(&x.value());
    Ok(from_output(x, "exp", value, |y| y))
}

/// Natural logarithm; backward `1 / x`. Non-positive inputs give `-inf`/NaN like `f32::ln`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::ln(&Var::scalar(1.0))?.item()?, 0.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn ln(x: &Var) -> Result<Var> {
    let value = unary::ln(&x.value());
    Ok(from_input(x, "ln", value, |x| 1.0 / x))
}

/// Square root; backward `0.5 / y`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::sqrt(&Var::scalar(4.0))?.item()?, 2.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sqrt(x: &Var) -> Result<Var> {
    let value = unary::sqrt(&x.value());
    Ok(from_output(x, "sqrt", value, |y| 0.5 / y))
}

/// Absolute value; gradient `sign(x)` (0 at 0).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::abs(&Var::scalar(-3.0))?.item()?, 3.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn abs(x: &Var) -> Result<Var> {
    let value = unary::abs(&x.value());
    Ok(from_input(x, "abs", value, |x| {
        if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        }
    }))
}

/// `x^2`; backward `2x`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::square(&Var::scalar(-3.0))?.item()?, 9.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn square(x: &Var) -> Result<Var> {
    let value = unary::square(&x.value());
    Ok(from_input(x, "square", value, |x| 2.0 * x))
}

/// Clips every element to `[lo, hi]`; the gradient passes where
/// `lo <= x <= hi` (inclusive, as TensorFlow's `clip_by_value`) and is 0
/// outside. `lo > hi` or a NaN bound is an error.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr1(&[-2.0f32, 0.5, 2.0]).into_dyn());
/// let y = ops::clip(&x, -1.0, 1.0)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[-1.0f32, 0.5, 1.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[0.0f32, 1.0, 0.0]).into_dyn());
/// assert!(ops::clip(&x, 1.0, -1.0).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn clip(x: &Var, lo: f32, hi: f32) -> Result<Var> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(
            TensorError::invalid("clip", format!("needs lo <= hi, found lo = {lo}, hi = {hi}")).into(),
        );
    }
    let value = unary::clip(&x.value(), lo, hi);
    Ok(from_input(x, "clip", value, move |x| {
        if x >= lo && x <= hi {
            1.0
        } else {
            0.0
        }
    }))
}
