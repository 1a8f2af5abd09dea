//! The training loop's data-parallel steps, as methods of [`Model`]: the
//! start, one step on a global batch, and the end of an epoch.

use super::session::Session;
use crate::callbacks::Logs;
use crate::error::Result;
use crate::model::Model;
use crate::train::tracker::BatchLosses;
use ndarray::{Axis, Slice};
use neurite_autograd::Var;
use neurite_nn::mask::Mask;
use neurite_nn::Layer;
use neurite_tensor::Tensor;
use std::ops::Range;

/// One step's losses, the global batch's predictions and masks.
type StepOutput = (BatchLosses, Vec<Tensor>, Vec<Option<Mask>>);

fn rows(t: &Tensor, range: &Range<usize>) -> Tensor {
    t.slice_axis(Axis(0), Slice::from(range.clone())).to_owned()
}

impl<N: Layer> Model<N> {
    /// Checks the ranks agree and gives every rank rank 0's weights and
    /// optimizer state (see [`Session::start`]).
    pub(crate) fn distributed_start(
        &mut self,
        session: &mut Session,
        n_train: usize,
        batch_size: usize,
    ) -> Result<()> {
        let params = self.net.parameters();
        let mut counters = [self.seed, self.epochs_done as u64];
        let optimizer = &mut *self.compiled_mut()?.optimizer;
        session.start(n_train, batch_size, &params, optimizer, &mut counters)?;
        self.seed = counters[0];
        self.epochs_done = usize::try_from(counters[1]).map_err(|_| {
            crate::Error::Distributed(format!("rank 0's epoch count {} is too large", counters[1]))
        })?;
        Ok(())
    }

    /// One training step on the global batch `xbs`/`ybs`/`wb` (all of its
    /// rows, augmented): this rank trains on its shard, the gradients are
    /// summed across ranks before the optimizer step, and the losses,
    /// predictions and masks returned are the global batch's. In federated
    /// averaging, a local step on this rank's batch.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn distributed_step(
        &mut self,
        session: &mut Session,
        xbs: Vec<Tensor>,
        ybs: &[Tensor],
        wb: Option<Tensor>,
        seed: u64,
        epoch: usize,
        batch: usize,
    ) -> Result<StepOutput> {
        let global = ybs.first().map_or(0, |y| y.len_of(Axis(0)));
        let local = session.batch(global);
        let seed = session.step_seed(seed);
        if session.federated() {
            let out = self.train_step(xbs, ybs, wb, seed, epoch, batch, None)?;
            session.after_local_step(&self.net.parameters());
            return Ok(out);
        }
        let (losses, local_out) = if local.is_empty() {
            (self.empty_step(session, epoch, batch)?, None)
        } else {
            let xl: Vec<Tensor> = xbs.iter().map(|x| rows(x, &local)).collect();
            let yl: Vec<Tensor> = ybs.iter().map(|y| rows(y, &local)).collect();
            let wl = wb.map(|w| rows(&w, &local));
            drop(xbs);
            let (losses, preds, masks) =
                self.train_step(xl, &yl, wl, seed, epoch, batch, Some(&mut *session))?;
            (losses, Some((preds, masks)))
        };
        let (preds, masks) = session.gather_rows(local_out)?;
        Ok((losses, preds, masks))
    }

    /// The step of a rank with no row in a (short, last) global batch: it
    /// adds nothing to the sum but takes part in it and applies the same update.
    fn empty_step(&mut self, session: &mut Session, epoch: usize, batch: usize) -> Result<BatchLosses> {
        let params = self.net.parameters();
        let trainable: Vec<(&str, &Var)> = params
            .iter()
            .filter(|p| p.trainable)
            .map(|p| (p.name.as_str(), &p.var))
            .collect();
        for (_, v) in &trainable {
            v.zero_grad();
        }
        // Takes part in the sum of valid-step counts that ranks with rows make.
        session.masked_loss_shares(&[], &[], self.compiled()?.outputs.len());
        let mut total = 0.0;
        let mut per_output = vec![0.0; self.compiled()?.outputs.len().max(1)];
        let reduced =
            session.backward_and_reduce(None, &trainable, &mut total, &mut per_output, epoch, batch);
        let stepped = reduced.and_then(|()| {
            self.compiled_mut()?
                .optimizer
                .step(&trainable)
                .map_err(crate::Error::from)
        });
        for p in &params {
            p.var.zero_grad();
        }
        stepped?;
        Ok(BatchLosses { total, per_output })
    }

    /// The end of an epoch's training steps, before validation: the weights
    /// that may differ between ranks are averaged (see [`Session::end_epoch`]).
    pub(crate) fn distributed_end_epoch(&mut self, session: &mut Session) {
        session.end_epoch(&self.net.parameters());
    }

    /// The epoch's logs made the same on every rank (see [`Session::reduce_logs`]).
    pub(crate) fn distributed_logs(
        &self,
        session: &mut Session,
        logs: &mut Logs,
        samples: usize,
    ) -> Result<()> {
        session.reduce_logs(logs, samples)
    }
}
