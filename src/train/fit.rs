//! The training loop: `fit` and one training step.

use super::batches::{check_batch_size, check_pair, epoch_order, gather, mix_seed};
use super::options::FitOptions;
use crate::callbacks::{Logs, ModelHandle};
use crate::error::{Error, Result};
use crate::history::History;
use crate::model::Model;
use crate::progress::Progress;
use ndarray::{Axis, Ix1, Ix4};
use neurite_autograd::{ops, Var};
use neurite_metrics::streaming::StreamingMetric;
use neurite_nn::losses::Reduction;
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;

impl<N: Layer> Model<N> {
    /// Trains the model on `x` (samples along axis 0) against targets `y`,
    /// as Keras' `fit`: batches, shuffling, validation, class and sample
    /// weights, callbacks, progress. Returns the per-epoch [`History`].
    ///
    /// Builds the model from the data's sample shape if needed. As in Keras,
    /// each call trains the epochs `initial_epoch..epochs` (by default
    /// `0..epochs`), so calling `fit(epochs(1))` three times trains three
    /// epochs. Shuffles and dropout masks follow the model's total epoch count
    /// ([`Model::epochs_done`]): a model loaded from a checkpoint and fitted
    /// with `initial_epoch(model.epochs_done())` continues exactly as an
    /// uninterrupted run would.
    pub fn fit(&mut self, x: &Tensor, y: &Tensor, mut options: FitOptions<'_>) -> Result<History> {
        // Reuse freed step buffers instead of page-faulting them back (see neurite_tensor::memory).
        neurite_tensor::memory::tune_allocator();
        // Flush denormals here and on rayon's threads; the caller's mode is back on return (neurite_tensor::denormals).
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        let n_all = check_pair("fit", x, y)?;
        check_batch_size("fit", options.batch_size)?;
        if !(0.0..1.0).contains(&options.validation_split) {
            return Err(Error::Input(format!(
                "fit: validation_split must be in [0, 1), found {}",
                options.validation_split
            )));
        }
        self.compiled()?;
        self.ensure_built_from(&x.shape()[1..])?;
        self.check_input("fit", x)?;

        // Keras: the validation split is the last samples, taken before shuffling.
        // As Keras: validation_data, when given, overrides validation_split.
        let n_train = if options.validation_split > 0.0 && options.validation_data.is_none() {
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
        let split_val;
        let validation = if n_train < n_all {
            let idx: Vec<usize> = (n_train..n_all).collect();
            split_val = (gather(x, &idx), gather(y, &idx));
            Some((&split_val.0, &split_val.1))
        } else {
            options.validation_data
        };
        if let Some((vx, vy)) = validation {
            check_pair("fit (validation data)", vx, vy)?;
            // Checked now, not at the end of the first epoch.
            for (what, val, train) in [("x", vx, x), ("y", vy, y)] {
                if val.shape()[1..] != train.shape()[1..] {
                    return Err(Error::Input(format!(
                        "fit: validation {what} has samples of shape {:?} (array {:?}) but the training {what} has {:?} (array {:?})",
                        &val.shape()[1..],
                        val.shape(),
                        &train.shape()[1..],
                        train.shape()
                    )));
                }
            }
        }
        let weights = self.sample_weights(y, n_train, &options)?;

        let mut history = History::default();
        let mut progress = Progress::new(options.verbose);
        let mut callbacks = std::mem::take(&mut options.callbacks);
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
            let mut metrics = self.metric_accumulators()?;
            let global = first_global
                .checked_add(epoch - start)
                .ok_or_else(|| Error::Model("fit: the epoch counter would overflow".into()))?;
            let order = epoch_order(n_train, options.shuffle, self.seed, global);
            progress.start_epoch(epoch, options.epochs, n_batches);
            let (mut loss_sum, mut seen) = (0.0f64, 0usize);
            for (batch, chunk) in order.chunks(batch_size).enumerate() {
                let mut xb = gather(x, chunk);
                if let Some(augment) = options.augmentation {
                    let mut images = xb.into_dimensionality::<Ix4>().map_err(|_| {
                        Error::Input(format!(
                            "fit: augmentation needs NHWC image batches (rank 4), found samples of shape {:?}",
                            &x.shape()[1..]
                        ))
                    })?;
                    augment.apply_batch(
                        &mut images,
                        mix_seed(self.seed, global as u64, batch as u64 ^ 0xA5A5),
                    );
                    xb = images.into_dyn();
                }
                let yb = gather(y, chunk);
                let wb = weights
                    .as_ref()
                    .map(|w| Tensor::from_shape_fn(ndarray::IxDyn(&[chunk.len()]), |i| w[chunk[i[0]]]));
                let step_seed = mix_seed(self.seed ^ 0x5EED, global as u64, batch as u64);
                let (loss, y_pred) = self.train_step(xb, &yb, wb, step_seed, epoch, batch)?;
                loss_sum += loss as f64 * chunk.len() as f64;
                seen += chunk.len();
                for m in metrics.iter_mut() {
                    m.update(yb.view(), y_pred.view())?;
                }
                let mut batch_logs = Logs::new();
                batch_logs.insert("loss".into(), loss_sum / seen as f64);
                for m in &metrics {
                    batch_logs.insert(m.name().to_string(), m.result());
                }
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(epoch, batch, &batch_logs, self)?;
                }
                progress.update(batch, &batch_logs);
            }
            let mut logs = Logs::new();
            logs.insert("loss".into(), loss_sum / seen.max(1) as f64);
            for m in &metrics {
                logs.insert(m.name().to_string(), m.result());
            }
            if let Some((vx, vy)) = validation {
                for (k, v) in self.evaluate_batched(vx, vy, batch_size)? {
                    logs.insert(format!("val_{k}"), v);
                }
            }
            if let Some(lr) = self.learning_rate() {
                logs.insert("lr".into(), lr as f64);
            }
            self.epochs_done = global
                .checked_add(1)
                .ok_or_else(|| Error::Model("fit: the epoch counter would overflow".into()))?;
            history.push(epoch, &logs);
            for cb in callbacks.iter_mut() {
                cb.on_epoch_end(epoch, &logs, self)?;
            }
            progress.end_epoch(epoch, options.epochs, &logs);
        }
        for cb in callbacks.iter_mut() {
            cb.on_train_end(self)?;
        }
        Ok(history)
    }

    /// One gradient step on a batch: forward, loss (+ regularization
    /// penalties), backward, optimizer update. Returns the loss and the
    /// predictions. A non-finite loss is an error and no update is applied.
    pub fn train_on_batch(&mut self, x: Tensor, y: &Tensor) -> Result<(f32, Tensor)> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        check_pair("train_on_batch", &x, y)?;
        self.compiled()?;
        self.ensure_built_from(&x.shape()[1..])?;
        self.check_input("train_on_batch", &x)?;
        let seed = mix_seed(self.seed ^ 0xBA7C, self.epochs_done as u64, u64::MAX);
        self.train_step(x, y, None, seed, self.epochs_done, 0)
    }

    fn train_step(
        &mut self,
        xb: Tensor,
        yb: &Tensor,
        wb: Option<Tensor>,
        seed: u64,
        epoch: usize,
        batch: usize,
    ) -> Result<(f32, Tensor)> {
        let mut ctx = ForwardContext::training(seed);
        let x = Var::constant(xb);
        let y_pred = self.net.forward(&x, &mut ctx)?;
        drop(x);
        let compiled = self.compiled_mut()?;
        let y_true = Var::constant(yb.clone());
        let w = wb.map(Var::constant);
        let mut loss = compiled
            .loss
            .compute(&y_true, &y_pred, w.as_ref(), Reduction::Mean)?;
        for extra in ctx.take_losses() {
            loss = ops::add(&loss, &extra)?;
        }
        let value = loss.item()?;
        if !value.is_finite() {
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
        let stepped = match loss.backward() {
            Ok(()) => self
                .compiled_mut()?
                .optimizer
                .step(&trainable)
                .map_err(Error::from),
            Err(e) => Err(e.into()),
        };
        // Forget the gradients whether or not the step worked: a gradient left
        // by a failed step would be added to the next step's.
        for p in &params {
            p.var.zero_grad();
        }
        stepped?;
        Ok((value, y_pred.to_tensor()))
    }

    pub(crate) fn metric_accumulators(&self) -> Result<Vec<Box<dyn StreamingMetric>>> {
        self.compiled()?.metrics.iter().map(|m| m.accumulator()).collect()
    }

    /// Checks the per-sample shape of `x` against the network (the error names the first layer that refuses it).
    pub(crate) fn check_input(&self, what: &str, x: &Tensor) -> Result<()> {
        if x.ndim() == 0 {
            return Err(Error::Input(format!(
                "{what}: x needs a batch axis, found a scalar"
            )));
        }
        self.net
            .output_shape(&x.shape()[1..])
            .map_err(|e| Error::Input(format!("{what}: {e}")))?;
        Ok(())
    }

    /// Per-sample loss weights from `sample_weight` and `class_weight`, for the first `n` samples.
    fn sample_weights(&self, y: &Tensor, n: usize, options: &FitOptions<'_>) -> Result<Option<Vec<f32>>> {
        let mut weights: Option<Vec<f32>> = None;
        if let Some(sw) = options.sample_weight {
            if sw.len() != y.len_of(Axis(0)) {
                return Err(Error::Input(format!(
                    "fit: sample_weight has {} values for {} samples",
                    sw.len(),
                    y.len_of(Axis(0))
                )));
            }
            weights = Some(sw[..n].to_vec());
        }
        if let Some(cw) = &options.class_weight {
            let classes = class_of_each_sample(y, n)?;
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
fn class_of_each_sample(y: &Tensor, n: usize) -> Result<Vec<usize>> {
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
    fn get_weights(&self) -> Vec<(String, Tensor)> {
        Model::get_weights(self)
    }
    fn set_weights(&mut self, weights: &[(String, Tensor)]) -> Result<()> {
        Model::set_weights(self, weights)
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
