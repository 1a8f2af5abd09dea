//! # neurite-autograd
//!
//! Reverse-mode automatic differentiation over the kernels of
//! `neurite-tensor`. A [`Var`] holds a value, an optional gradient and the op
//! that produced it; [`Var::backward`] walks the graph in reverse
//! topological order and accumulates gradients into the parameters; the
//! graph is freed as it is consumed.
//!
//! [`ops`] holds the differentiable operations (arithmetic with
//! broadcasting, matmul, reductions, shape ops, activations, softmax, fused
//! per-sample losses, conv2d and pooling, dropout, `where_select`); each op
//! is one call to [`Var::from_op`] with its forward value and backward
//! closure side by side, so users add their own the same way.
//! [`gradcheck()`] compares any op's gradients with finite differences;
//! [`no_grad`] switches recording off (inference, optimizer updates).
//!
//! `Var` also has the arithmetic operators (`&a + &b`, `&a * 2.0`, `-&a`,
//! each returning `Result<Var>`, see [`operators`]) and a method for every op
//! whose main input is one `Var` (`x.matmul(&w)?.relu()?.mean_all()?`);
//! both compute exactly what the free functions of [`ops`] compute.
//! [`prelude`] imports the common names at once.
//!
//! ```
//! use neurite_autograd::{ops, Var};
//! let w = Var::parameter(ndarray::arr2(&[[0.5f32], [-1.0]]).into_dyn());
//! let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
//! let loss = ops::sum_all(&ops::matmul(&x, &w)?)?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap(), ndarray::arr2(&[[1.0f32], [2.0]]).into_dyn());
//! // The same with methods and operators.
//! w.zero_grad();
//! let loss = (x.matmul(&w)? * 1.0)?.sum_all()?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap(), ndarray::arr2(&[[1.0f32], [2.0]]).into_dyn());
//! # Ok::<(), neurite_autograd::AutogradError>(())
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod gradcheck;
mod graph;
mod methods;
mod no_grad;
mod observer;
pub mod operators;
pub mod ops;
pub mod prelude;
mod value_ref;
mod var;

pub use error::{AutogradError, Result};
pub use gradcheck::{gradcheck, GradcheckOptions};
/// The seeded random generator [`ops::dropout`] draws from.
///
/// ```
/// let mut rng = neurite_autograd::Generator::seed_from_u64(0);
/// let x = neurite_autograd::Var::from_array(ndarray::Array1::<f32>::ones(4));
/// assert_eq!(neurite_autograd::ops::dropout(&x, 0.0, &mut rng)?.shape(), vec![4]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub use neurite_rand::Generator;
/// The array crate [`Tensor`] is built on (`Tensor = ndarray::ArrayD<f32>`),
/// re-exported so that callers use the same version.
///
/// ```
/// let v = neurite_autograd::Var::from_array(neurite_autograd::ndarray::arr1(&[1.0f32]));
/// assert_eq!(v.shape(), vec![1]);
/// ```
pub use neurite_tensor::ndarray;
pub use neurite_tensor::Tensor;
pub use no_grad::{is_grad_enabled, no_grad, NoGradGuard};
pub use observer::BackwardObserver;
pub use value_ref::{ValueMut, ValueRef};
pub use var::{live_nodes, BackwardFn, BackwardWithOutputFn, Var};
