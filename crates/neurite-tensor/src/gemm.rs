//! General matrix multiplication `C = alpha * op(A) * op(B) + beta * C`.
//!
//! Three backends, chosen at compile time ([`backend`] names the one compiled in):
//! - feature `openblas`: `ndarray::linalg::general_mat_mul`, which calls the system
//!   OpenBLAS `sgemm` (C library, libopenblas-dev);
//! - feature `gemm-crate` (on by default): the pure-Rust [`gemm`](https://docs.rs/gemm)
//!   crate (AVX2/AVX-512/NEON kernels chosen at run time), threaded on rayon's pool
//!   with [`crate::threads::num_threads`] threads. With `openblas` too, only very
//!   skinny products (smallest dimension <= 16) use it, OpenBLAS the rest;
//! - neither: `general_mat_mul` on the pure-Rust `matrixmultiply` crate.
//!
//! The choice of the default and the measurements behind it are in
//! `docs/benchmarks.md` (section "GEMM"). Transposes are passed as strided views,
//! so no copy is made.

use crate::error::{Result, TensorError};
use crate::precision::Precision;
use crate::size::checked_len;
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis};

/// Name of the GEMM backend compiled in: `"openblas"` (with `gemm-crate` too, skinny
/// products still go to the `gemm` crate), `"gemm"` or `"matrixmultiply"`.
///
/// ```
/// let name = neurite_tensor::gemm::backend();
/// assert!(["openblas", "gemm", "matrixmultiply"].contains(&name));
/// ```
pub fn backend() -> &'static str {
    if cfg!(feature = "openblas") {
        "openblas"
    } else if cfg!(feature = "gemm-crate") {
        "gemm"
    } else {
        "matrixmultiply"
    }
}

fn op_shape(m: &ArrayView2<f32>, transpose: bool) -> (usize, usize) {
    let (r, c) = m.dim();
    if transpose {
        (c, r)
    } else {
        (r, c)
    }
}

/// `C = alpha * op(A) * op(B) + beta * C`, where `op(X)` is `X` or its transpose.
///
/// ```
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let b = array![[1.0f32, 0.0], [0.0, 1.0]];
/// let mut c = ndarray::Array2::<f32>::zeros((2, 2));
/// neurite_tensor::gemm::gemm(1.0, a.view(), true, b.view(), false, 0.0, &mut c.view_mut()).unwrap();
/// assert_eq!(c, array![[1.0, 3.0], [2.0, 4.0]]);
/// ```
pub fn gemm(
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) -> Result<()> {
    gemm_impl(alpha, a, transpose_a, b, transpose_b, beta, c, false)
}

/// [`gemm()`] on the calling thread only, for callers that already split their
/// work over rayon (one product per task, e.g. the convolution kernels).
///
/// With the `gemm` crate compiled in (the default, also alongside `openblas`)
/// it runs that crate without parallelism; with matrixmultiply alone it is the
/// same as [`gemm()`].
///
/// ```
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let mut c = ndarray::Array2::<f32>::zeros((2, 2));
/// neurite_tensor::gemm::gemm_single_thread(1.0, a.view(), false, a.view(), false, 0.0, &mut c.view_mut())?;
/// assert_eq!(c, array![[7.0, 10.0], [15.0, 22.0]]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn gemm_single_thread(
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) -> Result<()> {
    gemm_impl(alpha, a, transpose_a, b, transpose_b, beta, c, true)
}

/// [`gemm()`] (or [`gemm_single_thread`]) at `precision`: exact `f32`, or
/// [`crate::bf16::gemm_bf16`] (bf16 operands, `f32` accumulation). The
/// precision-following functions ([`matmul_t`], [`batched_matmul`], the
/// convolutions) read [`crate::precision::current`] once and call this.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_at(
    precision: Precision,
    single_thread: bool,
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) -> Result<()> {
    use crate::bf16::{bf16_pays_off, gemm_bf16, gemm_bf16_single_thread, gemm_bf16_with, Bf16Kernel};
    if precision == Precision::F32 {
        return gemm_impl(alpha, a, transpose_a, b, transpose_b, beta, c, single_thread);
    }
    // bf16: the matrix unit where it beats the f32 GEMM on this shape, else the
    // portable kernel (rounded copies, then the f32 GEMM): the same values either way.
    let ((m, k), n) = (op_shape(&a, transpose_a), op_shape(&b, transpose_b).1);
    match (bf16_pays_off(m, n, k), single_thread) {
        (true, false) => gemm_bf16(alpha, a, transpose_a, b, transpose_b, beta, c),
        (true, true) => gemm_bf16_single_thread(alpha, a, transpose_a, b, transpose_b, beta, c),
        (false, _) if single_thread => {
            crate::bf16::portable_single_thread(alpha, a, transpose_a, b, transpose_b, beta, c)
        }
        (false, _) => gemm_bf16_with(
            Bf16Kernel::Portable,
            alpha,
            a,
            transpose_a,
            b,
            transpose_b,
            beta,
            c,
        ),
    }
}

/// `C = A · B` into uninitialised row-major storage `c` (`A` is `[m, k]`,
/// `B` `[k, n]`, `c.len() == m * n`), returning `c` initialised. Used where a
/// fresh output is fully overwritten, to skip zero-filling it first.
///
/// Panics if `c` has the wrong length (callers size it from the same shapes).
pub(crate) fn gemm_into_uninit<'a>(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    c: &'a mut [std::mem::MaybeUninit<f32>],
    single_thread: bool,
) -> &'a mut [f32] {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    assert!(
        b.nrows() == k && c.len() == m * n,
        "gemm_into_uninit: shapes do not agree"
    );
    #[cfg(feature = "gemm-crate")]
    if k > 0 && m > 0 && n > 0 {
        // SAFETY: `a` and `b` are live views of shapes [m, k] and [k, n] (checked above) and
        // `c` holds m*n slots addressed row-major (row stride n, column stride 1). With
        // beta = 0 the crate never reads `c` and writes every one of its m*n elements, so
        // `c` is fully initialised when it returns.
        unsafe {
            gemm_crate_raw(
                1.0,
                &a,
                &b,
                0.0,
                c.as_mut_ptr().cast::<f32>(),
                (n as isize, 1),
                single_thread,
            );
            return &mut *(c as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]);
        }
    }
    let c = crate::fill::init_chunk(c, 0.0);
    let mut cm = ArrayViewMut2::from_shape((m, n), &mut *c).expect("c is (m, n)");
    gemm_impl(1.0, a, false, b, false, 0.0, &mut cm, single_thread).expect("shapes checked above");
    c
}

/// `(m, k, n)` of `C[m, n] = op(A)[m, k] · op(B)[k, n]`, or the error of
/// operation `op` when the inner dimensions or C's shape disagree.
pub(crate) fn check_gemm_shapes(
    op: &'static str,
    a: &ArrayView2<f32>,
    transpose_a: bool,
    b: &ArrayView2<f32>,
    transpose_b: bool,
    c: &ArrayViewMut2<f32>,
) -> Result<(usize, usize, usize)> {
    let (m, k) = op_shape(a, transpose_a);
    let (k2, n) = op_shape(b, transpose_b);
    if k != k2 {
        return Err(TensorError::shape(
            op,
            &[m, k],
            &[k2, n],
            "inner dimensions of op(A) and op(B) must agree",
        ));
    }
    if c.dim() != (m, n) {
        return Err(TensorError::shape(
            op,
            &[c.nrows(), c.ncols()],
            &[m, n],
            "C must have shape (rows of op(A), columns of op(B))",
        ));
    }
    Ok((m, k, n))
}

#[allow(clippy::too_many_arguments)]
fn gemm_impl(
    alpha: f32,
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
    single_thread: bool,
) -> Result<()> {
    // The sizes choose the backend only when OpenBLAS is compiled in.
    #[cfg_attr(not(feature = "openblas"), allow(unused_variables))]
    let (m, k, n) = check_gemm_shapes("gemm", &a, transpose_a, &b, transpose_b, c)?;
    let a = if transpose_a { a.reversed_axes() } else { a };
    let b = if transpose_b { b.reversed_axes() } else { b };
    #[cfg(all(feature = "gemm-crate", not(feature = "openblas")))]
    gemm_crate(alpha, &a, &b, beta, c, single_thread);
    #[cfg(all(feature = "gemm-crate", feature = "openblas"))]
    {
        // Measured (docs/benchmarks.md): OpenBLAS is slow on very skinny products such as
        // the first conv layer's [N*26*26, 9] x [9, 32]; the gemm crate is 2-4x faster there.
        // Single-threaded calls come from rayon tasks: the gemm crate keeps them on the task's
        // thread, where OpenBLAS would start its own threads.
        if single_thread || m.min(n).min(k) <= SKINNY_DIM {
            gemm_crate(alpha, &a, &b, beta, c, single_thread);
        } else {
            ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, c);
        }
    }
    #[cfg(not(feature = "gemm-crate"))]
    {
        let _ = single_thread;
        ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, c);
    }
    Ok(())
}

/// With both `openblas` and `gemm-crate` on, products whose smallest dimension is at
/// most this go to the `gemm` crate instead of OpenBLAS.
#[cfg(all(feature = "gemm-crate", feature = "openblas"))]
const SKINNY_DIM: usize = 16;

/// `C = alpha * A * B + beta * C` through the `gemm` crate (shapes already checked).
#[cfg(feature = "gemm-crate")]
fn gemm_crate(
    alpha: f32,
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
    single_thread: bool,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // Empty product: C = beta * C (and exactly 0 when beta is 0, whatever C held).
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c.mapv_inplace(|v| beta * v);
        }
        return;
    }
    let strides = (c.strides()[0], c.strides()[1]);
    // SAFETY: `c` is a live mutable view of shape [m, n] with these strides (checked by
    // the caller), borrowed mutably so it cannot alias `a`/`b`.
    unsafe { gemm_crate_raw(alpha, a, b, beta, c.as_mut_ptr(), strides, single_thread) }
}

/// `dst = alpha * A * B + beta * dst` through the `gemm` crate, `A` `[m, k]` and `B`
/// `[k, n]` non-empty; `dst` is read only when `beta != 0`.
///
/// # Safety
/// `dst` with `(row, column)` strides `dst_strides` must address `m * n` writable
/// `f32`s (initialised if `beta != 0`) that do not overlap `a` or `b`.
#[cfg(feature = "gemm-crate")]
unsafe fn gemm_crate_raw(
    alpha: f32,
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    beta: f32,
    dst: *mut f32,
    (c_rs, c_cs): (isize, isize),
    single_thread: bool,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let threads = if single_thread {
        1
    } else {
        crate::threads::num_threads()
    };
    let parallelism = if threads > 1 {
        ::gemm::Parallelism::Rayon(threads)
    } else {
        ::gemm::Parallelism::None
    };
    let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
    let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
    // SAFETY: `a` and `b` are live views of shapes [m, k] and [k, n]; `dst` is valid for
    // [m, n] with the given strides (the caller's contract).
    // The crate computes dst := alpha' * dst + beta' * lhs * rhs, so our `beta` is its
    // `alpha` and our `alpha` its `beta`; with read_dst = false, dst is only written.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            dst,
            c_cs,
            c_rs,
            beta != 0.0,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            beta,
            alpha,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Errors unless the inner dimensions `k` of `op(A)` (`[m, k]`) and `op(B)` (`[k2, n]`) agree.
fn check_inner(op: &'static str, a: [usize; 2], b: [usize; 2]) -> Result<()> {
    if a[1] != b[0] {
        return Err(TensorError::shape(
            op,
            &a,
            &b,
            "inner dimensions of op(A) and op(B) must agree",
        ));
    }
    Ok(())
}

/// Matrix product `A · B` of two 2-d arrays into a new array.
///
/// ```
/// use ndarray::array;
/// let c = neurite_tensor::gemm::matmul(array![[1.0f32, 2.0]].view(), array![[3.0f32], [4.0]].view()).unwrap();
/// assert_eq!(c, array![[11.0]]);
/// ```
pub fn matmul(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Result<Array2<f32>> {
    matmul_t(a, false, b, false)
}

/// Matrix product `op(A) · op(B)` into a new array, with optional transposes,
/// at this thread's [`crate::precision`] (exact `f32` unless a bf16 scope is on).
///
/// Errors when the inner dimensions disagree, or when the `[m, n]` product
/// is too large to allocate (e.g. `[2^40, 0] · [0, 2^40]`).
///
/// ```
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let c = neurite_tensor::gemm::matmul_t(a.view(), true, a.view(), false).unwrap();
/// assert_eq!(c, array![[10.0, 14.0], [14.0, 20.0]]);
/// ```
pub fn matmul_t(
    a: ArrayView2<f32>,
    transpose_a: bool,
    b: ArrayView2<f32>,
    transpose_b: bool,
) -> Result<Array2<f32>> {
    let (m, k) = op_shape(&a, transpose_a);
    let (k2, n) = op_shape(&b, transpose_b);
    check_inner("matmul", [m, k], [k2, n])?;
    checked_len("matmul", "the product", &[m, n])?;
    let precision = crate::precision::current();
    // The f32 product through the gemm crate writes every element of a fresh
    // output (beta = 0 is not read): skip zero-filling it first (bit-identical,
    // the same call as below).
    #[cfg(all(feature = "gemm-crate", not(feature = "openblas")))]
    if precision == Precision::F32 && m > 0 && n > 0 && k > 0 {
        let a = if transpose_a { a.reversed_axes() } else { a };
        let b = if transpose_b { b.reversed_axes() } else { b };
        let data = crate::fill::par_build_with(m * n, 0, |_, c| gemm_into_uninit(a, b, c, false));
        return Ok(Array2::from_shape_vec((m, n), data).expect("m * n elements"));
    }
    let mut c = Array2::<f32>::zeros((m, n));
    gemm_at(
        precision,
        false,
        1.0,
        a,
        transpose_a,
        b,
        transpose_b,
        0.0,
        &mut c.view_mut(),
    )?;
    Ok(c)
}

/// Batched matrix product: `C[i] = op(A[i]) · op(B[i])` for every `i` of the leading axis,
/// at this thread's [`crate::precision`].
///
/// Errors when the batch axes or the inner dimensions disagree (also for an
/// empty batch), or when the product is too large to allocate.
///
/// ```
/// let a = ndarray::Array3::<f32>::ones((4, 2, 3));
/// let b = ndarray::Array3::<f32>::ones((4, 3, 5));
/// let c = neurite_tensor::gemm::batched_matmul(a.view(), false, b.view(), false).unwrap();
/// assert_eq!(c.dim(), (4, 2, 5));
/// assert_eq!(c[[0, 0, 0]], 3.0);
/// let empty = ndarray::Array3::<f32>::zeros((0, 2, 4));
/// assert!(neurite_tensor::gemm::batched_matmul(empty.view(), false, empty.view(), false).is_err());
/// ```
pub fn batched_matmul(
    a: ArrayView3<f32>,
    transpose_a: bool,
    b: ArrayView3<f32>,
    transpose_b: bool,
) -> Result<Array3<f32>> {
    const OP: &str = "batched_matmul";
    let batch = a.len_of(Axis(0));
    if b.len_of(Axis(0)) != batch {
        return Err(TensorError::shape(
            OP,
            a.shape(),
            b.shape(),
            "batch (first) axes must be equal",
        ));
    }
    // From the shapes, not from a matrix: the batch may be empty.
    let (sa, sb) = (a.shape(), b.shape());
    let (m, k) = if transpose_a {
        (sa[2], sa[1])
    } else {
        (sa[1], sa[2])
    };
    let (k2, n) = if transpose_b {
        (sb[2], sb[1])
    } else {
        (sb[1], sb[2])
    };
    if k != k2 {
        return Err(TensorError::shape(
            OP,
            sa,
            sb,
            format!("inner dimensions of op(A) ({k}) and op(B) ({k2}) must agree"),
        ));
    }
    checked_len(OP, "the product", &[batch, m, n])?;
    let mut c = Array3::<f32>::zeros((batch, m, n));
    let precision = crate::precision::current();
    for i in 0..batch {
        let mut ci = c.slice_mut(s![i, .., ..]);
        gemm_at(
            precision,
            false,
            1.0,
            a.index_axis(Axis(0), i),
            transpose_a,
            b.index_axis(Axis(0), i),
            transpose_b,
            0.0,
            &mut ci,
        )?;
    }
    Ok(c)
}
