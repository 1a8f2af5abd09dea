//! # neurite-tensor
//!
//! n-dimensional `f32` arrays (plain [`ndarray`] arrays, no wrapper) and the
//! numeric kernels neurite is built on: GEMM (BLAS `sgemm` or pure Rust),
//! broadcasting element-wise ops, reductions, numerically stable softmax,
//! im2col convolution and pooling, seeded random fills.
//!
//! Every public kernel that can meet bad input returns [`Result`] with a
//! [`TensorError`] naming the operation and the shapes involved.
//!
//! ```
//! use ndarray::array;
//! let c = neurite_tensor::gemm::matmul(array![[1.0f32, 2.0]].view(), array![[3.0f32], [4.0]].view())?;
//! assert_eq!(c[[0, 0]], 11.0);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

#![warn(missing_docs)]

#[cfg(feature = "openblas")]
extern crate blas_src;

pub mod attention;
pub mod batch_norm;
pub mod bf16;
pub mod broadcast;
pub mod compare;
pub mod conv;
pub mod denormals;
pub mod elementwise;
pub mod error;
pub mod exp;
mod fill;
pub mod gemm;
pub mod memory;
pub mod padding;
pub mod precision;
pub mod random;
pub mod rectifier;
pub mod reduce;
pub mod resize;
pub mod simd;
pub mod size;
pub mod small_gemm;
pub mod softmax;
pub mod spatial;
pub mod threads;
pub mod unary;

// The convolution family lives in `conv/`; these keep the paths it had as
// top-level modules (`neurite_tensor::pool::max_pool2d`, ...) and its
// functions at the crate root.
pub use conv::*;
pub use conv_pool::{
    conv2d_relu_max_pool2d, conv2d_relu_max_pool2d_backward, conv2d_relu_max_pool2d_with_indices,
};
pub use error::{Result, TensorError};
pub use im2col::{col2im, im2col, ConvGeometry};
pub use ndarray;
pub use padding::*;
pub use pool::*;

/// The array type every kernel works on: a dynamic-rank `f32` ndarray.
pub type Tensor = ndarray::ArrayD<f32>;
