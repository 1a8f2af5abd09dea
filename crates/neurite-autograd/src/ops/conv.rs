//! Convolution and pooling as coarse ops over the `neurite_tensor` kernels
//! (im2col + GEMM, argmax pooling), each with a hand-written backward: one
//! graph node per layer instead of dozens.

use crate::error::Result;
use crate::var::Var;
use ndarray::{ArrayView1, ArrayView2, ArrayView4, Ix1, Ix2, Ix4};
use neurite_tensor::precision::PrecisionScope;
use neurite_tensor::{
    avg_pool2d_backward, conv2d_backward, conv2d_relu_backward, conv2d_relu_max_pool2d_backward,
    global_avg_pool2d_backward, global_max_pool2d_backward, max_pool2d_backward, Conv2dParams, Pool2dParams,
    Tensor, TensorError,
};

fn view4<'a>(op: &'static str, what: &str, t: &'a Tensor) -> Result<ArrayView4<'a, f32>> {
    t.view().into_dimensionality::<Ix4>().map_err(|_| {
        TensorError::invalid(
            op,
            format!(
                "{what} must be 4-d (NHWC / (kh, kw, in, out)), found shape {:?}",
                t.shape()
            ),
        )
        .into()
    })
}

fn view2<'a>(op: &'static str, t: &'a Tensor) -> Result<ArrayView2<'a, f32>> {
    t.view().into_dimensionality::<Ix2>().map_err(|_| {
        TensorError::invalid(op, format!("gradient must be 2-d, found shape {:?}", t.shape())).into()
    })
}

fn shape4(s: &[usize]) -> [usize; 4] {
    [s[0], s[1], s[2], s[3]]
}

/// A convolution's bias as a 1-d view, or an error naming `op`.
fn bias_view<'a>(op: &'static str, bias: Option<&'a Tensor>) -> Result<Option<ArrayView1<'a, f32>>> {
    bias.map(|b| {
        b.view().into_dimensionality::<Ix1>().map_err(|_| {
            TensorError::invalid(op, format!("bias must be 1-d, found shape {:?}", b.shape())).into()
        })
    })
    .transpose()
}

/// Shared body of [`conv2d`] and [`conv2d_relu`].
fn conv_impl(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv2dParams, relu: bool) -> Result<Var> {
    let op = if relu { "conv2d_relu" } else { "conv2d" };
    let value = {
        let (xv, kv) = (x.value(), kernel.value());
        let bv = bias.map(|b| b.value());
        let b1 = bias_view(op, bv.as_deref())?;
        let (xv, kv) = (view4(op, "input", &xv)?, view4(op, "kernel", &kv)?);
        if relu {
            neurite_tensor::conv2d_relu(xv, kv, b1, p)?.into_dyn()
        } else {
            neurite_tensor::conv2d(xv, kv, b1, p)?.into_dyn()
        }
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
        let (xv, kv, gv) = (
            view4(op, "input", &xv)?,
            view4(op, "kernel", &kv)?,
            view4(op, "gradient", g)?,
        );
        let need_dx = xc.requires_grad();
        let grads = match y {
            Some(y) => conv2d_relu_backward(xv, kv, view4(op, "output", y)?, gv, &params, need_dx)?,
            None => conv2d_backward(xv, kv, gv, &params, need_dx)?,
        };
        let mut out = vec![grads.input.map(|d| d.into_dyn()), Some(grads.kernel.into_dyn())];
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

/// 2-d convolution of an NHWC batch `x` `(n, h, w, c)` with a Keras-layout
/// `kernel` `(kh, kw, c, f)` and an optional `bias` `(f,)`; result `(n, oh, ow, f)`.
///
/// One node; backward through `conv2d_backward` (`dW = colsᵀ·dY`,
/// `db = Σ dY`, `dX = col2im(dY·Wᵀ)`, the last only when `x` needs it).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::Conv2dParams;
/// let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 3, 3, 1)));
/// let k = Var::parameter(ndarray::Array4::<f32>::ones((2, 2, 1, 1)).into_dyn());
/// let b = Var::parameter(ndarray::arr1(&[0.5f32]).into_dyn());
/// let y = ops::conv2d(&x, &k, Some(&b), &Conv2dParams::default())?;
/// assert_eq!(y.shape(), vec![1, 2, 2, 1]);
/// assert_eq!(y.to_tensor()[[0, 0, 0, 0]], 4.5);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(b.grad().unwrap()[[0]], 4.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn conv2d(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv2dParams) -> Result<Var> {
    conv_impl(x, kernel, bias, p, false)
}

/// [`conv2d`] followed by ReLU in one node: the activation is applied to each
/// block of the convolution's output right after its GEMM, and the backward
/// masks the gradient with the saved output inside the kernel (one tensor and
/// one node fewer per layer, no extra pass over the batch).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::Conv2dParams;
/// let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 2, 2, 1)));
/// let k = Var::parameter(ndarray::Array4::from_elem((1, 1, 1, 2), -1.0f32).into_dyn());
/// let b = Var::parameter(ndarray::arr1(&[0.5f32, 2.0]).into_dyn());
/// let y = ops::conv2d_relu(&x, &k, Some(&b), &Conv2dParams::default())?;
/// assert_eq!(y.to_tensor()[[0, 0, 0, 0]], 0.0); // relu(-1 + 0.5)
/// assert_eq!(y.to_tensor()[[0, 0, 0, 1]], 1.0); // relu(-1 + 2)
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(b.grad().unwrap(), ndarray::arr1(&[0.0f32, 4.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn conv2d_relu(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv2dParams) -> Result<Var> {
    conv_impl(x, kernel, bias, p, true)
}

/// [`conv2d_relu`] followed by [`max_pool2d`] in one node that never stores
/// the convolution's output: each block of images is convolved, pooled while
/// in cache, and only the pooled values and their argmax are kept. Backward
/// scatters the pooled gradient back to the argmax cells block by block,
/// inside the convolution's backward. Without a graph to record (no
/// parameter needs a gradient, or under [`crate::no_grad`]) it runs the
/// inference kernel, which keeps no argmax.
///
/// Values and gradients are those of the two unfused nodes (bit for bit,
/// unless the convolution output holds a NaN).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::{Conv2dParams, Pool2dParams};
/// let x = Var::from_array(ndarray::Array4::from_shape_fn((1, 4, 4, 1), |(_, h, w, _)| (h * 4 + w) as f32 - 6.0));
/// let k = Var::parameter(ndarray::Array4::<f32>::ones((1, 1, 1, 1)).into_dyn());
/// let b = Var::parameter(ndarray::arr1(&[0.0f32]).into_dyn());
/// let (cp, pp) = (Conv2dParams::default(), Pool2dParams::new((2, 2)));
/// let y = ops::conv2d_relu_max_pool2d(&x, &k, Some(&b), &cp, &pp)?;
/// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![0.0, 1.0, 7.0, 9.0]);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(b.grad().unwrap()[[0]], 3.0); // three windows are active
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn conv2d_relu_max_pool2d(
    x: &Var,
    kernel: &Var,
    bias: Option<&Var>,
    conv: &Conv2dParams,
    pool: &Pool2dParams,
) -> Result<Var> {
    const OP: &str = "conv2d_relu_max_pool2d";
    let mut parents = vec![x, kernel];
    if let Some(b) = bias {
        parents.push(b);
    }
    let records = crate::is_grad_enabled() && parents.iter().any(|p| p.requires_grad());
    let (value, indices) = {
        let (xv, kv) = (x.value(), kernel.value());
        let bv = bias.map(|b| b.value());
        let b1 = bias_view(OP, bv.as_deref())?;
        let (xv, kv) = (view4(OP, "input", &xv)?, view4(OP, "kernel", &kv)?);
        if !records {
            let y = neurite_tensor::conv2d_relu_max_pool2d(xv, kv, b1, conv, pool)?;
            return Ok(Var::from_array(y.into_dyn()));
        }
        let (y, idx) = neurite_tensor::conv2d_relu_max_pool2d_with_indices(xv, kv, b1, conv, pool)?;
        (y.into_dyn(), idx)
    };
    let (xc, kc, has_bias, params) = (x.clone(), kernel.clone(), bias.is_some(), *conv);
    let precision = neurite_tensor::precision::current();
    let backward = move |g: &Tensor, y: &Tensor| -> Result<Vec<Option<Tensor>>> {
        // The backward pass runs at the forward pass's precision.
        let _precision = PrecisionScope::enter(precision);
        let (xv, kv) = (xc.value(), kc.value());
        let grads = conv2d_relu_max_pool2d_backward(
            view4(OP, "input", &xv)?,
            view4(OP, "kernel", &kv)?,
            view4(OP, "output", y)?,
            &indices,
            view4(OP, "gradient", g)?,
            &params,
            xc.requires_grad(),
        )?;
        let mut out = vec![grads.input.map(|d| d.into_dyn()), Some(grads.kernel.into_dyn())];
        if has_bias {
            out.push(Some(grads.bias.into_dyn()));
        }
        Ok(out)
    };
    Ok(Var::from_op_with_output(value, OP, &parents, Box::new(backward)))
}

/// Max pooling of an NHWC batch; the argmax positions are kept for backward,
/// which routes each output gradient to the input element that won.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::Pool2dParams;
/// let x = Var::parameter(ndarray::Array4::from_shape_vec((1, 2, 2, 1), vec![1.0f32, 5.0, 3.0, 2.0]).unwrap().into_dyn());
/// let y = ops::max_pool2d(&x, &Pool2dParams::new((2, 2)))?;
/// assert_eq!(y.item()?, 5.0);
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().into_raw_vec_and_offset().0, vec![0.0, 1.0, 0.0, 0.0]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn max_pool2d(x: &Var, p: &Pool2dParams) -> Result<Var> {
    if !(crate::is_grad_enabled() && x.requires_grad()) {
        // Inference: no backward will run, so skip the argmax.
        let y = neurite_tensor::max_pool2d_values(view4("max_pool2d", "input", &x.value())?, p)?;
        return Ok(Var::from_array(y.into_dyn()));
    }
    let (value, indices, in_shape) = {
        let xv = x.value();
        let (y, idx) = neurite_tensor::max_pool2d(view4("max_pool2d", "input", &xv)?, p)?;
        (y.into_dyn(), idx, shape4(xv.shape()))
    };
    Ok(Var::from_op(
        value,
        "max_pool2d",
        &[x],
        Box::new(move |g| {
            let dx = max_pool2d_backward(view4("max_pool2d", "gradient", g)?, &indices, in_shape)?;
            Ok(vec![Some(dx.into_dyn())])
        }),
    ))
}

/// Average pooling of an NHWC batch (Keras' `AveragePooling2D`: with `same`
/// padding each window averages only the elements inside the input).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::Pool2dParams;
/// let x = Var::parameter(ndarray::Array4::from_shape_vec((1, 2, 2, 1), vec![1.0f32, 5.0, 3.0, 2.0]).unwrap().into_dyn());
/// let y = ops::avg_pool2d(&x, &Pool2dParams::new((2, 2)))?;
/// assert_eq!(y.item()?, 2.75);
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().into_raw_vec_and_offset().0, vec![0.25; 4]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn avg_pool2d(x: &Var, p: &Pool2dParams) -> Result<Var> {
    let (value, in_shape) = {
        let xv = x.value();
        let y = neurite_tensor::avg_pool2d(view4("avg_pool2d", "input", &xv)?, p)?;
        (y.into_dyn(), shape4(xv.shape()))
    };
    let params = *p;
    Ok(Var::from_op(
        value,
        "avg_pool2d",
        &[x],
        Box::new(move |g| {
            let dx = avg_pool2d_backward(view4("avg_pool2d", "gradient", g)?, in_shape, &params)?;
            Ok(vec![Some(dx.into_dyn())])
        }),
    ))
}

/// Mean over height and width of an NHWC batch: `(n, h, w, c) -> (n, c)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::from_array(ndarray::Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap());
/// assert_eq!(ops::global_avg_pool2d(&x)?.to_tensor(), ndarray::arr2(&[[2.0f32]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn global_avg_pool2d(x: &Var) -> Result<Var> {
    let (value, in_shape) = {
        let xv = x.value();
        let y = neurite_tensor::global_avg_pool2d(view4("global_avg_pool2d", "input", &xv)?)?;
        (y.into_dyn(), shape4(xv.shape()))
    };
    Ok(Var::from_op(
        value,
        "global_avg_pool2d",
        &[x],
        Box::new(move |g| {
            let dx = global_avg_pool2d_backward(view2("global_avg_pool2d", g)?, in_shape)?;
            Ok(vec![Some(dx.into_dyn())])
        }),
    ))
}

/// Maximum over height and width of an NHWC batch: `(n, h, w, c) -> (n, c)`;
/// backward routes each gradient to the (first) maximum.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap().into_dyn());
/// let y = ops::global_max_pool2d(&x)?;
/// assert_eq!(y.item()?, 3.0);
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().into_raw_vec_and_offset().0, vec![0.0, 1.0]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn global_max_pool2d(x: &Var) -> Result<Var> {
    let (value, indices, in_shape) = {
        let xv = x.value();
        let (y, idx) = neurite_tensor::global_max_pool2d(view4("global_max_pool2d", "input", &xv)?)?;
        (y.into_dyn(), idx, shape4(xv.shape()))
    };
    Ok(Var::from_op(
        value,
        "global_max_pool2d",
        &[x],
        Box::new(move |g| {
            let dx = global_max_pool2d_backward(view2("global_max_pool2d", g)?, &indices, in_shape)?;
            Ok(vec![Some(dx.into_dyn())])
        }),
    ))
}
