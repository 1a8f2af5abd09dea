//! Standalone gradient clipping, in place on the parameters' gradients
//! (the optimizers' `clipnorm` / `global_clipnorm` / `clipvalue` options do
//! the same on the fly without touching the stored gradients).

use crate::error::{check_positive, Result};
use ndarray::ArrayD;
use neurite_autograd::Var;

fn sq_norm(g: &ArrayD<f32>) -> f64 {
    g.iter().map(|&x| (x as f64) * (x as f64)).sum()
}

fn scale_grad(var: &Var, mul: f32, div: f32) {
    if let Some(mut g) = var.take_grad() {
        g.mapv_inplace(|x| x * mul / div);
        var.set_grad(Some(g));
    }
}

/// Keras `clip_by_global_norm`'s factor `c * min(1/norm, 1/c)`, NaN for a
/// non-finite norm (Keras adds `norm - norm` for that).
pub(crate) fn global_clip_scale(c: f32, norm: f32) -> f32 {
    if norm.is_finite() {
        c * (1.0 / norm).min(1.0 / c)
    } else {
        f32::NAN
    }
}

/// The L2 norm of all gradients together (parameters without a gradient
/// count as zero), computed in `f64`.
///
/// ```
/// use neurite_autograd::Var;
/// let a = Var::parameter(ndarray::arr1(&[0.0f32]).into_dyn());
/// a.set_grad(Some(ndarray::arr1(&[3.0f32]).into_dyn()));
/// let b = Var::parameter(ndarray::arr1(&[0.0f32]).into_dyn());
/// b.set_grad(Some(ndarray::arr1(&[4.0f32]).into_dyn()));
/// assert_eq!(neurite_optim::global_grad_norm(&[("a", &a), ("b", &b)]), 5.0);
/// ```
pub fn global_grad_norm(params: &[(&str, &Var)]) -> f32 {
    let total: f64 = params
        .iter()
        .map(|(_, v)| v.with_grad(|g| g.map_or(0.0, sq_norm)))
        .sum();
    total.sqrt() as f32
}

/// Clamps every gradient element to `[-clipvalue, clipvalue]` (Keras
/// `clipvalue`, PyTorch `clip_grad_value_`).
///
/// ```
/// use neurite_autograd::Var;
/// let w = Var::parameter(ndarray::arr1(&[0.0f32, 0.0]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[-3.0f32, 0.5]).into_dyn()));
/// neurite_optim::clip_grad_value(&[("w", &w)], 1.0)?;
/// assert_eq!(w.grad().unwrap(), ndarray::arr1(&[-1.0f32, 0.5]).into_dyn());
/// assert!(neurite_optim::clip_grad_value(&[("w", &w)], 0.0).is_err());
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub fn clip_grad_value(params: &[(&str, &Var)], clipvalue: f32) -> Result<()> {
    check_positive("clip_grad_value", "clipvalue", clipvalue)?;
    for (_, var) in params {
        if let Some(mut g) = var.take_grad() {
            g.mapv_inplace(|x| x.clamp(-clipvalue, clipvalue));
            var.set_grad(Some(g));
        }
    }
    Ok(())
}

/// Rescales each gradient tensor whose L2 norm exceeds `max_norm` to that
/// norm, tensor by tensor (Keras `clipnorm`: `g * c / max(|g|, c)`).
/// Returns the global norm of all gradients before clipping.
///
/// Note: PyTorch's `clip_grad_norm_` clips by the *global* norm; its twin
/// here is [`clip_grad_global_norm`].
///
/// ```
/// use neurite_autograd::Var;
/// let w = Var::parameter(ndarray::arr1(&[0.0f32, 0.0]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[3.0f32, 4.0]).into_dyn()));
/// let before = neurite_optim::clip_grad_norm(&[("w", &w)], 1.0)?;
/// assert_eq!(before, 5.0);
/// assert_eq!(w.grad().unwrap(), ndarray::arr1(&[0.6f32, 0.8]).into_dyn());
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub fn clip_grad_norm(params: &[(&str, &Var)], max_norm: f32) -> Result<f32> {
    check_positive("clip_grad_norm", "max_norm", max_norm)?;
    let mut total = 0.0f64;
    for (_, var) in params {
        let sq = var.with_grad(|g| g.map_or(0.0, sq_norm));
        total += sq;
        let norm = sq.sqrt() as f32;
        if norm > max_norm || !norm.is_finite() {
            scale_grad(var, max_norm, norm.max(max_norm));
        }
    }
    Ok(total.sqrt() as f32)
}

/// Rescales all gradients together so that their global L2 norm is at most
/// `max_norm` (Keras `global_clipnorm`, PyTorch `clip_grad_norm_`). A
/// non-finite global norm turns every gradient into NaN, as Keras does.
/// Returns the global norm before clipping.
///
/// ```
/// use neurite_autograd::Var;
/// let a = Var::parameter(ndarray::arr1(&[0.0f32]).into_dyn());
/// a.set_grad(Some(ndarray::arr1(&[3.0f32]).into_dyn()));
/// let b = Var::parameter(ndarray::arr1(&[0.0f32]).into_dyn());
/// b.set_grad(Some(ndarray::arr1(&[4.0f32]).into_dyn()));
/// let before = neurite_optim::clip_grad_global_norm(&[("a", &a), ("b", &b)], 1.0)?;
/// assert_eq!(before, 5.0);
/// assert!((neurite_optim::global_grad_norm(&[("a", &a), ("b", &b)]) - 1.0).abs() < 1e-6);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub fn clip_grad_global_norm(params: &[(&str, &Var)], max_norm: f32) -> Result<f32> {
    check_positive("clip_grad_global_norm", "max_norm", max_norm)?;
    let norm = global_grad_norm(params);
    if norm > max_norm || !norm.is_finite() {
        let scale = global_clip_scale(max_norm, norm);
        for (_, var) in params {
            scale_grad(var, scale, 1.0);
        }
    }
    Ok(norm)
}
