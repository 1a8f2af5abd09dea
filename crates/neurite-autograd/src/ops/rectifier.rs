//! Rectifiers with parameters as single ops: Keras' `ReLU` (`relu_ext`) and
//! `PReLU` (`prelu`), forward and backward kernels from `neurite_tensor::rectifier`.

use crate::error::Result;
use crate::var::Var;
use neurite_tensor::rectifier::{self as kernels, ReluParams};

/// Keras' `ReLU` with `max_value`, `negative_slope` and `threshold` (see
/// [`ReluParams`]); the derivative is `negative_slope` at and below the
/// threshold, 1 above it up to and including `max_value`, 0 above.
/// Errors if a parameter is negative or not finite.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::rectifier::ReluParams;
/// let x = Var::parameter(ndarray::arr1(&[-2.0f32, 3.0, 8.0]).into_dyn());
/// let p = ReluParams { max_value: Some(6.0), negative_slope: 0.1, threshold: 0.0 };
/// let y = ops::relu_ext(&x, &p)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[-0.2f32, 3.0, 6.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[0.1f32, 1.0, 0.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn relu_ext(x: &Var, p: &ReluParams) -> Result<Var> {
    let value = kernels::relu_ext(&x.value(), p)?;
    let (xc, p) = (x.clone(), *p);
    Ok(Var::from_op(
        value,
        "relu_ext",
        &[x],
        Box::new(move |g| Ok(vec![Some(kernels::relu_ext_backward(g, &xc.value(), &p)?)])),
    ))
}

/// Parametric ReLU: `x` where `x >= 0`, `alpha * x` elsewhere; `alpha` has
/// the shape of one sample of `x` (no batch axis), with 1 on axes it is
/// shared along. Both `x` and `alpha` get gradients.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr2(&[[-2.0f32, 1.0], [-4.0, 3.0]]).into_dyn());
/// let alpha = Var::parameter(ndarray::arr1(&[0.25f32, 0.5]).into_dyn());
/// let y = ops::prelu(&x, &alpha)?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[-0.5f32, 1.0], [-1.0, 3.0]]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(alpha.grad().unwrap(), ndarray::arr1(&[-6.0f32, 0.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn prelu(x: &Var, alpha: &Var) -> Result<Var> {
    let value = kernels::prelu(&x.value(), &alpha.value())?;
    let (xc, ac) = (x.clone(), alpha.clone());
    Ok(Var::from_op(
        value,
        "prelu",
        &[x, alpha],
        Box::new(move |g| {
            let (dx, da) = kernels::prelu_backward(g, &xc.value(), &ac.value())?;
            Ok(vec![
                xc.requires_grad().then_some(dx),
                ac.requires_grad().then_some(da),
            ])
        }),
    ))
}
