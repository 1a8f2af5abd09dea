//! `evaluate` and `predict`: batched forward passes that record no graph.

use super::batches::{check_batch_size, check_pair};
use crate::callbacks::Logs;
use crate::error::{Error, Result};
use crate::model::Model;
use ndarray::{Axis, Slice};
use neurite_autograd::{no_grad, Var};
use neurite_nn::losses::Reduction;
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;

impl<N: Layer> Model<N> {
    /// Loss and metrics on `x`, `y` (batches of 32), as Keras' `evaluate`:
    /// `{"loss": ..., "accuracy": ...}`, each exactly the whole-set value.
    pub fn evaluate(&self, x: &Tensor, y: &Tensor) -> Result<Logs> {
        self.evaluate_batched(x, y, 32)
    }

    /// [`Model::evaluate`] with a chosen batch size.
    pub fn evaluate_batched(&self, x: &Tensor, y: &Tensor, batch_size: usize) -> Result<Logs> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        check_batch_size("evaluate", batch_size)?;
        let n = check_pair("evaluate", x, y)?;
        let compiled = self.compiled()?;
        self.require_built("evaluate")?;
        self.check_input("evaluate", x)?;
        let mut metrics = self.metric_accumulators()?;
        let mut loss_sum = 0.0f64;
        for start in (0..n).step_by(batch_size) {
            let s = Slice::from(start..(start + batch_size).min(n));
            let xb = x.slice_axis(Axis(0), s).to_owned();
            let yb = y.slice_axis(Axis(0), s).to_owned();
            let rows = yb.len_of(Axis(0));
            let (loss, y_pred) = no_grad(|| -> Result<(f32, Tensor)> {
                let mut ctx = ForwardContext::inference();
                let y_pred = self.net.forward(&Var::constant(xb), &mut ctx)?;
                let loss =
                    compiled
                        .loss
                        .compute(&Var::constant(yb.clone()), &y_pred, None, Reduction::Mean)?;
                Ok((loss.item()?, y_pred.to_tensor()))
            })?;
            loss_sum += loss as f64 * rows as f64;
            for m in metrics.iter_mut() {
                m.update(yb.view(), y_pred.view())?;
            }
        }
        let mut logs = Logs::new();
        logs.insert("loss".into(), loss_sum / n as f64);
        for m in &metrics {
            logs.insert(m.name().to_string(), m.result());
        }
        Ok(logs)
    }

    /// The network's outputs for `x` (batches of 32, inference mode, no graph recorded).
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        self.predict_batched(x, 32)
    }

    /// [`Model::predict`] with a chosen batch size.
    pub fn predict_batched(&self, x: &Tensor, batch_size: usize) -> Result<Tensor> {
        neurite_tensor::memory::tune_allocator();
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _precision = neurite_tensor::precision::PrecisionScope::enter(self.dtype_policy.precision());
        check_batch_size("predict", batch_size)?;
        if x.ndim() == 0 || x.len_of(Axis(0)) == 0 {
            return Err(Error::Input(format!(
                "predict: x needs at least one sample, found shape {:?}",
                x.shape()
            )));
        }
        self.require_built("predict")?;
        self.check_input("predict", x)?;
        let n = x.len_of(Axis(0));
        let mut outputs = Vec::with_capacity(n.div_ceil(batch_size));
        for start in (0..n).step_by(batch_size) {
            let s = Slice::from(start..(start + batch_size).min(n));
            let xb = x.slice_axis(Axis(0), s).to_owned();
            let out = no_grad(|| {
                self.net
                    .forward(&Var::constant(xb), &mut ForwardContext::inference())
            })?;
            outputs.push(out.to_tensor());
        }
        let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
        ndarray::concatenate(Axis(0), &views)
            .map_err(|e| Error::Model(format!("predict: batch outputs do not stack: {e}")))
    }

    fn require_built(&self, what: &str) -> Result<()> {
        if self.net.is_built() {
            Ok(())
        } else {
            Err(Error::Model(format!(
                "{what}: the model is not built yet; declare input_shape on its first layer, call build(shape), or fit it first"
            )))
        }
    }
}
