//! Shape ops (reshape, transpose, slicing, joining, gathering, broadcasting):
//! each op's forward and backward side by side. None of them changes values,
//! so every backward moves the gradient back to where the value came from.

use crate::error::Result;
use crate::ops::util::{check_axis, into_reshaped, reduce_ref, reshaped};
use crate::var::Var;
use ndarray::{Axis, IxDyn, Slice};
use neurite_tensor::broadcast::broadcast_shape;
use neurite_tensor::size::checked_len;
use neurite_tensor::{Tensor, TensorError};

/// The same values in a new shape (row-major order); the number of
/// elements must not change.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array::range(0.0f32, 6.0, 1.0));
/// let y = ops::reshape(&x, &[2, 3])?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0]]).into_dyn());
/// assert!(ops::reshape(&x, &[4, 2]).is_err());
/// // 2^63 * 2 wraps to 0 in usize arithmetic: refused, not mistaken for a match.
/// let empty = Var::from_array(ndarray::Array1::<f32>::zeros(0));
/// assert!(ops::reshape(&empty, &[1 << 63, 2]).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn reshape(x: &Var, shape: &[usize]) -> Result<Var> {
    let from = x.shape();
    // Checked: a target whose product wraps to the source's size must not pass.
    let n = checked_len("reshape", "the target", shape)?;
    if from.iter().product::<usize>() != n {
        return Err(
            TensorError::shape("reshape", &from, shape, "the number of elements must not change").into(),
        );
    }
    let value = reshaped("reshape", &x.value(), shape)?;
    Ok(Var::from_op(
        value,
        "reshape",
        &[x],
        Box::new(move |g| Ok(vec![Some(reshaped("reshape", g, &from)?)])),
    ))
}

/// Keeps axis 0 (the batch) and flattens all other axes into one, like
/// Keras' `Flatten`: `(n, h, w, c) -> (n, h*w*c)`; a 1-d `(n,)` becomes `(n, 1)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array4::<f32>::zeros((2, 3, 4, 5)));
/// assert_eq!(ops::flatten(&x)?.shape(), vec![2, 60]);
/// assert!(ops::flatten(&Var::scalar(1.0)).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn flatten(x: &Var) -> Result<Var> {
    let shape = x.shape();
    if shape.is_empty() {
        return Err(TensorError::invalid("flatten", "a 0-d value has no batch axis to keep").into());
    }
    reshape(x, &[shape[0], shape[1..].iter().product()])
}

/// Transpose of a 2-d `Var`: `(m, n) -> (n, m)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0, 3.0]]));
/// assert_eq!(ops::transpose(&x)?.to_tensor(), ndarray::arr2(&[[1.0f32], [2.0], [3.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn transpose(x: &Var) -> Result<Var> {
    let nd = x.ndim();
    if nd != 2 {
        return Err(
            TensorError::invalid("transpose", format!("expected a 2-d value, found rank {nd}")).into(),
        );
    }
    permute(x, &[1, 0])
}

/// Reorders the axes: axis `i` of the result is axis `axes[i]` of `x`.
/// `axes` must be a permutation of `0..rank`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array3::<f32>::zeros((2, 3, 4)));
/// assert_eq!(ops::permute(&x, &[2, 0, 1])?.shape(), vec![4, 2, 3]);
/// assert!(ops::permute(&x, &[0, 0, 1]).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn permute(x: &Var, axes: &[usize]) -> Result<Var> {
    let nd = x.ndim();
    let mut inverse = vec![usize::MAX; nd];
    if axes.len() != nd {
        return Err(TensorError::invalid(
            "permute",
            format!("{axes:?} has {} axes but the value has rank {nd}", axes.len()),
        )
        .into());
    }
    for (i, &a) in axes.iter().enumerate() {
        if a >= nd || inverse[a] != usize::MAX {
            return Err(
                TensorError::invalid("permute", format!("{axes:?} is not a permutation of 0..{nd}")).into(),
            );
        }
        inverse[a] = i;
    }
    let value = x
        .value()
        .view()
        .permuted_axes(axes)
        .as_standard_layout()
        .into_owned();
    Ok(Var::from_op(
        value,
        "permute",
        &[x],
        Box::new(move |g| {
            Ok(vec![Some(
                g.view()
                    .permuted_axes(inverse.as_slice())
                    .as_standard_layout()
                    .into_owned(),
            )])
        }),
    ))
}

/// Elements `start..end` along `axis` (other axes whole).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn());
/// let y = ops::slice_axis(&x, 1, 1, 3)?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[2.0f32, 3.0], [5.0, 6.0]]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::arr2(&[[0.0f32, 1.0, 1.0], [0.0, 1.0, 1.0]]).into_dyn());
/// assert!(ops::slice_axis(&x, 1, 2, 4).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn slice_axis(x: &Var, axis: usize, start: usize, end: usize) -> Result<Var> {
    let shape = x.shape();
    check_axis("slice_axis", shape.len(), axis)?;
    if start > end || end > shape[axis] {
        return Err(TensorError::invalid(
            "slice_axis",
            format!(
                "range {start}..{end} does not fit axis {axis} of length {}",
                shape[axis]
            ),
        )
        .into());
    }
    let value = x
        .value()
        .slice_axis(Axis(axis), Slice::from(start..end))
        .to_owned();
    Ok(Var::from_op(
        value,
        "slice_axis",
        &[x],
        Box::new(move |g| {
            let mut dx = Tensor::zeros(IxDyn(&shape));
            dx.slice_axis_mut(Axis(axis), Slice::from(start..end)).assign(g);
            Ok(vec![Some(dx)])
        }),
    ))
}

/// Joins `parts` along the existing `axis`; all other axes must agree.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
/// let b = Var::from_array(ndarray::arr2(&[[3.0f32, 4.0], [5.0, 6.0]]));
/// assert_eq!(ops::concat(&[&a, &b], 0)?.shape(), vec![3, 2]);
/// assert!(ops::concat(&[&a, &b], 1).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn concat(parts: &[&Var], axis: usize) -> Result<Var> {
    let Some(first) = parts.first() else {
        return Err(TensorError::invalid("concat", "needs at least one value").into());
    };
    let nd = first.ndim();
    check_axis("concat", nd, axis)?;
    let shapes: Vec<Vec<usize>> = parts.iter().map(|p| p.shape()).collect();
    for s in &shapes[1..] {
        let same_rest = s.len() == nd && (0..nd).all(|i| i == axis || s[i] == shapes[0][i]);
        if !same_rest {
            return Err(TensorError::shape(
                "concat",
                &shapes[0],
                s,
                format!("all axes but the concatenation axis {axis} must agree"),
            )
            .into());
        }
    }
    let value = {
        let guards: Vec<_> = parts.iter().map(|p| p.value()).collect();
        let views: Vec<_> = guards.iter().map(|g| g.view()).collect();
        ndarray::concatenate(Axis(axis), &views).map_err(|e| TensorError::invalid("concat", e.to_string()))?
    };
    let lengths: Vec<usize> = shapes.iter().map(|s| s[axis]).collect();
    Ok(Var::from_op(
        value,
        "concat",
        parts,
        Box::new(move |g| {
            let mut start = 0;
            Ok(lengths
                .iter()
                .map(|&len| {
                    let part = g
                        .slice_axis(Axis(axis), Slice::from(start..start + len))
                        .to_owned();
                    start += len;
                    Some(part)
                })
                .collect())
        }),
    ))
}

/// Stacks equally shaped `parts` along a new `axis` (`0..=rank`).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::from_array(ndarray::arr1(&[1.0f32, 2.0]));
/// let b = Var::from_array(ndarray::arr1(&[3.0f32, 4.0]));
/// assert_eq!(ops::stack(&[&a, &b], 1)?.to_tensor(), ndarray::arr2(&[[1.0f32, 3.0], [2.0, 4.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn stack(parts: &[&Var], axis: usize) -> Result<Var> {
    let Some(first) = parts.first() else {
        return Err(TensorError::invalid("stack", "needs at least one value").into());
    };
    let shape0 = first.shape();
    if axis > shape0.len() {
        return Err(TensorError::invalid(
            "stack",
            format!(
                "axis {axis} is out of range for stacking values of rank {}",
                shape0.len()
            ),
        )
        .into());
    }
    for p in &parts[1..] {
        let s = p.shape();
        if s != shape0 {
            return Err(TensorError::shape(
                "stack",
                &shape0,
                &s,
                "all stacked values must have the same shape",
            )
            .into());
        }
    }
    let value = {
        let guards: Vec<_> = parts.iter().map(|p| p.value()).collect();
        let views: Vec<_> = guards.iter().map(|g| g.view()).collect();
        ndarray::stack(Axis(axis), &views).map_err(|e| TensorError::invalid("stack", e.to_string()))?
    };
    let n = parts.len();
    Ok(Var::from_op(
        value,
        "stack",
        parts,
        Box::new(move |g| {
            Ok((0..n)
                .map(|i| Some(g.index_axis(Axis(axis), i).to_owned()))
                .collect())
        }),
    ))
}

/// Gathers the entries `indices` along `axis` (repeats allowed): the result
/// has `indices.len()` entries on that axis. Backward scatter-adds, so a
/// row picked twice gets both gradients (an `Embedding` lookup is
/// `index_select(table, 0, &token_ids)`).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let table = Var::parameter(ndarray::arr2(&[[1.0f32, 1.0], [2.0, 2.0], [3.0, 3.0]]).into_dyn());
/// let rows = ops::index_select(&table, 0, &[2, 0, 2])?;
/// assert_eq!(rows.shape(), vec![3, 2]);
/// ops::sum_all(&rows)?.backward()?;
/// assert_eq!(table.grad().unwrap(), ndarray::arr2(&[[1.0f32, 1.0], [0.0, 0.0], [2.0, 2.0]]).into_dyn());
/// assert!(ops::index_select(&table, 0, &[3]).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn index_select(x: &Var, axis: usize, indices: &[usize]) -> Result<Var> {
    let shape = x.shape();
    check_axis("index_select", shape.len(), axis)?;
    if let Some(&bad) = indices.iter().find(|&&i| i >= shape[axis]) {
        return Err(TensorError::invalid(
            "index_select",
            format!(
                "index {bad} is out of range for axis {axis} of length {}",
                shape[axis]
            ),
        )
        .into());
    }
    let value = x.value().select(Axis(axis), indices);
    let indices = indices.to_vec();
    Ok(Var::from_op(
        value,
        "index_select",
        &[x],
        Box::new(move |g| {
            let mut dx = Tensor::zeros(IxDyn(&shape));
            for (k, &i) in indices.iter().enumerate() {
                let mut row = dx.index_axis_mut(Axis(axis), i);
                row += &g.index_axis(Axis(axis), k);
            }
            Ok(vec![Some(dx)])
        }),
    ))
}

/// Repeats `x` to `shape` under NumPy's broadcasting rules; backward sums
/// the gradient back over the repeated axes.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::arr2(&[[1.0f32], [2.0]]));
/// assert_eq!(ops::broadcast_to(&x, &[2, 3])?.to_tensor(), ndarray::arr2(&[[1.0f32; 3], [2.0; 3]]).into_dyn());
/// assert!(ops::broadcast_to(&x, &[3, 3]).is_err());
/// assert!(ops::broadcast_to(&x, &[usize::MAX, 2, 1 << 40]).is_err()); // too large to allocate
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn broadcast_to(x: &Var, shape: &[usize]) -> Result<Var> {
    let from = x.shape();
    let target = broadcast_shape("broadcast_to", &from, shape)?;
    checked_len("broadcast_to", "the target", shape)?;
    if target != shape {
        return Err(TensorError::shape(
            "broadcast_to",
            &from,
            shape,
            "the value does not broadcast to this shape",
        )
        .into());
    }
    let value = x
        .value()
        .broadcast(IxDyn(shape))
        .ok_or_else(|| {
            TensorError::shape(
                "broadcast_to",
                &from,
                shape,
                "the value does not broadcast to this shape",
            )
        })?
        .to_owned();
    Ok(Var::from_op(
        value,
        "broadcast_to",
        &[x],
        Box::new(move |g| Ok(vec![Some(reduce_ref(g, &from)?)])),
    ))
}

/// Inserts a size-1 axis at position `axis` (`0..=rank`).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::arr1(&[1.0f32, 2.0]));
/// assert_eq!(ops::expand_dims(&x, 1)?.shape(), vec![2, 1]);
/// assert_eq!(ops::expand_dims(&x, 0)?.shape(), vec![1, 2]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn expand_dims(x: &Var, axis: usize) -> Result<Var> {
    let mut shape = x.shape();
    if axis > shape.len() {
        return Err(TensorError::invalid(
            "expand_dims",
            format!(
                "axis {axis} is out of range for inserting into rank {}",
                shape.len()
            ),
        )
        .into());
    }
    shape.insert(axis, 1);
    let from = x.shape();
    let value = into_reshaped("expand_dims", x.to_tensor(), &shape)?;
    Ok(Var::from_op(
        value,
        "expand_dims",
        &[x],
        Box::new(move |g| Ok(vec![Some(reshaped("expand_dims", g, &from)?)])),
    ))
}

/// Removes the size-1 axis `axis`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array2::<f32>::zeros((3, 1)));
/// assert_eq!(ops::squeeze(&x, 1)?.shape(), vec![3]);
/// assert!(ops::squeeze(&x, 0).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn squeeze(x: &Var, axis: usize) -> Result<Var> {
    let from = x.shape();
    check_axis("squeeze", from.len(), axis)?;
    if from[axis] != 1 {
        return Err(TensorError::invalid(
            "squeeze",
            format!(
                "axis {axis} has length {}, only a size-1 axis can be removed",
                from[axis]
            ),
        )
        .into());
    }
    let mut shape = from.clone();
    shape.remove(axis);
    let value = into_reshaped("squeeze", x.to_tensor(), &shape)?;
    Ok(Var::from_op(
        value,
        "squeeze",
        &[x],
        Box::new(move |g| Ok(vec![Some(reshaped("squeeze", g, &from)?)])),
    ))
}
