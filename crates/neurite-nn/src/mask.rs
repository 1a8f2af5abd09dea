//! Masks of padded sequences (Keras' `_keras_mask`): which timesteps of a
//! `(batch, timesteps, ...)` batch are real data and which are padding.
//!
//! A mask is a [`Mask`]: an `f32` tensor of shape `(batch, timesteps)`
//! holding `1.0` at valid steps and `0.0` at padded ones (Keras uses `bool`;
//! any non-zero value counts as valid here, as Keras' `cast(mask, "bool")`).
//! Producers ([`crate::layers::Embedding`] with `mask_zero`,
//! [`crate::layers::TokenAndPositionEmbedding`] with `mask_zero`,
//! [`crate::layers::Masking`]) make one through [`crate::Layer::compute_mask`];
//! containers carry it along with each value and hand it to the next layer's
//! [`crate::Layer::forward_masked`]; the training loop excludes masked
//! entries from the loss and the metrics (Keras 3's `apply_mask`).

use crate::error::{NnError, Result};
use ndarray::{Axis, IxDyn};
use neurite_autograd::Var;
use neurite_tensor::Tensor;

/// A `(batch, timesteps)` mask: `1.0` valid, `0.0` padded (see the module docs).
///
/// ```
/// let m: neurite_nn::mask::Mask = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
/// assert_eq!(m.shape(), &[1, 3]);
/// ```
pub type Mask = Tensor;

/// A layer's output together with its output mask (what
/// [`crate::Layer::forward_masked`] returns).
///
/// ```
/// let out: neurite_nn::mask::Masked = (neurite_autograd::Var::scalar(1.0), None);
/// assert!(out.1.is_none());
/// ```
pub type Masked = (Var, Option<Mask>);

/// Checks that `mask` fits an input of shape `x_shape` (with its batch axis):
/// the input must have at least 2 axes and the mask must be
/// `(batch, timesteps)` of that input. The error names `layer` and both shapes.
///
/// ```
/// use neurite_nn::mask::check_mask;
/// let m = ndarray::Array2::<f32>::ones((2, 5)).into_dyn();
/// assert!(check_mask("lstm_1", &[2, 5, 3], &m).is_ok());
/// let e = check_mask("lstm_1", &[2, 4, 3], &m).unwrap_err().to_string();
/// assert!(e.contains("lstm_1") && e.contains("(2, 4)") && e.contains("[2, 5]"), "{e}");
/// ```
pub fn check_mask(layer: &str, x_shape: &[usize], mask: &Mask) -> Result<()> {
    if x_shape.len() < 2 {
        return Err(NnError::Shape {
            layer: layer.to_string(),
            expected: format!(
                "an input of shape (batch, timesteps, ...) to go with a mask of shape {:?}",
                mask.shape()
            ),
            found: x_shape.to_vec(),
        });
    }
    if mask.shape() != &x_shape[..2] {
        return Err(NnError::Shape {
            layer: layer.to_string(),
            expected: format!(
                "a mask of shape (batch, timesteps) = ({}, {}) for an input of shape {:?}",
                x_shape[0], x_shape[1], x_shape
            ),
            found: mask.shape().to_vec(),
        });
    }
    Ok(())
}

/// [`check_mask`] for an optional mask.
///
/// ```
/// assert!(neurite_nn::mask::check_optional_mask("d", &[2, 3], None).is_ok());
/// ```
pub fn check_optional_mask(layer: &str, x_shape: &[usize], mask: Option<&Mask>) -> Result<()> {
    match mask {
        Some(m) => check_mask(layer, x_shape, m),
        None => Ok(()),
    }
}

/// Whether step `(b, t)` of `mask` is valid (non-zero).
///
/// ```
/// let m = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
/// assert!(neurite_nn::mask::is_valid(&m, 0, 0) && !neurite_nn::mask::is_valid(&m, 0, 1));
/// ```
pub fn is_valid(mask: &Mask, b: usize, t: usize) -> bool {
    mask[[b, t]] != 0.0
}

/// The mask with every value turned into exactly `1.0` (valid) or `0.0`.
///
/// ```
/// let m = ndarray::arr2(&[[2.0f32, 0.0, -1.0]]).into_dyn();
/// assert_eq!(neurite_nn::mask::normalized(&m), ndarray::arr2(&[[1.0f32, 0.0, 1.0]]).into_dyn());
/// ```
pub fn normalized(mask: &Mask) -> Mask {
    mask.mapv(|v| if v != 0.0 { 1.0 } else { 0.0 })
}

/// The mask of `(batch, timesteps)` integer ids that are not 0
/// (`Embedding(mask_zero=True)`).
///
/// ```
/// let ids = ndarray::arr2(&[[3.0f32, 1.0, 0.0]]).into_dyn();
/// assert_eq!(neurite_nn::mask::nonzero_ids(&ids), ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn());
/// ```
pub fn nonzero_ids(ids: &Tensor) -> Mask {
    ids.mapv(|v| if v != 0.0 { 1.0 } else { 0.0 })
}

/// The logical OR of masks (Keras' merge layers): `None` when any is `None`
/// or there are none.
///
/// ```
/// use neurite_nn::mask::or_all;
/// let a = ndarray::arr2(&[[1.0f32, 0.0, 0.0]]).into_dyn();
/// let b = ndarray::arr2(&[[0.0f32, 1.0, 0.0]]).into_dyn();
/// assert_eq!(or_all(&[Some(a.clone()), Some(b)]), Some(ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn()));
/// assert_eq!(or_all(&[Some(a), None]), None);
/// ```
pub fn or_all(masks: &[Option<Mask>]) -> Option<Mask> {
    let mut out: Option<Mask> = None;
    for m in masks {
        let m = m.as_ref()?;
        out = Some(match out {
            None => normalized(m),
            Some(mut acc) => {
                if acc.shape() != m.shape() {
                    return None;
                }
                acc.zip_mut_with(m, |a, &b| *a = if *a != 0.0 || b != 0.0 { 1.0 } else { 0.0 });
                acc
            }
        });
    }
    out
}

/// The mask as a constant `(batch, timesteps, 1, ..., 1)` of `rank` axes,
/// to multiply a `(batch, timesteps, ...)` value of that rank.
///
/// ```
/// let m = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
/// assert_eq!(neurite_nn::mask::broadcastable(&m, 4).shape(), vec![1, 2, 1, 1]);
/// ```
pub fn broadcastable(mask: &Mask, rank: usize) -> Var {
    let mut shape = mask.shape().to_vec();
    shape.resize(rank.max(2), 1);
    let m = normalized(mask)
        .into_shape_with_order(IxDyn(&shape))
        .expect("same number of elements");
    Var::constant(m)
}

/// `x` with its masked steps set to zero (`x * mask`): the gradient of those
/// steps is zero too.
///
/// ```
/// use neurite_autograd::Var;
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 2, 3)));
/// let m = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
/// let y = neurite_nn::mask::zero_masked_steps(&x, &m)?;
/// assert_eq!(y.to_tensor().sum(), 3.0);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn zero_masked_steps(x: &Var, mask: &Mask) -> Result<Var> {
    Ok(neurite_autograd::ops::mul(x, &broadcastable(mask, x.ndim()))?)
}

/// The number of valid steps of each sample, `(batch,)`.
///
/// ```
/// let m = ndarray::arr2(&[[1.0f32, 0.0, 1.0], [0.0, 0.0, 0.0]]).into_dyn();
/// assert_eq!(neurite_nn::mask::valid_counts(&m), vec![2, 0]);
/// ```
pub fn valid_counts(mask: &Mask) -> Vec<usize> {
    mask.axis_iter(Axis(0))
        .map(|row| row.iter().filter(|&&v| v != 0.0).count())
        .collect()
}
