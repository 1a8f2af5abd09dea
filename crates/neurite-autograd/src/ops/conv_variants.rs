//! Transposed and depthwise convolutions as coarse ops over the
//! `neurite_tensor` kernels (`conv2d_transpose`, `depthwise_conv2d`), each
//! one graph node with a hand-written backward, as [`crate::ops::conv2d`].

use crate::error::Result;
use crate::var::Var;
use ndarray::{ArrayView1, ArrayView4, Ix1, Ix4};
use neurite_tensor::{
    conv2d_transpose_backward, depthwise_conv2d_backward, Conv2dGrads, Conv2dParams, Conv2dTransposeParams,
    Tensor, TensorError,
};

fn view4<'a>(op: &'static str, what: &str, t: &'a Tensor) -> Result<ArrayView4<'a, f32>> {
    t.view().into_dimensionality::<Ix4>().map_err(|_| {
        TensorError::invalid(op, format!("{what} must be 4-d, found shape {:?}", t.shape())).into()
    })
}

fn bias_view<'a>(op: &'static str, bias: Option<&'a Tensor>) -> Result<Option<ArrayView1<'a, f32>>> {
    bias.map(|b| {
        b.view().into_dimensionality::<Ix1>().map_err(|_| {
            TensorError::invalid(op, format!("bias must be 1-d, found shape {:?}", b.shape())).into()
        })
    })
    .transpose()
}

/// The node of a convolution-like op: `forward(x, kernel, bias)` computes the
/// value, `backward(x, kernel, dY, need_dx)` the gradients.
fn conv_like_op(
    op: &'static str,
    x: &Var,
    kernel: &Var,
    bias: Option<&Var>,
    forward: impl FnOnce(
        ArrayView4<f32>,
        ArrayView4<f32>,
        Option<ArrayView1<f32>>,
    ) -> neurite_tensor::Result<Tensor>,
    backward: impl Fn(ArrayView4<f32>, ArrayView4<f32>, ArrayView4<f32>, bool) -> neurite_tensor::Result<Conv2dGrads>
        + Send
        + Sync
        + 'static,
) -> Result<Var> {
    let value = {
        let (xv, kv) = (x.value(), kernel.value());
        let bv = bias.map(|b| b.value());
        let b1 = bias_view(op, bv.as_deref())?;
        forward(view4(op, "input", &xv)?, view4(op, "kernel", &kv)?, b1)?
    };
    let mut parents = vec![x, kernel];
    if let Some(b) = bias {
        parents.push(b);
    }
    let (xc, kc, has_bias) = (x.clone(), kernel.clone(), bias.is_some());
    Ok(Var::from_op(
        value,
        op,
        &parents,
        Box::new(move |g: &Tensor| {
            let (xv, kv) = (xc.value(), kc.value());
            let grads = backward(
                view4(op, "input", &xv)?,
                view4(op, "kernel", &kv)?,
                view4(op, "gradient", g)?,
                xc.requires_grad(),
            )?;
            let mut out = vec![grads.input.map(|d| d.into_dyn()), Some(grads.kernel.into_dyn())];
            if has_bias {
                out.push(Some(grads.bias.into_dyn()));
            }
            Ok(out)
        }),
    ))
}

/// Transposed 2-d convolution (Keras' `Conv2DTranspose`) of an NHWC batch
/// `x` `(n, h, w, c)` with a kernel `(kh, kw, filters, c)` and an optional
/// `bias` `(filters,)`; result `(n, oh, ow, filters)` (sizes as
/// [`neurite_tensor::conv2d_transpose_output_shape`]).
///
/// One node; backward through `conv2d_transpose_backward` (`dX` is the
/// ordinary convolution of `dY`, `dW` and `db` from the same im2col matrix).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::Conv2dTransposeParams;
/// let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 2, 2, 1)));
/// let k = Var::parameter(ndarray::Array4::<f32>::ones((2, 2, 3, 1)).into_dyn());
/// let p = Conv2dTransposeParams { strides: (2, 2), ..Default::default() };
/// let y = ops::conv2d_transpose(&x, &k, None, &p)?;
/// assert_eq!(y.shape(), vec![1, 4, 4, 3]);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(k.grad().unwrap()[[0, 0, 0, 0]], 4.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn conv2d_transpose(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv2dTransposeParams) -> Result<Var> {
    let params = *p;
    conv_like_op(
        "conv2d_transpose",
        x,
        kernel,
        bias,
        |x, k, b| neurite_tensor::conv2d_transpose(x, k, b, &params).map(|y| y.into_dyn()),
        move |x, k, g, need_dx| conv2d_transpose_backward(x, k, g, &params, need_dx),
    )
}

/// Depthwise 2-d convolution (Keras' `DepthwiseConv2D`) of an NHWC batch
/// `x` `(n, h, w, c)` with a kernel `(kh, kw, c, multiplier)` and an
/// optional `bias` `(c * multiplier,)`; result `(n, oh, ow, c * multiplier)`,
/// output channel `ci * multiplier + m` from input channel `ci`.
///
/// One node; backward through `depthwise_conv2d_backward`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::Conv2dParams;
/// let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 3, 3, 2)));
/// let k = Var::parameter(ndarray::Array4::<f32>::ones((2, 2, 2, 1)).into_dyn());
/// let b = Var::parameter(ndarray::arr1(&[0.5f32, 1.0]).into_dyn());
/// let y = ops::depthwise_conv2d(&x, &k, Some(&b), &Conv2dParams::default())?;
/// assert_eq!(y.shape(), vec![1, 2, 2, 2]);
/// assert_eq!(y.to_tensor()[[0, 0, 0, 1]], 5.0);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(b.grad().unwrap()[[0]], 4.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn depthwise_conv2d(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv2dParams) -> Result<Var> {
    let params = *p;
    conv_like_op(
        "depthwise_conv2d",
        x,
        kernel,
        bias,
        |x, k, b| neurite_tensor::depthwise_conv2d(x, k, b, &params).map(|y| y.into_dyn()),
        move |x, k, g, need_dx| depthwise_conv2d_backward(x, k, g, &params, need_dx),
    )
}
