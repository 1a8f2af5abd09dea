//! Running losses and metrics of an epoch or an evaluation, per output, and
//! the names they are logged under (Keras 3's).

use super::masked::{applies, masked_loss, valid_entries};
use crate::callbacks::Logs;
use crate::error::Result;
use crate::model::Compiled;
use neurite_autograd::{ops, Var};
use neurite_metrics::streaming::StreamingMetric;
use neurite_nn::losses::Reduction;
use neurite_nn::mask::Mask;
use neurite_tensor::Tensor;

/// Sums of the losses over the samples seen, and each output's metric accumulators.
pub(crate) struct Tracker {
    /// Output names; empty strings for a network that does not name its output.
    names: Vec<String>,
    metrics: Vec<Vec<Box<dyn StreamingMetric>>>,
    loss_sum: f64,
    output_sums: Vec<f64>,
    seen: usize,
}

impl Tracker {
    pub(crate) fn new(compiled: &Compiled) -> Result<Self> {
        let metrics = compiled
            .outputs
            .iter()
            .map(|o| {
                o.metrics
                    .iter()
                    .map(|m| m.accumulator())
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tracker {
            names: compiled.outputs.iter().map(|o| o.name.clone()).collect(),
            metrics,
            loss_sum: 0.0,
            output_sums: vec![0.0; compiled.outputs.len()],
            seen: 0,
        })
    }

    /// Adds a batch of `rows` samples: its total loss, each output's
    /// (weighted) loss, and the targets and predictions for the metrics.
    pub(crate) fn add(
        &mut self,
        rows: usize,
        losses: &BatchLosses,
        ys: &[Tensor],
        preds: &[Tensor],
        masks: &[Option<Mask>],
    ) -> Result<()> {
        self.loss_sum += losses.total as f64 * rows as f64;
        for (sum, l) in self.output_sums.iter_mut().zip(&losses.per_output) {
            *sum += *l as f64 * rows as f64;
        }
        self.seen += rows;
        for (i, ((metrics, y), p)) in self.metrics.iter_mut().zip(ys).zip(preds).enumerate() {
            if metrics.is_empty() {
                continue;
            }
            // A masked output: the metrics see its valid steps only (Keras' apply_mask).
            let valid = masks
                .get(i)
                .and_then(|m| m.as_ref())
                .and_then(|m| valid_entries(y, p, m));
            let (y, p) = match &valid {
                Some((yv, pv)) => (yv, pv),
                None => (y, p),
            };
            for m in metrics.iter_mut() {
                m.update(y.view(), p.view())?;
            }
        }
        Ok(())
    }

    /// `loss` and the metrics (one output), or `loss`, `<output>_loss` and
    /// `<output>_<metric>` (several), each prefixed by `prefix` (`val_`).
    pub(crate) fn logs(&self, prefix: &str) -> Logs {
        let mut logs = Logs::new();
        let seen = self.seen.max(1) as f64;
        logs.insert(format!("{prefix}loss"), self.loss_sum / seen);
        let several = self.names.len() > 1;
        for (i, name) in self.names.iter().enumerate() {
            if several {
                logs.insert(format!("{prefix}{name}_loss"), self.output_sums[i] / seen);
            }
            for m in &self.metrics[i] {
                let key = if several {
                    format!("{prefix}{name}_{}", m.name())
                } else {
                    format!("{prefix}{}", m.name())
                };
                logs.insert(key, m.result());
            }
        }
        logs
    }
}

/// One batch's losses: the total (what is minimised) and each output's weighted loss.
pub(crate) struct BatchLosses {
    pub(crate) total: f32,
    pub(crate) per_output: Vec<f32>,
}

/// `Σ weight_i · loss_i(y_i, pred_i)` (a weight of 1 multiplies nothing, so
/// one output's loss is exactly its loss), with each weighted term's value.
/// An output whose mask fits it (`masks[i]`, `(batch, timesteps)` of the
/// prediction) has Keras 3's masked loss: the mean over its valid steps,
/// multiplied by `masked_shares[i]` when given (data-parallel training: this
/// rank's share of the global batch's valid steps, see
/// `Session::masked_loss_shares`).
pub(crate) fn weighted_loss(
    compiled: &Compiled,
    ys: &[Var],
    preds: &[Var],
    masks: &[Option<Mask>],
    weights: Option<&Var>,
    masked_shares: Option<&[f32]>,
) -> Result<(Var, Vec<f32>)> {
    let mut total: Option<Var> = None;
    let mut values = Vec::with_capacity(ys.len());
    for (i, ((spec, y), p)) in compiled.outputs.iter().zip(ys).zip(preds).enumerate() {
        let mask = masks.get(i).and_then(|m| m.as_ref());
        let mut term = match mask.filter(|m| applies(Some(m), &p.shape()).is_some()) {
            Some(m) => {
                let term = masked_loss(&spec.loss, y, p, m, weights)?;
                match masked_shares.and_then(|s| s.get(i)).filter(|&&s| s != 1.0) {
                    Some(&share) => ops::mul_scalar(&term, share)?,
                    None => term,
                }
            }
            None => spec.loss.compute(y, p, weights, Reduction::Mean)?,
        };
        if spec.weight != 1.0 {
            term = ops::mul_scalar(&term, spec.weight)?;
        }
        if compiled.outputs.len() > 1 {
            values.push(term.item()?);
        }
        total = Some(match total {
            None => term,
            Some(t) => ops::add(&t, &term)?,
        });
    }
    let total = total.ok_or_else(|| crate::Error::Model("the model has no outputs".into()))?;
    if values.is_empty() {
        values.push(total.item()?);
    }
    Ok((total, values))
}
