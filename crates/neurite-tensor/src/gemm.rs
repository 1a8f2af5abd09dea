//! General matrix multiplication `C = alpha * op(A) * op(B) + beta * C`.
//!
//! Routed through `ndarray::linalg::general_mat_mul`, which calls BLAS `sgemm`
//! when the `openblas` feature is on and the pure-Rust `matrixmultiply`
//! kernel otherwise. Transposes are passed as strided views, so no copy is made.

use crate::error::{Result, TensorError};
use ndarray::{linalg::general_mat_mul, s, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis};

/// Name of the GEMM backend compiled in: `"openblas"` or `"matrixmultiply"`.
///
/// ```
/// let name = neurite_tensor::gemm::backend();
/// assert!(name == "openblas" || name == "matrixmultiply");
/// ```
pub fn backend() -> &'static str {
    if cfg!(feature = "openblas") {
        "openblas"
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
    let (m, k) = op_shape(&a, transpose_a);
    let (k2, n) = op_shape(&b, transpose_b);
    if k != k2 {
        return Err(TensorError::shape(
            "gemm",
            &[m, k],
            &[k2, n],
            "inner dimensions of op(A) and op(B) must agree",
        ));
    }
    if c.dim() != (m, n) {
        return Err(TensorError::shape(
            "gemm",
            &[c.nrows(), c.ncols()],
            &[m, n],
            "C must have shape (rows of op(A), columns of op(B))",
        ));
    }
    let a = if transpose_a { a.reversed_axes() } else { a };
    let b = if transpose_b { b.reversed_axes() } else { b };
    general_mat_mul(alpha, &a, &b, beta, c);
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

/// Matrix product `op(A) · op(B)` into a new array, with optional transposes.
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
    let (m, _) = op_shape(&a, transpose_a);
    let (_, n) = op_shape(&b, transpose_b);
    let mut c = Array2::<f32>::zeros((m, n));
    gemm(1.0, a, transpose_a, b, transpose_b, 0.0, &mut c.view_mut())?;
    Ok(c)
}

/// Batched matrix product: `C[i] = op(A[i]) · op(B[i])` for every `i` of the leading axis.
///
/// ```
/// let a = ndarray::Array3::<f32>::ones((4, 2, 3));
/// let b = ndarray::Array3::<f32>::ones((4, 3, 5));
/// let c = neurite_tensor::gemm::batched_matmul(a.view(), false, b.view(), false).unwrap();
/// assert_eq!(c.dim(), (4, 2, 5));
/// assert_eq!(c[[0, 0, 0]], 3.0);
/// ```
pub fn batched_matmul(
    a: ArrayView3<f32>,
    transpose_a: bool,
    b: ArrayView3<f32>,
    transpose_b: bool,
) -> Result<Array3<f32>> {
    let batch = a.len_of(Axis(0));
    if b.len_of(Axis(0)) != batch {
        return Err(TensorError::shape(
            "batched_matmul",
            a.shape(),
            b.shape(),
            "batch (first) axes must be equal",
        ));
    }
    let (m, _) = op_shape(&a.index_axis(Axis(0), 0), transpose_a);
    let (_, n) = op_shape(&b.index_axis(Axis(0), 0), transpose_b);
    let mut c = Array3::<f32>::zeros((batch, m, n));
    for i in 0..batch {
        let mut ci = c.slice_mut(s![i, .., ..]);
        gemm(
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
