//! Keras' `EinsumDense` as used by `MultiHeadAttention`: the trailing
//! `contract` axes of `x` times the leading axes of the kernel, as one GEMM.

use crate::error::Result;
use neurite_autograd::{ops, Var};

/// `x (..., c1..cn) · kernel (c1..cn, o1..om) + bias (o1..om) -> (..., o1..om)`,
/// contracting the last `contract` axes of `x` with the first `contract` of
/// the kernel (shapes checked by the caller's plan; a mismatch is an error of
/// the reshape/matmul ops, not a panic).
pub(crate) fn einsum_dense(x: &Var, kernel: &Var, bias: Option<&Var>, contract: usize) -> Result<Var> {
    let (xs, ks) = (x.shape(), kernel.shape());
    let split_x = xs.len().saturating_sub(contract);
    let lead = &xs[..split_x];
    let inner: usize = ks[..contract.min(ks.len())].iter().product();
    let outer = &ks[contract.min(ks.len())..];
    let n: usize = outer.iter().product();
    let rows: usize = lead.iter().product();
    let x2 = ops::reshape(x, &[rows, inner])?;
    let k2 = ops::reshape(kernel, &[inner, n])?;
    let mut y = ops::matmul(&x2, &k2)?;
    if let Some(b) = bias {
        y = ops::add(&y, &ops::reshape(b, &[n])?)?;
    }
    let mut shape = lead.to_vec();
    shape.extend_from_slice(outer);
    Ok(ops::reshape(&y, &shape)?)
}
