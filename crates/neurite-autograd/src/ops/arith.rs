//! Broadcasting arithmetic: each op's forward and backward side by side.
//! Gradients of broadcast operands are summed back to their shapes.

use crate::error::Result;
use crate::ops::util::{reduce_ref, reduce_to, trailing_broadcast};
use crate::var::Var;
use ndarray::{IxDyn, Zip};
use neurite_tensor::broadcast::broadcast_shape;
use neurite_tensor::{Tensor, TensorError};

/// The value of a broadcasting binary op: `f(a, b)`, through the one-pass
/// row loop when one operand's shape is a suffix of the other's (bias adds,
/// equal shapes), else through ndarray's general broadcasting zip.
/// `f_swapped(b, a)` must equal `f(a, b)`.
fn binary_value(
    op: &'static str,
    a: &Var,
    b: &Var,
    f: impl Fn(f32, f32) -> f32 + Copy,
    f_swapped: impl Fn(f32, f32) -> f32,
) -> Result<Tensor> {
    let (av, bv) = (a.value(), b.value());
    if let Some(v) = trailing_broadcast(&av, &bv, f) {
        return Ok(v);
    }
    if let Some(v) = trailing_broadcast(&bv, &av, f_swapped) {
        return Ok(v);
    }
    zip_broadcast(op, &av, &bv, f)
}

/// `a + b` with NumPy broadcasting.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let y = ops::add(&Var::from_array(ndarray::arr2(&[[1.0f32], [2.0]])), &Var::from_array(ndarray::arr1(&[10.0f32, 20.0])))?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[11.0f32, 21.0], [12.0, 22.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn add(a: &Var, b: &Var) -> Result<Var> {
    let value = binary_value("add", a, b, |x, y| x + y, |x, y| y + x)?;
    let (sa, sb) = (a.shape(), b.shape());
    Ok(Var::from_op(
        value,
        "add",
        &[a, b],
        Box::new(move |g| Ok(vec![Some(reduce_ref(g, &sa)?), Some(reduce_ref(g, &sb)?)])),
    ))
}

/// `relu(a + b)` of two tensors of one shape as one node (a residual
/// connection and its ReLU): one pass forward, and backward the gradient
/// where the output is positive, to both. Values and gradients equal
/// [`add`] then [`crate::ops::relu`] bit for bit. Errors when the shapes
/// differ.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::parameter(ndarray::arr1(&[1.0f32, -3.0]).into_dyn());
/// let b = Var::parameter(ndarray::arr1(&[1.0f32, 1.0]).into_dyn());
/// let y = ops::add_relu(&a, &b)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[2.0f32, 0.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(b.grad().unwrap(), ndarray::arr1(&[1.0f32, 0.0]).into_dyn());
/// assert!(ops::add_relu(&a, &Var::scalar(1.0)).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn add_relu(a: &Var, b: &Var) -> Result<Var> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa != sb {
        return Err(neurite_tensor::TensorError::shape(
            "add_relu",
            &sa,
            &sb,
            "both operands must have the same shape",
        )
        .into());
    }
    let value = neurite_tensor::elementwise::add_relu(&a.value(), &b.value())?;
    Ok(Var::from_op_with_output(
        value,
        "add_relu",
        &[a, b],
        Box::new(|g, y| {
            let masked = ndarray::Zip::from(g)
                .and(y)
                .map_collect(|&g, &y| g * if y > 0.0 { 1.0 } else { 0.0 });
            Ok(vec![Some(masked.clone()), Some(masked)])
        }),
    ))
}

/// `a - b` with NumPy broadcasting.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let y = ops::sub(&Var::from_array(ndarray::arr1(&[5.0f32, 7.0])), &Var::scalar(2.0))?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[3.0f32, 5.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn sub(a: &Var, b: &Var) -> Result<Var> {
    let value = binary_value("sub", a, b, |x, y| x - y, |y, x| x - y)?;
    let (sa, sb) = (a.shape(), b.shape());
    Ok(Var::from_op(
        value,
        "sub",
        &[a, b],
        Box::new(move |g| Ok(vec![Some(reduce_ref(g, &sa)?), Some(reduce_to(-g, &sb)?)])),
    ))
}

/// `a * b` (element-wise) with NumPy broadcasting.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::parameter(ndarray::arr1(&[2.0f32, 3.0]).into_dyn());
/// let y = ops::mul(&a, &Var::from_array(ndarray::arr1(&[4.0f32, 5.0])))?;
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(a.grad().unwrap(), ndarray::arr1(&[4.0f32, 5.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn mul(a: &Var, b: &Var) -> Result<Var> {
    let value = binary_value("mul", a, b, |x, y| x * y, |x, y| y * x)?;
    let (ac, bc) = (a.clone(), b.clone());
    Ok(Var::from_op(
        value,
        "mul",
        &[a, b],
        Box::new(move |g| {
            let ga = if ac.requires_grad() {
                Some(reduce_to(g * &*bc.value(), &ac.shape())?)
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                Some(reduce_to(g * &*ac.value(), &bc.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}

/// `a / b` (element-wise) with NumPy broadcasting.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let b = Var::parameter(ndarray::arr1(&[2.0f32]).into_dyn());
/// let y = ops::div(&Var::scalar(1.0), &b)?;
/// assert_eq!(y.to_tensor()[[0]], 0.5);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(b.grad().unwrap()[[0]], -0.25);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn div(a: &Var, b: &Var) -> Result<Var> {
    let value = binary_value("div", a, b, |x, y| x / y, |y, x| x / y)?;
    let (ac, bc) = (a.clone(), b.clone());
    Ok(Var::from_op(
        value,
        "div",
        &[a, b],
        Box::new(move |g| {
            let bv = bc.value();
            let ga = if ac.requires_grad() {
                Some(reduce_to(g / &*bv, &ac.shape())?)
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                // d(a/b)/db = -a / b^2
                let t: Tensor = -(g * &*ac.value()) / &(&*bv * &*bv);
                Some(reduce_to(t, &bc.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}

/// `-x`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::neg(&Var::scalar(2.0))?.item()?, -2.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn neg(x: &Var) -> Result<Var> {
    let value = -&*x.value();
    Ok(Var::from_op(value, "neg", &[x], Box::new(|g| Ok(vec![Some(-g)]))))
}

/// `x * s` for a constant number `s`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let y = ops::mul_scalar(&Var::scalar(2.0), 3.0)?;
/// assert_eq!(y.item()?, 6.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn mul_scalar(x: &Var, s: f32) -> Result<Var> {
    let value = &*x.value() * s;
    Ok(Var::from_op(
        value,
        "mul_scalar",
        &[x],
        Box::new(move |g| Ok(vec![Some(g * s)])),
    ))
}

/// `x + s` for a constant number `s`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// assert_eq!(ops::add_scalar(&Var::scalar(2.0), 0.5)?.item()?, 2.5);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn add_scalar(x: &Var, s: f32) -> Result<Var> {
    let value = &*x.value() + s;
    Ok(Var::from_op(
        value,
        "add_scalar",
        &[x],
        Box::new(|g| Ok(vec![Some(g.clone())])),
    ))
}

/// `x ^ p` (element-wise) for a constant exponent `p`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr1(&[3.0f32]).into_dyn());
/// let y = ops::pow_scalar(&x, 2.0)?;
/// assert_eq!(y.to_tensor()[[0]], 9.0);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(x.grad().unwrap()[[0]], 6.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn pow_scalar(x: &Var, p: f32) -> Result<Var> {
    let value = x.value().mapv(|v| v.powf(p));
    let xc = x.clone();
    Ok(Var::from_op(
        value,
        "pow_scalar",
        &[x],
        Box::new(move |g| {
            let d = xc.value().mapv(|v| p * v.powf(p - 1.0));
            Ok(vec![Some(g * &d)])
        }),
    ))
}

/// Both operands broadcast to their common shape, zipped element-wise through `f`.
fn zip_broadcast(op: &'static str, a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32) -> Result<Tensor> {
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    let (av, bv) = broadcast_pair(op, a, b, &shape)?;
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

fn broadcast_pair<'a>(
    op: &'static str,
    a: &'a Tensor,
    b: &'a Tensor,
    shape: &[usize],
) -> Result<(ndarray::ArrayViewD<'a, f32>, ndarray::ArrayViewD<'a, f32>)> {
    let err = || TensorError::shape(op, a.shape(), b.shape(), "operands do not broadcast together");
    Ok((
        a.broadcast(IxDyn(shape)).ok_or_else(err)?,
        b.broadcast(IxDyn(shape)).ok_or_else(err)?,
    ))
}

/// Shared body of [`maximum`] and [`minimum`]: `a_wins(x, y)` says whether
/// the element of `a` is the result.
fn select_binary(a: &Var, b: &Var, op: &'static str, a_wins: fn(f32, f32) -> bool) -> Result<Var> {
    let value = zip_broadcast(
        op,
        &a.value(),
        &b.value(),
        |x, y| if a_wins(x, y) { x } else { y },
    )?;
    let (ac, bc) = (a.clone(), b.clone());
    Ok(Var::from_op(
        value,
        op,
        &[a, b],
        Box::new(move |g| {
            let (av, bv) = (ac.value(), bc.value());
            let (ab, bb) = broadcast_pair(op, &av, &bv, g.shape())?;
            let ga = if ac.requires_grad() {
                let full = Zip::from(g)
                    .and(&ab)
                    .and(&bb)
                    .map_collect(|&g, &x, &y| if a_wins(x, y) { g } else { 0.0 });
                Some(reduce_to(full, av.shape())?)
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                let full = Zip::from(g)
                    .and(&ab)
                    .and(&bb)
                    .map_collect(|&g, &x, &y| if a_wins(x, y) { 0.0 } else { g });
                Some(reduce_to(full, bv.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}

/// Element-wise maximum with NumPy broadcasting.
///
/// The gradient flows to the larger operand; on a tie (`a == b`) all of it
/// goes to the first operand `a` (as TensorFlow's `maximum`).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::parameter(ndarray::arr1(&[1.0f32, 5.0, 2.0]).into_dyn());
/// let b = Var::parameter(ndarray::arr1(&[3.0f32, 4.0, 2.0]).into_dyn());
/// let y = ops::maximum(&a, &b)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[3.0f32, 5.0, 2.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(a.grad().unwrap(), ndarray::arr1(&[0.0f32, 1.0, 1.0]).into_dyn());
/// assert_eq!(b.grad().unwrap(), ndarray::arr1(&[1.0f32, 0.0, 0.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn maximum(a: &Var, b: &Var) -> Result<Var> {
    select_binary(a, b, "maximum", |x, y| x >= y)
}

/// Element-wise minimum with NumPy broadcasting.
///
/// The gradient flows to the smaller operand; on a tie all of it goes to
/// the first operand `a`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::parameter(ndarray::arr1(&[1.0f32, 5.0]).into_dyn());
/// let y = ops::minimum(&a, &Var::scalar(2.0))?; // broadcasts the scalar
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(a.grad().unwrap(), ndarray::arr1(&[1.0f32, 0.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn minimum(a: &Var, b: &Var) -> Result<Var> {
    select_binary(a, b, "minimum", |x, y| x <= y)
}

/// `a ^ b` (element-wise) with NumPy broadcasting; both base and exponent
/// may be differentiated.
///
/// `d/da = b a^(b-1)`; `d/db = a^b ln a` where `a > 0` and `0` elsewhere
/// (as TensorFlow: the exponent gradient of a non-positive base is defined as 0).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::parameter(ndarray::arr1(&[2.0f32]).into_dyn());
/// let b = Var::parameter(ndarray::arr1(&[3.0f32]).into_dyn());
/// let y = ops::pow(&a, &b)?;
/// assert_eq!(y.to_tensor()[[0]], 8.0);
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(a.grad().unwrap()[[0]], 12.0);
/// assert!((b.grad().unwrap()[[0]] - 8.0 * 2f32.ln()).abs() < 1e-5);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn pow(a: &Var, b: &Var) -> Result<Var> {
    let value = zip_broadcast("pow", &a.value(), &b.value(), f32::powf)?;
    let (ac, bc) = (a.clone(), b.clone());
    Ok(Var::from_op(
        value,
        "pow",
        &[a, b],
        Box::new(move |g| {
            let (av, bv) = (ac.value(), bc.value());
            let (ab, bb) = broadcast_pair("pow", &av, &bv, g.shape())?;
            let ga = if ac.requires_grad() {
                let full = Zip::from(g)
                    .and(&ab)
                    .and(&bb)
                    .map_collect(|&g, &x, &p| g * p * x.powf(p - 1.0));
                Some(reduce_to(full, av.shape())?)
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                let full = Zip::from(g).and(&ab).and(&bb).map_collect(|&g, &x, &p| {
                    if x > 0.0 {
                        g * x.powf(p) * x.ln()
                    } else {
                        0.0
                    }
                });
                Some(reduce_to(full, bv.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}
