//! Differentiable operations. Each file holds a family of ops, each op's
//! forward and backward side by side (see `docs/architecture.md`).

mod arith;
mod matmul;
mod reduce;

pub use arith::*;
pub use matmul::*;
pub use reduce::*;
