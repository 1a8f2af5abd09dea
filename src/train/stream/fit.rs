//! `Model::fit_stream`: the training loop over a [`DataStream`].

use super::cursor::{BatchShapes, Cursor};
use super::source::{DataStream, StreamBatch};
use crate::error::{Error, Result};
use crate::history::History;
use crate::model::Model;
use crate::progress::Progress;
use crate::train::batches::{check_batch_size, mix_seed};
use crate::train::fit::class_of_each_sample;
use crate::train::options::FitOptions;
use crate::train::tracker::Tracker;
use ndarray::Ix4;
use neurite_nn::Layer;
use neurite_tensor::Tensor;

/// Keras' warning when a stream runs out before `steps_per_epoch` steps.
fn ran_out(epoch: usize, done: usize, steps: Option<usize>) {
    let wanted = steps.map_or(String::new(), |s| format!(" of the {s} steps_per_epoch"));
    eprintln!(
        "warning: fit_stream: your input ran out of data after {done} step(s){wanted} in epoch {}; \
         interrupting training. Make sure that your data stream can generate at least \
         steps_per_epoch * epochs batches (a read-once iterator cannot start over).",
        epoch + 1
    );
}

impl<N: Layer> Model<N> {
    /// Trains the model on batches from a [`DataStream`] — a data set larger than memory, a
    /// [`neurite_data::DataLoader`] with augmentation, shard files, or any iterator of batches
    /// — as Keras' `fit(generator, steps_per_epoch=...)`. Otherwise as [`Model::fit`]:
    /// callbacks, progress, history, validation ([`FitOptions::validation_data`] arrays or a
    /// [`FitOptions::validation_stream`] with [`FitOptions::validation_steps`]), class weights,
    /// [`FitOptions::augmentation`], `initial_epoch`, and the same dropout and shuffle seeds:
    /// an indexed stream of the same arrays trains to bit-identical weights.
    ///
    /// Without [`FitOptions::steps_per_epoch`] an epoch is one pass over the stream; with it,
    /// an epoch is that many batches and passes run on across epochs (a pass that is used up
    /// starts over at the next epoch; one that runs out mid-epoch ends the epoch with Keras'
    /// "ran out of data" warning, and a read-once iterator that has nothing left stops
    /// training). A stream that yields no batch at all, batches whose layout changes, or
    /// options that need arrays (`sample_weight`, `validation_split`) are errors.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// use neurite::DataStream;
    /// use neurite::data::{Dataset, DataLoader};
    /// let x = ndarray::Array2::from_shape_fn((64, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    /// let y = x.map_axis(ndarray::Axis(1), |r| r.sum());
    /// let loader = DataLoader::new(Dataset::new(x, y.insert_axis(ndarray::Axis(1)))?, 16)?.shuffle(true).seed(1);
    /// let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
    /// let h = model.fit_stream(loader, FitOptions::new().epochs(5).verbose(0))?;
    /// let loss = h.get("loss").unwrap();
    /// assert!(loss[4] < loss[0]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn fit_stream(
        &mut self,
        data: impl Into<DataStream>,
        mut options: FitOptions<'_>,
    ) -> Result<History> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        let mut data = data.into();
        check_batch_size("fit_stream", options.batch_size)?;
        if options.sample_weight.is_some() {
            return Err(Error::Input(
                "fit_stream: sample_weight is an array over the data set; a stream yields each batch's \
                 weights instead, e.g. (x, y, sample_weight)"
                    .into(),
            ));
        }
        if options.validation_split > 0.0 {
            return Err(Error::Input(
                "fit_stream: validation_split needs arrays to split; pass validation_data or a \
                 validation_stream"
                    .into(),
            ));
        }
        if options.steps_per_epoch == Some(0) || options.validation_steps == Some(0) {
            return Err(Error::Input(
                "fit_stream: steps_per_epoch and validation_steps must be at least 1 (zero steps)".into(),
            ));
        }
        if options.class_weight.is_some() && self.output_count() != 1 {
            return Err(Error::Input(format!(
                "fit_stream: class_weight is only supported for a model with one output (as in Keras 3); this \
                 one has {} outputs {:?}",
                self.output_count(),
                self.output_names()
            )));
        }
        self.compiled()?;
        let validation_arrays = match options.validation_data.take() {
            Some((vx, vy)) => Some(self.resolve_data("fit_stream (validation data)", vx, vy)?),
            None => None,
        };
        let mut validation_stream = options.validation_stream.take();

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
        let first_global = self.epochs_done;
        let steps = options.steps_per_epoch;
        let known = steps.or(data.batches_per_epoch(options.batch_size));
        let mut shapes = BatchShapes::new();
        let mut cursor = Cursor::new(
            &mut data,
            first_global as u64,
            self.seed,
            options.shuffle,
            options.batch_size,
            "fit_stream",
        );
        for epoch in start..options.epochs {
            if self.stop_training {
                break;
            }
            let global = first_global
                .checked_add(epoch - start)
                .ok_or_else(|| Error::Model("fit_stream: the epoch counter would overflow".into()))?;
            let mut batch = 0usize;
            let mut tracker = Tracker::new(self.compiled()?)?;
            let mut first_batch = cursor.next(true)?;
            if first_batch.is_none() {
                ran_out(epoch, 0, steps);
                break;
            }
            for cb in callbacks.iter_mut() {
                cb.on_epoch_begin(epoch, self)?;
            }
            progress.start_epoch(epoch, options.epochs, known.unwrap_or(0));
            loop {
                let next = match first_batch.take() {
                    Some(b) => Some(b),
                    None if steps.is_some_and(|s| batch >= s) => None,
                    None => cursor.next(false)?,
                };
                let Some(b) = next else {
                    if steps.is_some_and(|s| batch < s) {
                        ran_out(epoch, batch, steps);
                    }
                    break;
                };
                let rows = shapes.check("fit_stream", epoch, batch, &b)?;
                let StreamBatch {
                    mut xs,
                    ys,
                    sample_weight,
                } = b;
                if batch == 0 && global == first_global {
                    let refs: Vec<&Tensor> = xs.iter().collect();
                    self.check_stream_layout(&xs, &ys)?;
                    self.ensure_built_from_arrays(&refs)?;
                    self.check_inputs("fit_stream", &refs)?;
                }
                if let Some(augment) = options.augmentation {
                    let x = xs
                        .pop()
                        .ok_or_else(|| Error::Input("fit_stream: no input array".into()))?;
                    let mut images = x.into_dimensionality::<Ix4>().map_err(|e| {
                        Error::Input(format!(
                            "fit_stream: augmentation needs one input of NHWC image batches (rank 4): {e}"
                        ))
                    })?;
                    augment.apply_batch(
                        &mut images,
                        mix_seed(self.seed, global as u64, batch as u64 ^ 0xA5A5),
                    );
                    xs.push(images.into_dyn());
                }
                let mut weights = sample_weight;
                if let Some(cw) = &options.class_weight {
                    let classes = class_of_each_sample(&ys[0], rows)?;
                    let w = weights.get_or_insert_with(|| Tensor::ones(ndarray::IxDyn(&[rows])));
                    for (wi, c) in w.iter_mut().zip(classes) {
                        *wi *= cw.get(&c).copied().unwrap_or(1.0);
                    }
                }
                let step_seed = mix_seed(self.seed ^ 0x5EED, global as u64, batch as u64);
                let (losses, preds, masks) =
                    self.train_step(xs, &ys, weights, step_seed, epoch, batch, None)?;
                tracker.add(rows, &losses, &ys, &preds, &masks)?;
                let batch_logs = tracker.logs("");
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(epoch, batch, &batch_logs, self)?;
                }
                progress.update(batch, &batch_logs);
                batch += 1;
            }
            if steps.is_none() {
                cursor.end_pass();
            }
            let mut logs = tracker.logs("");
            let scores = if let Some(val) = &validation_arrays {
                Some(self.evaluate_data(&val.x_refs(), &val.ys, val.n, options.batch_size)?)
            } else if let Some(stream) = validation_stream.as_mut() {
                let mut val_cursor = Cursor::new(
                    stream,
                    0,
                    self.seed,
                    false,
                    options.batch_size,
                    "fit_stream (validation)",
                );
                let scores = self.evaluate_cursor(
                    &mut val_cursor,
                    options.validation_steps,
                    "fit_stream (validation)",
                )?;
                Some(scores.ok_or_else(|| {
                    Error::Input(format!(
                        "fit_stream: the validation stream has no batches left in epoch {}: a read-once iterator \
                         validates once; use DataStream::generator or an indexed source",
                        epoch + 1
                    ))
                })?)
            } else {
                None
            };
            for (k, v) in scores.into_iter().flatten() {
                logs.insert(format!("val_{k}"), v);
            }
            if let Some(lr) = self.learning_rate() {
                logs.insert("lr".into(), lr as f64);
            }
            self.end_epoch(
                "fit_stream",
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

    /// The first batch of a stream has one array per model input and per output.
    pub(crate) fn check_stream_layout(&self, xs: &[Tensor], ys: &[Tensor]) -> Result<()> {
        let inputs = self.input_count(xs.len());
        if xs.len() != inputs {
            return Err(Error::Input(format!(
                "the data stream yields {} input array(s) per batch but the model has {inputs} input(s) {:?}",
                xs.len(),
                self.input_names()
            )));
        }
        if ys.len() != self.output_count() {
            return Err(Error::Input(format!(
                "the data stream yields {} target array(s) per batch but the model has {} output(s) {:?}",
                ys.len(),
                self.output_count(),
                self.output_names()
            )));
        }
        Ok(())
    }
}
