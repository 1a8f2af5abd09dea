//! `Model::evaluate_stream` and `Model::predict_stream`: evaluation and prediction over a
//! [`DataStream`].

use super::cursor::{BatchShapes, Cursor};
use super::source::DataStream;
use crate::callbacks::Logs;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::train::tracker::Tracker;
use ndarray::Axis;
use neurite_autograd::{no_grad, Var};
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;

/// The batch size `evaluate` and `predict` cut an indexed source into (Keras' default).
const DEFAULT_BATCH: usize = 32;

impl<N: Layer> Model<N> {
    /// Loss and metrics over a [`DataStream`] (Keras' `evaluate(generator, steps=...)`):
    /// `steps` batches, or one whole pass over the stream when `None`. Exactly the values
    /// [`Model::evaluate`] gives for the same samples. An indexed source is read in order, in
    /// batches of 32 unless the stream sets its size.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// use neurite::DataStream;
    /// let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[Metric::Mae])?;
    /// let (x, y) = (Tensor::ones(ndarray::IxDyn(&[10, 2])), Tensor::zeros(ndarray::IxDyn(&[10, 1])));
    /// let ds = neurite::data::Dataset::new(x.clone(), y.clone())?;
    /// let streamed = model.evaluate_stream(DataStream::indexed(ds).batch_size(3), None)?;
    /// assert_eq!(streamed, model.evaluate_batched(&x, &y, 3)?);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn evaluate_stream(&self, data: impl Into<DataStream>, steps: Option<usize>) -> Result<Logs> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        if steps == Some(0) {
            return Err(Error::Input(
                "evaluate_stream: steps must be at least 1 (zero steps)".into(),
            ));
        }
        self.compiled()?;
        self.require_built("evaluate_stream")?;
        let mut data = data.into();
        let mut cursor = Cursor::new(&mut data, 0, self.seed, false, DEFAULT_BATCH, "evaluate_stream");
        self.evaluate_cursor(&mut cursor, steps, "evaluate_stream")?
            .ok_or_else(|| Error::Input("evaluate_stream: the data stream has no batches left".into()))
    }

    /// Evaluates `steps` batches (or one pass) from `cursor`; `None` when it had nothing left.
    pub(crate) fn evaluate_cursor(
        &self,
        cursor: &mut Cursor<'_>,
        steps: Option<usize>,
        what: &str,
    ) -> Result<Option<Logs>> {
        let mut tracker = Tracker::new(self.compiled()?)?;
        let mut shapes = BatchShapes::new();
        let mut batch = 0;
        while steps.is_none_or(|s| batch < s) {
            let Some(b) = cursor.next(batch == 0)? else {
                break;
            };
            shapes.check(what, 0, batch, &b)?;
            if batch == 0 {
                self.check_stream_layout(&b.xs, &b.ys)?;
                self.check_inputs(what, &b.xs.iter().collect::<Vec<_>>())?;
            }
            self.evaluate_batch(b.xs, &b.ys, &mut tracker)?;
            batch += 1;
        }
        Ok((batch > 0).then(|| tracker.logs("")))
    }

    /// The model's output for the batches of a [`DataStream`] (Keras' `predict(generator,
    /// steps=...)`), stacked: `steps` batches, or one whole pass when `None`. Batches may hold
    /// targets; they are ignored. For a model with several outputs use
    /// [`Model::predict_many_stream`].
    ///
    /// ```
    /// use neurite::prelude::*;
    /// use neurite::DataStream;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.build(&[3])?;
    /// let x = Tensor::ones(ndarray::IxDyn(&[7, 3]));
    /// let batches = vec![x.slice_axis(ndarray::Axis(0), (0..4).into()).to_owned(), x.slice_axis(ndarray::Axis(0), (4..7).into()).to_owned()];
    /// let out = model.predict_stream(DataStream::from_iter(batches), None)?;
    /// assert_eq!(out, model.predict_batched(&x, 4)?);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn predict_stream(&self, data: impl Into<DataStream>, steps: Option<usize>) -> Result<Tensor> {
        if self.output_count() != 1 {
            return Err(Error::Model(format!(
                "predict_stream: the model has {} outputs {:?}; use predict_many_stream",
                self.output_count(),
                self.output_names()
            )));
        }
        Ok(self.predict_many_stream(data, steps)?.swap_remove(0))
    }

    /// One array of predictions per output over a [`DataStream`] (see
    /// [`Model::predict_stream`]).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// use neurite::DataStream;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.build(&[3])?;
    /// let stream = DataStream::generator(|_| (0..3).map(|_| Tensor::ones(ndarray::IxDyn(&[2, 3]))));
    /// let out = model.predict_many_stream(stream, Some(2))?;
    /// assert_eq!(out[0].shape(), &[4, 2]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn predict_many_stream(
        &self,
        data: impl Into<DataStream>,
        steps: Option<usize>,
    ) -> Result<Vec<Tensor>> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        if steps == Some(0) {
            return Err(Error::Input(
                "predict_stream: steps must be at least 1 (zero steps)".into(),
            ));
        }
        self.require_built("predict_stream")?;
        let mut data = data.into();
        let mut cursor = Cursor::new(&mut data, 0, self.seed, false, DEFAULT_BATCH, "predict_stream");
        let mut shapes = BatchShapes::new();
        let mut outputs: Vec<Vec<Tensor>> = Vec::new();
        while steps.is_none_or(|s| outputs.len() < s) {
            let Some(mut b) = cursor.next(outputs.is_empty())? else {
                break;
            };
            b.ys.clear(); // targets play no part in a prediction
            shapes.check("predict_stream", 0, outputs.len(), &b)?;
            if outputs.is_empty() {
                let inputs = self.input_count(b.xs.len());
                if b.xs.len() != inputs {
                    return Err(Error::Input(format!(
                        "predict_stream: the data stream yields {} input array(s) per batch but the model has \
                         {inputs} input(s) {:?}",
                        b.xs.len(),
                        self.input_names()
                    )));
                }
                self.check_inputs("predict_stream", &b.xs.iter().collect::<Vec<_>>())?;
            }
            let xvs: Vec<Var> = b.xs.into_iter().map(Var::constant).collect();
            let outs = no_grad(|| self.forward_many(&xvs, &mut ForwardContext::inference()))?;
            outputs.push(outs.iter().map(Var::to_tensor).collect());
        }
        if outputs.is_empty() {
            return Err(Error::Input(
                "predict_stream: the data stream has no batches left".into(),
            ));
        }
        (0..self.output_count())
            .map(|o| {
                let views: Vec<_> = outputs.iter().map(|batch| batch[o].view()).collect();
                ndarray::concatenate(Axis(0), &views)
                    .map_err(|e| Error::Model(format!("predict_stream: batch outputs do not stack: {e}")))
            })
            .collect()
    }
}
