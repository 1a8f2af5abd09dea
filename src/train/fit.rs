//! The training loop: `fit` and one training step.

use super::arrays::{common_samples, label, Arrays};
use super::batches::{check_batch_size, check_pair, epoch_order, gather, mix_seed};
use super::options::FitOptions;
use super::tracker::{weighted_loss, BatchLosses, Tracker};
use crate::callbacks::{Callback, Logs, ModelHandle};
use crate::distributed::session::Session;
use crate::error::{Error, Result};
use crate::history::History;
use crate::model::Model;
use crate::progress::Progress;
use ndarray::{Ix1, Ix4};
use neurite_autograd::{ops, Var};
use neurite_nn::mask::Mask;
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;
use std::borrow::Cow;

/// A model's data resolved against its inputs and outputs: one array per
/// input and per output, in the model's order, all with `n` samples.
pub(crate) struct Data<'a> {
    pub(crate) xs: Vec<Cow<'a, Tensor>>,
    pub(crate) ys: Vec<Cow<'a, Tensor>>,
    pub(crate) n: usize,
}

impl Data<'_> {
    pub(crate) fn x_refs(&self) -> Vec<&Tensor> {
        self.xs.iter().map(|t| t.as_ref()).collect()
    }

    /// The rows `idx` of every array.
    fn gather(&self, idx: &[usize]) -> Data<'static> {
        Data {
            xs: self.xs.iter().map(|x| Cow::Owned(gather(x, idx))).collect(),
            ys: self.ys.iter().map(|y| Cow::Owned(gather(y, idx))).collect(),
            n: idx.len(),
        }
    }
}

impl<N: Layer> Model<N> {
    /// The arrays of `x` and `y` in the order of the model's inputs and
    /// outputs, with their common sample count (errors name the call, the
    /// array and the model's input/output names).
    pub(crate) fn resolve_data<'a>(&self, what: &str, x: Arrays<'a>, y: Arrays<'a>) -> Result<Data<'a>> {
        let (in_names, out_names) = (self.input_names(), self.output_names());
        let in_count = self.input_count(x.len());
        let xs = x.resolve(&in_names, in_count, "x", what)?;
        let ys = y.resolve(&out_names, self.output_count(), "y", what)?;
        let n = if let ([x], [y]) = (xs.as_slice(), ys.as_slice()) {
            check_pair(what, x, y)?
        } else {
            let mut labelled: Vec<(String, &Tensor)> = Vec::new();
            for (i, x) in xs.iter().enumerate() {
                labelled.push((label("x", &in_names, i, xs.len()), x));
            }
            for (i, y) in ys.iter().enumerate() {
                labelled.push((label("y", &out_names, i, ys.len()), y));
            }
            common_samples(what, &labelled)?
        };
        Ok(Data { xs, ys, n })
    }

    /// Trains the model on `x` (samples along axis 0) against targets `y`,
    /// as Keras' `fit`: batches, shuffling, validation, class and sample
    /// weights, callbacks, progress. Returns the per-epoch [`History`].
    ///
    /// `x` and `y` are one array each (`&x`), or for a model with several
    /// inputs or outputs one array per input/output, in order or by name
    /// ([`Arrays`]). Sample weights apply to every output; class weights need
    /// a model with one output (as in Keras 3).
    ///
    /// Builds the model from the data's sample shape if needed. As in Keras,
    /// each call trains the epochs `initial_epoch..epochs` (by default
    /// `0..epochs`), so calling `fit(epochs(1))` three times trains three
    /// epochs. Shuffles and dropout masks follow the model's total epoch count
    /// ([`Model::epochs_done`]): a model loaded from a checkpoint and fitted
    /// with `initial_epoch(model.epochs_done())` continues exactly as an
    /// uninterrupted run would.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [3]), Input::named("b", [2]));
    /// let h = Concatenate::new().call_many(&[&a, &b])?;
    /// let p = Dense::new(1).activation(Activation::Sigmoid).with_name("p").call(&h)?;
    /// let q = Dense::new(1).with_name("q").call(&h)?;
    /// let mut model = Model::functional_many(&[&a, &b], &[&p, &q])?;
    /// model.compile(Adam::default(), [Loss::BinaryCrossentropy { from_logits: false }, Loss::MeanSquaredError], &[])?;
    /// let (xa, xb) = (Tensor::ones(ndarray::IxDyn(&[8, 3])), Tensor::ones(ndarray::IxDyn(&[8, 2])));
    /// let (yp, yq) = (Tensor::ones(ndarray::IxDyn(&[8, 1])), Tensor::zeros(ndarray::IxDyn(&[8, 1])));
    /// let h = model.fit([("b", &xb), ("a", &xa)], [("q", &yq), ("p", &yp)], FitOptions::new().epochs(2).verbose(0))?;
    /// assert_eq!(h.get("p_loss").unwrap().len(), 2);
    /// // Wrong sample counts are refused, naming the arrays.
    /// let short = Tensor::ones(ndarray::IxDyn(&[7, 2]));
    /// let e = model.fit([&xa, &short], [&yp, &yq], FitOptions::new().verbose(0)).unwrap_err().to_string();
    /// assert!(e.contains("x[\"b\"] has 7"), "{e}");
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn fit<'a>(
        &mut self,
        x: impl Into<Arrays<'a>>,
        y: impl Into<Arrays<'a>>,
        options: FitOptions<'_>,
    ) -> Result<History> {
        // Data-parallel when MPI started several processes (feature `mpi`); see crate::distributed.
        let mut session = Session::for_fit()?;
        let result = self.fit_arrays(x.into(), y.into(), options, session.as_mut());
        match session {
            Some(s) => s.settle(result),
            None => result,
        }
    }

    /// `fit`'s body; `session` is the data-parallel side (`None` in single-process training).
    fn fit_arrays<'a>(
        &mut self,
        x: Arrays<'a>,
        y: Arrays<'a>,
        mut options: FitOptions<'_>,
        mut session: Option<&mut Session>,
    ) -> Result<History> {
        // Reuse freed step buffers instead of page-faulting them back (see neurite_tensor::memory).
        neurite_tensor::memory::tune_allocator();
        // Flush denormals here and on rayon's threads; the caller's mode is back on return (neurite_tensor::denormals).
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        if let Some(option) = options.stream_only_option() {
            return Err(Error::Input(format!(
                "fit: {option} applies to streams: train with fit_stream (e.g. fit_stream(DataStream::indexed(Dataset::new(x, y)?), ...))"
            )));
        }
        let data = self.resolve_data("fit", x, y)?;
        let n_all = data.n;
        check_batch_size("fit", options.batch_size)?;
        if !(0.0..1.0).contains(&options.validation_split) {
            return Err(Error::Input(format!(
                "fit: validation_split must be in [0, 1), found {}",
                options.validation_split
            )));
        }
        self.compiled()?;
        self.ensure_built_from_arrays(&data.x_refs())?;
        self.check_inputs("fit", &data.x_refs())?;
        if options.augmentation.is_some() && (data.xs.len() != 1 || data.xs[0].ndim() != 4) {
            let shapes: Vec<&[usize]> = data.xs.iter().map(|x| &x.shape()[1..]).collect();
            return Err(Error::Input(format!(
                "fit: augmentation needs one input of NHWC image batches (rank 4), found samples of shape(s) {shapes:?}"
            )));
        }

        // Keras: the validation split is the last samples, taken before shuffling.
        // As Keras: validation_data, when given, overrides validation_split.
        let given_validation = options.validation_data.take();
        let n_train = if options.validation_split > 0.0 && given_validation.is_none() {
            let n = ((n_all as f64) * (1.0 - options.validation_split as f64)) as usize;
            if n == 0 || n == n_all {
                return Err(Error::Input(format!(
                    "fit: validation_split {} of {n_all} samples leaves no training or no validation samples",
                    options.validation_split
                )));
            }
            n
        } else {
            n_all
        };
        let validation = if n_train < n_all {
            let idx: Vec<usize> = (n_train..n_all).collect();
            Some(data.gather(&idx))
        } else {
            match given_validation {
                Some((vx, vy)) => Some(self.resolve_data("fit (validation data)", vx, vy)?),
                None => None,
            }
        };
        if let Some(val) = &validation {
            // Checked now, not at the end of the first epoch.
            let (in_names, out_names) = (self.input_names(), self.output_names());
            let pairs = [
                ("x", &val.xs, &data.xs, &in_names),
                ("y", &val.ys, &data.ys, &out_names),
            ];
            for (role, vals, trains, names) in pairs {
                for (i, (v, t)) in vals.iter().zip(trains.iter()).enumerate() {
                    if v.shape()[1..] != t.shape()[1..] {
                        let what = label(role, names, i, vals.len());
                        return Err(Error::Input(format!(
                            "fit: validation {what} has samples of shape {:?} (array {:?}) but the training {what} has {:?} (array {:?})",
                            &v.shape()[1..],
                            v.shape(),
                            &t.shape()[1..],
                            t.shape()
                        )));
                    }
                }
            }
        }
        let weights = self.sample_weights(&data, n_train, &options)?;
        if let Some(s) = session.as_deref_mut() {
            self.distributed_start(s, n_train, options.batch_size)?;
        }

        let mut history = History::default();
        let root = session.as_ref().is_none_or(|s| s.is_root());
        let mut progress = Progress::new(if root { options.verbose } else { 0 });
        let mut callbacks = std::mem::take(&mut options.callbacks);
        if !root {
            // Only rank 0 writes files (checkpoints, CSV logs).
            callbacks.retain(|cb| !cb.root_only());
        }
        self.stop_training = false;
        for cb in callbacks.iter_mut() {
            cb.prepare()?;
        }
        for cb in callbacks.iter_mut() {
            cb.on_train_begin(self)?;
        }
        let start = options.initial_epoch.unwrap_or(0);
        // The epoch index that seeds shuffling, augmentation and dropout: the
        // model's total count, so repeated or resumed fits never repeat one.
        let first_global = self.epochs_done;
        let batch_size = options.batch_size;
        let n_batches = n_train.div_ceil(batch_size);
        for epoch in start..options.epochs {
            if self.stop_training {
                break;
            }
            for cb in callbacks.iter_mut() {
                cb.on_epoch_begin(epoch, self)?;
            }
            let mut tracker = Tracker::new(self.compiled()?)?;
            let global = first_global
                .checked_add(epoch - start)
                .ok_or_else(|| Error::Model("fit: the epoch counter would overflow".into()))?;
            let order = epoch_order(n_train, options.shuffle, self.seed, global);
            progress.start_epoch(epoch, options.epochs, n_batches);
            for (batch, chunk) in order.chunks(batch_size).enumerate() {
                let mut xbs: Vec<Tensor> = data.xs.iter().map(|x| gather(x, chunk)).collect();
                if let Some(augment) = options.augmentation {
                    let xb = xbs.pop().expect("checked: one input");
                    let mut images = xb.into_dimensionality::<Ix4>().map_err(|_| {
                        Error::Input(format!(
                            "fit: augmentation needs NHWC image batches (rank 4), found samples of shape {:?}",
                            &data.xs[0].shape()[1..]
                        ))
                    })?;
                    augment.apply_batch(
                        &mut images,
                        mix_seed(self.seed, global as u64, batch as u64 ^ 0xA5A5),
                    );
                    xbs.push(images.into_dyn());
                }
                let ybs: Vec<Tensor> = data.ys.iter().map(|y| gather(y, chunk)).collect();
                let wb = weights
                    .as_ref()
                    .map(|w| Tensor::from_shape_fn(ndarray::IxDyn(&[chunk.len()]), |i| w[chunk[i[0]]]));
                let step_seed = mix_seed(self.seed ^ 0x5EED, global as u64, batch as u64);
                let (losses, preds, masks) = match session.as_deref_mut() {
                    Some(s) => self.distributed_step(s, xbs, &ybs, wb, step_seed, epoch, batch)?,
                    None => self.train_step(xbs, &ybs, wb, step_seed, epoch, batch, None)?,
                };
                tracker.add(chunk.len(), &losses, &ybs, &preds, &masks)?;
                let batch_logs = tracker.logs("");
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(epoch, batch, &batch_logs, self)?;
                }
                progress.update(batch, &batch_logs);
            }
            if let Some(s) = session.as_deref_mut() {
                self.distributed_end_epoch(s);
            }
            let mut logs = tracker.logs("");
            if let Some(val) = &validation {
                let scores = self.evaluate_data(&val.x_refs(), &val.ys, val.n, batch_size)?;
                for (k, v) in scores {
                    logs.insert(format!("val_{k}"), v);
                }
            }
            if let Some(lr) = self.learning_rate() {
                logs.insert("lr".into(), lr as f64);
            }
            if let Some(s) = session.as_deref_mut() {
                self.distributed_logs(s, &mut logs, n_train)?;
            }
            self.end_epoch(
                "fit",
                (epoch, global, options.epochs),
                &logs,
                &mut history,
                &mut callbacks,
                &mut progress,
            )?;
        }
        for cb in callbacks.iter_mut() {
            cb.on_train_end(self)?;
        }
        Ok(history)
    }

    /// The end of an epoch, the same for arrays and streams: the epoch counter, the history,
    /// the callbacks' `on_epoch_end` and the progress line. `epochs` is `(epoch, global
    /// epoch, epochs to train)`.
    pub(crate) fn end_epoch(
        &mut self,
        what: &str,
        (epoch, global, total): (usize, usize, usize),
        logs: &Logs,
        history: &mut History,
        callbacks: &mut [&mut dyn Callback],
        progress: &mut Progress,
    ) -> Result<()> {
        self.epochs_done = global
            .checked_add(1)
            .ok_or_else(|| Error::Model(format!("{what}: the epoch counter would overflow")))?;
        history.push(epoch, logs);
        for cb in callbacks.iter_mut() {
            cb.on_epoch_end(epoch, logs, self)?;
        }
        progress.end_epoch(epoch, total, logs);
        Ok(())
    }

    /// One gradient step on a batch: forward, loss (+ regularization
    /// penalties), backward, optimizer update. Returns the loss and the
    /// predictions. A non-finite loss is an error and no update is applied.
    /// `x` and `y` are one array each, or one per input/output ([`Arrays`]);
    /// for a model with several outputs the predictions are those of the
    /// first (all of them: [`Model::train_on_batch_many`]).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
    /// let (x, y) = (Tensor::ones(ndarray::IxDyn(&[4, 2])), Tensor::zeros(ndarray::IxDyn(&[4, 1])));
    /// let (loss, pred) = model.train_on_batch(x, &y)?;
    /// assert!(loss.is_finite() && pred.shape() == [4, 1]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn train_on_batch<'a>(
        &mut self,
        x: impl Into<Arrays<'a>>,
        y: impl Into<Arrays<'a>>,
    ) -> Result<(f32, Tensor)> {
        let (loss, mut preds) = self.train_on_batch_many(x, y)?;
        Ok((loss, preds.swap_remove(0)))
    }

    /// [`Model::train_on_batch`] returning every output's predictions, in order.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([2]);
    /// let (p, q) = (Dense::new(1).call(&x)?, Dense::new(3).call(&x)?);
    /// let mut model = Model::functional_many(&[&x], &[&p, &q])?;
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
    /// let xs = Tensor::ones(ndarray::IxDyn(&[4, 2]));
    /// let (yp, yq) = (Tensor::zeros(ndarray::IxDyn(&[4, 1])), Tensor::zeros(ndarray::IxDyn(&[4, 3])));
    /// let (_, preds) = model.train_on_batch_many(&xs, [&yp, &yq])?;
    /// assert_eq!(preds[1].shape(), &[4, 3]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn train_on_batch_many<'a>(
        &mut self,
        x: impl Into<Arrays<'a>>,
        y: impl Into<Arrays<'a>>,
    ) -> Result<(f32, Vec<Tensor>)> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        let data = self.resolve_data("train_on_batch", x.into(), y.into())?;
        self.compiled()?;
        self.ensure_built_from_arrays(&data.x_refs())?;
        self.check_inputs("train_on_batch", &data.x_refs())?;
        let seed = mix_seed(self.seed ^ 0xBA7C, self.epochs_done as u64, u64::MAX);
        let xs: Vec<Tensor> = data.xs.into_iter().map(Cow::into_owned).collect();
        let ys: Vec<Tensor> = data.ys.into_iter().map(Cow::into_owned).collect();
        let (losses, preds, _) = self.train_step(xs, &ys, None, seed, self.epochs_done, 0, None)?;
        Ok((losses.total, preds))
    }

    /// One step; with `sync`, the gradients (and the loss) are summed across
    /// the ranks before the optimizer step, and the loss checked is the sum.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn train_step(
        &mut self,
        xbs: Vec<Tensor>,
        ybs: &[Tensor],
        wb: Option<Tensor>,
        seed: u64,
        epoch: usize,
        batch: usize,
        mut sync: Option<&mut Session>,
    ) -> Result<(BatchLosses, Vec<Tensor>, Vec<Option<Mask>>)> {
        let mut ctx = ForwardContext::training(seed);
        let xs: Vec<Var> = xbs.into_iter().map(Var::constant).collect();
        let (preds, masks): (Vec<Var>, Vec<Option<Mask>>) =
            self.forward_many_masked(&xs, &mut ctx)?.into_iter().unzip();
        drop(xs);
        let shares = match sync.as_mut() {
            Some(s) => Some(s.masked_loss_shares(&preds, &masks, self.compiled()?.outputs.len())),
            None => None,
        };
        let compiled = self.compiled_mut()?;
        let ys: Vec<Var> = ybs.iter().map(|y| Var::constant(y.clone())).collect();
        let w = wb.map(Var::constant);
        let (mut loss, mut per_output) =
            weighted_loss(compiled, &ys, &preds, &masks, w.as_ref(), shares.as_deref())?;
        for extra in ctx.take_losses() {
            loss = ops::add(&loss, &extra)?;
        }
        let mut value = loss.item()?;
        if !value.is_finite() && sync.is_none() {
            return Err(Error::NonFiniteLoss { epoch, batch, value });
        }
        if !loss.requires_grad() {
            return Err(Error::Model(
                "the loss does not depend on any trainable weight (are all layers frozen?)".into(),
            ));
        }
        let params = self.net.parameters();
        let trainable: Vec<(&str, &Var)> = params
            .iter()
            .filter(|p| p.trainable)
            .map(|p| (p.name.as_str(), &p.var))
            .collect();
        let backward = match sync {
            Some(s) => {
                s.backward_and_reduce(Some(&loss), &trainable, &mut value, &mut per_output, epoch, batch)
            }
            None => loss.backward().map_err(Error::from),
        };
        let stepped = backward.and_then(|()| {
            self.compiled_mut()?
                .optimizer
                .step(&trainable)
                .map_err(Error::from)
        });
        // Forget the gradients whether or not the step worked: a gradient left
        // by a failed step would be added to the next step's.
        for p in &params {
            p.var.zero_grad();
        }
        stepped?;
        let losses = BatchLosses {
            total: value,
            per_output,
        };
        Ok((losses, preds.iter().map(Var::to_tensor).collect(), masks))
    }

    /// Per-sample loss weights from `sample_weight` and `class_weight`, for
    /// the first `n` samples (the same weights for every output).
    fn sample_weights(
        &self,
        data: &Data<'_>,
        n: usize,
        options: &FitOptions<'_>,
    ) -> Result<Option<Vec<f32>>> {
        let mut weights: Option<Vec<f32>> = None;
        if let Some(sw) = options.sample_weight {
            if sw.len() != data.n {
                return Err(Error::Input(format!(
                    "fit: sample_weight has {} values for {} samples",
                    sw.len(),
                    data.n
                )));
            }
            weights = Some(sw[..n].to_vec());
        }
        if let Some(cw) = &options.class_weight {
            if data.ys.len() != 1 {
                return Err(Error::Input(format!(
                    "fit: class_weight is only supported for a model with one output (as in Keras 3); this one has \
                     {} outputs {:?}: weight samples with sample_weight instead",
                    data.ys.len(),
                    self.output_names()
                )));
            }
            let classes = class_of_each_sample(&data.ys[0], n)?;
            let w = weights.get_or_insert_with(|| vec![1.0; n]);
            for (wi, c) in w.iter_mut().zip(classes) {
                *wi *= cw.get(&c).copied().unwrap_or(1.0);
            }
        }
        Ok(weights)
    }

    /// The optimizer's current learning rate, if compiled.
    pub fn learning_rate(&self) -> Option<f32> {
        self.compiled.as_ref().map(|c| c.optimizer.learning_rate())
    }
}

/// Class index of each of the first `n` targets: sparse labels `(n,)`/`(n, 1)` or one-hot rows (argmax).
pub(crate) fn class_of_each_sample(y: &Tensor, n: usize) -> Result<Vec<usize>> {
    let bad = |v: f32| {
        Error::Input(format!(
            "fit: class_weight needs class-index or one-hot targets, found the value {v}"
        ))
    };
    if y.ndim() == 1 || (y.ndim() == 2 && y.shape()[1] == 1) {
        let flat = y
            .view()
            .into_shape_with_order(y.len())
            .map_err(|e| Error::Input(e.to_string()))?;
        let flat = flat
            .into_dimensionality::<Ix1>()
            .map_err(|e| Error::Input(e.to_string()))?;
        flat.iter()
            .take(n)
            .map(|&v| {
                if v >= 0.0 && v.fract() == 0.0 {
                    Ok(v as usize)
                } else {
                    Err(bad(v))
                }
            })
            .collect()
    } else if y.ndim() == 2 {
        Ok(y.outer_iter()
            .take(n)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    )
                    .0
            })
            .collect())
    } else {
        Err(Error::Input(format!(
            "fit: class_weight needs targets of rank 1 or 2, found shape {:?}",
            y.shape()
        )))
    }
}

impl<N: Layer> ModelHandle for Model<N> {
    fn get_weights_by_name(&self) -> Vec<(String, Tensor)> {
        Model::get_weights_by_name(self)
    }
    fn set_weights_by_name(&mut self, weights: &[(String, Tensor)]) -> Result<()> {
        Model::set_weights_by_name(self, weights)
    }
    fn learning_rate(&self) -> Option<f32> {
        Model::learning_rate(self)
    }
    fn set_learning_rate(&mut self, lr: f32) {
        if let Some(c) = self.compiled.as_mut() {
            c.optimizer.set_learning_rate(lr);
        }
    }
    fn stop_training(&mut self) {
        Model::stop_training(self)
    }
    fn save(&self, dir: &std::path::Path) -> Result<()> {
        Model::save(self, dir)
    }
}
