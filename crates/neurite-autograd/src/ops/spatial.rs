//! Spatial ops on NHWC batches: zero padding, cropping and upsampling,
//! each one node with its backward kernel from `neurite_tensor::{spatial, resize}`.

use crate::error::Result;
use crate::var::Var;
use neurite_tensor::resize::{upsample2d as upsample_kernel, upsample2d_backward, Interpolation};
use neurite_tensor::spatial::{crop2d as crop_kernel, zero_pad2d as pad_kernel, Margins2d};

/// `x` (NHWC) with rows and columns of zeros added around each image
/// (Keras' `ZeroPadding2D`); backward crops the gradient.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::spatial::Margins2d;
/// let x = Var::parameter(ndarray::Array4::<f32>::ones((1, 2, 2, 1)).into_dyn());
/// let y = ops::zero_pad2d(&x, Margins2d::uniform(1))?;
/// assert_eq!(y.shape(), vec![1, 4, 4, 1]);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::Array4::<f32>::ones((1, 2, 2, 1)).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn zero_pad2d(x: &Var, m: Margins2d) -> Result<Var> {
    let value = pad_kernel(&x.value(), m)?;
    Ok(Var::from_op(
        value,
        "zero_pad2d",
        &[x],
        Box::new(move |g| Ok(vec![Some(crop_kernel(g, m)?)])),
    ))
}

/// `x` (NHWC) without `m.top`/`m.bottom` rows and `m.left`/`m.right`
/// columns (Keras' `Cropping2D`); backward pads the gradient with zeros.
/// Errors if nothing would be left.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::spatial::Margins2d;
/// let x = Var::parameter(ndarray::Array4::<f32>::ones((1, 3, 3, 1)).into_dyn());
/// let y = ops::crop2d(&x, Margins2d { top: 1, bottom: 1, left: 0, right: 2 })?;
/// assert_eq!(y.shape(), vec![1, 1, 1, 1]);
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().sum(), 1.0);
/// assert!(ops::crop2d(&x, Margins2d::uniform(2)).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn crop2d(x: &Var, m: Margins2d) -> Result<Var> {
    let value = crop_kernel(&x.value(), m)?;
    Ok(Var::from_op(
        value,
        "crop2d",
        &[x],
        Box::new(move |g| Ok(vec![Some(pad_kernel(g, m)?)])),
    ))
}

/// `x` (NHWC) upsampled by the integer `factors` (height, width) with
/// `mode` (Keras' `UpSampling2D`; bilinear = TensorFlow/JAX `resize` with
/// half-pixel centers, see [`neurite_tensor::resize`]).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use neurite_tensor::resize::Interpolation;
/// let x = Var::parameter(ndarray::Array4::<f32>::ones((2, 2, 3, 4)).into_dyn());
/// let y = ops::upsample2d(&x, (2, 2), Interpolation::Nearest)?;
/// assert_eq!(y.shape(), vec![2, 4, 6, 4]);
/// ops::sum_all(&y)?.backward()?;
/// assert!(x.grad().unwrap().iter().all(|&g| g == 4.0));
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn upsample2d(x: &Var, factors: (usize, usize), mode: Interpolation) -> Result<Var> {
    let value = upsample_kernel(&x.value(), factors, mode)?;
    let in_shape = x.shape();
    Ok(Var::from_op(
        value,
        "upsample2d",
        &[x],
        Box::new(move |g| Ok(vec![Some(upsample2d_backward(g, &in_shape, factors, mode)?)])),
    ))
}
