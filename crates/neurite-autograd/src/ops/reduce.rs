//! Reductions: forward and backward side by side.

use crate::error::Result;
use crate::ops::util::reduce_to;
use crate::var::Var;
use ndarray::{Axis, IxDyn, Zip};
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
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::mean_all(&Var::from_array(ndarray::arr1(&[1.0f32, 2.0])))?.item()?, 1.5);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
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
                g.view()
            } else {
                g.view().insert_axis(Axis(axis))
            };
            let b = g.broadcast(IxDyn(&shape)).ok_or_else(|| {
                TensorError::shape("sum_axis", g.shape(), &shape, "gradient does not broadcast back")
            })?;
            Ok(vec![Some(b.to_owned())])
        }),
    ))
}

/// Mean along `axis`, keeping it as a size-1 axis when `keepdims`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let y = ops::mean_axis(&Var::from_array(ndarray::arr2(&[[1.0f32, 3.0], [5.0, 7.0]])), 0, false)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[3.0f32, 5.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn mean_axis(x: &Var, axis: usize, keepdims: bool) -> Result<Var> {
    check_axis("mean_axis", x, axis)?;
    let n = x.shape()[axis];
    if n == 0 {
        return Err(TensorError::invalid("mean_axis", format!("axis {axis} has length 0")).into());
    }
    let s = sum_axis(x, axis, keepdims)?;
    crate::ops::mul_scalar(&s, 1.0 / n as f32)
}

/// Shared body of [`max_axis`] and [`min_axis`]: `better(candidate, best)`
/// says whether `candidate` replaces the current winner of a lane.
fn extremum_axis(
    x: &Var,
    axis: usize,
    keepdims: bool,
    op: &'static str,
    better: fn(f32, f32) -> bool,
) -> Result<Var> {
    check_axis(op, x, axis)?;
    let shape = x.shape();
    if shape[axis] == 0 {
        return Err(TensorError::invalid(op, format!("axis {axis} has length 0: no extremum")).into());
    }
    let (value, winners) = {
        let xv = x.value();
        let mut winners = Vec::with_capacity(xv.len() / shape[axis]);
        let mut values = Vec::with_capacity(winners.capacity());
        for lane in xv.lanes(Axis(axis)) {
            let (mut best_i, mut best) = (0, lane[0]);
            for (i, &v) in lane.iter().enumerate().skip(1) {
                if better(v, best) || (best.is_nan() && !v.is_nan()) {
                    best_i = i;
                    best = v;
                }
            }
            winners.push(best_i);
            values.push(best);
        }
        let mut out_shape = shape.clone();
        out_shape.remove(axis);
        let mut value = Tensor::from_shape_vec(IxDyn(&out_shape), values)
            .map_err(|e| TensorError::invalid(op, e.to_string()))?;
        if keepdims {
            value = value.insert_axis(Axis(axis));
        }
        (value, winners)
    };
    Ok(Var::from_op(
        value,
        op,
        &[x],
        Box::new(move |g| {
            let g = if keepdims {
                g.index_axis(Axis(axis), 0)
            } else {
                g.view()
            };
            let mut dx = Tensor::zeros(IxDyn(&shape));
            for ((mut lane, &w), &gv) in dx.lanes_mut(Axis(axis)).into_iter().zip(&winners).zip(g.iter()) {
                lane[w] = gv;
            }
            Ok(vec![Some(dx)])
        }),
    ))
}

/// Maximum along `axis` (keeping it as a size-1 axis when `keepdims`).
///
/// The gradient goes to the winning element of each lane; on ties, to the
/// first one (lowest index) only.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr2(&[[1.0f32, 3.0], [4.0, 4.0]]).into_dyn());
/// let y = ops::max_axis(&x, 1, false)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[3.0f32, 4.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::arr2(&[[0.0f32, 1.0], [1.0, 0.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn max_axis(x: &Var, axis: usize, keepdims: bool) -> Result<Var> {
    extremum_axis(x, axis, keepdims, "max_axis", |v, best| v > best)
}

/// Minimum along `axis` (keeping it as a size-1 axis when `keepdims`).
/// Gradient to the first minimum of each lane, like [`max_axis`].
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::arr2(&[[1.0f32, 3.0], [4.0, 2.0]]));
/// assert_eq!(ops::min_axis(&x, 0, true)?.to_tensor(), ndarray::arr2(&[[1.0f32, 2.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn min_axis(x: &Var, axis: usize, keepdims: bool) -> Result<Var> {
    extremum_axis(x, axis, keepdims, "min_axis", |v, best| v < best)
}

/// Validated, sorted, de-duplicated-checked list of axes; `(shape with the
/// axes set to 1, shape with the axes removed, number of reduced elements)`.
fn axes_shapes(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<(Vec<usize>, Vec<usize>, usize)> {
    let mut kept = shape.to_vec();
    let mut count = 1usize;
    let mut seen = vec![false; shape.len()];
    for &a in axes {
        if a >= shape.len() {
            return Err(TensorError::invalid(
                op,
                format!("axis {a} is out of range for a tensor of rank {}", shape.len()),
            )
            .into());
        }
        if seen[a] {
            return Err(TensorError::invalid(op, format!("axis {a} is listed twice in {axes:?}")).into());
        }
        seen[a] = true;
        kept[a] = 1;
        count *= shape[a];
    }
    let dropped = shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !seen[*i])
        .map(|(_, &d)| d)
        .collect();
    Ok((kept, dropped, count))
}

/// Sum over several axes scaled by `scale`; shared by [`sum_axes`] and [`mean_axes`].
fn scaled_sum_axes(x: &Var, axes: &[usize], keepdims: bool, op: &'static str, mean: bool) -> Result<Var> {
    let shape = x.shape();
    let (kept, dropped, count) = axes_shapes(op, &shape, axes)?;
    if mean && count == 0 {
        return Err(
            TensorError::invalid(op, format!("the mean over the empty axes {axes:?} is undefined")).into(),
        );
    }
    let scale = if mean { 1.0 / count as f32 } else { 1.0 };
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    let value = {
        let xv = x.value();
        let mut v: Tensor = xv.to_owned();
        for &a in sorted.iter().rev() {
            v = v.sum_axis(Axis(a));
        }
        if mean {
            v.mapv_inplace(|s| s * scale);
        }
        let out_shape = if keepdims { &kept } else { &dropped };
        crate::ops::util::into_reshaped(op, v, out_shape)?
    };
    Ok(Var::from_op(
        value,
        op,
        &[x],
        Box::new(move |g| {
            let g = crate::ops::util::reshaped(op, g, &kept)?;
            let b = g
                .broadcast(IxDyn(&shape))
                .ok_or_else(|| TensorError::shape(op, &kept, &shape, "gradient does not broadcast back"))?;
            Ok(vec![Some(if mean {
                b.mapv(|v| v * scale)
            } else {
                b.to_owned()
            })])
        }),
    ))
}

/// Sum over several `axes` at once (each at most once; in any order),
/// keeping them as size-1 axes when `keepdims`. `&[]` sums nothing.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 3, 4)));
/// assert_eq!(ops::sum_axes(&x, &[0, 2], false)?.to_tensor(), ndarray::arr1(&[8.0f32; 3]).into_dyn());
/// assert_eq!(ops::sum_axes(&x, &[2, 0], true)?.shape(), vec![1, 3, 1]);
/// assert!(ops::sum_axes(&x, &[1, 1], false).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sum_axes(x: &Var, axes: &[usize], keepdims: bool) -> Result<Var> {
    scaled_sum_axes(x, axes, keepdims, "sum_axes", false)
}

/// Mean over several `axes` at once (see [`sum_axes`]).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 6.0]]));
/// assert_eq!(ops::mean_axes(&x, &[0, 1], false)?.item()?, 3.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn mean_axes(x: &Var, axes: &[usize], keepdims: bool) -> Result<Var> {
    scaled_sum_axes(x, axes, keepdims, "mean_axes", true)
}

/// Population variance along `axis` (divides by `n`, as Keras' `BatchNormalization`
/// and `tf.math.reduce_variance`), keeping the axis when `keepdims`.
///
/// One node: backward is `dx = g * 2 (x - mean) / n` from the saved centred values.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr1(&[1.0f32, 3.0]).into_dyn());
/// let v = ops::variance_axis(&x, 0, false)?;
/// assert_eq!(v.item()?, 1.0);
/// v.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[-1.0f32, 1.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn variance_axis(x: &Var, axis: usize, keepdims: bool) -> Result<Var> {
    check_axis("variance_axis", x, axis)?;
    let n = x.shape()[axis];
    if n == 0 {
        return Err(TensorError::invalid("variance_axis", format!("axis {axis} has length 0")).into());
    }
    let inv_n = 1.0 / n as f32;
    let (value, centred) = {
        let xv = x.value();
        let mean = xv.sum_axis(Axis(axis)).insert_axis(Axis(axis)) * inv_n;
        let centred: Tensor = &*xv - &mean;
        let mut var = centred.map_axis(Axis(axis), |lane| lane.iter().map(|d| d * d).sum::<f32>() * inv_n);
        if keepdims {
            var = var.insert_axis(Axis(axis));
        }
        (var, centred)
    };
    Ok(Var::from_op(
        value,
        "variance_axis",
        &[x],
        Box::new(move |g| {
            let g = if keepdims {
                g.view()
            } else {
                g.view().insert_axis(Axis(axis))
            };
            let g = g
                .broadcast(centred.raw_dim())
                .ok_or_else(|| TensorError::invalid("variance_axis", "gradient does not broadcast back"))?;
            let scale = 2.0 * inv_n;
            let dx = Zip::from(&g).and(&centred).map_collect(|&g, &d| g * d * scale);
            Ok(vec![Some(reduce_to(dx, centred.shape())?)])
        }),
    ))
}
