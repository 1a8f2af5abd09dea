//! Differentiable operations. Each file holds a family of ops, each op's
//! forward and backward side by side (see `docs/architecture.md`).

mod activation;
mod arith;
mod attention;
mod conv;
mod conv1d;
mod conv_variants;
mod linear;
mod loss;
mod matmul;
mod normalize;
mod pool1d;
mod rectifier;
mod reduce;
mod select;
mod shape;
mod softmax;
mod spatial;
mod util;

pub use activation::*;
pub use arith::*;
pub use attention::*;
pub use conv::*;
pub use conv1d::*;
pub use conv_variants::*;
pub use linear::*;
pub use loss::*;
pub use matmul::*;
pub use normalize::*;
pub use pool1d::*;
pub use rectifier::*;
pub use reduce::*;
pub use select::*;
pub use shape::*;
pub use softmax::*;
pub use spatial::*;

pub use neurite_tensor::{Conv2dParams, Conv2dTransposeParams, Padding, Pool2dParams};
