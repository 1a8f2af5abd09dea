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
//! ```
//! use neurite_autograd::{ops, Var};
//! let w = Var::parameter(ndarray::arr2(&[[0.5f32], [-1.0]]).into_dyn());
//! let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
//! let loss = ops::sum_all(&ops::matmul(&x, &w)?)?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap(), ndarray::arr2(&[[1.0f32], [2.0]]).into_dyn());
//! # Ok::<(), neurite_autograd::AutogradError>(())
//! ```

pub mod error;
pub mod gradcheck;
mod graph;
mod no_grad;
pub mod ops;
mod var;

pub use error::{AutogradError, Result};
pub use gradcheck::{gradcheck, GradcheckOptions};
pub use neurite_tensor::Tensor;
pub use no_grad::{is_grad_enabled, no_grad, NoGradGuard};
pub use var::{live_nodes, BackwardFn, BackwardWithOutputFn, Var};
