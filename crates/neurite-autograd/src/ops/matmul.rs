//! Matrix products through the GEMM kernel, forward and backward.
//!
//! Both follow the thread's [`neurite_tensor::precision`] (exact `f32`, or
//! bf16 operands with `f32` accumulation); the backward pass runs at the
//! precision the forward pass ran at, wherever and whenever it is called.

use crate::error::Result;
use crate::var::Var;
use ndarray::{Ix2, Ix3};
use neurite_tensor::gemm::{batched_matmul as bmm, matmul_t};
use neurite_tensor::precision::PrecisionScope;
use neurite_tensor::TensorError;

/// Matrix product of two 2-d `Var`s: `(m, k) · (k, n) -> (m, n)`.
///
/// Backward: `dA = dC · Bᵀ`, `dB = Aᵀ · dC`, both as GEMMs with transposed views.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::parameter(ndarray::arr2(&[[1.0f32, 2.0]]).into_dyn());
/// let b = Var::from_array(ndarray::arr2(&[[3.0f32], [4.0]]));
/// let c = ops::matmul(&a, &b)?;
/// assert_eq!(c.item()?, 11.0);
/// c.backward()?;
/// assert_eq!(a.grad().unwrap(), ndarray::arr2(&[[3.0f32, 4.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn matmul(a: &Var, b: &Var) -> Result<Var> {
    let value = {
        let (av, bv) = (a.value(), b.value());
        let a2 = av.view().into_dimensionality::<Ix2>();
        let b2 = bv.view().into_dimensionality::<Ix2>();
        match (a2, b2) {
            (Ok(a2), Ok(b2)) => matmul_t(a2, false, b2, false)?,
            _ => {
                return Err(
                    TensorError::shape("matmul", av.shape(), bv.shape(), "both operands must be 2-d").into(),
                )
            }
        }
    };
    let (ac, bc) = (a.clone(), b.clone());
    let precision = neurite_tensor::precision::current();
    Ok(Var::from_op(
        value.into_dyn(),
        "matmul",
        &[a, b],
        Box::new(move |g| {
            let _precision = PrecisionScope::enter(precision);
            let g2 = g
                .view()
                .into_dimensionality::<Ix2>()
                .map_err(|e| TensorError::invalid("matmul", e.to_string()))?;
            // Borrow the operands in place (no copies): both are 2-d, checked in forward.
            let ga = if ac.requires_grad() {
                let bv = bc.value();
                let b2 = bv
                    .view()
                    .into_dimensionality::<Ix2>()
                    .map_err(|e| TensorError::invalid("matmul", e.to_string()))?;
                Some(matmul_t(g2, false, b2, true)?.into_dyn())
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                let av = ac.value();
                let a2 = av
                    .view()
                    .into_dimensionality::<Ix2>()
                    .map_err(|e| TensorError::invalid("matmul", e.to_string()))?;
                Some(matmul_t(a2, true, g2, false)?.into_dyn())
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}

/// Batched matrix product of two 3-d `Var`s: `(b, m, k) · (b, k, n) -> (b, m, n)`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let a = Var::from_array(ndarray::Array3::<f32>::ones((2, 3, 4)));
/// let b = Var::from_array(ndarray::Array3::<f32>::ones((2, 4, 5)));
/// assert_eq!(ops::batched_matmul(&a, &b)?.shape(), vec![2, 3, 5]);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn batched_matmul(a: &Var, b: &Var) -> Result<Var> {
    let value = {
        let (av, bv) = (a.value(), b.value());
        match (
            av.view().into_dimensionality::<Ix3>(),
            bv.view().into_dimensionality::<Ix3>(),
        ) {
            (Ok(a3), Ok(b3)) => bmm(a3, false, b3, false)?,
            _ => {
                return Err(TensorError::shape(
                    "batched_matmul",
                    av.shape(),
                    bv.shape(),
                    "both operands must be 3-d",
                )
                .into())
            }
        }
    };
    let (ac, bc) = (a.clone(), b.clone());
    let precision = neurite_tensor::precision::current();
    Ok(Var::from_op(
        value.into_dyn(),
        "batched_matmul",
        &[a, b],
        Box::new(move |g| {
            let _precision = PrecisionScope::enter(precision);
            let g3 = g
                .view()
                .into_dimensionality::<Ix3>()
                .map_err(|e| TensorError::invalid("batched_matmul", e.to_string()))?;
            let ga = if ac.requires_grad() {
                let bv = bc.value();
                let b3 = bv
                    .view()
                    .into_dimensionality::<Ix3>()
                    .map_err(|e| TensorError::invalid("batched_matmul", e.to_string()))?;
                Some(bmm(g3.view(), false, b3, true)?.into_dyn())
            } else {
                None
            };
            let gb = if bc.requires_grad() {
                let av = ac.value();
                let a3 = av
                    .view()
                    .into_dimensionality::<Ix3>()
                    .map_err(|e| TensorError::invalid("batched_matmul", e.to_string()))?;
                Some(bmm(a3, true, g3.view(), false)?.into_dyn())
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}
