//! The element-wise activations the fused recurrent kernels apply in place
//! (each with its derivative computed from its output), and the fast `tanh`
//! and `sigmoid` they use.

use crate::activation::Activation;
use crate::error::{NnError, Result};

/// An element-wise activation usable inside the fused recurrent kernels
/// (its derivative is computed from its output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellActivation {
    Tanh,
    Sigmoid,
    Relu,
    Linear,
}

impl CellActivation {
    /// The kernel form of a configured activation; `layer` names the layer in the error.
    pub(crate) fn from_activation(layer: &str, key: &str, a: Activation) -> Result<Self> {
        match a {
            Activation::Tanh => Ok(CellActivation::Tanh),
            Activation::Sigmoid => Ok(CellActivation::Sigmoid),
            Activation::Relu => Ok(CellActivation::Relu),
            Activation::Linear => Ok(CellActivation::Linear),
            other => Err(NnError::Config {
                layer: layer.to_string(),
                message: format!(
                    "{key} {:?} is not supported in recurrent layers (use tanh, sigmoid, relu or linear)",
                    other.name()
                ),
            }),
        }
    }

    /// The activation of every value of `xs`, in place (the match is outside
    /// the loop, so the loop body is branch-free and vectorizes; always
    /// inlined, so that it is compiled for the target features of its caller).
    #[inline(always)]
    pub(crate) fn apply_slice(self, xs: &mut [f32]) {
        match self {
            CellActivation::Tanh => xs.iter_mut().for_each(|v| *v = fast_tanh(*v)),
            CellActivation::Sigmoid => xs.iter_mut().for_each(|v| *v = sigmoid(*v)),
            CellActivation::Relu => xs.iter_mut().for_each(|v| *v = v.max(0.0)),
            CellActivation::Linear => {}
        }
    }

    /// `out[j]` = the derivative at the point whose activation is `ys[j]`
    /// (match outside the loop, as [`CellActivation::apply_slice`]).
    #[inline(always)]
    pub(crate) fn derivative_slice(self, ys: &[f32], out: &mut [f32]) {
        let pairs = out.iter_mut().zip(ys);
        match self {
            CellActivation::Tanh => pairs.for_each(|(d, &y)| *d = 1.0 - y * y),
            CellActivation::Sigmoid => pairs.for_each(|(d, &y)| *d = y * (1.0 - y)),
            CellActivation::Relu => pairs.for_each(|(d, &y)| *d = if y > 0.0 { 1.0 } else { 0.0 }),
            CellActivation::Linear => out.fill(1.0),
        }
    }

    /// The derivative at the point whose activation is `y`.
    #[inline]
    pub(crate) fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            CellActivation::Tanh => 1.0 - y * y,
            CellActivation::Sigmoid => y * (1.0 - y),
            CellActivation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            CellActivation::Linear => 1.0,
        }
    }
}

/// `tanh` as a rational function (the minimax approximation Eigen uses for
/// `float`): inputs clamped to `±7.9053` where it reaches ±1, then
/// `x P(x²) / Q(x²)` with P of degree 6 and Q of degree 3. Maximum absolute
/// error 3.5e-7 against `f64` tanh (checked in the tests); unlike libm's
/// `tanhf` it is branch-free and auto-vectorizes, which made the LSTM
/// forward pass several times faster. NaN stays NaN.
#[inline(always)]
pub(crate) fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
    let q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0;
    p / q
}

/// `1 / (1 + e^-x) = (1 + tanh(x / 2)) / 2`, through [`fast_tanh`].
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    0.5 * fast_tanh(0.5 * x) + 0.5
}

#[cfg(test)]
mod tests {
    use super::{fast_tanh, sigmoid};

    #[test]
    fn fast_tanh_and_sigmoid_are_accurate() {
        let mut worst = (0.0f64, 0.0f64);
        for i in -1_200_000..=1_200_000 {
            let x = i as f32 * 1e-5;
            let e = (fast_tanh(x) as f64 - (x as f64).tanh()).abs();
            let es = (sigmoid(x) as f64 - 1.0 / (1.0 + (-(x as f64)).exp())).abs();
            worst = (worst.0.max(e), worst.1.max(es));
        }
        assert!(worst.0 < 5e-7 && worst.1 < 5e-7, "max errors {worst:?}");
        assert_eq!(fast_tanh(100.0), 1.0);
        assert_eq!(fast_tanh(-100.0), -1.0);
        assert!(fast_tanh(f32::NAN).is_nan());
        assert!(fast_tanh(1e-30) > 0.0);
    }
}
