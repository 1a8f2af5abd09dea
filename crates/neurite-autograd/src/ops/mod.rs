//! Differentiable operations. Each file holds a family of ops, each op's
//! forward and backward side by side (see `docs/architecture.md`).

mod activation;
mod arith;
mod matmul;
mod reduce;
mod shape;
mod util;

pub use activation::*;
pub use arith::*;
pub use matmul::*;
pub use reduce::*;
pub use shape::*;
