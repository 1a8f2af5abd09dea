//! Softmax and log-softmax along an axis (forward through the stable
//! `neurite_tensor::softmax` kernels), with backward from the saved output.

use crate::error::Result;
use crate::ops::util::check_axis;
use crate::var::Var;
use ndarray::{Axis, Zip};
use neurite_tensor::softmax as kernels;

/// Softmax along `axis`: `exp(x - max) / sum(exp(x - max))`.
///
/// Backward from the output `y`: `dx = y * (g - sum(g * y, axis))`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let y = ops::softmax(&Var::from_array(ndarray::arr2(&[[0.0f32, 0.0], [0.0, 1e30]])), 1)?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[0.5f32, 0.5], [0.0, 1.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn softmax(x: &Var, axis: usize) -> Result<Var> {
    check_axis("softmax", x.ndim(), axis)?;
    let value = kernels::softmax(&x.value(), axis)?;
    Ok(Var::from_op_with_output(
        value,
        "softmax",
        &[x],
        Box::new(move |g, y| {
            let gy = g * y;
            let dot = gy.sum_axis(Axis(axis)).insert_axis(Axis(axis));
            let mut dx = gy;
            // dx = g*y - y*dot
            Zip::from(&mut dx)
                .and(y)
                .and_broadcast(&dot)
                .for_each(|d, &y, &s| *d -= y * s);
            Ok(vec![Some(dx)])
        }),
    ))
}

/// Log-softmax along `axis`: `x - logsumexp(x)`, finite for finite logits.
///
/// Backward from the output `y`: `dx = g - exp(y) * sum(g, axis)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let y = ops::log_softmax(&Var::from_array(ndarray::arr1(&[0.0f32, 0.0])), 0)?;
/// assert!((y.to_tensor()[[0]] + 2f32.ln()).abs() < 1e-6);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn log_softmax(x: &Var, axis: usize) -> Result<Var> {
    check_axis("log_softmax", x.ndim(), axis)?;
    let value = kernels::log_softmax(&x.value(), axis)?;
    Ok(Var::from_op_with_output(
        value,
        "log_softmax",
        &[x],
        Box::new(move |g, y| {
            let total = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
            let mut dx = g.clone();
            Zip::from(&mut dx)
                .and(y)
                .and_broadcast(&total)
                .for_each(|d, &y, &s| *d -= y.exp() * s);
            Ok(vec![Some(dx)])
        }),
    ))
}
