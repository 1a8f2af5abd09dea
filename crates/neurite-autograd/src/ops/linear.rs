//! `x · kernel + bias` over trailing axes as one node (Keras' `Dense` on any
//! rank, and `EinsumDense` as `MultiHeadAttention` uses it), forward and
//! backward side by side, without the reshape copies and the separate bias
//! pass that `reshape → matmul → add → reshape` costs.

use crate::error::Result;
use crate::var::Var;
use ndarray::{Array2, ArrayView2, Axis, IxDyn};
use neurite_tensor::gemm::matmul_t;
use neurite_tensor::precision::PrecisionScope;
use neurite_tensor::{Tensor, TensorError};

const OP: &str = "linear";

/// `x` as a `(rows, cols)` matrix: a view of its data when it is contiguous,
/// else of a standard-layout copy held in `keep`.
fn as_matrix<'a>(
    x: &'a Tensor,
    rows: usize,
    cols: usize,
    keep: &'a mut Option<Tensor>,
) -> ArrayView2<'a, f32> {
    let data: &'a [f32] = match x.as_slice() {
        Some(s) => s,
        None => keep
            .insert(x.as_standard_layout().into_owned())
            .as_slice()
            .expect("a standard-layout array is contiguous"),
    };
    ArrayView2::from_shape((rows, cols), data).expect("rows * cols is the element count")
}

/// Owned `m` (standard layout) as a tensor of `shape` (same element count).
fn shaped(m: Array2<f32>, shape: &[usize]) -> Result<Tensor> {
    let from = m.shape().to_vec();
    Ok(m.into_shape_with_order(IxDyn(shape))
        .map_err(|e| TensorError::shape(OP, &from, shape, e.to_string()))?)
}

/// Contracts the last `contract` axes of `x` with the first `contract` axes
/// of `kernel` and adds `bias` (any shape with one value per output column,
/// e.g. the kernel's remaining axes): `x (..., c1..cn) · kernel (c1..cn,
/// o1..om) + bias -> (..., o1..om)`. `contract = 1` is Keras' `Dense` on an
/// input of any rank. One GEMM on the data in place; backward `dx = g ·
/// kernelᵀ`, `dkernel = xᵀ · g`, `dbias` the column sums of `g`. Follows the
/// thread's [`neurite_tensor::precision`] like [`super::matmul`].
///
/// Errors name the shapes when the contracted axes differ, `contract` is 0
/// or larger than either rank, or the bias has the wrong size.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::Array3::<f32>::ones((2, 3, 4)).into_dyn());
/// let k = Var::parameter(ndarray::Array2::<f32>::ones((4, 5)).into_dyn());
/// let b = Var::parameter(ndarray::Array1::<f32>::from_elem(5, 0.5).into_dyn());
/// let y = ops::linear(&x, &k, Some(&b), 1)?;
/// assert_eq!(y.shape(), vec![2, 3, 5]);
/// assert!(y.value().iter().all(|&v| v == 4.5));
/// ops::sum_all(&y)?.backward()?;
/// assert!(b.grad().unwrap().iter().all(|&g| g == 6.0)); // 2 x 3 rows
/// assert!(ops::linear(&x, &k, None, 2).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn linear(x: &Var, kernel: &Var, bias: Option<&Var>, contract: usize) -> Result<Var> {
    let (xs, ks) = (x.shape(), kernel.shape());
    if contract == 0
        || contract > xs.len()
        || contract > ks.len()
        || xs[xs.len() - contract..] != ks[..contract]
    {
        return Err(TensorError::shape(
            OP,
            &xs,
            &ks,
            format!(
                "the last {contract} axes of the input must equal the first {contract} axes of the kernel"
            ),
        )
        .into());
    }
    let lead = &xs[..xs.len() - contract];
    let outer = &ks[contract..];
    let rows: usize = lead.iter().product();
    let inner: usize = ks[..contract].iter().product();
    let n: usize = outer.iter().product();
    if let Some(b) = bias {
        if b.shape().iter().product::<usize>() != n {
            return Err(TensorError::shape(
                OP,
                &b.shape(),
                outer,
                format!("the bias must hold one value per output column ({n})"),
            )
            .into());
        }
    }
    let mut out_shape = lead.to_vec();
    out_shape.extend_from_slice(outer);
    let value = {
        let (xv, kv) = (x.value(), kernel.value());
        let (mut kx, mut kk) = (None, None);
        let x2 = as_matrix(&xv, rows, inner, &mut kx);
        let k2 = as_matrix(&kv, inner, n, &mut kk);
        let mut y = matmul_t(x2, false, k2, false)?;
        if let Some(b) = bias {
            let bv = b.value();
            let bias_row: Vec<f32> = bv.iter().copied().collect();
            for mut row in y.axis_iter_mut(Axis(0)) {
                let row = row.as_slice_mut().expect("rows of a fresh matrix are contiguous");
                for (v, &c) in row.iter_mut().zip(&bias_row) {
                    *v += c;
                }
            }
        }
        shaped(y, &out_shape)?
    };
    let (xc, kc) = (x.clone(), kernel.clone());
    let bias_shape = bias.map(|b| b.shape());
    let precision = neurite_tensor::precision::current();
    let mut inputs = vec![x, kernel];
    inputs.extend(bias);
    Ok(Var::from_op(
        value,
        OP,
        &inputs,
        Box::new(move |g| {
            let _precision = PrecisionScope::enter(precision);
            let mut kg = None;
            let g2 = as_matrix(g, rows, n, &mut kg);
            let gx = if xc.requires_grad() {
                let kv = kc.value();
                let mut kk = None;
                let k2 = as_matrix(&kv, inner, n, &mut kk);
                Some(shaped(matmul_t(g2, false, k2, true)?, &xs)?)
            } else {
                None
            };
            let gk = if kc.requires_grad() {
                let xv = xc.value();
                let mut kx = None;
                let x2 = as_matrix(&xv, rows, inner, &mut kx);
                Some(shaped(matmul_t(x2, true, g2, false)?, &ks)?)
            } else {
                None
            };
            let mut grads = vec![gx, gk];
            if let Some(shape) = &bias_shape {
                let mut sums = vec![0.0f32; n];
                for row in g2.axis_iter(Axis(0)) {
                    match row.as_slice() {
                        Some(r) => sums.iter_mut().zip(r).for_each(|(s, &v)| *s += v),
                        None => sums.iter_mut().zip(row.iter()).for_each(|(s, &v)| *s += v),
                    }
                }
                grads.push(Some(
                    Tensor::from_shape_vec(IxDyn(shape), sums)
                        .map_err(|e| TensorError::invalid(OP, e.to_string()))?,
                ));
            }
            Ok(grads)
        }),
    ))
}
