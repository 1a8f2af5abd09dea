//! Fused losses with hand-written backward. Each returns the PER-SAMPLE loss,
//! shape `(n,)`, so that callers can apply sample weights and then reduce
//! (`mean_all` for Keras' default `sum_over_batch_size`).
//!
//! Logits are `(n, c)` or, for sequences, `(n, t, ..., c)`: the softmax runs
//! over the last axis and the per-sample loss is the mean over the middle
//! axes (so the mean over samples equals Keras' mean over all `n * t` positions).

use crate::error::Result;
use crate::var::Var;
use ndarray::IxDyn;
use neurite_tensor::{Tensor, TensorError};

/// `(n, rows per sample, classes)` of logits shaped `(n, ..., c)`.
fn class_layout(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    if shape.len() < 2 {
        return Err(TensorError::invalid(
            op,
            format!("logits must be (batch, ..., classes) with rank >= 2, found shape {shape:?}"),
        )
        .into());
    }
    let c = shape[shape.len() - 1];
    let n = shape[0];
    let per = shape[1..shape.len() - 1].iter().product::<usize>();
    if c == 0 || per == 0 {
        return Err(TensorError::invalid(
            op,
            format!("logits of shape {shape:?} have an empty class or time axis"),
        )
        .into());
    }
    Ok((n, per, c))
}

/// Per row of `x` (`rows x c`, row-major): writes softmax probabilities into
/// `probs` and returns the log-sum-exp of each row.
fn softmax_rows(x: &[f32], c: usize, probs: &mut [f32]) -> Vec<f32> {
    let mut lse = Vec::with_capacity(x.len() / c);
    for (row, p) in x.chunks_exact(c).zip(probs.chunks_exact_mut(c)) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let m = if m.is_finite() { m } else { 0.0 };
        let mut s = 0.0f32;
        for (p, &v) in p.iter_mut().zip(row) {
            *p = (v - m).exp();
            s += *p;
        }
        let inv = 1.0 / s;
        p.iter_mut().for_each(|p| *p *= inv);
        lse.push(m + s.ln());
    }
    lse
}

/// Softmax cross-entropy between `logits` `(n, ..., c)` and target
/// probabilities (or one-hot rows) of the same shape:
/// `loss_i = -sum_c t * log_softmax(x)`, averaged over middle axes, shape `(n,)`.
///
/// One node; backward `dx = g (softmax(x) sum(t) - t)` (`= g (p - t)` for
/// rows of `t` summing to 1). Targets may require a gradient too
/// (`dt = -g log_softmax(x)`), e.g. for distillation.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let logits = Var::parameter(ndarray::arr2(&[[0.0f32, 0.0], [0.0, 0.0]]).into_dyn());
/// let targets = Var::from_array(ndarray::arr2(&[[1.0f32, 0.0], [0.0, 1.0]]));
/// let per_sample = ops::softmax_cross_entropy(&logits, &targets)?;
/// assert_eq!(per_sample.shape(), vec![2]);
/// assert!((per_sample.to_tensor()[[0]] - 2f32.ln()).abs() < 1e-6);
/// ops::mean_all(&per_sample)?.backward()?;
/// assert_eq!(logits.grad().unwrap(), ndarray::arr2(&[[-0.25f32, 0.25], [0.25, -0.25]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn softmax_cross_entropy(logits: &Var, targets: &Var) -> Result<Var> {
    const OP: &str = "softmax_cross_entropy";
    let shape = logits.shape();
    let (n, per, c) = class_layout(OP, &shape)?;
    let tshape = targets.shape();
    if tshape != shape {
        return Err(
            TensorError::shape(OP, &shape, &tshape, "targets must have the shape of the logits").into(),
        );
    }
    let (losses, probs, tsum) = {
        let (xv, tv) = (logits.value(), targets.value());
        let x = xv.as_standard_layout();
        let t = tv.as_standard_layout();
        let (x, t) = (
            x.as_slice().expect("standard layout"),
            t.as_slice().expect("standard layout"),
        );
        let mut probs = vec![0.0f32; x.len()];
        let lse = softmax_rows(x, c, &mut probs);
        let mut losses = vec![0.0f32; n];
        let mut tsum = Vec::with_capacity(lse.len());
        for (r, ((row, trow), l)) in x.chunks_exact(c).zip(t.chunks_exact(c)).zip(&lse).enumerate() {
            let loss: f32 = row
                .iter()
                .zip(trow)
                .map(|(&v, &t)| if t != 0.0 { t * (l - v) } else { 0.0 })
                .sum();
            losses[r / per] += loss;
            tsum.push(trow.iter().sum::<f32>());
        }
        let inv = 1.0 / per as f32;
        losses.iter_mut().for_each(|l| *l *= inv);
        (losses, probs, tsum)
    };
    let value =
        Tensor::from_shape_vec(IxDyn(&[n]), losses).map_err(|e| TensorError::invalid(OP, e.to_string()))?;
    let (lc, tc) = (logits.clone(), targets.clone());
    Ok(Var::from_op(
        value,
        OP,
        &[logits, targets],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let g = g.as_slice().expect("standard layout");
            let inv = 1.0 / per as f32;
            let dx = if lc.requires_grad() {
                let tv = tc.value();
                let t = tv.as_standard_layout();
                let t = t.as_slice().expect("standard layout");
                let mut dx = probs;
                for (r, ((d, trow), &ts)) in dx
                    .chunks_exact_mut(c)
                    .zip(t.chunks_exact(c))
                    .zip(&tsum)
                    .enumerate()
                {
                    let gr = g[r / per] * inv;
                    for (d, &t) in d.iter_mut().zip(trow) {
                        *d = gr * (*d * ts - t);
                    }
                }
                Some(
                    Tensor::from_shape_vec(IxDyn(&shape), dx)
                        .map_err(|e| TensorError::invalid(OP, e.to_string()))?,
                )
            } else {
                None
            };
            let dt = if tc.requires_grad() {
                let xv = lc.value();
                let x = xv.as_standard_layout();
                let x = x.as_slice().expect("standard layout");
                let mut dt = vec![0.0f32; x.len()];
                let mut scratch = vec![0.0f32; x.len()];
                let lse = softmax_rows(x, c, &mut scratch);
                for (r, (d, row)) in dt.chunks_exact_mut(c).zip(x.chunks_exact(c)).enumerate() {
                    let gr = g[r / per] * inv;
                    for (d, &v) in d.iter_mut().zip(row) {
                        *d = gr * (lse[r] - v);
                    }
                }
                Some(
                    Tensor::from_shape_vec(IxDyn(&shape), dt)
                        .map_err(|e| TensorError::invalid(OP, e.to_string()))?,
                )
            } else {
                None
            };
            Ok(vec![dx, dt])
        }),
    ))
}

/// Softmax cross-entropy with integer class labels: `logits` `(n, ..., c)`,
/// one label in `0..c` per row (`labels.len()` = number of rows, row-major),
/// `loss = logsumexp(x) - x[label]`, averaged over middle axes, shape `(n,)`.
///
/// One node; backward `dx = g (softmax(x) - onehot(label))`. A label `>= c`
/// is an error naming the label and `c`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let logits = Var::parameter(ndarray::arr2(&[[2.0f32, 0.0, 0.0], [0.0, 0.0, 0.0]]).into_dyn());
/// let loss = ops::sparse_softmax_cross_entropy(&logits, &[0, 2])?;
/// assert!((loss.to_tensor()[[1]] - 3f32.ln()).abs() < 1e-6);
/// ops::sum_all(&loss)?.backward()?;
/// let g = logits.grad().unwrap();
/// assert!((g[[1, 2]] - (1.0 / 3.0 - 1.0)).abs() < 1e-6);
/// assert!(ops::sparse_softmax_cross_entropy(&logits, &[0, 3]).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sparse_softmax_cross_entropy(logits: &Var, labels: &[usize]) -> Result<Var> {
    const OP: &str = "sparse_softmax_cross_entropy";
    let shape = logits.shape();
    let (n, per, c) = class_layout(OP, &shape)?;
    if labels.len() != n * per {
        return Err(TensorError::invalid(
            OP,
            format!(
                "{} labels for logits of shape {shape:?}, which need one label per row ({})",
                labels.len(),
                n * per
            ),
        )
        .into());
    }
    if let Some((i, &bad)) = labels.iter().enumerate().find(|(_, &l)| l >= c) {
        return Err(TensorError::invalid(
            OP,
            format!("label {bad} (at position {i}) is out of range for {c} classes"),
        )
        .into());
    }
    let (losses, probs) = {
        let xv = logits.value();
        let x = xv.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let mut probs = vec![0.0f32; x.len()];
        let lse = softmax_rows(x, c, &mut probs);
        let mut losses = vec![0.0f32; n];
        for (r, (row, (&l, &label))) in x.chunks_exact(c).zip(lse.iter().zip(labels)).enumerate() {
            losses[r / per] += l - row[label];
        }
        let inv = 1.0 / per as f32;
        losses.iter_mut().for_each(|l| *l *= inv);
        (losses, probs)
    };
    let value =
        Tensor::from_shape_vec(IxDyn(&[n]), losses).map_err(|e| TensorError::invalid(OP, e.to_string()))?;
    let labels = labels.to_vec();
    Ok(Var::from_op(
        value,
        OP,
        &[logits],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let g = g.as_slice().expect("standard layout");
            let inv = 1.0 / per as f32;
            let mut dx = probs;
            for (r, (d, &label)) in dx.chunks_exact_mut(c).zip(&labels).enumerate() {
                let gr = g[r / per] * inv;
                d[label] -= 1.0;
                d.iter_mut().for_each(|d| *d *= gr);
            }
            Ok(vec![Some(
                Tensor::from_shape_vec(IxDyn(&shape), dx)
                    .map_err(|e| TensorError::invalid(OP, e.to_string()))?,
            )])
        }),
    ))
}

/// Binary cross-entropy on logits, computed stably as
/// `max(x, 0) - x t + ln(1 + e^-|x|)` and averaged per sample over all
/// axes but the first (as Keras), shape `(n,)`. `targets` has the shape of
/// `logits` (rank >= 1).
///
/// One node; backward `dx = g (sigmoid(x) - t) / m`, `dt = -g x / m`
/// (`m` elements per sample).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let logits = Var::parameter(ndarray::arr2(&[[0.0f32], [100.0]]).into_dyn());
/// let targets = Var::from_array(ndarray::arr2(&[[1.0f32], [1.0]]));
/// let loss = ops::sigmoid_binary_cross_entropy(&logits, &targets)?;
/// assert!((loss.to_tensor()[[0]] - 2f32.ln()).abs() < 1e-6);
/// assert!(loss.to_tensor()[[1]] < 1e-30); // ln(1 + e^-100): no overflow, no cancellation
/// ops::sum_all(&loss)?.backward()?;
/// assert_eq!(logits.grad().unwrap()[[0, 0]], -0.5);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sigmoid_binary_cross_entropy(logits: &Var, targets: &Var) -> Result<Var> {
    const OP: &str = "sigmoid_binary_cross_entropy";
    let shape = logits.shape();
    let tshape = targets.shape();
    if tshape != shape {
        return Err(
            TensorError::shape(OP, &shape, &tshape, "targets must have the shape of the logits").into(),
        );
    }
    if shape.is_empty() {
        return Err(TensorError::invalid(OP, "logits must have a batch axis, found a 0-d value").into());
    }
    let n = shape[0];
    let m = shape[1..].iter().product::<usize>();
    if m == 0 {
        return Err(TensorError::invalid(
            OP,
            format!("logits of shape {shape:?} have no elements per sample"),
        )
        .into());
    }
    let inv = 1.0 / m as f32;
    let value = {
        let (xv, tv) = (logits.value(), targets.value());
        let x = xv.as_standard_layout();
        let t = tv.as_standard_layout();
        let (x, t) = (
            x.as_slice().expect("standard layout"),
            t.as_slice().expect("standard layout"),
        );
        let losses: Vec<f32> = x
            .chunks_exact(m)
            .zip(t.chunks_exact(m))
            .map(|(xr, tr)| {
                xr.iter()
                    .zip(tr)
                    .map(|(&x, &t)| x.max(0.0) - x * t + (-x.abs()).exp().ln_1p())
                    .sum::<f32>()
                    * inv
            })
            .collect();
        Tensor::from_shape_vec(IxDyn(&[n]), losses).map_err(|e| TensorError::invalid(OP, e.to_string()))?
    };
    let (lc, tc) = (logits.clone(), targets.clone());
    Ok(Var::from_op(
        value,
        OP,
        &[logits, targets],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let g = g.as_slice().expect("standard layout");
            let (xv, tv) = (lc.value(), tc.value());
            let x = xv.as_standard_layout();
            let t = tv.as_standard_layout();
            let (x, t) = (
                x.as_slice().expect("standard layout"),
                t.as_slice().expect("standard layout"),
            );
            let per_elem = |f: &dyn Fn(f32, f32) -> f32| -> Result<Tensor> {
                let mut out = Vec::with_capacity(x.len());
                for (i, (xr, tr)) in x.chunks_exact(m).zip(t.chunks_exact(m)).enumerate() {
                    let gi = g[i] * inv;
                    out.extend(xr.iter().zip(tr).map(|(&x, &t)| gi * f(x, t)));
                }
                Ok(Tensor::from_shape_vec(IxDyn(&shape), out)
                    .map_err(|e| TensorError::invalid(OP, e.to_string()))?)
            };
            let dx = if lc.requires_grad() {
                Some(per_elem(&|x, t| {
                    let s = if x >= 0.0 {
                        1.0 / (1.0 + (-x).exp())
                    } else {
                        let e = x.exp();
                        e / (1.0 + e)
                    };
                    s - t
                })?)
            } else {
                None
            };
            let dt = if tc.requires_grad() {
                Some(per_elem(&|x, _| -x)?)
            } else {
                None
            };
            Ok(vec![dx, dt])
        }),
    ))
}
