//! The portable bf16 GEMM: operands rounded to bf16 into `f32` buffers, then
//! the f32 GEMM. A product of two bf16 values has at most 16 significant bits,
//! so it is exact in `f32` (barring overflow and underflow) and the f32 GEMM
//! accumulates exactly what a bf16 kernel with f32 accumulation does, up to
//! the order of the additions.

use crate::error::Result;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// `X` rounded to bf16 in a fresh array read in `X`'s own memory order, and
/// whether the product must transpose it: a transposed view of a row-major
/// array (a column-major `X`) is copied as its row-major transpose with the
/// flag flipped, so the copy never walks memory across rows.
fn rounded(x: ArrayView2<f32>, transpose: bool) -> (Array2<f32>, bool) {
    if !x.is_standard_layout() && x.t().is_standard_layout() {
        (crate::precision::rounded_to_bf16(x.reversed_axes()), !transpose)
    } else {
        (crate::precision::rounded_to_bf16(x), transpose)
    }
}

/// `C = alpha * op(A) * op(B) + beta * C` on bf16-rounded operands (shapes
/// already checked by the caller, m, n, k > 0).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
    single_thread: bool,
) -> Result<()> {
    let (a, ta) = rounded(a, transpose_a);
    let (b, tb) = rounded(b, transpose_b);
    if single_thread {
        crate::gemm::gemm_single_thread(alpha, a.view(), ta, b.view(), tb, beta, c)
    } else {
        crate::gemm::gemm(alpha, a.view(), ta, b.view(), tb, beta, c)
    }
}
