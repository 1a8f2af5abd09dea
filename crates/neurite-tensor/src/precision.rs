//! The precision of matrix products and convolutions: exact `f32`
//! (the default) or bf16 operands with `f32` accumulation.
//!
//! This is the kernel side of Keras' `mixed_bfloat16` policy and PyTorch's CPU
//! autocast to bfloat16: the umbrella crate's `DtypePolicy::MixedBfloat16`
//! enters a [`PrecisionScope`] around `fit`, `evaluate` and `predict`, and
//! every product below then rounds its operands to bf16
//! ([`crate::bf16::round_to_bf16`]) and accumulates in `f32`. Weights,
//! optimizer state, losses and element-wise work stay `f32`.
//!
//! **What follows the scope**: [`crate::gemm::matmul`],
//! [`crate::gemm::matmul_t`], [`crate::gemm::batched_matmul`] and the
//! convolutions ([`crate::conv2d`], [`crate::conv2d_relu`],
//! [`crate::conv2d_backward`], the fused conv + pooling passes). They read the
//! precision once, on the thread that calls them, and pass it to their own
//! rayon tasks, so a call's result never depends on which thread ran which
//! task. [`crate::gemm::gemm`] and [`crate::gemm::gemm_single_thread`] are the
//! exact `f32` primitives and ignore the scope; [`crate::bf16::gemm_bf16`] is the
//! bf16 one.
//!
//! The setting is per thread, so two models with different policies can run
//! at once on two threads.
//!
//! ```
//! use neurite_tensor::precision::{current, Precision, PrecisionScope};
//! use ndarray::array;
//! assert_eq!(current(), Precision::F32);
//! let a = array![[1.0f32 + 1.0 / 512.0]]; // not a bf16 value: 8 mantissa bits are not enough
//! let b = array![[1.0f32]];
//! let exact = neurite_tensor::gemm::matmul(a.view(), b.view())?;
//! let rounded = {
//!     let _bf16 = PrecisionScope::enter(Precision::Bf16);
//!     assert_eq!(current(), Precision::Bf16);
//!     neurite_tensor::gemm::matmul(a.view(), b.view())?
//! };
//! assert_eq!(current(), Precision::F32); // back when the scope ends
//! assert_eq!(exact[[0, 0]], 1.0 + 1.0 / 512.0);
//! assert_eq!(rounded[[0, 0]], 1.0); // rounded to the nearest bf16 first
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use ndarray::{Array, ArrayView, Dimension};
use rayon::prelude::*;
use std::cell::Cell;
use std::marker::PhantomData;

/// How matrix products and convolutions treat their `f32` operands.
///
/// ```
/// use neurite_tensor::precision::Precision;
/// assert_eq!(Precision::default(), Precision::F32);
/// assert!(Precision::Bf16.is_bf16());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Exact `f32` operands and accumulation (the default).
    #[default]
    F32,
    /// Operands rounded to bf16 (nearest, ties to even), products accumulated in `f32`.
    Bf16,
}

impl Precision {
    /// Whether operands are rounded to bf16.
    ///
    /// ```
    /// assert!(!neurite_tensor::precision::Precision::F32.is_bf16());
    /// ```
    pub fn is_bf16(self) -> bool {
        self == Precision::Bf16
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The precision products called from this thread use now.
///
/// ```
/// assert_eq!(neurite_tensor::precision::current(), neurite_tensor::precision::Precision::F32);
/// ```
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Sets this thread's precision until the scope is dropped, then restores the
/// one before (scopes nest). Not `Send`: it belongs to the thread that made it.
///
/// ```
/// use neurite_tensor::precision::{current, Precision, PrecisionScope};
/// {
///     let _outer = PrecisionScope::enter(Precision::Bf16);
///     {
///         let _inner = PrecisionScope::enter(Precision::F32);
///         assert_eq!(current(), Precision::F32);
///     }
///     assert_eq!(current(), Precision::Bf16);
/// }
/// assert_eq!(current(), Precision::F32);
/// ```
#[must_use = "the precision is restored when the scope is dropped"]
pub struct PrecisionScope {
    previous: Precision,
    _not_send: PhantomData<*const ()>,
}

impl PrecisionScope {
    /// Makes `precision` this thread's precision until the scope ends.
    ///
    /// ```
    /// use neurite_tensor::precision::{Precision, PrecisionScope};
    /// let _scope = PrecisionScope::enter(Precision::Bf16);
    /// assert!(neurite_tensor::precision::current().is_bf16());
    /// ```
    pub fn enter(precision: Precision) -> Self {
        let previous = CURRENT.with(|c| c.replace(precision));
        PrecisionScope {
            previous,
            _not_send: PhantomData,
        }
    }
}

impl Drop for PrecisionScope {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Below this many floats, [`rounded_to_bf16`] rounds on the calling thread.
const PARALLEL_ROUNDING: usize = 1 << 16;

/// A standard-layout copy of `x` with every value rounded to bf16
/// ([`crate::bf16::round_to_bf16`]), split over rayon's threads when large.
pub(crate) fn rounded_to_bf16<D: Dimension>(x: ArrayView<f32, D>) -> Array<f32, D> {
    let x = x.as_standard_layout();
    let src = x.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0.0f32; src.len()];
    let round = |(o, s): (&mut [f32], &[f32])| {
        o.iter_mut()
            .zip(s)
            .for_each(|(o, &v)| *o = crate::bf16::round_to_bf16(v));
    };
    if src.len() < PARALLEL_ROUNDING {
        round((&mut out, src));
    } else {
        const CHUNK: usize = 1 << 14;
        out.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(round);
    }
    Array::from_shape_vec(x.raw_dim(), out).expect("same shape as the input")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_restore_on_panic_unwind() {
        let r = std::panic::catch_unwind(|| {
            let _s = PrecisionScope::enter(Precision::Bf16);
            panic!("boom");
        });
        assert!(r.is_err());
        assert_eq!(current(), Precision::F32);
    }

    #[test]
    fn other_threads_keep_their_own_precision() {
        let _s = PrecisionScope::enter(Precision::Bf16);
        let there = std::thread::spawn(current).join().unwrap();
        assert_eq!(there, Precision::F32);
        assert_eq!(current(), Precision::Bf16);
    }
}
