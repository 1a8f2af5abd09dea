//! 1-d pooling (Keras' `MaxPooling1D`, `AveragePooling1D`,
//! `GlobalMaxPooling1D`, `GlobalAveragePooling1D`) as coarse ops over the
//! 2-d pooling kernels: a batch `(n, L, c)` is the image batch
//! `(n, 1, L, c)` (a reshaped view, no copy), so the argmax/AVX2 kernels
//! of `MaxPooling2D` serve the time axis too.

use crate::error::Result;
use crate::var::Var;
use ndarray::{ArrayView4, Ix3};
use neurite_tensor::{
    avg_pool2d_backward, global_avg_pool2d_backward, global_max_pool2d_backward, max_pool2d_backward,
    Padding, Pool2dParams, Tensor, TensorError,
};

/// Window, stride and padding of a 1-d pooling.
///
/// ```
/// let p = neurite_autograd::ops::Pool1dParams::new(2);
/// assert_eq!((p.pool_size, p.stride), (2, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool1dParams {
    /// Steps per window, at least 1.
    pub pool_size: usize,
    /// Step between windows, at least 1.
    pub stride: usize,
    /// `Valid` or `Same` (windows at the end average/max only the steps inside).
    pub padding: Padding,
}

impl Pool1dParams {
    /// Keras' defaults for a pool size: stride = pool size, valid padding.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::ops::Pool1dParams::new(3).padding, neurite_tensor::Padding::Valid);
    /// ```
    pub fn new(pool_size: usize) -> Self {
        Pool1dParams {
            pool_size,
            stride: pool_size,
            padding: Padding::Valid,
        }
    }

    fn pool2d(&self) -> Pool2dParams {
        Pool2dParams {
            pool_size: (1, self.pool_size),
            strides: (1, self.stride),
            padding: self.padding,
        }
    }
}

/// The `(n, L, c)` value `t` as `(n, 1, L, c)` handed to `f` (copying only
/// when `t` is not in standard layout).
fn with4<R>(op: &'static str, t: &Tensor, f: impl FnOnce(ArrayView4<f32>) -> Result<R>) -> Result<R> {
    let v = t.view().into_dimensionality::<Ix3>().map_err(|_| {
        TensorError::invalid(
            op,
            format!(
                "input must be 3-d (batch, steps, channels), found shape {:?}",
                t.shape()
            ),
        )
    })?;
    let std = v.as_standard_layout();
    let (n, l, c) = std.dim();
    f(std
        .view()
        .into_shape_with_order((n, 1, l, c))
        .expect("standard layout reshapes"))
}

/// `a` `(n, 1, l, c)` as `(n, l, c)`.
fn squeeze4(a: ndarray::Array4<f32>) -> Tensor {
    let (n, _, l, c) = a.dim();
    a.into_shape_with_order((n, l, c)).expect("height 1").into_dyn()
}

fn in_shape4(t: &Tensor) -> [usize; 4] {
    let s = t.shape();
    [s[0], 1, s[1], s[2]]
}

/// Max pooling over the time axis of `(n, L, c)`; backward routes each
/// gradient to the (first) maximum of its window.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::Array3::from_shape_vec((1, 4, 1), vec![1.0f32, 5.0, 3.0, 2.0]).unwrap().into_dyn());
/// let y = ops::max_pool1d(&x, &ops::Pool1dParams::new(2))?;
/// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![5.0, 3.0]);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap().into_raw_vec_and_offset().0, vec![0.0, 1.0, 1.0, 0.0]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn max_pool1d(x: &Var, p: &Pool1dParams) -> Result<Var> {
    const OP: &str = "max_pool1d";
    let pp = p.pool2d();
    if !(crate::is_grad_enabled() && x.requires_grad()) {
        let y = with4(OP, &x.value(), |x4| {
            Ok(neurite_tensor::max_pool2d_values(x4, &pp)?)
        })?;
        return Ok(Var::from_array(squeeze4(y)));
    }
    let (value, indices, in_shape) = {
        let xv = x.value();
        let (y, idx) = with4(OP, &xv, |x4| Ok(neurite_tensor::max_pool2d(x4, &pp)?))?;
        (squeeze4(y), idx, in_shape4(&xv))
    };
    Ok(Var::from_op(
        value,
        OP,
        &[x],
        Box::new(move |g| {
            let dx = with4(OP, g, |g4| Ok(max_pool2d_backward(g4, &indices, in_shape)?))?;
            Ok(vec![Some(squeeze4(dx))])
        }),
    ))
}

/// Average pooling over the time axis of `(n, L, c)` (with `same` padding a
/// window averages only the steps inside the sequence, as Keras).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::Array3::from_shape_vec((1, 3, 1), vec![1.0f32, 5.0, 3.0]).unwrap().into_dyn());
/// let p = ops::Pool1dParams { padding: neurite_tensor::Padding::Same, ..ops::Pool1dParams::new(2) };
/// let y = ops::avg_pool1d(&x, &p)?;
/// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![3.0, 3.0]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn avg_pool1d(x: &Var, p: &Pool1dParams) -> Result<Var> {
    const OP: &str = "avg_pool1d";
    let pp = p.pool2d();
    let (value, in_shape) = {
        let xv = x.value();
        let y = with4(OP, &xv, |x4| Ok(neurite_tensor::avg_pool2d(x4, &pp)?))?;
        (squeeze4(y), in_shape4(&xv))
    };
    Ok(Var::from_op(
        value,
        OP,
        &[x],
        Box::new(move |g| {
            let dx = with4(OP, g, |g4| Ok(avg_pool2d_backward(g4, in_shape, &pp)?))?;
            Ok(vec![Some(squeeze4(dx))])
        }),
    ))
}

/// `(n, c)` as `(n, 1, c)` when `keepdims`.
fn keep(y: ndarray::Array2<f32>, keepdims: bool) -> Tensor {
    if keepdims {
        let (n, c) = y.dim();
        y.into_shape_with_order((n, 1, c)).expect("same size").into_dyn()
    } else {
        y.into_dyn()
    }
}

/// The gradient `g` (`(n, c)` or `(n, 1, c)`) as a 2-d `(n, c)` array.
fn grad2(op: &'static str, g: &Tensor) -> Result<ndarray::Array2<f32>> {
    let s = g.shape();
    let (n, c) = match s.len() {
        2 => (s[0], s[1]),
        3 if s[1] == 1 => (s[0], s[2]),
        _ => {
            return Err(TensorError::invalid(
                op,
                format!("gradient of shape {s:?}: expected (n, c) or (n, 1, c)"),
            )
            .into())
        }
    };
    Ok(g.as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, c))
        .expect("same size"))
}

/// Maximum over the time axis: `(n, L, c) -> (n, c)` (`(n, 1, c)` with
/// `keepdims`); backward routes each gradient to the (first) maximum.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::Array3::from_shape_vec((1, 3, 1), vec![1.0f32, 5.0, 3.0]).unwrap().into_dyn());
/// let y = ops::global_max_pool1d(&x, true)?;
/// assert_eq!(y.shape(), vec![1, 1, 1]);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap().into_raw_vec_and_offset().0, vec![0.0, 1.0, 0.0]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn global_max_pool1d(x: &Var, keepdims: bool) -> Result<Var> {
    const OP: &str = "global_max_pool1d";
    let (value, indices, in_shape) = {
        let xv = x.value();
        let (y, idx) = with4(OP, &xv, |x4| Ok(neurite_tensor::global_max_pool2d(x4)?))?;
        (keep(y, keepdims), idx, in_shape4(&xv))
    };
    Ok(Var::from_op(
        value,
        OP,
        &[x],
        Box::new(move |g| {
            let g2 = grad2(OP, g)?;
            Ok(vec![Some(squeeze4(global_max_pool2d_backward(
                g2.view(),
                &indices,
                in_shape,
            )?))])
        }),
    ))
}

/// Mean over the time axis: `(n, L, c) -> (n, c)` (`(n, 1, c)` with `keepdims`).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array3::from_shape_vec((1, 2, 1), vec![1.0f32, 3.0]).unwrap());
/// assert_eq!(ops::global_avg_pool1d(&x, false)?.to_tensor(), ndarray::arr2(&[[2.0f32]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn global_avg_pool1d(x: &Var, keepdims: bool) -> Result<Var> {
    const OP: &str = "global_avg_pool1d";
    let (value, in_shape) = {
        let xv = x.value();
        let y = with4(OP, &xv, |x4| Ok(neurite_tensor::global_avg_pool2d(x4)?))?;
        (keep(y, keepdims), in_shape4(&xv))
    };
    Ok(Var::from_op(
        value,
        OP,
        &[x],
        Box::new(move |g| {
            let g2 = grad2(OP, g)?;
            Ok(vec![Some(squeeze4(global_avg_pool2d_backward(
                g2.view(),
                in_shape,
            )?))])
        }),
    ))
}
