//! What a program writing its own graphs needs, in one
//! `use neurite_autograd::prelude::*;`: [`Var`] (with its operators and
//! methods), the [`ops`] module, [`no_grad`] / [`NoGradGuard`], the
//! [`Tensor`] type, the error type [`AutogradError`], the value handles
//! [`ValueRef`] / [`ValueMut`], the seeded [`Generator`] (for dropout), and
//! [`gradcheck()`](crate::gradcheck()).
//!
//! The crate's `Result` alias is left out on purpose: a glob import would
//! shadow `std::result::Result` in the importing module.
//!
//! ```
//! use neurite_autograd::prelude::*;
//! let w = Var::parameter(ndarray::arr2(&[[0.5f32], [-1.0]]).into_dyn());
//! let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
//! let y = Var::from_array(ndarray::arr2(&[[0.0f32]]));
//! let loss = (&x.matmul(&w)? - &y)?.square()?.mean_all()?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap(), ndarray::arr2(&[[-3.0f32], [-6.0]]).into_dyn());
//! let frozen = no_grad(|| ops::relu(&w))?;
//! assert!(!frozen.requires_grad());
//! # Ok::<(), AutogradError>(())
//! ```

pub use crate::error::AutogradError;
pub use crate::gradcheck::{gradcheck, GradcheckOptions};
pub use crate::no_grad::{no_grad, NoGradGuard};
pub use crate::ops;
pub use crate::value_ref::{ValueMut, ValueRef};
pub use crate::var::Var;
pub use neurite_rand::Generator;
pub use neurite_tensor::Tensor;
