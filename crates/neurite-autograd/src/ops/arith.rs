//! Broadcasting arithmetic: each op's forward and backward side by side.
//! Gradients of broadcast operands are summed back to their shapes.

use crate::error::Result;
use crate::var::Var;
use neurite_tensor::broadcast::{broadcast_shape, sum_to_shape};
use neurite_tensor::Tensor;

fn check(op: &'static str, a: &Var, b: &Var) -> Result<()> {
    broadcast_shape(op, &a.shape(), &b.shape())?;
    Ok(())
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
    check("add", a, b)?;
    let value = &*a.value() + &*b.value();
    let (sa, sb) = (a.shape(), b.shape());
    Ok(Var::from_op(
        value,
        "add",
        &[a, b],
        Box::new(move |g| Ok(vec![Some(sum_to_shape(g, &sa)?), Some(sum_to_shape(g, &sb)?)])),
    ))
}

/// `a - b` with NumPy broadcasting.
pub fn sub(a: &Var, b: &Var) -> Result<Var> {
    check("sub", a, b)?;
    let value = &*a.value() - &*b.value();
    let (sa, sb) = (a.shape(), b.shape());
    Ok(Var::from_op(
        value,
        "sub",
        &[a, b],
        Box::new(move |g| Ok(vec![Some(sum_to_shape(g, &sa)?), Some(sum_to_shape(&-g, &sb)?)])),
    ))
}

/// `a * b` (element-wise) with NumPy broadcasting.
pub fn mul(a: &Var, b: &Var) -> Result<Var> {
    check("mul", a, b)?;
    let value = &*a.value() * &*b.value();
    let (ac, bc) = (a.clone(), b.clone());
    Ok(Var::from_op(
        value,
        "mul",
        &[a, b],
        Box::new(move |g| {
            let ga = if ac.requires_grad() {
                Some(sum_to_shape(&(g * &*bc.value()), &ac.shape())?)
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                Some(sum_to_shape(&(g * &*ac.value()), &bc.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}

/// `a / b` (element-wise) with NumPy broadcasting.
pub fn div(a: &Var, b: &Var) -> Result<Var> {
    check("div", a, b)?;
    let value = &*a.value() / &*b.value();
    let (ac, bc) = (a.clone(), b.clone());
    Ok(Var::from_op(
        value,
        "div",
        &[a, b],
        Box::new(move |g| {
            let bv = bc.value();
            let ga = if ac.requires_grad() {
                Some(sum_to_shape(&(g / &*bv), &ac.shape())?)
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                // d(a/b)/db = -a / b^2
                let t: Tensor = -(g * &*ac.value()) / &(&*bv * &*bv);
                Some(sum_to_shape(&t, &bc.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}

/// `-x`.
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
