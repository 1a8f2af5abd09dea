//! The convolution family on NHWC batches: 2-d convolution and its three
//! forward algorithms, pooling, and the fused convolution + max pooling.
//!
//! - [`conv2d`](fn@conv2d) and friends (`conv2d.rs`): checks, the split of a
//!   batch into tasks of whole images, bias + ReLU epilogue, backward by
//!   im2col/col2im. How a task computes its rows is chosen once per call
//!   ([`conv2d_forward_plan`]):
//!   - `direct.rs`: kernels of at most 32 taps straight from the image into
//!     register tiles (no im2col);
//!   - `winograd.rs`: 3x3 stride-1 kernels by Winograd's F(4x4, 3x3);
//!   - [`im2col`](mod@im2col) + one single-threaded GEMM otherwise.
//! - `transpose.rs`: [`conv2d_transpose`] (Keras' `Conv2DTranspose`), the
//!   input gradient of a convolution: GEMM then col2im forward, im2col of
//!   `dY` shared by `dX` and `dW` backward, with `conv2d`'s task split;
//! - `depthwise.rs`: [`depthwise_conv2d`] (Keras' `DepthwiseConv2D`), no
//!   GEMM: SIMD across the contiguous channel axis, rayon over images/rows;
//!   `depthwise_backward.rs` its gradients (`dX` by a gather with the flipped
//!   kernel at stride 1);
//! - [`pool`]: max / average / global pooling; `max_pool_kernel.rs` holds the
//!   per-image max pooling loops (AVX2 intrinsics and portable).
//! - [`conv_pool`]: `Conv2D(relu)` + max pooling in one pass, forward and
//!   backward.
//!
//! The SIMD variants of these kernels are chosen through
//! [`crate::simd_dispatch!`]. Everything public here is also re-exported at
//! the crate root (`neurite_tensor::conv2d`, `neurite_tensor::max_pool2d`, ...).
//!
//! ```
//! use neurite_tensor::conv::{conv2d, Conv2dParams};
//! let x = ndarray::Array4::<f32>::ones((1, 4, 4, 1));
//! let k = ndarray::Array4::<f32>::ones((3, 3, 1, 2));
//! let y = conv2d(x.view(), k.view(), None, &Conv2dParams::default())?;
//! assert_eq!(y.shape(), &[1, 2, 2, 2]);
//! assert_eq!(y[[0, 0, 0, 0]], 9.0);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

mod conv2d;
pub mod conv_pool;
mod depthwise;
mod depthwise_backward;
mod direct;
pub mod im2col;
mod max_pool_kernel;
pub mod pool;
mod transpose;
mod winograd;

pub use conv2d::*;
pub use depthwise::{depthwise_conv2d, depthwise_conv2d_output_shape};
pub use depthwise_backward::depthwise_conv2d_backward;
pub use transpose::{
    conv2d_transpose, conv2d_transpose_backward, conv2d_transpose_output_shape, conv_transpose_output_size,
    Conv2dTransposeParams,
};
