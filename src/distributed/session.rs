//! One `fit` call's data-parallel state: the start (checks and broadcast
//! of rank 0's weights and optimizer state), the per-step gradient
//! all-reduce, the gathering of predictions for the metrics, the averaging
//! of weights, and what happens when a rank fails.

use super::collective::Collective;
use super::gradient_buckets::{gradient_bucket_bytes, GradientBuckets};
use super::shard::{gradient_scale, shard_range};
use super::stats::{record, FitStats};
use super::strategy::{current_strategy, Strategy};
use crate::callbacks::Logs;
use crate::error::{Error, Result};
use crate::train::masked::applies;
use neurite_autograd::Var;
use neurite_nn::mask::Mask;
use neurite_nn::Parameter;
use neurite_optim::{Optimizer, OptimizerState};
use neurite_tensor::Tensor;
use std::ops::Range;
use std::time::Instant;

/// Per-sample shapes of each output's predictions, and of its mask if it has one.
type RowShapes = (Vec<Vec<usize>>, Vec<Option<Vec<usize>>>);

/// Values per all-reduce call: gradients travel in buckets of 4 MiB.
pub(crate) const BUCKET_VALUES: usize = 1 << 20;

/// The data-parallel side of one `fit`.
pub(crate) struct Session {
    comm: Box<dyn Collective>,
    strategy: Strategy,
    /// The start handshake passed: every rank is inside the training loop.
    started: bool,
    /// The error being returned was reached by every rank alike (no abort needed).
    agreed: bool,
    stats: FitStats,
    /// Rows of the current global batch: this rank's, and the batch's.
    local: Range<usize>,
    global_rows: usize,
    /// Per-sample shapes of each output's predictions and masks, for a step where this rank has no row.
    row_shapes: Option<RowShapes>,
    local_steps: u64,
}

impl Session {
    /// The session of a `fit` in a world of more than one process; `None`
    /// for single-process training (no MPI launcher, or the `mpi` feature off).
    pub(crate) fn for_fit() -> Result<Option<Session>> {
        if let Some(rank) = super::local_group::current() {
            return Ok((rank.size() > 1).then(|| Session::new(Box::new(rank))));
        }
        #[cfg(feature = "mpi")]
        {
            let Some(info) = super::mpi_world::world(true).map_err(Error::Distributed)? else {
                return Ok(None);
            };
            if info.size == 1 {
                return Ok(None);
            }
            let world = super::mpi_world::MpiWorld::new(info).map_err(Error::Distributed)?;
            Ok(Some(Session::new(Box::new(world))))
        }
        #[cfg(not(feature = "mpi"))]
        {
            Ok(None)
        }
    }

    pub(crate) fn new(comm: Box<dyn Collective>) -> Session {
        Session {
            stats: FitStats {
                world_size: comm.size(),
                ..FitStats::default()
            },
            comm,
            strategy: current_strategy(),
            started: false,
            agreed: false,
            local: 0..0,
            global_rows: 0,
            row_shapes: None,
            local_steps: 0,
        }
    }

    pub(crate) fn rank(&self) -> usize {
        self.comm.rank()
    }

    pub(crate) fn size(&self) -> usize {
        self.comm.size()
    }

    /// Rank 0: the one that writes checkpoints, logs and progress bars.
    pub(crate) fn is_root(&self) -> bool {
        self.rank() == 0
    }

    pub(crate) fn federated(&self) -> bool {
        matches!(self.strategy, Strategy::FederatedAveraging { .. })
    }

    /// An error every rank returns alike.
    fn agreed_error(&mut self, message: String) -> Error {
        self.agreed = true;
        Error::Distributed(message)
    }

    /// The start of training: waits for every rank (one that failed before
    /// makes every rank fail), checks that every rank built the same model on
    /// data of the same size, and gives every rank rank 0's weights and
    /// optimizer state, and rank 0's `counters` (the model's seed and epoch
    /// count, which drive the shuffles). `n_train` samples, `batch_size` per
    /// global batch.
    pub(crate) fn start(
        &mut self,
        n_train: usize,
        batch_size: usize,
        params: &[Parameter],
        optimizer: &mut dyn Optimizer,
        counters: &mut [u64],
    ) -> Result<()> {
        let mut failed = [0u64];
        self.comm.max_u64(&mut failed);
        if failed[0] != 0 {
            return Err(self.agreed_error(format!(
                "rank {}: another rank failed before training started (its error is on its output)",
                self.rank()
            )));
        }
        self.started = true;
        let size = self.size();
        let fingerprint = structure_fingerprint(params);
        let ranks_models = self.comm.gather_u64(fingerprint);
        if let Some(r) = ranks_models.iter().position(|&f| f != ranks_models[0]) {
            return Err(self.agreed_error(format!(
                "rank {r}'s model differs from rank 0's (parameter names, shapes or trainability): every rank must \
                 build the same model"
            )));
        }
        let ranks_batch = self.comm.gather_u64(batch_size as u64);
        if ranks_batch.iter().any(|&b| b != ranks_batch[0]) {
            return Err(self.agreed_error(format!("the ranks' batch sizes differ: {ranks_batch:?}")));
        }
        let ranks_samples = self.comm.gather_u64(n_train as u64);
        if self.federated() {
            let batches: Vec<u64> = ranks_samples
                .iter()
                .map(|&n| n.div_ceil(batch_size as u64))
                .collect();
            if batches.iter().any(|&b| b != batches[0]) {
                return Err(self.agreed_error(format!(
                    "federated averaging needs the same number of local steps per epoch on every rank; the ranks' \
                     training samples {ranks_samples:?} at batch_size {batch_size} give {batches:?} steps"
                )));
            }
        } else {
            if ranks_samples.iter().any(|&n| n != ranks_samples[0]) {
                return Err(self.agreed_error(format!(
                    "data-parallel training needs the same data on every rank (each takes its shard of every batch); \
                     the ranks' training sample counts are {ranks_samples:?}"
                )));
            }
            if batch_size < size || n_train < size {
                return Err(self.agreed_error(format!(
                    "batch_size {batch_size} and {n_train} training samples: both must be at least the {size} \
                     processes, so that every rank has a share of each full batch"
                )));
            }
        }
        let vars: Vec<&Var> = params.iter().map(|p| &p.var).collect();
        let mut flat = flatten_values(&vars);
        let t = Instant::now();
        for bucket in flat.chunks_mut(BUCKET_VALUES) {
            self.comm.broadcast_f32(bucket);
        }
        unflatten_values(&vars, &flat);
        let mut state = if self.is_root() {
            serde_json::to_vec(&optimizer.state())
                .map_err(|e| Error::Distributed(format!("the optimizer state cannot be encoded: {e}")))?
        } else {
            Vec::new()
        };
        self.comm.broadcast_bytes(&mut state);
        let mut rank0_counters: Vec<u8> = counters.iter().flat_map(|c| c.to_le_bytes()).collect();
        self.comm.broadcast_bytes(&mut rank0_counters);
        for (c, b) in counters.iter_mut().zip(rank0_counters.chunks_exact(8)) {
            *c = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
        self.stats.communication_seconds += t.elapsed().as_secs_f64();
        if !self.is_root() {
            let state: OptimizerState = serde_json::from_slice(&state).map_err(|e| {
                Error::Distributed(format!("rank 0's optimizer state cannot be decoded: {e}"))
            })?;
            let trainable: Vec<(&str, &Var)> = params
                .iter()
                .filter(|p| p.trainable)
                .map(|p| (p.name.as_str(), &p.var))
                .collect();
            optimizer.load_state_checked(state, &trainable)?;
        }
        Ok(())
    }

    /// Sets the global batch about to be trained; returns this rank's rows of it.
    pub(crate) fn batch(&mut self, global_rows: usize) -> Range<usize> {
        self.global_rows = global_rows;
        self.local = if self.federated() {
            0..global_rows
        } else {
            shard_range(global_rows, self.rank(), self.size())
        };
        self.local.clone()
    }

    /// The seed of this rank's random stream (dropout) for a step: rank 0
    /// keeps the single-process seed, the others draw other masks.
    pub(crate) fn step_seed(&self, seed: u64) -> u64 {
        match self.rank() {
            0 => seed,
            r => crate::train::batches::mix_seed(seed, 0xD157_0000 + r as u64, 0x5EED),
        }
    }

    /// Per output, the factor that makes this rank's masked loss its exact
    /// share of the global batch's: a masked loss is the mean over valid
    /// steps, and the ranks hold different numbers of them, so the factor is
    /// `(local valid / global valid) / (local rows / global rows)` (the row
    /// share is applied to every gradient later). The valid-step counts are
    /// summed across ranks every step (one value per output; a rank with no
    /// row passes `preds` empty and takes part). 1 for unmasked outputs.
    pub(crate) fn masked_loss_shares(
        &mut self,
        preds: &[Var],
        masks: &[Option<Mask>],
        outputs: usize,
    ) -> Vec<f32> {
        let mut counts = vec![0.0f32; outputs];
        for (i, (p, m)) in preds.iter().zip(masks).enumerate().take(outputs) {
            if let Some(m) = m.as_ref().filter(|m| applies(Some(m), &p.shape()).is_some()) {
                counts[i] = m.iter().filter(|&&v| v != 0.0).count() as f32;
            }
        }
        let mut global = counts.clone();
        let t = Instant::now();
        self.comm.sum_f32(&mut global);
        self.stats.communication_seconds += t.elapsed().as_secs_f64();
        let row_share = gradient_scale(self.local.len(), self.global_rows);
        counts
            .iter()
            .zip(&global)
            .map(|(&local, &all)| {
                if local > 0.0 && all > 0.0 && row_share > 0.0 {
                    (local / all) / row_share
                } else {
                    1.0
                }
            })
            .collect()
    }

    /// The backward pass of `loss` (none on a rank with no row in the
    /// batch) and the gradients summed across ranks: each rank's mean
    /// gradient over its rows, scaled by `rows / global rows` and summed
    /// over the ranks — the mean over the global batch. Buckets of gradients
    /// are sent while the backward pass runs (see [`GradientBuckets`]). The
    /// loss values are summed last and become the global batch's; a
    /// non-finite global loss is an error on every rank. Parameters without
    /// a gradient on every rank keep none.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_and_reduce(
        &mut self,
        loss: Option<&Var>,
        trainable: &[(&str, &Var)],
        value: &mut f32,
        per_output: &mut [f32],
        epoch: usize,
        batch: usize,
    ) -> Result<()> {
        let scale = gradient_scale(self.local.len(), self.global_rows);
        let vars: Vec<&Var> = trainable.iter().map(|(_, v)| *v).collect();
        let mut buckets = GradientBuckets::new(&*self.comm, vars, scale, gradient_bucket_bytes());
        if let Some(loss) = loss {
            loss.backward_observed(&mut buckets)?;
        }
        let sent_during_backward = buckets.sent_during_backward();
        let (reduced, seconds) = {
            let seconds = buckets.seconds_in_calls;
            let t = Instant::now();
            let reduced = buckets.finish(value, per_output)?;
            (reduced, seconds + t.elapsed().as_secs_f64())
        };
        self.stats.communication_seconds += seconds;
        self.stats.reduced_values += reduced;
        self.stats.buckets_sent_during_backward += sent_during_backward;
        self.stats.steps += 1;
        if !value.is_finite() {
            self.agreed = true;
            return Err(Error::NonFiniteLoss {
                epoch,
                batch,
                value: *value,
            });
        }
        Ok(())
    }

    /// Every rank's rows of each output's predictions (and masks), stacked in
    /// rank order: the global batch's, for the metrics. `local` is `None` on a
    /// rank with no row in this batch.
    pub(crate) fn gather_rows(
        &mut self,
        local: Option<(Vec<Tensor>, Vec<Option<Tensor>>)>,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        if let Some((preds, masks)) = &local {
            let rows = |t: &Tensor| t.shape()[1..].to_vec();
            self.row_shapes = Some((
                preds.iter().map(rows).collect(),
                masks.iter().map(|m| m.as_ref().map(rows)).collect(),
            ));
        }
        let (pred_rows, mask_rows) = self.row_shapes.clone().ok_or_else(|| {
            Error::Distributed(
                "a rank had no row in the first batch (cannot happen: checked at the start)".into(),
            )
        })?;
        let counts: Vec<usize> = (0..self.size())
            .map(|r| shard_range(self.global_rows, r, self.size()).len())
            .collect();
        let t = Instant::now();
        let (local_preds, local_masks) = match local {
            Some((p, m)) => (p.into_iter().map(Some).collect(), m),
            None => (vec![None; pred_rows.len()], vec![None; mask_rows.len()]),
        };
        let mut preds = Vec::with_capacity(pred_rows.len());
        for (p, row) in local_preds.iter().zip(&pred_rows) {
            preds.push(self.gather_tensor(p.as_ref(), row, &counts)?);
        }
        let mut masks = Vec::with_capacity(mask_rows.len());
        for (m, row) in local_masks.iter().zip(&mask_rows) {
            masks.push(match row {
                Some(row) => Some(self.gather_tensor(m.as_ref(), row, &counts)?),
                None => None,
            });
        }
        self.stats.communication_seconds += t.elapsed().as_secs_f64();
        Ok((preds, masks))
    }

    fn gather_tensor(&self, local: Option<&Tensor>, row: &[usize], counts: &[usize]) -> Result<Tensor> {
        let row_len: usize = row.iter().product();
        let data: Vec<f32> = local.map(|t| t.iter().copied().collect()).unwrap_or_default();
        let all = self
            .comm
            .gather_f32(&data, &counts.iter().map(|c| c * row_len).collect::<Vec<_>>());
        let mut shape = vec![self.global_rows];
        shape.extend_from_slice(row);
        Tensor::from_shape_vec(ndarray::IxDyn(&shape), all)
            .map_err(|e| Error::Distributed(format!("gathered predictions of shape {shape:?}: {e}")))
    }

    /// After a local step of federated averaging: every `k` steps, every
    /// rank's weights become the mean of the ranks' weights.
    pub(crate) fn after_local_step(&mut self, params: &[Parameter]) {
        self.local_steps += 1;
        self.stats.steps += 1;
        if let Strategy::FederatedAveraging { every } = self.strategy {
            if self.local_steps.is_multiple_of(every as u64) {
                self.average(params.iter().map(|p| &p.var));
            }
        }
    }

    /// At the end of an epoch, before validation and callbacks: the weights
    /// that may differ between ranks become their mean — BatchNormalization's
    /// moving statistics (every non-trainable variable) in data-parallel
    /// training, every weight in federated averaging.
    pub(crate) fn end_epoch(&mut self, params: &[Parameter]) {
        let federated = self.federated();
        self.average(
            params
                .iter()
                .filter(|p| federated || !p.trainable)
                .map(|p| &p.var),
        );
    }

    /// Each variable becomes its mean over the ranks, computed as rank 0's
    /// value plus the mean difference to it: exactly rank 0's value where
    /// the ranks agree, and the same bits on every rank.
    fn average<'v>(&mut self, vars: impl Iterator<Item = &'v Var>) {
        let vars: Vec<&Var> = vars.collect();
        if vars.is_empty() {
            return;
        }
        let mine = flatten_values(&vars);
        let mut base = mine.clone();
        let t = Instant::now();
        for bucket in base.chunks_mut(BUCKET_VALUES) {
            self.comm.broadcast_f32(bucket);
        }
        let mut diff: Vec<f32> = mine.iter().zip(&base).map(|(m, b)| m - b).collect();
        for bucket in diff.chunks_mut(BUCKET_VALUES) {
            self.comm.sum_f32(bucket);
        }
        self.stats.communication_seconds += t.elapsed().as_secs_f64();
        self.stats.reduced_values += diff.len() as u64;
        let n = self.size() as f32;
        let mean: Vec<f32> = base.iter().zip(&diff).map(|(b, d)| b + d / n).collect();
        unflatten_values(&vars, &mean);
    }

    /// The epoch's logs, the same on every rank: in data-parallel training
    /// they already are (metrics see the global batches); in federated
    /// averaging each value becomes its mean over the ranks weighted by
    /// their `samples`.
    pub(crate) fn reduce_logs(&mut self, logs: &mut Logs, samples: usize) -> Result<()> {
        if !self.federated() {
            return Ok(());
        }
        let keys = fingerprint_of(logs.keys().map(String::as_str));
        let ranks_keys = self.comm.gather_u64(keys);
        if ranks_keys.iter().any(|&k| k != ranks_keys[0]) {
            return Err(self.agreed_error(
                "the ranks log different values (different metrics or validation data on some ranks)".into(),
            ));
        }
        let mut sums: Vec<f64> = logs.values().map(|v| v * samples as f64).collect();
        sums.push(samples as f64);
        self.comm.sum_f64(&mut sums);
        let total = sums.pop().unwrap_or(1.0).max(1.0);
        for (v, s) in logs.values_mut().zip(sums) {
            *v = s / total;
        }
        Ok(())
    }

    /// Mean seconds of one all-reduce (sum, in buckets as training does) of
    /// `values` f32, over `repeats` runs after one warm-up run.
    pub(crate) fn time_sum(&self, values: usize, repeats: usize) -> f64 {
        let mut buf = vec![1.0f32; values];
        let run = |buf: &mut [f32]| {
            for bucket in buf.chunks_mut(BUCKET_VALUES) {
                self.comm.sum_f32(bucket);
            }
        };
        run(&mut buf);
        let t = Instant::now();
        for _ in 0..repeats {
            run(&mut buf);
        }
        t.elapsed().as_secs_f64() / repeats.max(1) as f64
    }

    /// How `fit` ends on this rank: success; an error every rank reached
    /// alike (returned); an error before training started (this rank tells
    /// the others through the start handshake, then returns it); or an error
    /// of this rank alone inside the training loop, where the others wait in
    /// a collective: the job ends (MPI_Abort) with this rank and the message.
    pub(crate) fn settle<T>(self, result: Result<T>) -> Result<T> {
        record(self.stats);
        match result {
            Ok(v) => Ok(v),
            Err(e) if self.agreed => Err(e),
            Err(e) if !self.started => {
                self.comm.max_u64(&mut [1]);
                Err(e)
            }
            Err(e) => self.comm.abort(&format!("fit failed: {e}")),
        }
    }
}

fn flatten_values(vars: &[&Var]) -> Vec<f32> {
    let mut flat = Vec::with_capacity(vars.iter().map(|v| v.len()).sum());
    for v in vars {
        flat.extend(v.value().iter().copied());
    }
    flat
}

fn unflatten_values(vars: &[&Var], flat: &[f32]) {
    let mut at = 0;
    for v in vars {
        let mut value = v.value_mut();
        let n = value.len();
        for (dst, &src) in value.iter_mut().zip(&flat[at..at + n]) {
            *dst = src;
        }
        at += n;
    }
}

/// FNV-1a over the parameters' names, shapes and trainability.
fn structure_fingerprint(params: &[Parameter]) -> u64 {
    let described: Vec<String> = params
        .iter()
        .map(|p| format!("{}:{:?}:{}", p.name, p.var.shape(), p.trainable))
        .collect();
    fingerprint_of(described.iter().map(String::as_str))
}

fn fingerprint_of<'s>(items: impl Iterator<Item = &'s str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for item in items {
        for b in item.bytes().chain(std::iter::once(0)) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
