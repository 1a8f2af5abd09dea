//! Reductions: forward and backward side by side.

use crate::error::Result;
use crate::var::Var;
use ndarray::{Axis, IxDyn};
use neurite_tensor::{Tensor, TensorError};

/// Sum of all elements, as a 0-d `Var`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::sum_all(&Var::from_array(ndarray::arr1(&[1.0f32, 2.0])))?.item()?, 3.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sum_all(x: &Var) -> Result<Var> {
    let value = ndarray::arr0(x.value().sum()).into_dyn();
    let shape = x.shape();
    Ok(Var::from_op(
        value,
        "sum_all",
        &[x],
        Box::new(move |g| {
            let s = *g.iter().next().expect("0-d gradient");
            Ok(vec![Some(Tensor::from_elem(IxDyn(&shape), s))])
        }),
    ))
}

/// Mean of all elements, as a 0-d `Var`. The mean of no elements is an error.
pub fn mean_all(x: &Var) -> Result<Var> {
    let n = x.len();
    if n == 0 {
        return Err(TensorError::invalid("mean_all", "the mean of an empty tensor is undefined").into());
    }
    let value = ndarray::arr0(x.value().sum() / n as f32).into_dyn();
    let shape = x.shape();
    Ok(Var::from_op(
        value,
        "mean_all",
        &[x],
        Box::new(move |g| {
            let s = *g.iter().next().expect("0-d gradient") / n as f32;
            Ok(vec![Some(Tensor::from_elem(IxDyn(&shape), s))])
        }),
    ))
}

fn check_axis(op: &'static str, x: &Var, axis: usize) -> Result<()> {
    let nd = x.ndim();
    if axis >= nd {
        return Err(TensorError::invalid(
            op,
            format!("axis {axis} is out of range for a tensor of rank {nd}"),
        )
        .into());
    }
    Ok(())
}

/// Sum along `axis`, keeping it as a size-1 axis when `keepdims`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let y = ops::sum_axis(&Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]])), 1, true)?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[3.0f32], [7.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sum_axis(x: &Var, axis: usize, keepdims: bool) -> Result<Var> {
    check_axis("sum_axis", x, axis)?;
    let mut value = x.value().sum_axis(Axis(axis));
    if keepdims {
        value = value.insert_axis(Axis(axis));
    }
    let shape = x.shape();
    Ok(Var::from_op(
        value,
        "sum_axis",
        &[x],
        Box::new(move |g| {
            let g = if keepdims {
                g.clone()
            } else {
                g.clone().insert_axis(Axis(axis))
            };
            Ok(vec![Some(
                g.broadcast(IxDyn(&shape))
                    .expect("keepdims shape broadcasts")
                    .to_owned(),
            )])
        }),
    ))
}

/// Mean along `axis`, keeping it as a size-1 axis when `keepdims`.
pub fn mean_axis(x: &Var, axis: usize, keepdims: bool) -> Result<Var> {
    check_axis("mean_axis", x, axis)?;
    let n = x.shape()[axis];
    if n == 0 {
        return Err(TensorError::invalid("mean_axis", format!("axis {axis} has length 0")).into());
    }
    let s = sum_axis(x, axis, keepdims)?;
    crate::ops::mul_scalar(&s, 1.0 / n as f32)
}
