//! `evaluate` and `predict`: batched forward passes that record no graph.

use super::arrays::{common_samples, label, Arrays};
use super::batches::check_batch_size;
use super::tracker::{weighted_loss, BatchLosses, Tracker};
use crate::callbacks::Logs;
use crate::error::{Error, Result};
use crate::model::Model;
use ndarray::{Axis, Slice};
use neurite_autograd::{no_grad, Var};
use neurite_nn::mask::Mask;
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;
use std::borrow::Cow;

impl<N: Layer> Model<N> {
    /// Loss and metrics on `x`, `y` (batches of 32), as Keras' `evaluate`:
    /// `{"loss": ..., "accuracy": ...}`, each exactly the whole-set value.
    /// For a model with several outputs, `x`/`y` hold one array per
    /// input/output (in order or by name, [`Arrays`]) and the values are
    /// `loss`, `<output>_loss` and `<output>_<metric>`.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([2]);
    /// let (p, q) = (Dense::new(1).with_name("p").call(&x)?, Dense::new(1).with_name("q").call(&x)?);
    /// let mut model = Model::functional_many(&[&x], &[&p, &q])?;
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[Metric::Mae])?;
    /// let (xs, y) = (Tensor::ones(ndarray::IxDyn(&[5, 2])), Tensor::zeros(ndarray::IxDyn(&[5, 1])));
    /// let scores = model.evaluate(&xs, [&y, &y])?;
    /// assert!((scores["loss"] - scores["p_loss"] - scores["q_loss"]).abs() < 1e-6);
    /// assert!(scores.contains_key("q_mae"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn evaluate<'a>(&self, x: impl Into<Arrays<'a>>, y: impl Into<Arrays<'a>>) -> Result<Logs> {
        self.evaluate_batched(x, y, 32)
    }

    /// [`Model::evaluate`] with a chosen batch size.
    pub fn evaluate_batched<'a>(
        &self,
        x: impl Into<Arrays<'a>>,
        y: impl Into<Arrays<'a>>,
        batch_size: usize,
    ) -> Result<Logs> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        check_batch_size("evaluate", batch_size)?;
        let data = self.resolve_data("evaluate", x.into(), y.into())?;
        self.compiled()?;
        self.require_built("evaluate")?;
        self.check_inputs("evaluate", &data.x_refs())?;
        self.evaluate_data(&data.x_refs(), &data.ys, data.n, batch_size)
    }

    /// Evaluates arrays already resolved and checked (`n` samples each).
    pub(crate) fn evaluate_data(
        &self,
        xs: &[&Tensor],
        ys: &[Cow<'_, Tensor>],
        n: usize,
        batch_size: usize,
    ) -> Result<Logs> {
        let compiled = self.compiled()?;
        let mut tracker = Tracker::new(compiled)?;
        for start in (0..n).step_by(batch_size) {
            let s = Slice::from(start..(start + batch_size).min(n));
            let xbs: Vec<Tensor> = xs.iter().map(|x| x.slice_axis(Axis(0), s).to_owned()).collect();
            let ybs: Vec<Tensor> = ys.iter().map(|y| y.slice_axis(Axis(0), s).to_owned()).collect();
            self.evaluate_batch(xbs, &ybs, &mut tracker)?;
        }
        Ok(tracker.logs(""))
    }

    /// Adds one batch's loss and metrics (inference mode, no graph) to `tracker`.
    pub(crate) fn evaluate_batch(
        &self,
        xbs: Vec<Tensor>,
        ybs: &[Tensor],
        tracker: &mut Tracker,
    ) -> Result<()> {
        let compiled = self.compiled()?;
        let rows = ybs[0].len_of(Axis(0));
        type Evaluated = (BatchLosses, Vec<Tensor>, Vec<Option<Mask>>);
        let (losses, preds, masks) = no_grad(|| -> Result<Evaluated> {
            let mut ctx = ForwardContext::inference();
            let xvs: Vec<Var> = xbs.into_iter().map(Var::constant).collect();
            let (preds, masks): (Vec<Var>, Vec<Option<Mask>>) =
                self.forward_many_masked(&xvs, &mut ctx)?.into_iter().unzip();
            let yvs: Vec<Var> = ybs.iter().map(|y| Var::constant(y.clone())).collect();
            let (total, per_output) = weighted_loss(compiled, &yvs, &preds, &masks, None, None)?;
            let losses = BatchLosses {
                total: total.item()?,
                per_output,
            };
            Ok((losses, preds.iter().map(Var::to_tensor).collect(), masks))
        })?;
        tracker.add(rows, &losses, ybs, &preds, &masks)
    }

    /// The network's output for `x` (batches of 32, inference mode, no
    /// graph recorded). `x` is one array, or one per input ([`Arrays`]). For
    /// a model with several outputs this is an error: use [`Model::predict_many`].
    pub fn predict<'a>(&self, x: impl Into<Arrays<'a>>) -> Result<Tensor> {
        self.predict_batched(x, 32)
    }

    /// [`Model::predict`] with a chosen batch size.
    pub fn predict_batched<'a>(&self, x: impl Into<Arrays<'a>>, batch_size: usize) -> Result<Tensor> {
        if self.output_count() != 1 {
            return Err(Error::Model(format!(
                "predict: the model has {} outputs {:?} and predict returns one array; use predict_many, which \
                 returns one array per output",
                self.output_count(),
                self.output_names()
            )));
        }
        Ok(self.predict_many_batched(x, batch_size)?.swap_remove(0))
    }

    /// One array of predictions per output, in the order of
    /// [`Model::output_names`] (batches of 32, inference mode); works for
    /// every model (one output gives a list of one).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [2]), Input::named("b", [3]));
    /// let p = Dense::new(4).call(&Concatenate::new().call_many(&[&a, &b])?)?;
    /// let q = Dense::new(1).call(&b)?;
    /// let mut model = Model::functional_many(&[&a, &b], &[&p, &q])?;
    /// model.build_inputs(&[vec![2], vec![3]])?;
    /// let (xa, xb) = (Tensor::ones(ndarray::IxDyn(&[7, 2])), Tensor::ones(ndarray::IxDyn(&[7, 3])));
    /// let out = model.predict_many([("b", &xb), ("a", &xa)])?;
    /// assert_eq!((out[0].shape(), out[1].shape()), (&[7, 4][..], &[7, 1][..]));
    /// assert!(model.predict([&xa, &xb]).unwrap_err().to_string().contains("predict_many"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn predict_many<'a>(&self, x: impl Into<Arrays<'a>>) -> Result<Vec<Tensor>> {
        self.predict_many_batched(x, 32)
    }

    /// [`Model::predict_many`] with a chosen batch size.
    pub fn predict_many_batched<'a>(
        &self,
        x: impl Into<Arrays<'a>>,
        batch_size: usize,
    ) -> Result<Vec<Tensor>> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        check_batch_size("predict", batch_size)?;
        let x = x.into();
        let names = self.input_names();
        let count = self.input_count(x.len());
        let xs = x.resolve(&names, count, "x", "predict")?;
        let xs: Vec<&Tensor> = xs.iter().map(|t| t.as_ref()).collect();
        let n = match xs.as_slice() {
            [x] => {
                if x.ndim() == 0 || x.len_of(Axis(0)) == 0 {
                    return Err(Error::Input(format!(
                        "predict: x needs at least one sample, found shape {:?}",
                        x.shape()
                    )));
                }
                x.len_of(Axis(0))
            }
            _ => {
                let labelled: Vec<(String, &Tensor)> = xs
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (label("x", &names, i, xs.len()), *x))
                    .collect();
                common_samples("predict", &labelled)?
            }
        };
        self.require_built("predict")?;
        self.check_inputs("predict", &xs)?;
        let mut outputs: Vec<Vec<Tensor>> = Vec::with_capacity(n.div_ceil(batch_size));
        for start in (0..n).step_by(batch_size) {
            let s = Slice::from(start..(start + batch_size).min(n));
            let xbs: Vec<Var> = xs
                .iter()
                .map(|x| Var::constant(x.slice_axis(Axis(0), s).to_owned()))
                .collect();
            let outs = no_grad(|| self.forward_many(&xbs, &mut ForwardContext::inference()))?;
            outputs.push(outs.iter().map(Var::to_tensor).collect());
        }
        (0..self.output_count())
            .map(|o| {
                let views: Vec<_> = outputs.iter().map(|batch| batch[o].view()).collect();
                ndarray::concatenate(Axis(0), &views)
                    .map_err(|e| Error::Model(format!("predict: batch outputs do not stack: {e}")))
            })
            .collect()
    }

    pub(crate) fn require_built(&self, what: &str) -> Result<()> {
        if self.net.is_built() {
            Ok(())
        } else {
            Err(Error::Model(format!(
                "{what}: the model is not built yet; declare input_shape on its first layer, call build(shape), or fit it first"
            )))
        }
    }
}
