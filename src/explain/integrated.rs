//! Integrated Gradients, with Captum's quadrature rules.

use super::attribution::Attribution;
use super::gradients::{input_gradients, prepare};
use super::target::Target;
use crate::error::{Error, Result};
use crate::model::Model;
use ndarray::{Axis, Slice};
use neurite_nn::Layer;
use neurite_tensor::Tensor;

/// The reference input Integrated Gradients integrates from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Baseline {
    /// All zeros (the default, as Captum's).
    #[default]
    Zeros,
    /// Every value set to this one.
    Value(f32),
    /// One sample's shape (the same baseline for every sample) or the
    /// input's full shape (one baseline per sample).
    Tensor(Tensor),
}

/// How the path integral is approximated (Captum's `method`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Integration {
    /// Gauss–Legendre quadrature on `[0, 1]` (Captum's default,
    /// `"gausslegendre"`): exact for polynomials of degree up to
    /// `2·steps − 1` along the path.
    #[default]
    GaussLegendre,
    /// The trapezoid rule on `steps` evenly spaced points including both
    /// ends (`"riemann_trapezoid"`; needs `steps >= 2`); its error shrinks as
    /// `1/steps²`.
    RiemannTrapezoid,
    /// Left Riemann sum (`"riemann_left"`).
    RiemannLeft,
    /// Right Riemann sum (`"riemann_right"`).
    RiemannRight,
    /// Midpoint Riemann sum (`"riemann_middle"`).
    RiemannMiddle,
}

impl Integration {
    /// The points `alpha` in `[0, 1]` and their weights (summing to 1) for
    /// `steps` evaluations. Errors for 0 steps, and for 1 step of the trapezoid rule.
    ///
    /// ```
    /// use neurite::explain::Integration;
    /// let (alphas, weights) = Integration::RiemannTrapezoid.points(3)?;
    /// assert_eq!((alphas, weights), (vec![0.0, 0.5, 1.0], vec![0.25, 0.5, 0.25]));
    /// let (_, w) = Integration::GaussLegendre.points(5)?;
    /// assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    /// assert!(Integration::GaussLegendre.points(0).is_err());
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn points(self, steps: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        if steps == 0 || (steps == 1 && self == Integration::RiemannTrapezoid) {
            return Err(Error::Input(format!(
                "integrated_gradients: steps must be at least {} for {self:?}, found {steps}",
                if self == Integration::RiemannTrapezoid {
                    2
                } else {
                    1
                }
            )));
        }
        let n = steps as f64;
        Ok(match self {
            Integration::GaussLegendre => gauss_legendre(steps),
            Integration::RiemannTrapezoid => {
                let alphas = (0..steps).map(|i| i as f64 / (n - 1.0)).collect();
                let mut weights = vec![1.0 / (n - 1.0); steps];
                weights[0] *= 0.5;
                weights[steps - 1] *= 0.5;
                (alphas, weights)
            }
            Integration::RiemannLeft => ((0..steps).map(|i| i as f64 / n).collect(), vec![1.0 / n; steps]),
            Integration::RiemannRight => ((1..=steps).map(|i| i as f64 / n).collect(), vec![1.0 / n; steps]),
            Integration::RiemannMiddle => (
                (0..steps).map(|i| (i as f64 + 0.5) / n).collect(),
                vec![1.0 / n; steps],
            ),
        })
    }
}

/// Gauss–Legendre nodes and weights mapped from `[-1, 1]` to `[0, 1]`
/// (Newton's method on the Legendre polynomial, as Numerical Recipes' `gauleg`).
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut alphas, mut weights) = (vec![0.0; n], vec![0.0; n]);
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            // P_n(z) by the three-term recurrence, and P_n'(z).
            let (mut p1, mut p2) = (1.0, 0.0);
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                p1 = ((2.0 * j as f64 + 1.0) * z * p2 - j as f64 * p3) / (j as f64 + 1.0);
            }
            derivative = nf * (z * p1 - p2) / (z * z - 1.0);
            let step = p1 / derivative;
            z -= step;
            if step.abs() < 1e-15 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - z * z) * derivative * derivative);
        // Nodes z and -z on [-1, 1] map to (1 - z)/2 and (1 + z)/2; weights halve.
        alphas[i] = (1.0 - z) / 2.0;
        alphas[n - 1 - i] = (1.0 + z) / 2.0;
        weights[i] = w / 2.0;
        weights[n - 1 - i] = w / 2.0;
    }
    (alphas, weights)
}

/// Integrated Gradients (Sundararajan et al. 2017; Captum's
/// `IntegratedGradients`): `(x − baseline) × ∫₀¹ ∂f(baseline + α(x − baseline))/∂x dα`,
/// the integral approximated by an [`Integration`] rule on `steps` points
/// (default Gauss–Legendre on 50 points, Captum's defaults). The
/// attributions of a sample sum to `f(x) − f(baseline)` up to the
/// integration error (completeness).
///
/// ```
/// use neurite::prelude::*;
/// use neurite::explain::{Baseline, IntegratedGradients, Integration, Target};
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([2]));
/// model.build(&[2])?;
/// let x = ndarray::arr2(&[[3.0f32, -1.0]]).into_dyn();
/// let ig = IntegratedGradients::new().baseline(Baseline::Value(1.0)).integration(Integration::RiemannTrapezoid).steps(2);
/// let a = ig.explain(&model, &x, &Target::Unit(0))?;
/// let w = model.get_weights()[0].clone();
/// assert!((a.values[[0, 1]] - (-1.0 - 1.0) * w[[1, 0]]).abs() < 1e-6); // linear: exact
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct IntegratedGradients {
    baseline: Baseline,
    steps: usize,
    integration: Integration,
    batch_size: usize,
}

impl Default for IntegratedGradients {
    fn default() -> Self {
        Self::new()
    }
}

impl IntegratedGradients {
    /// Zero baseline, 50 Gauss–Legendre points, batches of 32.
    pub fn new() -> Self {
        IntegratedGradients {
            baseline: Baseline::Zeros,
            steps: 50,
            integration: Integration::GaussLegendre,
            batch_size: 32,
        }
    }

    /// The baseline (default zeros).
    pub fn baseline(mut self, baseline: Baseline) -> Self {
        self.baseline = baseline;
        self
    }

    /// Points on the path (default 50; 0 is an error).
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// The quadrature rule (default Gauss–Legendre).
    pub fn integration(mut self, integration: Integration) -> Self {
        self.integration = integration;
        self
    }

    /// Rows (path points) per forward/backward pass (default 32; 0 is an error).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The baselines of `x`'s samples, shaped as `x`.
    fn baselines(&self, x: &Tensor) -> Result<Tensor> {
        match &self.baseline {
            Baseline::Zeros => Ok(Tensor::zeros(x.raw_dim())),
            Baseline::Value(v) if v.is_finite() => Ok(Tensor::from_elem(x.raw_dim(), *v)),
            Baseline::Value(v) => Err(Error::Input(format!(
                "integrated_gradients: the baseline value must be finite, found {v}"
            ))),
            Baseline::Tensor(b) => {
                if b.iter().any(|v| !v.is_finite()) {
                    return Err(Error::Input(
                        "integrated_gradients: the baseline tensor holds a non-finite value".into(),
                    ));
                }
                if b.shape() == x.shape() {
                    Ok(b.clone())
                } else if b.shape() == &x.shape()[1..] {
                    Ok(b.broadcast(x.raw_dim())
                        .expect("a sample's shape broadcasts over the batch")
                        .to_owned())
                } else {
                    Err(Error::Input(format!(
                        "integrated_gradients: the baseline has shape {:?}; expected one sample's shape {:?} or the input's {:?}",
                        b.shape(),
                        &x.shape()[1..],
                        x.shape()
                    )))
                }
            }
        }
    }

    /// The attributions of `x`'s samples for `target`.
    pub fn explain<N: Layer>(&self, model: &Model<N>, x: &Tensor, target: &Target) -> Result<Attribution> {
        let (alphas, weights) = self.integration.points(self.steps)?;
        let baselines = self.baselines(x)?;
        let p = prepare(model, x, target, self.batch_size, "integrated_gradients")?;
        let (n, m) = (x.len_of(Axis(0)), alphas.len());
        // Samples per group: the group's path points are about `batch_size` rows or more.
        let group = self.batch_size.div_ceil(m).max(1);
        let mut values = Tensor::zeros(x.raw_dim());
        for start in (0..n).step_by(group) {
            let end = (start + group).min(n);
            let mut shape = x.shape().to_vec();
            shape[0] = (end - start) * m;
            let mut points = Tensor::zeros(ndarray::IxDyn(&shape));
            let mut units = Vec::with_capacity(shape[0]);
            for i in start..end {
                let (xi, bi) = (x.index_axis(Axis(0), i), baselines.index_axis(Axis(0), i));
                for (k, &alpha) in alphas.iter().enumerate() {
                    let a = alpha as f32;
                    let mut row = points.index_axis_mut(Axis(0), (i - start) * m + k);
                    ndarray::Zip::from(&mut row)
                        .and(&xi)
                        .and(&bi)
                        .for_each(|r, &xv, &bv| *r = bv + a * (xv - bv));
                    units.push(p.units[i]);
                }
            }
            let grads = input_gradients(model, &points, &units, self.batch_size)?;
            for i in start..end {
                let rows = grads.slice_axis(Axis(0), Slice::from((i - start) * m..(i - start + 1) * m));
                let mut out = values.index_axis_mut(Axis(0), i);
                for (g, &w) in rows.axis_iter(Axis(0)).zip(&weights) {
                    out.scaled_add(w as f32, &g);
                }
                out.zip_mut_with(
                    &(&x.index_axis(Axis(0), i) - &baselines.index_axis(Axis(0), i)),
                    |o, &d| *o *= d,
                );
            }
        }
        Ok(Attribution {
            method: "integrated_gradients".into(),
            values,
            targets: p.units,
            outputs: p.outputs,
        })
    }
}
