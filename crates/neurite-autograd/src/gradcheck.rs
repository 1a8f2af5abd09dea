//! Gradient checking: analytic gradients from `backward()` against central
//! finite differences.

use crate::error::{AutogradError, Result};
use crate::no_grad::no_grad;
use crate::var::Var;
use neurite_rand::Generator;
use neurite_tensor::{Tensor, TensorError};
use rand::Rng;

/// Tolerances of [`gradcheck`].
///
/// The forward pass runs in `f32`; the finite-difference quotient is formed
/// in `f64` from the `f32` outputs. Two criteria must hold for every input:
/// - per element, `|analytic - numeric| <= atol + rtol * |numeric|`;
/// - over the whole input, with Euclidean norms over its `len` elements,
///   `||analytic - numeric|| <= rtol * ||numeric|| + (atol / 10) * sqrt(len)`:
///   the disagreement's root mean square must stay below a tenth of `atol`
///   (plus the relative part), so a gradient that is missing (zero), halved
///   or of the wrong sign fails even where every true element is below `atol`
///   (with the defaults, wherever the true gradient's root mean square
///   exceeds about 0.001).
///
/// ```
/// let strict = neurite_autograd::GradcheckOptions { atol: 1e-3, rtol: 1e-3, ..Default::default() };
/// assert_eq!(strict.eps, 1e-3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f32,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Seed of the random upstream gradient that projects a non-scalar output to a scalar.
    pub seed: u64,
}

impl GradcheckOptions {
    /// Errors unless `eps` is finite and positive and `atol`, `rtol` are
    /// finite and non-negative (a NaN tolerance would pass every element).
    ///
    /// ```
    /// use neurite_autograd::GradcheckOptions;
    /// assert!(GradcheckOptions::default().validate().is_ok());
    /// assert!(GradcheckOptions { eps: 0.0, ..Default::default() }.validate().is_err());
    /// assert!(GradcheckOptions { atol: f64::NAN, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, want: &str, found: String| {
            Err(TensorError::invalid(
                "gradcheck",
                format!("options.{field} must be {want}, found {found}"),
            )
            .into())
        };
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", "finite and > 0", self.eps.to_string());
        }
        if !(self.atol.is_finite() && self.atol >= 0.0) {
            return bad("atol", "finite and >= 0", self.atol.to_string());
        }
        if !(self.rtol.is_finite() && self.rtol >= 0.0) {
            return bad("rtol", "finite and >= 0", self.rtol.to_string());
        }
        Ok(())
    }
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-3,
            atol: 1e-2,
            rtol: 1e-2,
            seed: 0,
        }
    }
}

/// Checks the gradients of `f` at `inputs`: every input becomes a parameter,
/// the output is projected to a scalar `L = sum(f(inputs) * R)` with a fixed
/// random `R`, and `dL/d input` from `backward()` is compared element by
/// element with `(L(x + eps) - L(x - eps)) / (2 eps)`.
///
/// Returns the first disagreement as [`AutogradError::GradcheckFailed`]: the
/// first element outside the per-element tolerance, or, for an input whose
/// gradient fails the norm criterion (see [`GradcheckOptions`]), its element
/// that disagrees most. A non-finite value on either side (analytic or
/// finite-difference) is always a disagreement. Errors on invalid `options` (see
/// [`GradcheckOptions::validate`]).
///
/// ```
/// use neurite_autograd::{gradcheck, ops, GradcheckOptions};
/// let x = ndarray::arr2(&[[0.3f32, -1.2], [2.0, 0.7]]).into_dyn();
/// gradcheck(|v| ops::mul(&v[0], &v[0]), &[x], &GradcheckOptions::default())?;
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn gradcheck<F>(f: F, inputs: &[Tensor], options: &GradcheckOptions) -> Result<()>
where
    F: Fn(&[Var]) -> Result<Var>,
{
    options.validate()?;
    let params: Vec<Var> = inputs.iter().map(|t| Var::parameter(t.clone())).collect();
    let out = f(&params)?;
    let mut rng = Generator::seed_from_u64(options.seed);
    let projection = out.value().mapv(|_| rng.random_range(-1.0f32..1.0));
    if out.requires_grad() {
        out.backward_with(projection.clone())?;
    }
    drop(out);

    let project = |values: &[Tensor]| -> Result<f64> {
        let vars: Vec<Var> = values.iter().map(|t| Var::constant(t.clone())).collect();
        let y = no_grad(|| f(&vars))?;
        let y = y.value();
        if y.shape() != projection.shape() {
            return Err(AutogradError::Backward(format!(
                "gradcheck: the function returned shape {:?} for a perturbed input but {:?} at the \
                 given inputs; its output shape must not depend on the input values",
                y.shape(),
                projection.shape()
            )));
        }
        Ok(y.iter()
            .zip(projection.iter())
            .map(|(&a, &r)| a as f64 * r as f64)
            .sum())
    };

    let mut work: Vec<Tensor> = inputs.to_vec();
    for (i, param) in params.iter().enumerate() {
        let analytic = param.grad().unwrap_or_else(|| Tensor::zeros(inputs[i].raw_dim()));
        if analytic.shape() != inputs[i].shape() {
            return Err(AutogradError::Backward(format!(
                "gradcheck: input {i} has shape {:?} but its gradient has shape {:?}",
                inputs[i].shape(),
                analytic.shape()
            )));
        }
        // Sums of squares of the numeric gradient and of the disagreement,
        // and the element that disagrees most (reported if the norms fail).
        let (mut numeric_sq, mut diff_sq) = (0.0f64, 0.0f64);
        let mut worst: Option<(usize, f64, f64)> = None;
        for (j, &a) in analytic.iter().enumerate() {
            let original = *work[i].iter().nth(j).expect("index in range");
            set_flat(&mut work[i], j, original + options.eps);
            let plus = project(&work)?;
            set_flat(&mut work[i], j, original - options.eps);
            let minus = project(&work)?;
            set_flat(&mut work[i], j, original);
            let numeric = (plus - minus) / (2.0 * options.eps as f64);
            let a = a as f64;
            // Written so that a NaN on either side fails: every comparison
            // with NaN is false, so `!(... <= tol)` is true for it.
            let within = (a - numeric).abs() <= options.atol + options.rtol * numeric.abs();
            if !within || !a.is_finite() || !numeric.is_finite() {
                return Err(AutogradError::GradcheckFailed {
                    input: i,
                    index: j,
                    analytic: a,
                    numeric,
                });
            }
            numeric_sq += numeric * numeric;
            diff_sq += (a - numeric) * (a - numeric);
            if worst.is_none_or(|(_, wa, wn)| (a - numeric).abs() > (wa - wn).abs()) {
                worst = Some((j, a, numeric));
            }
        }
        let len = analytic.len() as f64;
        let norm_tol = options.rtol * numeric_sq.sqrt() + NORM_ATOL_FRACTION * options.atol * len.sqrt();
        if let Some((index, analytic, numeric)) = worst.filter(|_| diff_sq.sqrt() > norm_tol) {
            return Err(AutogradError::GradcheckFailed {
                input: i,
                index,
                analytic,
                numeric,
            });
        }
    }
    Ok(())
}

/// The norm criterion's absolute term per element, as a fraction of `atol`
/// (see [`GradcheckOptions`]).
const NORM_ATOL_FRACTION: f64 = 0.1;

fn set_flat(t: &mut Tensor, index: usize, value: f32) {
    if let Some(x) = t.iter_mut().nth(index) {
        *x = value;
    }
}
