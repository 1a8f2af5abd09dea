//! Keras' `EinsumDense` as used by `MultiHeadAttention`: the trailing
//! `contract` axes of `x` times the leading axes of the kernel, as one GEMM.

use crate::error::Result;
use neurite_autograd::{ops, Var};

/// `x (..., c1..cn) · kernel (c1..cn, o1..om) + bias (o1..om) -> (..., o1..om)`,
/// contracting the last `contract` axes of `x` with the first `contract` of
/// the kernel (shapes checked by the caller's plan; a mismatch is an error of
/// the reshape/matmul ops, not a panic).
pub(crate) fn einsum_dense(x: &Var, kernel: &Var, bias: Option<&Var>, contract: usize) -> Result<Var> {
    Ok(ops::linear(x, kernel, bias, contract)?)
}
