//! What every method shares: checking the model and the input, the model's
//! outputs, and the gradient of each row's target unit with respect to its
//! input row, in batches.

use super::target::Target;
use crate::error::{Error, Result};
use crate::model::Model;
use ndarray::{Axis, Slice};
use neurite_autograd::{no_grad, Var};
use neurite_nn::layer::InputArity;
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;

/// What a method needs once the model and the input are checked: the
/// outputs on `x` and the unit explained for every sample.
pub(crate) struct Prepared {
    pub(crate) outputs: Tensor,
    pub(crate) units: Vec<usize>,
}

/// Checks that the model can be explained on `x` (built, one input and one
/// output, `x`'s samples fit the input) and resolves the target.
pub(crate) fn prepare<N: Layer>(
    model: &Model<N>,
    x: &Tensor,
    target: &Target,
    batch_size: usize,
    method: &str,
) -> Result<Prepared> {
    check(model, x, batch_size, method)?;
    let outputs = outputs(model, x, batch_size)?;
    let units = target.units(&outputs)?;
    Ok(Prepared { outputs, units })
}

fn check<N: Layer>(model: &Model<N>, x: &Tensor, batch_size: usize, method: &str) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::ZeroBatchSize {
            context: method.to_string(),
        });
    }
    if !model.is_built() {
        return Err(Error::Model(format!(
            "{method}: the model is not built yet; declare input_shape on its first layer, call build(shape), or fit it first"
        )));
    }
    let one_input = match model.graph() {
        Some(g) => g.input_names().len() == 1,
        None => model.network().input_arity() == InputArity::One,
    };
    if !one_input || model.output_count() != 1 {
        return Err(Error::Model(format!(
            "{method}: explains models with one input and one output; this one has inputs {:?} and outputs {:?}",
            model.input_names(),
            model.output_names()
        )));
    }
    if x.ndim() == 0 || x.len_of(Axis(0)) == 0 {
        return Err(Error::Input(format!(
            "{method}: x needs at least one sample, found shape {:?}",
            x.shape()
        )));
    }
    if let Some(bad) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Input(format!(
            "{method}: x holds a non-finite value ({}) at flat index {bad}",
            x.iter().nth(bad).copied().unwrap_or(f32::NAN)
        )));
    }
    model.check_inputs(method, &[x])
}

/// Row ranges `start..end` of at most `batch_size` rows covering `0..n`.
pub(crate) fn batches(n: usize, batch_size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(batch_size.max(1))
        .map(move |s| (s, (s + batch_size).min(n)))
}

fn check_output(out: &[usize], rows: usize) -> Result<usize> {
    match *out {
        [r, k] if r == rows => Ok(k),
        _ => Err(Error::Input(format!(
            "explain: the model's output must have shape (samples, units), found {out:?} for {rows} samples"
        ))),
    }
}

/// The model's outputs on `x` (inference mode, no graph recorded).
pub(crate) fn outputs<N: Layer>(model: &Model<N>, x: &Tensor, batch_size: usize) -> Result<Tensor> {
    let _denormals = neurite_tensor::denormals::DenormalScope::enter();
    let mut parts = Vec::new();
    for (s, e) in batches(x.len_of(Axis(0)), batch_size) {
        let xb = Var::constant(x.slice_axis(Axis(0), Slice::from(s..e)).to_owned());
        let out = no_grad(|| model.forward(&xb, &mut ForwardContext::inference()))?.to_tensor();
        check_output(out.shape(), e - s)?;
        parts.push(out);
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(0), &views)
        .map_err(|e| Error::Model(format!("explain: outputs do not stack: {e}")))
}

/// Takes the model's accumulated weight gradients out and puts them back
/// when dropped: an explanation's backward passes also reach the weights.
pub(crate) struct KeepWeightGrads(Vec<(Var, Option<Tensor>)>);

impl KeepWeightGrads {
    pub(crate) fn new<N: Layer>(model: &Model<N>) -> Self {
        KeepWeightGrads(
            model
                .parameters()
                .into_iter()
                .map(|p| {
                    let g = p.var.take_grad();
                    (p.var, g)
                })
                .collect(),
        )
    }
}

impl Drop for KeepWeightGrads {
    fn drop(&mut self) {
        for (var, grad) in self.0.drain(..) {
            var.set_grad(grad);
        }
    }
}

/// A `(rows, units)` tensor holding 1 at each row's unit: the upstream
/// gradient that picks row `i`'s unit `units[i]`.
fn one_hot(units: &[usize], k: usize) -> Tensor {
    let mut t = Tensor::zeros(ndarray::IxDyn(&[units.len(), k]));
    for (i, &u) in units.iter().enumerate() {
        t[[i, u]] = 1.0;
    }
    t
}

/// Runs one batch with a gradient-collecting leaf and returns
/// d output[i, units[i]] / d input[i] for every row (samples do not
/// interact in inference mode, so one backward pass serves the batch).
fn batch_gradients<N: Layer>(model: &Model<N>, xb: Tensor, units: &[usize]) -> Result<Tensor> {
    let rows = xb.len_of(Axis(0));
    let leaf = Var::parameter(xb);
    let out = model.forward(&leaf, &mut ForwardContext::inference())?;
    let k = check_output(&out.shape(), rows)?;
    out.backward_with(one_hot(units, k))?;
    leaf.take_grad().ok_or_else(|| {
        Error::Model(
            "explain: the model's output does not depend differentiably on its input (does it start with an \
             Embedding of token ids?); gradient methods need a differentiable input: use Occlusion"
                .into(),
        )
    })
}

/// The gradient of row `i`'s unit `units[i]` with respect to row `i` of
/// `points`, for every row, in batches of `batch_size` rows (the model's
/// kernels run each batch in parallel). The model's weight gradients are
/// left as they were.
pub(crate) fn input_gradients<N: Layer>(
    model: &Model<N>,
    points: &Tensor,
    units: &[usize],
    batch_size: usize,
) -> Result<Tensor> {
    let _denormals = neurite_tensor::denormals::DenormalScope::enter();
    let _keep = KeepWeightGrads::new(model);
    let mut grads = Tensor::zeros(points.raw_dim());
    for (s, e) in batches(points.len_of(Axis(0)), batch_size) {
        let rows = Slice::from(s..e);
        let g = batch_gradients(model, points.slice_axis(Axis(0), rows).to_owned(), &units[s..e])?;
        grads.slice_axis_mut(Axis(0), rows).assign(&g);
    }
    Ok(grads)
}
