//! bf16 mixed precision matrix products: operands rounded to bfloat16,
//! products exact in `f32`, sums accumulated in `f32`.
//!
//! This is what Keras' `mixed_bfloat16` policy and PyTorch's CPU autocast do
//! for matrix products: weights, optimizer state and losses stay `f32`, and
//! only the operands of the product lose precision (bf16 keeps `f32`'s 8-bit
//! exponent and 8 significant bits). Three kernels, chosen at run time
//! ([`Bf16Kernel::detected`]):
//!
//! - [`Bf16Kernel::Amx`]: Intel AMX tiles (`tdpbf16ps`), Linux x86-64 only;
//! - [`Bf16Kernel::Avx512Bf16`]: `vdpbf16ps` on 512-bit vectors;
//! - [`Bf16Kernel::Portable`]: rounding into `f32` buffers, then the f32 GEMM.
//!
//! The hardware kernels ignore MXCSR: they treat subnormal bf16 inputs as zero
//! and flush subnormal results to zero (the instructions are defined so), and
//! they round every addition to nearest even. The portable kernel keeps
//! subnormals unless denormal flushing is on ([`crate::denormals`]).

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod blocked;
mod detect;
mod pack;
mod portable;
mod round;

pub use detect::Bf16Kernel;
pub use round::round_to_bf16;

use crate::error::{Result, TensorError};
use ndarray::{ArrayView2, ArrayViewMut2};

/// Whether [`gemm_bf16`] is expected to be faster than the f32
/// [`crate::gemm::gemm`] for a product of `op(A)` `[m, k]` by `op(B)` `[k, n]`
/// on this machine, for callers that may choose (the result is rounded either
/// way only if they call `gemm_bf16`).
///
/// The rule comes from `benches/benches/bf16_gemm.rs` (2 threads, Xeon with
/// AMX, 2026-12-07, on a loaded machine, so it is coarse): only the AMX kernel
/// beat the f32 GEMM. It lost on short K (the first convolution's K = 9 and
/// the batch-32 dense weight gradient's K = 32 are padded to a multiple of
/// 32), on products with a side below 64 (padded to 32 rows or columns), and
/// when K dwarfs both sides (convolution weight gradients, K = batch x pixels:
/// both operands are long and thin, the product is bound by packing them);
/// it won on the rest measured (square 256..1024 about 3x, conv2 forward and
/// input gradient, the batch-128 dense layer forward).
///
/// ```
/// use neurite_tensor::bf16::{bf16_pays_off, Bf16Kernel};
/// assert!(!bf16_pays_off(21632, 32, 9)); // K = 9: never
/// assert!(!bf16_pays_off(288, 64, 73728)); // conv2 weight gradient: K dwarfs both sides
/// assert_eq!(bf16_pays_off(1024, 1024, 1024), Bf16Kernel::detected() == Bf16Kernel::Amx);
/// ```
pub fn bf16_pays_off(m: usize, n: usize, k: usize) -> bool {
    Bf16Kernel::detected() == Bf16Kernel::Amx && k >= 64 && m.min(n) >= 64 && k <= 100 * m.max(n)
}

/// `C = alpha * op(A) * op(B) + beta * C` like [`crate::gemm::gemm`] (same
/// argument order and meaning, same shape errors), but A and B are rounded to
/// bf16 first ([`round_to_bf16`]), products are exact in f32 and accumulated
/// in f32. Runs on the kernel [`Bf16Kernel::detected`] names, multithreaded on
/// rayon ([`crate::threads::num_threads`] tasks) when the product is big enough.
/// With `beta == 0`, C is only written (it may hold NaN).
///
/// ```
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let b = array![[1.0f32, 0.0], [0.0, 1.0]];
/// let mut c = ndarray::Array2::<f32>::zeros((2, 2));
/// neurite_tensor::bf16::gemm_bf16(1.0, a.view(), true, b.view(), false, 0.0, &mut c.view_mut())?;
/// assert_eq!(c, array![[1.0, 3.0], [2.0, 4.0]]);
/// // The operands are rounded: 1 + 2^-9 is 1 in bf16.
/// let x = array![[1.0f32 + 1.0 / 512.0]];
/// neurite_tensor::bf16::gemm_bf16(1.0, x.view(), false, x.view(), false, 0.0, &mut c.slice_mut(ndarray::s![..1, ..1]))?;
/// assert_eq!(c[[0, 0]], 1.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn gemm_bf16(
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) -> Result<()> {
    run(
        Bf16Kernel::detected(),
        alpha,
        a,
        transpose_a,
        b,
        transpose_b,
        beta,
        c,
        false,
    )
}

/// [`gemm_bf16`] on the calling thread only, for callers that already split
/// their work over rayon (one product per task).
///
/// ```
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let mut c = ndarray::Array2::<f32>::from_elem((2, 2), f32::NAN);
/// neurite_tensor::bf16::gemm_bf16_single_thread(1.0, a.view(), false, a.view(), false, 0.0, &mut c.view_mut())?;
/// assert_eq!(c, array![[7.0, 10.0], [15.0, 22.0]]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn gemm_bf16_single_thread(
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) -> Result<()> {
    run(
        Bf16Kernel::detected(),
        alpha,
        a,
        transpose_a,
        b,
        transpose_b,
        beta,
        c,
        true,
    )
}

/// [`gemm_bf16`] with an explicit kernel, for tests and benchmarks: errors
/// (naming the kernel and why) if `kernel` cannot run here.
///
/// ```
/// use ndarray::array;
/// use neurite_tensor::bf16::{gemm_bf16_with, Bf16Kernel};
/// let a = array![[1.0f32, 2.0, 3.0]];
/// let b = array![[1.0f32], [1.0], [1.0]];
/// let mut c = array![[1.0f32]];
/// for kernel in Bf16Kernel::ALL {
///     let r = gemm_bf16_with(kernel, 2.0, a.view(), false, b.view(), false, 0.5, &mut c.view_mut());
///     assert_eq!(r.is_ok(), kernel.available());
/// }
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_bf16_with(
    kernel: Bf16Kernel,
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) -> Result<()> {
    run(kernel, alpha, a, transpose_a, b, transpose_b, beta, c, false)
}

/// The portable kernel on the calling thread only (the bf16 products of
/// [`crate::gemm`]'s precision-following callers, where the matrix unit does
/// not pay, inside tasks that already split work over rayon).
#[allow(clippy::too_many_arguments)]
pub(crate) fn portable_single_thread(
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) -> Result<()> {
    run(
        Bf16Kernel::Portable,
        alpha,
        a,
        transpose_a,
        b,
        transpose_b,
        beta,
        c,
        true,
    )
}

#[allow(clippy::too_many_arguments)]
fn run(
    kernel: Bf16Kernel,
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
    single_thread: bool,
) -> Result<()> {
    const OP: &str = "gemm_bf16";
    if let Some(why) = kernel.unavailable_reason() {
        return Err(TensorError::invalid(
            OP,
            format!("the {} kernel cannot run here: {why}", kernel.name()),
        ));
    }
    let (m, k, n) = crate::gemm::check_gemm_shapes(OP, &a, transpose_a, &b, transpose_b, c)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        // Empty product: C = beta * C, and exactly 0 when beta is 0 (C is not read).
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c.mapv_inplace(|v| beta * v);
        }
        return Ok(());
    }
    match blocked::Micro::for_kernel(kernel) {
        Some(micro) => {
            let a = if transpose_a { a.reversed_axes() } else { a };
            let b = if transpose_b { b.reversed_axes() } else { b };
            blocked::gemm(micro, alpha, a, b, beta, c, single_thread);
            Ok(())
        }
        None => portable::gemm(alpha, a, transpose_a, b, transpose_b, beta, c, single_thread),
    }
}
