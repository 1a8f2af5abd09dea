//! 1-d convolution (Keras' `Conv1D`) as one coarse op over the 2-d
//! convolution kernels: a batch `(n, L, c)` is the image batch
//! `(n, 1, L, c)` and a kernel `(k, c, f)` is `(1, k, c, f)` (both are
//! reshaped views, no copy), so Conv1D runs on the same task-split,
//! direct/im2col + GEMM forward and im2col/col2im backward as Conv2D.
//! `causal` padding is `dilation * (k - 1)` zeros before the first step
//! (one padded copy of the input, made again in backward instead of kept).

use crate::error::Result;
use crate::var::Var;
use ndarray::{s, Array3, ArrayView1, ArrayView3, ArrayView4, Ix1, Ix3};
use neurite_tensor::precision::PrecisionScope;
use neurite_tensor::{conv2d_backward, conv2d_relu_backward, Conv2dParams, Padding, Tensor, TensorError};

/// How a 1-d convolution pads the time axis (Keras' `padding` of `Conv1D`).
///
/// ```
/// assert_eq!(neurite_autograd::ops::Conv1dPadding::default(), neurite_autograd::ops::Conv1dPadding::Valid);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv1dPadding {
    /// No padding: only windows entirely inside the sequence.
    #[default]
    Valid,
    /// TensorFlow's `same`: `out = ceil(L / stride)`, the extra zero after.
    Same,
    /// `dilation * (k - 1)` zeros before the first step: output `t` sees
    /// only inputs `<= t` (stride 1 keeps the length).
    Causal,
}

/// Stride, padding and dilation of a 1-d convolution.
///
/// ```
/// let p = neurite_autograd::ops::Conv1dParams::default();
/// assert_eq!((p.stride, p.dilation), (1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv1dParams {
    /// Step between windows, at least 1.
    pub stride: usize,
    /// `Valid`, `Same` or `Causal`.
    pub padding: Conv1dPadding,
    /// Spacing of the kernel's taps, at least 1.
    pub dilation: usize,
}

impl Default for Conv1dParams {
    fn default() -> Self {
        Conv1dParams {
            stride: 1,
            padding: Conv1dPadding::Valid,
            dilation: 1,
        }
    }
}

impl Conv1dParams {
    /// The 2-d parameters the op runs with (height 1).
    fn conv2d(&self) -> Conv2dParams {
        Conv2dParams {
            strides: (1, self.stride),
            padding: match self.padding {
                Conv1dPadding::Same => Padding::Same,
                Conv1dPadding::Valid | Conv1dPadding::Causal => Padding::Valid,
            },
            dilation: (1, self.dilation),
        }
    }

    /// Zeros put before the first step for a kernel of `k` taps.
    fn left_pad(&self, op: &'static str, k: usize) -> Result<usize> {
        if self.padding != Conv1dPadding::Causal {
            return Ok(0);
        }
        k.checked_sub(1)
            .and_then(|k1| k1.checked_mul(self.dilation))
            .ok_or_else(|| {
                TensorError::invalid(op, format!("kernel of {k} taps with dilation {}", self.dilation)).into()
            })
    }
}

fn view3<'a>(op: &'static str, what: &str, t: &'a Tensor) -> Result<ArrayView3<'a, f32>> {
    t.view().into_dimensionality::<Ix3>().map_err(|_| {
        TensorError::invalid(
            op,
            format!(
                "{what} must be 3-d ((batch, steps, channels) / (k, in, filters)), found shape {:?}",
                t.shape()
            ),
        )
        .into()
    })
}

/// `v` `(a, b, c)` as the 4-d view `(a, 1, b, c)` (or `(1, a, b, c)` with
/// `lead`), copying only when `v` is not in standard layout.
fn as4<R>(v: ArrayView3<f32>, lead: bool, f: impl FnOnce(ArrayView4<f32>) -> R) -> R {
    let std = v.as_standard_layout();
    let (a, b, c) = std.dim();
    let shape = if lead { (1, a, b, c) } else { (a, 1, b, c) };
    f(std
        .view()
        .into_shape_with_order(shape)
        .expect("standard layout reshapes"))
}

/// `x` with `pad` zero steps before the first (a copy), or `None` when `pad` is 0.
fn left_padded(x: ArrayView3<f32>, pad: usize) -> Option<Array3<f32>> {
    (pad > 0).then(|| {
        let (n, l, c) = x.dim();
        let mut out = Array3::<f32>::zeros((n, l + pad, c));
        out.slice_mut(s![.., pad.., ..]).assign(&x);
        out
    })
}

/// Shared body of [`conv1d`] and [`conv1d_relu`].
fn conv1d_impl(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv1dParams, relu: bool) -> Result<Var> {
    let op = if relu { "conv1d_relu" } else { "conv1d" };
    if p.stride == 0 || p.dilation == 0 {
        return Err(TensorError::invalid(
            op,
            format!(
                "stride {} and dilation {} must be at least 1",
                p.stride, p.dilation
            ),
        )
        .into());
    }
    let (value, pad) = {
        let (xv, kv) = (x.value(), kernel.value());
        let bv = bias.map(|b| b.value());
        let b1: Option<ArrayView1<f32>> = match bv.as_deref() {
            Some(b) => Some(b.view().into_dimensionality::<Ix1>().map_err(|_| {
                TensorError::invalid(op, format!("bias must be 1-d, found shape {:?}", b.shape()))
            })?),
            None => None,
        };
        let (x3, k3) = (view3(op, "input", &xv)?, view3(op, "kernel", &kv)?);
        let pad = p.left_pad(op, k3.shape()[0])?;
        let padded = left_padded(x3, pad);
        let x3 = padded.as_ref().map_or(x3, |a| a.view());
        let y = as4(x3, false, |x4| {
            as4(k3, true, |k4| {
                if relu {
                    neurite_tensor::conv2d_relu(x4, k4, b1, &p.conv2d())
                } else {
                    neurite_tensor::conv2d(x4, k4, b1, &p.conv2d())
                }
            })
        })?;
        let (n, _, l, f) = y.dim();
        (
            y.into_shape_with_order((n, l, f)).expect("height 1").into_dyn(),
            pad,
        )
    };
    let mut parents = vec![x, kernel];
    if let Some(b) = bias {
        parents.push(b);
    }
    let (xc, kc, has_bias, params) = (x.clone(), kernel.clone(), bias.is_some(), *p);
    let precision = neurite_tensor::precision::current();
    let backward = move |g: &Tensor, y: Option<&Tensor>| -> Result<Vec<Option<Tensor>>> {
        // The backward pass runs at the forward pass's precision.
        let _precision = PrecisionScope::enter(precision);
        let (xv, kv) = (xc.value(), kc.value());
        let (x3, k3, g3) = (
            view3(op, "input", &xv)?,
            view3(op, "kernel", &kv)?,
            view3(op, "gradient", g)?,
        );
        let padded = left_padded(x3, pad);
        let xp = padded.as_ref().map_or(x3, |a| a.view());
        let need_dx = xc.requires_grad();
        let grads = as4(xp, false, |x4| {
            as4(k3, true, |k4| {
                as4(g3, false, |g4| -> Result<neurite_tensor::Conv2dGrads> {
                    match y {
                        Some(y) => {
                            let y3 = view3(op, "output", y)?;
                            as4(y3, false, |y4| {
                                conv2d_relu_backward(x4, k4, y4, g4, &params.conv2d(), need_dx)
                            })
                            .map_err(crate::AutogradError::from)
                        }
                        None => conv2d_backward(x4, k4, g4, &params.conv2d(), need_dx)
                            .map_err(crate::AutogradError::from),
                    }
                })
            })
        })?;
        let dx = grads.input.map(|d| {
            let (n, _, lp, c) = d.dim();
            let d = d.into_shape_with_order((n, lp, c)).expect("height 1");
            if pad == 0 {
                d.into_dyn()
            } else {
                d.slice(s![.., pad.., ..]).to_owned().into_dyn()
            }
        });
        let (_, kk, kc_, kf) = grads.kernel.dim();
        let dk = grads
            .kernel
            .into_shape_with_order((kk, kc_, kf))
            .expect("height 1")
            .into_dyn();
        let mut out = vec![dx, Some(dk)];
        if has_bias {
            out.push(Some(grads.bias.into_dyn()));
        }
        Ok(out)
    };
    Ok(if relu {
        Var::from_op_with_output(value, op, &parents, Box::new(move |g, y| backward(g, Some(y))))
    } else {
        Var::from_op(value, op, &parents, Box::new(move |g| backward(g, None)))
    })
}

/// 1-d convolution of a batch `x` `(n, L, c)` with a Keras-layout `kernel`
/// `(k, c, f)` and an optional `bias` `(f,)`; result `(n, L', f)` with
/// `L'` from [`Conv1dParams`] (`valid`: `(L - d(k-1) - 1) / s + 1`, `same`:
/// `ceil(L / s)`, `causal`: `(L - 1) / s + 1`). One node, run on the 2-d
/// convolution kernels (height 1).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_autograd::ops::{Conv1dPadding, Conv1dParams};
/// let x = Var::from_array(ndarray::Array3::from_shape_vec((1, 3, 1), vec![1.0f32, 2.0, 3.0]).unwrap());
/// let k = Var::parameter(ndarray::Array3::<f32>::ones((2, 1, 1)).into_dyn());
/// let p = Conv1dParams { padding: Conv1dPadding::Causal, ..Default::default() };
/// let y = ops::conv1d(&x, &k, None, &p)?;
/// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![1.0, 3.0, 5.0]);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(k.grad().unwrap().into_raw_vec_and_offset().0, vec![3.0, 6.0]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn conv1d(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv1dParams) -> Result<Var> {
    conv1d_impl(x, kernel, bias, p, false)
}

/// [`conv1d`] followed by ReLU in one node (the activation applied in the
/// convolution's kernel, the backward masking with the saved output).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array3::from_shape_vec((1, 2, 1), vec![1.0f32, -1.0]).unwrap());
/// let k = Var::parameter(ndarray::Array3::<f32>::ones((1, 1, 1)).into_dyn());
/// let y = ops::conv1d_relu(&x, &k, None, &Default::default())?;
/// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![1.0, 0.0]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn conv1d_relu(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv1dParams) -> Result<Var> {
    conv1d_impl(x, kernel, bias, p, true)
}
