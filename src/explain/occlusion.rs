//! Occlusion sensitivity: how much the target drops when a window of the
//! input is replaced by a baseline value.

use super::attribution::Attribution;
use super::gradients::{outputs, prepare};
use super::target::Target;
use crate::error::{Error, Result};
use crate::model::Model;
use ndarray::{ArrayViewMutD, Axis, Slice};
use neurite_nn::Layer;
use neurite_tensor::Tensor;

/// Occlusion sensitivity (Zeiler & Fergus 2014; Captum's `Occlusion`): a
/// window slides over each sample with a stride, the values under it are
/// set to a baseline value, and every value's attribution is the mean, over
/// the windows covering it, of `f(x) − f(occluded x)` for the target (0
/// for a value no window covers). Needs no gradient, so it explains models
/// of token ids too.
///
/// The window covers the sample's leading axes; the axes it does not name
/// are covered whole: a window `[4, 4]` on `(28, 28, 1)` images hides 4×4
/// pixels of every channel. Strides default to 1 on every window axis.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::explain::{Occlusion, Target};
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([3]));
/// model.build(&[3])?;
/// let x = ndarray::arr2(&[[1.0f32, 2.0, 3.0]]).into_dyn();
/// let a = Occlusion::new([1]).explain(&model, &x, &Target::Unit(0))?;
/// let w = model.get_weights()[0].clone();
/// // A linear model: hiding x_j (baseline 0) removes w_j x_j.
/// assert!((a.values[[0, 2]] - 3.0 * w[[2, 0]]).abs() < 1e-5);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Occlusion {
    window: Vec<usize>,
    strides: Option<Vec<usize>>,
    baseline: f32,
    batch_size: usize,
}

impl Occlusion {
    /// A window of this size over the sample's leading axes, strides 1,
    /// baseline value 0, batches of 32 occluded copies.
    pub fn new(window: impl Into<Vec<usize>>) -> Self {
        Occlusion {
            window: window.into(),
            strides: None,
            baseline: 0.0,
            batch_size: 32,
        }
    }

    /// The step between windows on each window axis (default 1 on each).
    pub fn strides(mut self, strides: impl Into<Vec<usize>>) -> Self {
        self.strides = Some(strides.into());
        self
    }

    /// The value the occluded inputs take (default 0).
    pub fn baseline(mut self, value: f32) -> Self {
        self.baseline = value;
        self
    }

    /// Occluded copies per forward pass (default 32; 0 is an error).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The window's start positions along each window axis, after checking
    /// the window and strides against the sample's shape.
    fn starts(&self, sample: &[usize]) -> Result<Vec<Vec<usize>>> {
        let strides = self.strides.clone().unwrap_or_else(|| vec![1; self.window.len()]);
        let bad = |message: String| Err(Error::Input(format!("occlusion: {message}")));
        if self.window.is_empty() || self.window.len() > sample.len() {
            return bad(format!(
                "the window {:?} must name 1 to {} axes of the samples of shape {sample:?}",
                self.window,
                sample.len()
            ));
        }
        if strides.len() != self.window.len() {
            return bad(format!(
                "the strides {strides:?} must have one entry per window axis (window {:?})",
                self.window
            ));
        }
        if !self.baseline.is_finite() {
            return bad(format!(
                "the baseline value must be finite, found {}",
                self.baseline
            ));
        }
        let mut starts = Vec::new();
        for (axis, ((&w, &s), &len)) in self.window.iter().zip(&strides).zip(sample).enumerate() {
            if w == 0 || w > len || s == 0 {
                return bad(format!(
                    "axis {axis}: the window {w} must be in 1..={len} (the sample's length there) and the stride {s} at least 1"
                ));
            }
            starts.push((0..=len - w).step_by(s).collect());
        }
        Ok(starts)
    }

    /// The attributions of `x`'s samples for `target`.
    pub fn explain<N: Layer>(&self, model: &Model<N>, x: &Tensor, target: &Target) -> Result<Attribution> {
        let starts = self.starts(&x.shape()[1..])?;
        let p = prepare(model, x, target, self.batch_size, "occlusion")?;
        let windows = cartesian(&starts);
        let n = x.len_of(Axis(0));
        // How many windows cover each value (the same for every sample).
        let mut count = Tensor::zeros(ndarray::IxDyn(&x.shape()[1..]));
        for w in &windows {
            self.region(count.view_mut(), w).mapv_inplace(|c| c + 1.0);
        }
        let mut values = Tensor::zeros(x.raw_dim());
        let jobs: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (0..windows.len()).map(move |w| (i, w)))
            .collect();
        for chunk in jobs.chunks(self.batch_size.max(1)) {
            let mut shape = x.shape().to_vec();
            shape[0] = chunk.len();
            let mut batch = Tensor::zeros(ndarray::IxDyn(&shape));
            for (row, &(i, w)) in chunk.iter().enumerate() {
                let mut r = batch.index_axis_mut(Axis(0), row);
                r.assign(&x.index_axis(Axis(0), i));
                self.region(r, &windows[w]).fill(self.baseline);
            }
            let out = outputs(model, &batch, self.batch_size)?;
            for (row, &(i, w)) in chunk.iter().enumerate() {
                let drop = p.outputs[[i, p.units[i]]] - out[[row, p.units[i]]];
                self.region(values.index_axis_mut(Axis(0), i), &windows[w])
                    .mapv_inplace(|v| v + drop);
            }
        }
        for mut sample in values.axis_iter_mut(Axis(0)) {
            sample.zip_mut_with(&count, |v, &c| {
                if c > 0.0 {
                    *v /= c
                }
            });
        }
        Ok(Attribution {
            method: "occlusion".into(),
            values,
            targets: p.units,
            outputs: p.outputs,
        })
    }

    /// The part of a sample under the window starting at `start`.
    fn region<'a>(&self, sample: ArrayViewMutD<'a, f32>, start: &[usize]) -> ArrayViewMutD<'a, f32> {
        let mut view = sample;
        for (axis, (&s, &w)) in start.iter().zip(&self.window).enumerate() {
            view.slice_axis_inplace(Axis(axis), Slice::from(s..s + w));
        }
        view
    }
}

/// Every combination of one start per axis.
fn cartesian(starts: &[Vec<usize>]) -> Vec<Vec<usize>> {
    starts.iter().fold(vec![Vec::new()], |acc, axis| {
        acc.iter()
            .flat_map(|prefix| {
                axis.iter().map(move |&s| {
                    let mut v = prefix.clone();
                    v.push(s);
                    v
                })
            })
            .collect()
    })
}
