//! Masked outputs in training and evaluation (Keras 3's `apply_mask`): when
//! a model's output carries a mask (a `(batch, timesteps, ...)` output of a
//! masked sequence model), the loss is the mean over the valid entries and
//! the metrics see only those entries.

use crate::error::Result;
use crate::model::Model;
use ndarray::{Axis, IxDyn};
use neurite_autograd::{ops, Var};
use neurite_nn::layer::InputArity;
use neurite_nn::losses::Loss;
use neurite_nn::mask::{Mask, Masked};
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;

impl<N: Layer> Model<N> {
    /// Runs the network on one batch per input like [`Model::forward_many`],
    /// returning each output with its mask (`None` when no layer made one).
    pub(crate) fn forward_many_masked(&self, xs: &[Var], ctx: &mut ForwardContext) -> Result<Vec<Masked>> {
        if let Some(g) = self.graph() {
            return Ok(g.forward_many_masked(xs, None, ctx)?);
        }
        Ok(vec![match (self.net.input_arity(), xs) {
            (InputArity::One, [x]) => self.net.forward_masked(x, None, ctx)?,
            _ => self.net.forward_multi_masked(xs, &vec![None; xs.len()], ctx)?,
        }])
    }
}

/// Whether `mask` applies to a prediction of shape `pred`: it is the
/// prediction's `(batch, timesteps)`.
pub(crate) fn applies(mask: Option<&Mask>, pred: &[usize]) -> Option<usize> {
    let m = mask?;
    (pred.len() >= 2 && m.shape() == &pred[..2]).then(|| pred[0] * pred[1])
}

/// `x` `(b, t, rest...)` as `(b * t, rest...)`.
fn merge_steps(x: &Var, rows: usize) -> Result<Var> {
    let mut shape = vec![rows];
    shape.extend_from_slice(&x.shape()[2..]);
    Ok(ops::reshape(x, &shape)?)
}

/// Keras 3's masked loss: per-step losses `(batch, timesteps)` (the targets'
/// first two axes are the prediction's), multiplied by the sample weights
/// (one per sample, repeated over its steps), summed over the valid steps
/// and divided by their count (0 when no step is valid, as `divide_no_nan`).
pub(crate) fn masked_loss(
    loss: &Loss,
    y: &Var,
    pred: &Var,
    mask: &Mask,
    weights: Option<&Var>,
) -> Result<Var> {
    let ps = pred.shape();
    let rows = applies(Some(mask), &ps).expect("caller checked the mask applies");
    let ys = y.shape();
    if ys.len() < 2 || ys[..2] != ps[..2] {
        return Err(neurite_nn::NnError::Shape {
            layer: loss.name().into(),
            expected: format!(
                "targets of shape ({}, {}, ...) for a masked prediction of shape {ps:?}",
                ps[0], ps[1]
            ),
            found: ys,
        }
        .into());
    }
    let per_step = loss.per_sample(&merge_steps(y, rows)?, &merge_steps(pred, rows)?)?;
    let mut w: Vec<f32> = mask.iter().map(|&m| if m != 0.0 { 1.0 } else { 0.0 }).collect();
    let valid: f32 = w.iter().sum();
    if let Some(sw) = weights {
        let sw = sw.value();
        if sw.len() != ps[0] {
            return Err(neurite_nn::NnError::Shape {
                layer: loss.name().into(),
                expected: format!("sample_weight of shape [{}] or [{}, 1]", ps[0], ps[0]),
                found: sw.shape().to_vec(),
            }
            .into());
        }
        let t = ps[1];
        for (i, wi) in w.iter_mut().enumerate() {
            *wi *= sw.iter().nth(i / t).copied().unwrap_or(0.0);
        }
    }
    let wt = Tensor::from_shape_vec(IxDyn(&[rows]), w).expect("one weight per step");
    let total = ops::sum_all(&ops::mul(&per_step, &Var::constant(wt))?)?;
    Ok(if valid > 0.0 {
        ops::mul_scalar(&total, 1.0 / valid)?
    } else {
        ops::mul_scalar(&total, 0.0)?
    })
}

/// The valid entries of a masked output for the metrics: targets and
/// predictions `(b, t, ...)` flattened to `(b * t, ...)` and restricted to
/// the rows whose step is valid (Keras passes the mask as sample weights).
pub(crate) fn valid_entries(y: &Tensor, pred: &Tensor, mask: &Mask) -> Option<(Tensor, Tensor)> {
    let rows = applies(Some(mask), pred.shape())?;
    if y.ndim() < 2 || y.shape()[..2] != pred.shape()[..2] {
        return None;
    }
    let keep: Vec<usize> = mask
        .iter()
        .enumerate()
        .filter(|(_, &m)| m != 0.0)
        .map(|(i, _)| i)
        .collect();
    let flat = |x: &Tensor| {
        let mut shape = vec![rows];
        shape.extend_from_slice(&x.shape()[2..]);
        x.as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&shape))
            .expect("same number of elements")
            .select(Axis(0), &keep)
    };
    Some((flat(y), flat(pred)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neurite_nn::losses::Reduction;
    use proptest::prelude::*;

    proptest! {
        /// The masked loss equals the plain loss over the valid steps only
        /// (gathered into a batch of their own), with and without sample weights.
        #[test]
        fn masked_loss_is_the_loss_of_the_valid_steps(
            b in 1usize..4, t in 1usize..5, c in 2usize..4, seed in 0u64..500, weighted: bool,
            bits in proptest::collection::vec(any::<bool>(), 16),
        ) {
            let mut rng = neurite_tensor::random::rng_from_seed(seed);
            let logits = neurite_tensor::random::normal(&[b, t, c], 0.0, 1.0, &mut rng);
            let labels = Tensor::from_shape_fn(IxDyn(&[b, t]), |i| ((i[0] + 2 * i[1] + seed as usize) % c) as f32);
            let mask = Tensor::from_shape_fn(IxDyn(&[b, t]), |i| if bits[(i[0] * t + i[1]) % 16] { 1.0 } else { 0.0 });
            let sw: Vec<f32> = (0..b).map(|i| 0.5 + i as f32).collect();
            let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
            let w = Var::constant(Tensor::from_shape_vec(IxDyn(&[b]), sw.clone()).unwrap());
            let got = masked_loss(&loss, &Var::constant(labels.clone()), &Var::constant(logits.clone()), &mask,
                weighted.then_some(&w)).unwrap().item().unwrap();
            // Reference: the valid steps as a batch of rows, plain loss summed with weights / count.
            let mut num = 0.0f64;
            let mut count = 0.0f64;
            for i in 0..b {
                for j in 0..t {
                    if mask[[i, j]] == 0.0 {
                        continue;
                    }
                    let row = logits.slice(ndarray::s![i..i + 1, j, ..]).to_owned().into_dyn();
                    let lab = Tensor::from_elem(IxDyn(&[1]), labels[[i, j]]);
                    let l = loss.compute(&Var::constant(lab), &Var::constant(row), None, Reduction::Sum).unwrap().item().unwrap();
                    num += l as f64 * if weighted { sw[i] as f64 } else { 1.0 };
                    count += 1.0;
                }
            }
            let want = if count > 0.0 { num / count } else { 0.0 };
            prop_assert!((got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()), "{} vs {}", got, want);
            // The metrics see exactly the valid steps.
            let (yv, pv) = valid_entries(&labels, &logits, &mask).unwrap();
            prop_assert_eq!(yv.len() as f64, count);
            prop_assert_eq!(pv.shape(), &[count as usize, c][..]);
        }
    }
}
