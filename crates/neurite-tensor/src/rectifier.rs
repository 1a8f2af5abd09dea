//! Rectifiers with parameters, forward and backward in one pass each:
//! Keras' `ReLU` layer (`max_value`, `negative_slope`, `threshold`) and
//! `PReLU` (a learned slope per element of the sample, shared along some axes).
//!
//! ```
//! use neurite_tensor::rectifier::{relu_ext, ReluParams};
//! let p = ReluParams { max_value: Some(6.0), negative_slope: 0.5, threshold: 1.0 };
//! let x = ndarray::arr1(&[-1.0f32, 0.5, 3.0, 9.0]).into_dyn();
//! assert_eq!(relu_ext(&x, &p)?, ndarray::arr1(&[-1.0f32, -0.25, 3.0, 6.0]).into_dyn());
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::broadcast::sum_to_shape;
use crate::elementwise::{PAR_CHUNK, PAR_THRESHOLD};
use crate::error::{Result, TensorError};
use crate::Tensor;
use rayon::prelude::*;

/// Images per partial sum of PReLU's `alpha` gradient: the partials are
/// added in image order, so the result does not depend on the thread count.
const ALPHA_BLOCK: usize = 8;

/// Parameters of Keras' `ReLU`:
/// `f(x) = min(x, max_value)` for `x > threshold`,
/// `negative_slope * (x - threshold)` otherwise.
///
/// ```
/// let p = neurite_tensor::rectifier::ReluParams::default();
/// assert_eq!((p.max_value, p.negative_slope, p.threshold), (None, 0.0, 0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReluParams {
    /// Upper clip (`None`: unbounded); must be `>= 0`.
    pub max_value: Option<f32>,
    /// Slope below the threshold; must be `>= 0`.
    pub negative_slope: f32,
    /// Where the function turns from the slope to the identity; must be `>= 0`.
    pub threshold: f32,
}

impl ReluParams {
    /// Errors (naming `op` and the field) unless every field is finite and `>= 0`, as Keras requires.
    ///
    /// ```
    /// use neurite_tensor::rectifier::ReluParams;
    /// assert!(ReluParams { negative_slope: -1.0, ..Default::default() }.check("relu").is_err());
    /// assert!(ReluParams { max_value: Some(f32::NAN), ..Default::default() }.check("relu").is_err());
    /// ```
    pub fn check(&self, op: &'static str) -> Result<()> {
        let fields = [
            ("max_value", self.max_value.unwrap_or(0.0)),
            ("negative_slope", self.negative_slope),
            ("threshold", self.threshold),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TensorError::invalid(
                    op,
                    format!("{name} must be a finite number >= 0, found {v}"),
                ));
            }
        }
        Ok(())
    }

    /// `(threshold, max_value or +inf, negative_slope)`.
    fn parts(&self) -> (f32, f32, f32) {
        (
            self.threshold,
            self.max_value.unwrap_or(f32::INFINITY),
            self.negative_slope,
        )
    }
}

// The chunk kernels take the parameters by value, so that they live in
// registers and the loops vectorise (selects, no data-dependent branches);
// captured by reference in a closure they were reloaded per element and the
// loop ran scalar, 10x slower (measured with perf on 1.6M elements).

/// `f(x)` on a chunk; the zero-slope case never multiplies, so `-inf` gives 0, not NaN.
#[inline]
fn relu_ext_chunk(o: &mut [f32], x: &[f32], (t, m, s): (f32, f32, f32)) {
    let n = o.len().min(x.len());
    let (o, x) = (&mut o[..n], &x[..n]);
    if s == 0.0 {
        for i in 0..n {
            let v = x[i];
            o[i] = if v > t { v.min(m) } else { 0.0 };
        }
    } else {
        for i in 0..n {
            let v = x[i];
            let neg = s * (v - t);
            o[i] = if v > t { v.min(m) } else { neg };
        }
    }
}

/// `g * f'(x)` on a chunk: `negative_slope` at and below the threshold, 1
/// above it up to and including `max_value` (as TensorFlow's clip), 0 above
/// (`g * f'(x)` as neurite's other activations: a non-finite `g` times a 0
/// slope gives NaN).
#[inline]
fn relu_ext_backward_chunk(o: &mut [f32], g: &[f32], x: &[f32], (t, m, s): (f32, f32, f32)) {
    let n = o.len().min(g.len()).min(x.len());
    let (o, g, x) = (&mut o[..n], &g[..n], &x[..n]);
    for i in 0..n {
        let (v, gi) = (x[i], g[i]);
        // A select of constants, then one multiply: vectorises (selecting
        // between `g` and `s * g` compiled to branches, 13x slower).
        let slope = if v > t {
            if v > m {
                0.0
            } else {
                1.0
            }
        } else {
            s
        };
        o[i] = gi * slope;
    }
}

/// Runs `kernel(out_chunk, a_chunk, b_chunk)` over equal-length slices, in
/// parallel above [`PAR_THRESHOLD`] elements.
fn par_zip2(out: &mut [f32], a: &[f32], b: &[f32], kernel: impl Fn(&mut [f32], &[f32], &[f32]) + Sync) {
    if out.len() >= PAR_THRESHOLD {
        out.par_chunks_mut(PAR_CHUNK)
            .zip(a.par_chunks(PAR_CHUNK))
            .zip(b.par_chunks(PAR_CHUNK))
            .for_each(|((o, a), b)| kernel(o, a, b));
    } else {
        kernel(out, a, b);
    }
}

/// Keras' `ReLU` with parameters `p` (see [`ReluParams`]), element-wise.
/// Errors if a parameter is negative or not finite.
///
/// ```
/// use neurite_tensor::rectifier::{relu_ext, ReluParams};
/// let x = ndarray::arr1(&[-10.0f32, -5.0, 0.0, 5.0, 10.0]).into_dyn();
/// let p = ReluParams { max_value: Some(10.0), negative_slope: 0.5, threshold: 0.0 };
/// assert_eq!(relu_ext(&x, &p)?, ndarray::arr1(&[-5.0f32, -2.5, 0.0, 5.0, 10.0]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn relu_ext(x: &Tensor, p: &ReluParams) -> Result<Tensor> {
    p.check("relu_ext")?;
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let parts = p.parts();
    let mut out = vec![0.0f32; src.len()];
    par_zip2(&mut out, src, src, |o, x, _| relu_ext_chunk(o, x, parts));
    Tensor::from_shape_vec(x.raw_dim(), out).map_err(|e| TensorError::invalid("relu_ext", e.to_string()))
}

/// The gradient of [`relu_ext`]: `g * f'(x)` (see [`ReluParams`] for the
/// derivative at the kinks). Errors if `g` and `x` differ in shape.
///
/// ```
/// use neurite_tensor::rectifier::{relu_ext_backward, ReluParams};
/// let x = ndarray::arr1(&[-1.0f32, 2.0, 8.0]).into_dyn();
/// let g = ndarray::arr1(&[1.0f32, 1.0, 1.0]).into_dyn();
/// let p = ReluParams { max_value: Some(6.0), negative_slope: 0.1, threshold: 0.0 };
/// assert_eq!(relu_ext_backward(&g, &x, &p)?, ndarray::arr1(&[0.1f32, 1.0, 0.0]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn relu_ext_backward(g: &Tensor, x: &Tensor, p: &ReluParams) -> Result<Tensor> {
    if g.shape() != x.shape() {
        return Err(TensorError::shape(
            "relu_ext_backward",
            g.shape(),
            x.shape(),
            "the gradient must have the input's shape",
        ));
    }
    let (gs, xs) = (g.as_standard_layout(), x.as_standard_layout());
    let (gv, xv) = (
        gs.as_slice().expect("standard layout is contiguous"),
        xs.as_slice().expect("standard layout is contiguous"),
    );
    let parts = p.parts();
    let mut out = vec![0.0f32; xv.len()];
    par_zip2(&mut out, gv, xv, |o, g, x| {
        relu_ext_backward_chunk(o, g, x, parts)
    });
    Tensor::from_shape_vec(x.raw_dim(), out)
        .map_err(|e| TensorError::invalid("relu_ext_backward", e.to_string()))
}

/// Checks that `alpha` broadcasts over each sample of `x`: `alpha` has
/// `x`'s rank minus the batch axis, each axis equal or 1.
fn check_alpha(op: &'static str, x: &Tensor, alpha: &Tensor) -> Result<()> {
    let (xs, a) = (x.shape(), alpha.shape());
    let ok = xs.len() == a.len() + 1 && a.iter().zip(&xs[1..]).all(|(&d, &s)| d == s || d == 1);
    if !ok {
        return Err(TensorError::shape(
            op,
            xs,
            a,
            "alpha must have the shape of one sample (the input without its batch axis), with 1 on shared axes",
        ));
    }
    Ok(())
}

/// Parametric ReLU: `x` where `x >= 0`, `alpha * x` elsewhere, `alpha`
/// broadcast over each sample (shape of `x` without the batch axis, 1 on
/// shared axes). Errors if `alpha` does not fit.
///
/// ```
/// use neurite_tensor::rectifier::prelu;
/// let x = ndarray::arr2(&[[-2.0f32, -2.0], [3.0, -1.0]]).into_dyn();
/// let alpha = ndarray::arr1(&[0.5f32, 0.25]).into_dyn();
/// assert_eq!(prelu(&x, &alpha)?, ndarray::arr2(&[[-1.0f32, -0.5], [3.0, -0.25]]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn prelu(x: &Tensor, alpha: &Tensor) -> Result<Tensor> {
    check_alpha("prelu", x, alpha)?;
    let a = expanded_alpha("prelu", x, alpha)?;
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0.0f32; src.len()];
    if !a.is_empty() {
        out.par_chunks_mut(a.len())
            .zip(src.par_chunks(a.len()))
            .for_each(|(o, s)| prelu_chunk(o, s, &a));
    }
    Tensor::from_shape_vec(x.raw_dim(), out).map_err(|e| TensorError::invalid("prelu", e.to_string()))
}

/// PReLU on one sample.
#[inline]
fn prelu_chunk(o: &mut [f32], x: &[f32], a: &[f32]) {
    let n = o.len().min(x.len()).min(a.len());
    let (o, x, a) = (&mut o[..n], &x[..n], &a[..n]);
    for i in 0..n {
        let v = x[i];
        let neg = a[i] * v;
        o[i] = if v < 0.0 { neg } else { v };
    }
}

/// PReLU's backward on one sample: `dx`, and `g * x` where `x < 0` added to `acc`.
#[inline]
fn prelu_backward_chunk(d: &mut [f32], g: &[f32], x: &[f32], a: &[f32], acc: &mut [f32]) {
    let n = d.len().min(g.len()).min(x.len()).min(a.len()).min(acc.len());
    let (d, g, x, a, acc) = (&mut d[..n], &g[..n], &x[..n], &a[..n], &mut acc[..n]);
    for i in 0..n {
        let (v, gv, al) = (x[i], g[i], a[i]);
        // min and a select of loaded values: vectorises (16x faster than
        // selecting `v` or 0 by the sign, which compiled to branches).
        let xneg = v.min(0.0);
        let slope = if v < 0.0 { al } else { 1.0 };
        d[i] = gv * slope;
        acc[i] += gv * xneg;
    }
}

/// `alpha` broadcast to one whole sample of `x`, row-major.
fn expanded_alpha(op: &'static str, x: &Tensor, alpha: &Tensor) -> Result<Vec<f32>> {
    let sample = &x.shape()[1..];
    let a = alpha
        .broadcast(sample)
        .ok_or_else(|| TensorError::shape(op, alpha.shape(), sample, "alpha does not broadcast"))?;
    Ok(a.iter().copied().collect())
}

/// The gradients of [`prelu`]: `(dx, dalpha)` with `dx = g` where `x >= 0`
/// and `g * alpha` elsewhere, `dalpha` the sum of `g * x` over the batch
/// and the shared axes where `x < 0`.
///
/// ```
/// use neurite_tensor::rectifier::prelu_backward;
/// let x = ndarray::arr2(&[[-2.0f32, 1.0], [-3.0, -1.0]]).into_dyn();
/// let g = ndarray::Array2::<f32>::ones((2, 2)).into_dyn();
/// let alpha = ndarray::arr1(&[0.5f32]).into_dyn(); // shared across the feature axis
/// let (dx, da) = prelu_backward(&g, &x, &alpha)?;
/// assert_eq!(dx, ndarray::arr2(&[[0.5f32, 1.0], [0.5, 0.5]]).into_dyn());
/// assert_eq!(da, ndarray::arr1(&[-6.0f32]).into_dyn());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn prelu_backward(g: &Tensor, x: &Tensor, alpha: &Tensor) -> Result<(Tensor, Tensor)> {
    check_alpha("prelu_backward", x, alpha)?;
    if g.shape() != x.shape() {
        return Err(TensorError::shape(
            "prelu_backward",
            g.shape(),
            x.shape(),
            "the gradient must have the input's shape",
        ));
    }
    let a = expanded_alpha("prelu_backward", x, alpha)?;
    let sample = a.len();
    let (gs, xs) = (g.as_standard_layout(), x.as_standard_layout());
    let (gv, xv) = (
        gs.as_slice().expect("standard layout is contiguous"),
        xs.as_slice().expect("standard layout is contiguous"),
    );
    let mut dx = vec![0.0f32; xv.len()];
    let mut da_full = vec![0.0f32; sample];
    if sample > 0 {
        let block = sample * ALPHA_BLOCK;
        let partials: Vec<Vec<f32>> = dx
            .par_chunks_mut(block)
            .zip(xv.par_chunks(block))
            .zip(gv.par_chunks(block))
            .map(|((d, xb), gb)| {
                let mut acc = vec![0.0f32; sample];
                for ((d, xi), gi) in d.chunks_mut(sample).zip(xb.chunks(sample)).zip(gb.chunks(sample)) {
                    prelu_backward_chunk(d, gi, xi, &a, &mut acc);
                }
                acc
            })
            .collect();
        for p in &partials {
            for (d, &v) in da_full.iter_mut().zip(p) {
                *d += v;
            }
        }
    }
    let dx = Tensor::from_shape_vec(x.raw_dim(), dx)
        .map_err(|e| TensorError::invalid("prelu_backward", e.to_string()))?;
    let da_full = Tensor::from_shape_vec(ndarray::IxDyn(&x.shape()[1..]), da_full)
        .map_err(|e| TensorError::invalid("prelu_backward", e.to_string()))?;
    let da = sum_to_shape(&da_full, alpha.shape())?;
    Ok((dx, da))
}
