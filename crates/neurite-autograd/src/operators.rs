//! Arithmetic operators on [`Var`]: `&a + &b`, `&a * 2.0`, `1.0 - &a`, `-&a`.
//!
//! # Design: operators return `Result<Var>`
//!
//! Shapes are only known at run time, so `a + b` can fail (shapes that do
//! not broadcast). Like candle (`(&a + &b)?`), every operator here returns
//! [`Result<Var>`](crate::Result) instead of panicking on a user's
//! mismatch; apply `?` to each result. Operators are implemented for `Var`
//! and `&Var` on both sides (by reference nothing is moved; a `Var` is
//! cheap to clone anyway) and with an `f32` on either side. Each one is the
//! free function of [`crate::ops`] with the same value and gradient:
//!
//! | operator      | free function                          |
//! |---------------|----------------------------------------|
//! | `a + b`       | [`ops::add`]                           |
//! | `a - b`       | [`ops::sub`]                           |
//! | `a * b`       | [`ops::mul`] (element-wise)            |
//! | `a / b`       | [`ops::div`]                           |
//! | `-a`          | [`ops::neg`]                           |
//! | `a + s`, `s + a` | [`ops::add_scalar`]                 |
//! | `a - s`       | [`ops::add_scalar`] with `-s`          |
//! | `s - a`       | [`ops::add_scalar`] of [`ops::neg`]    |
//! | `a * s`, `s * a` | [`ops::mul_scalar`]                 |
//! | `a / s`, `s / a` | [`ops::div`] with a constant scalar |
//!
//! Matrix products are [`Var::matmul`], not `*`.
//!
//! ```
//! use neurite_autograd::Var;
//! let p = Var::parameter(ndarray::arr1(&[1.0f32, 2.0, 3.0]).into_dyn());
//! let y = Var::from_array(ndarray::arr1(&[1.5f32, 2.0, 2.0]));
//! let loss = (&p - &y)?.square()?.mean_all()?;
//! loss.backward()?;
//! assert!((loss.item()? - (0.25 + 0.0 + 1.0) / 3.0).abs() < 1e-6);
//! // A shape mismatch is an error, never a panic.
//! assert!((&p + &Var::from_array(ndarray::arr1(&[1.0f32, 2.0]))).is_err());
//! # Ok::<(), neurite_autograd::AutogradError>(())
//! ```
//!
//! [`ops::add`]: crate::ops::add
//! [`ops::sub`]: crate::ops::sub
//! [`ops::mul`]: crate::ops::mul
//! [`ops::div`]: crate::ops::div
//! [`ops::neg`]: crate::ops::neg
//! [`ops::add_scalar`]: crate::ops::add_scalar
//! [`ops::mul_scalar`]: crate::ops::mul_scalar

use crate::error::Result;
use crate::ops;
use crate::var::Var;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// `Var ∘ Var` for every combination of owned and borrowed operands.
macro_rules! var_var_operator {
    ($trait:ident, $method:ident, $op:path) => {
        impl $trait<&Var> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                $op(self, rhs)
            }
        }
        impl $trait<Var> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                $op(self, &rhs)
            }
        }
        impl $trait<&Var> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                $op(&self, rhs)
            }
        }
        impl $trait<Var> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                $op(&self, &rhs)
            }
        }
    };
}

var_var_operator!(Add, add, ops::add);
var_var_operator!(Sub, sub, ops::sub);
var_var_operator!(Mul, mul, ops::mul);
var_var_operator!(Div, div, ops::div);

/// `Var ∘ f32` and `f32 ∘ Var`, owned and borrowed: `$var_scalar(&Var, f32)`
/// and `$scalar_var(f32, &Var)` compute them.
macro_rules! scalar_operator {
    ($trait:ident, $method:ident, $var_scalar:expr, $scalar_var:expr) => {
        impl $trait<f32> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: f32) -> Result<Var> {
                $var_scalar(self, rhs)
            }
        }
        impl $trait<f32> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: f32) -> Result<Var> {
                $var_scalar(&self, rhs)
            }
        }
        impl $trait<&Var> for f32 {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                $scalar_var(self, rhs)
            }
        }
        impl $trait<Var> for f32 {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                $scalar_var(self, &rhs)
            }
        }
    };
}

scalar_operator!(Add, add, ops::add_scalar, |s, x: &Var| ops::add_scalar(x, s));
scalar_operator!(
    Sub,
    sub,
    |x: &Var, s: f32| ops::add_scalar(x, -s),
    |s, x: &Var| { ops::add_scalar(&ops::neg(x)?, s) }
);
scalar_operator!(Mul, mul, ops::mul_scalar, |s, x: &Var| ops::mul_scalar(x, s));
scalar_operator!(
    Div,
    div,
    |x: &Var, s: f32| ops::div(x, &Var::scalar(s)),
    |s, x: &Var| { ops::div(&Var::scalar(s), x) }
);

impl Neg for &Var {
    type Output = Result<Var>;
    fn neg(self) -> Result<Var> {
        ops::neg(self)
    }
}

impl Neg for Var {
    type Output = Result<Var>;
    fn neg(self) -> Result<Var> {
        ops::neg(&self)
    }
}
