//! SmoothGrad: gradients averaged over noisy copies of the input.

use super::attribution::Attribution;
use super::gradients::{input_gradients, prepare};
use super::target::Target;
use crate::error::{Error, Result};
use crate::model::Model;
use ndarray::Axis;
use neurite_nn::Layer;
use neurite_rand::rand::RngCore;
use neurite_rand::Generator;
use neurite_tensor::Tensor;

/// SmoothGrad (Smilkov et al. 2017): the mean of the target's gradients at
/// `samples` copies of each input with Gaussian noise added, of standard
/// deviation `noise_level × (max − min)` of that input's values (the
/// paper's noise level; 0.15 and 50 samples are its suggestions and the
/// defaults). The noise of sample `i` is drawn from
/// `Generator::for_purpose(seed, [i])`, so it does not depend on the
/// batch size or on the other samples.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::explain::{SmoothGrad, Target};
/// let mut model = Sequential::new()
///     .add(Dense::new(4).activation(Activation::Tanh).input_shape([3]))
///     .add(Dense::new(2));
/// model.build(&[3])?;
/// let x = ndarray::arr2(&[[0.5f32, -1.0, 2.0]]).into_dyn();
/// let smooth = SmoothGrad::new().samples(8).noise_level(0.1).seed(7);
/// let a = smooth.explain(&model, &x, &Target::Unit(1))?;
/// let b = smooth.explain(&model, &x, &Target::Unit(1))?;
/// assert_eq!(a.values, b.values); // seeded
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SmoothGrad {
    samples: usize,
    noise_level: f32,
    seed: u64,
    batch_size: usize,
}

impl Default for SmoothGrad {
    fn default() -> Self {
        Self::new()
    }
}

impl SmoothGrad {
    /// 50 noisy copies, noise level 0.15, seed 0, batches of 32.
    pub fn new() -> Self {
        SmoothGrad {
            samples: 50,
            noise_level: 0.15,
            seed: 0,
            batch_size: 32,
        }
    }

    /// Noisy copies per input (default 50; 0 is an error).
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// The noise's standard deviation as a fraction of each input's value
    /// range (default 0.15; negative or non-finite is an error).
    pub fn noise_level(mut self, noise_level: f32) -> Self {
        self.noise_level = noise_level;
        self
    }

    /// The seed of the noise (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Rows (noisy copies) per forward/backward pass (default 32; 0 is an error).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The attributions of `x`'s samples for `target`.
    pub fn explain<N: Layer>(&self, model: &Model<N>, x: &Tensor, target: &Target) -> Result<Attribution> {
        if self.samples == 0 {
            return Err(Error::Input(
                "smooth_grad: samples must be at least 1, found 0".into(),
            ));
        }
        if !(self.noise_level.is_finite() && self.noise_level >= 0.0) {
            return Err(Error::Input(format!(
                "smooth_grad: noise_level must be a finite number >= 0, found {}",
                self.noise_level
            )));
        }
        let p = prepare(model, x, target, self.batch_size, "smooth_grad")?;
        let m = self.samples;
        let mut values = Tensor::zeros(x.raw_dim());
        for i in 0..x.len_of(Axis(0)) {
            let sample = x.index_axis(Axis(0), i);
            let (lo, hi) = sample
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let sigma = self.noise_level * (hi - lo);
            let mut rng = Generator::for_purpose(self.seed, &[i as u64]);
            let mut shape = x.shape().to_vec();
            shape[0] = m;
            let mut points = Tensor::zeros(ndarray::IxDyn(&shape));
            for mut row in points.axis_iter_mut(Axis(0)) {
                row.assign(&sample);
                row.mapv_inplace(|v| v + sigma * standard_normal(&mut rng));
            }
            let grads = input_gradients(model, &points, &vec![p.units[i]; m], self.batch_size)?;
            let mean = grads.sum_axis(Axis(0)) / m as f32;
            values.index_axis_mut(Axis(0), i).assign(&mean);
        }
        Ok(Attribution {
            method: "smooth_grad".into(),
            values,
            targets: p.units,
            outputs: p.outputs,
        })
    }
}

/// One draw of N(0, 1) (Box–Muller on two uniform draws in (0, 1]).
pub(crate) fn standard_normal(rng: &mut Generator) -> f32 {
    let uniform = |rng: &mut Generator| ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let (u1, u2) = (uniform(rng), uniform(rng));
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}
