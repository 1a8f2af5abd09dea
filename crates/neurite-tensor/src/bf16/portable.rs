//! The portable bf16 GEMM: operands rounded to bf16 into `f32` buffers, then
//! the f32 GEMM. A product of two bf16 values has at most 16 significant bits,
//! so it is exact in `f32` (barring overflow and underflow) and the f32 GEMM
//! accumulates exactly what a bf16 kernel with f32 accumulation does, up to
//! the order of the additions.

use super::round::round_to_bf16;
use crate::error::Result;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};

/// `op(X)` rounded to bf16, as a fresh row-major array.
fn rounded(x: ArrayView2<f32>, transpose: bool) -> Array2<f32> {
    let x = if transpose { x.reversed_axes() } else { x };
    let mut out = Array2::<f32>::zeros(x.dim());
    Zip::from(&mut out)
        .and(&x)
        .for_each(|o, &v| *o = round_to_bf16(v));
    out
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
    let a = rounded(a, transpose_a);
    let b = rounded(b, transpose_b);
    if single_thread {
        crate::gemm::gemm_single_thread(alpha, a.view(), false, b.view(), false, beta, c)
    } else {
        crate::gemm::gemm(alpha, a.view(), false, b.view(), false, beta, c)
    }
}
