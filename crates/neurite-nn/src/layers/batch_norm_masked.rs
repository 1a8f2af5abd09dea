//! `BatchNormalization` called with a mask (Keras 3's `call(inputs, training,
//! mask)`): in training the batch mean and variance are taken over the valid
//! (unmasked) positions only, as Keras' `_moments`:
//!
//! - the `(batch, timesteps)` mask is expanded on a last axis and broadcast to
//!   the `(batch, timesteps, features)` input (`w`, 0 or 1 per element);
//! - `mean = sum(where(w, x, 0)) / (sum(w) + 1e-7)` and
//!   `variance = sum(where(w, x - mean, 0)^2) / (sum(w) + 1e-7)` over every
//!   axis but the channel axis (`1e-7` is Keras' `backend.epsilon()`);
//! - the moving statistics are updated from those moments and every position,
//!   masked or not, is normalized with them.
//!
//! In inference (or for a frozen layer) the mask changes nothing. The pass is
//! a composition of `neurite_autograd::ops`, so the gradients flow through
//! the masked moments; the unmasked layer keeps its fused kernel.

use super::BatchNormalization;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layers::shape_error;
use crate::layers::weighted::regularize_each;
use crate::mask::{self, Mask};
use ndarray::{Axis, IxDyn};
use neurite_autograd::{ops, Var};
use neurite_tensor::Tensor;

/// Keras' `backend.epsilon()`, added to the count of valid positions.
const COUNT_EPSILON: f32 = 1e-7;

impl BatchNormalization {
    /// Keras' check of a mask given to `BatchNormalization`: one axis less
    /// than the input (so a `(batch, timesteps)` mask goes with a
    /// `(batch, timesteps, features)` input), then the usual
    /// [`mask::check_mask`]. Errors name the layer and both shapes.
    pub(super) fn check_call_mask(&self, x_shape: &[usize], m: &Mask) -> Result<()> {
        if m.ndim() + 1 != x_shape.len() {
            return Err(shape_error(
                &self.cfg.name,
                format!(
                    "(batch, timesteps, features): one axis more than the mask of shape {:?} \
                     (Keras: the mask must have one dimension less than the inputs)",
                    m.shape()
                ),
                x_shape,
            ));
        }
        mask::check_mask(&self.cfg.name, x_shape, m)
    }

    /// The training pass with a mask (see the module docs): masked moments,
    /// moving statistics updated from them, every position normalized.
    pub(super) fn normalize_masked(&self, x: &Var, m: &Mask, ctx: &mut ForwardContext) -> Result<Var> {
        let (Some(moving_mean), Some(moving_variance)) = (&self.moving_mean, &self.moving_variance) else {
            return Err(crate::NnError::NotBuilt(self.cfg.name.clone()));
        };
        let shape = x.shape();
        self.check_input_shape(&shape)?;
        self.check_call_mask(&shape, m)?;
        regularize_each(
            ctx,
            &[
                (self.cfg.gamma_regularizer, self.gamma.as_ref()),
                (self.cfg.beta_regularizer, self.beta.as_ref()),
            ],
        )?;
        let rank = shape.len();
        let reduce: Vec<usize> = (0..rank).filter(|&a| a != self.axis).collect();
        // The mask expanded on a last axis and broadcast to the input (Keras'
        // `broadcast_to(expand_dims(mask, -1), shape(inputs))`).
        let mut expanded = m.shape().to_vec();
        expanded.push(1);
        let weights: Tensor = mask::normalized(m)
            .into_shape_with_order(IxDyn(&expanded))
            .expect("one more axis of size 1")
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| {
                shape_error(
                    &self.cfg.name,
                    format!("an input that the mask of shape {:?} broadcasts to", m.shape()),
                    &shape,
                )
            })?
            .to_owned();
        // sum(w) + epsilon, kept as (1, .., channels, .., 1).
        let mut count = weights.clone();
        for &a in reduce.iter().rev() {
            count = count.sum_axis(Axis(a)).insert_axis(Axis(a));
        }
        let count = Var::constant(count.mapv(|s| s + COUNT_EPSILON));
        let zero = Var::constant(Tensor::zeros(IxDyn(&[])));

        let masked = ops::where_select(&weights, x, &zero)?;
        let mean = ops::div(&ops::sum_axes(&masked, &reduce, true)?, &count)?;
        let centered = ops::sub(x, &mean)?;
        let masked_centered = ops::where_select(&weights, &centered, &zero)?;
        let variance = ops::div(
            &ops::sum_axes(&ops::square(&masked_centered)?, &reduce, true)?,
            &count,
        )?;

        let momentum = self.cfg.momentum;
        let blend = |moving: &Var, batch: &Var| {
            let batch = batch.value();
            let mut mv = moving.value_mut();
            for (m, &b) in mv.iter_mut().zip(batch.iter()) {
                *m = *m * momentum + b * (1.0 - momentum);
            }
        };
        blend(moving_mean, &mean);
        blend(moving_variance, &variance);

        let mut channel_shape = vec![1; rank];
        channel_shape[self.axis] = self.channels;
        let std = ops::sqrt(&ops::add_scalar(&variance, self.cfg.epsilon)?)?;
        let mut y = ops::div(&centered, &std)?;
        if let Some(g) = &self.gamma {
            y = ops::mul(&y, &ops::reshape(g, &channel_shape)?)?;
        }
        if let Some(b) = &self.beta {
            y = ops::add(&y, &ops::reshape(b, &channel_shape)?)?;
        }
        Ok(y)
    }
}
