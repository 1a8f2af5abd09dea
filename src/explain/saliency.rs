//! Vanilla gradients (saliency) and gradient × input.

use super::attribution::Attribution;
use super::gradients::{input_gradients, prepare};
use super::target::Target;
use crate::error::Result;
use crate::model::Model;
use neurite_nn::Layer;
use neurite_tensor::Tensor;

/// Vanilla gradients (Simonyan et al. 2013; Captum's `Saliency`): the
/// gradient of the target unit with respect to each input value, absolute
/// by default (as Captum's `abs=True`).
///
/// ```
/// use neurite::prelude::*;
/// use neurite::explain::{Saliency, Target};
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([2]));
/// model.build(&[2])?;
/// let x = ndarray::arr2(&[[3.0f32, -1.0]]).into_dyn();
/// let raw = Saliency::new().abs(false).explain(&model, &x, &Target::Unit(0))?;
/// let w = model.get_weights()[0].clone(); // the kernel, (2, 1)
/// assert_eq!(raw.values[[0, 1]], w[[1, 0]]);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Saliency {
    abs: bool,
    batch_size: usize,
}

impl Default for Saliency {
    fn default() -> Self {
        Self::new()
    }
}

impl Saliency {
    /// Absolute gradients, batches of 32.
    pub fn new() -> Self {
        Saliency {
            abs: true,
            batch_size: 32,
        }
    }

    /// Whether to return the gradients' absolute values (default `true`).
    pub fn abs(mut self, abs: bool) -> Self {
        self.abs = abs;
        self
    }

    /// Rows per forward/backward pass (default 32; 0 is an error).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The attributions of `x`'s samples for `target`.
    pub fn explain<N: Layer>(&self, model: &Model<N>, x: &Tensor, target: &Target) -> Result<Attribution> {
        let p = prepare(model, x, target, self.batch_size, "saliency")?;
        let mut values = input_gradients(model, x, &p.units, self.batch_size)?;
        if self.abs {
            values.mapv_inplace(f32::abs);
        }
        Ok(Attribution {
            method: "saliency".into(),
            values,
            targets: p.units,
            outputs: p.outputs,
        })
    }
}

/// Gradient × input (Shrikumar et al. 2016; Captum's `InputXGradient`):
/// each input value times the target's gradient with respect to it.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::explain::{GradientXInput, Target};
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([2]));
/// model.build(&[2])?;
/// let x = ndarray::arr2(&[[3.0f32, -1.0]]).into_dyn();
/// let a = GradientXInput::new().explain(&model, &x, &Target::Unit(0))?;
/// let w = model.get_weights()[0].clone();
/// assert_eq!(a.values[[0, 0]], 3.0 * w[[0, 0]]);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct GradientXInput {
    batch_size: usize,
}

impl Default for GradientXInput {
    fn default() -> Self {
        Self::new()
    }
}

impl GradientXInput {
    /// Batches of 32.
    pub fn new() -> Self {
        GradientXInput { batch_size: 32 }
    }

    /// Rows per forward/backward pass (default 32; 0 is an error).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The attributions of `x`'s samples for `target`.
    pub fn explain<N: Layer>(&self, model: &Model<N>, x: &Tensor, target: &Target) -> Result<Attribution> {
        let p = prepare(model, x, target, self.batch_size, "gradient_x_input")?;
        let values = input_gradients(model, x, &p.units, self.batch_size)? * x;
        Ok(Attribution {
            method: "gradient_x_input".into(),
            values,
            targets: p.units,
            outputs: p.outputs,
        })
    }
}
