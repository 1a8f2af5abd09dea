//! Temporary stand-ins for the autograd ops `conv2d`, the pooling ops and
//! `dropout` while they are not yet in `neurite_autograd::ops` (same names
//! and signatures; forward and backward side by side on the
//! `neurite_tensor` kernels). Everything else is re-exported from the shared ops.

use ndarray::{Ix1, Ix2, Ix4};
pub(crate) use neurite_autograd::ops::*;
use neurite_autograd::{Result, Tensor, Var};
use neurite_tensor::{Conv2dParams, Pool2dParams, TensorError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

fn as4<'a>(op: &'static str, t: &'a Tensor) -> Result<ndarray::ArrayView4<'a, f32>> {
    t.view().into_dimensionality::<Ix4>().map_err(|_| {
        TensorError::invalid(op, format!("expected a rank-4 tensor, got {:?}", t.shape())).into()
    })
}

fn shape4(s: &[usize]) -> [usize; 4] {
    [s[0], s[1], s[2], s[3]]
}

pub(crate) fn conv2d(x: &Var, kernel: &Var, bias: Option<&Var>, p: &Conv2dParams) -> Result<Var> {
    let value = {
        let (xv, kv) = (x.value(), kernel.value());
        let bv = bias.map(|b| b.value());
        let b1 = match &bv {
            Some(b) => Some(
                b.view()
                    .into_dimensionality::<Ix1>()
                    .map_err(|_| TensorError::invalid("conv2d", "bias must be rank 1"))?,
            ),
            None => None,
        };
        neurite_tensor::conv2d(as4("conv2d", &xv)?, as4("conv2d", &kv)?, b1, p)?.into_dyn()
    };
    let (xc, kc, has_bias, p) = (x.clone(), kernel.clone(), bias.is_some(), *p);
    let mut parents = vec![x, kernel];
    if let Some(b) = bias {
        parents.push(b);
    }
    Ok(Var::from_op(
        value,
        "conv2d",
        &parents,
        Box::new(move |g| {
            let (xv, kv) = (xc.value(), kc.value());
            let grads = neurite_tensor::conv2d_backward(
                as4("conv2d", &xv)?,
                as4("conv2d", &kv)?,
                as4("conv2d", g)?,
                &p,
                xc.requires_grad(),
            )?;
            let mut out = vec![grads.input.map(|a| a.into_dyn()), Some(grads.kernel.into_dyn())];
            if has_bias {
                out.push(Some(grads.bias.into_dyn()));
            }
            Ok(out)
        }),
    ))
}

pub(crate) fn max_pool2d(x: &Var, p: &Pool2dParams) -> Result<Var> {
    let (y, idx) = neurite_tensor::max_pool2d(as4("max_pool2d", &x.value())?, p)?;
    let shape = shape4(&x.shape());
    Ok(Var::from_op(
        y.into_dyn(),
        "max_pool2d",
        &[x],
        Box::new(move |g| {
            let dx = neurite_tensor::max_pool2d_backward(as4("max_pool2d", g)?, &idx, shape)?;
            Ok(vec![Some(dx.into_dyn())])
        }),
    ))
}

pub(crate) fn avg_pool2d(x: &Var, p: &Pool2dParams) -> Result<Var> {
    let y = neurite_tensor::avg_pool2d(as4("avg_pool2d", &x.value())?, p)?;
    let (shape, p) = (shape4(&x.shape()), *p);
    Ok(Var::from_op(
        y.into_dyn(),
        "avg_pool2d",
        &[x],
        Box::new(move |g| {
            let dx = neurite_tensor::avg_pool2d_backward(as4("avg_pool2d", g)?, shape, &p)?;
            Ok(vec![Some(dx.into_dyn())])
        }),
    ))
}

fn as2(g: &Tensor) -> Result<ndarray::ArrayView2<'_, f32>> {
    g.view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| TensorError::invalid("global_pool2d", "gradient must be rank 2").into())
}

pub(crate) fn global_avg_pool2d(x: &Var) -> Result<Var> {
    let y = neurite_tensor::global_avg_pool2d(as4("global_avg_pool2d", &x.value())?)?;
    let shape = shape4(&x.shape());
    Ok(Var::from_op(
        y.into_dyn(),
        "global_avg_pool2d",
        &[x],
        Box::new(move |g| {
            Ok(vec![Some(
                neurite_tensor::global_avg_pool2d_backward(as2(g)?, shape)?.into_dyn(),
            )])
        }),
    ))
}

pub(crate) fn global_max_pool2d(x: &Var) -> Result<Var> {
    let (y, idx) = neurite_tensor::global_max_pool2d(as4("global_max_pool2d", &x.value())?)?;
    let shape = shape4(&x.shape());
    Ok(Var::from_op(
        y.into_dyn(),
        "global_max_pool2d",
        &[x],
        Box::new(move |g| {
            Ok(vec![Some(
                neurite_tensor::global_max_pool2d_backward(as2(g)?, &idx, shape)?.into_dyn(),
            )])
        }),
    ))
}

pub(crate) fn dropout(x: &Var, rate: f32, rng: &mut ChaCha8Rng) -> Result<Var> {
    if !(0.0..1.0).contains(&rate) {
        return Err(TensorError::invalid("dropout", format!("rate must be in [0, 1), got {rate}")).into());
    }
    let scale = 1.0 / (1.0 - rate);
    let mask = x
        .value()
        .mapv(|_| if rng.random::<f32>() < rate { 0.0 } else { scale });
    let value = &*x.value() * &mask;
    Ok(Var::from_op(
        value,
        "dropout",
        &[x],
        Box::new(move |g| Ok(vec![Some(g * &mask)])),
    ))
}
