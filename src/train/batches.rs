//! Splitting samples into batches and gathering them.

use crate::error::{Error, Result};
use ndarray::Axis;
use neurite_rand::Generator;
use neurite_tensor::Tensor;
use rand::seq::SliceRandom;

/// SplitMix64 finaliser: derives well-spread seeds from (seed, epoch, batch).
pub(crate) fn mix_seed(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The sample order of one epoch: `0..n`, shuffled with a seed from (seed, epoch) when asked.
pub(crate) fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        let mut rng = Generator::seed_from_u64(mix_seed(seed, epoch as u64, u64::MAX));
        order.shuffle(&mut rng);
    }
    order
}

/// Rows `indices` of `x` (axis 0), as a new contiguous array.
///
/// Rows of a contiguous `x` are copied as slices, with the rows
/// [`PREFETCH_AHEAD`] indices further already requested from memory: a
/// shuffled batch reads rows scattered over the whole set, and a set larger
/// than the caches makes each row a cache miss that a plain copy would wait
/// for one after another (ndarray's `select` spent 40% of `mlp-train`'s
/// step there). Other layouts go through `select`.
pub(crate) fn gather(x: &Tensor, indices: &[usize]) -> Tensor {
    let n = x.len_of(Axis(0));
    if indices.len() == n && indices.iter().enumerate().all(|(i, &j)| i == j) {
        return x.as_standard_layout().into_owned();
    }
    let Some(src) = x.as_slice() else {
        return x.select(Axis(0), indices);
    };
    let row = src.len().checked_div(n).unwrap_or(0);
    let mut out = Vec::with_capacity(indices.len() * row);
    for (k, &i) in indices.iter().enumerate() {
        if let Some(&ahead) = indices.get(k + PREFETCH_AHEAD) {
            prefetch(src.get(ahead * row..(ahead + 1) * row).unwrap_or(&[]));
        }
        out.extend_from_slice(&src[i * row..(i + 1) * row]);
    }
    let mut shape = x.shape().to_vec();
    shape[0] = indices.len();
    Tensor::from_shape_vec(shape, out).expect("rows times the row shape")
}

/// How many rows ahead [`gather`] asks the memory for.
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to bring every cache line of `row` towards L1 (a hint: no
/// effect on results; nothing on other architectures).
#[inline(always)]
fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for at in (0..row.len()).step_by(16).chain(row.len().checked_sub(1)) {
        // SAFETY: prefetching never faults and reads nothing; the pointer is in `row`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(row[at..].as_ptr().cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Refuses a batch size of 0 (it would silently process nothing).
pub(crate) fn check_batch_size(what: &str, batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::ZeroBatchSize {
            context: what.to_string(),
        });
    }
    Ok(())
}

/// Checks that `x` and `y` hold the same number of samples.
pub(crate) fn check_pair(what: &str, x: &Tensor, y: &Tensor) -> Result<usize> {
    if x.ndim() == 0 || y.ndim() == 0 {
        return Err(Error::Input(format!(
            "{what}: x and y need a batch axis; found shapes {:?} and {:?}",
            x.shape(),
            y.shape()
        )));
    }
    let n = x.len_of(Axis(0));
    if y.len_of(Axis(0)) != n {
        return Err(Error::SampleCountMismatch {
            context: what.to_string(),
            x_samples: n,
            x_shape: x.shape().to_vec(),
            y_samples: y.len_of(Axis(0)),
            y_shape: y.shape().to_vec(),
        });
    }
    if n == 0 {
        return Err(Error::Input(format!(
            "{what}: no samples (x has shape {:?})",
            x.shape()
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn epoch_order_is_a_permutation(n in 0usize..200, seed in any::<u64>(), epoch in 0usize..5) {
            let mut o = epoch_order(n, true, seed, epoch);
            prop_assert_eq!(o.clone(), epoch_order(n, true, seed, epoch));
            o.sort_unstable();
            prop_assert_eq!(o, (0..n).collect::<Vec<_>>());
        }

        /// The slice-copying gather equals ndarray's `select` for any shape,
        /// any indices (repeated, any order) and layouts that are not contiguous.
        #[test]
        fn gather_equals_select(
            shape in proptest::collection::vec(1usize..6, 1..4),
            picks in proptest::collection::vec(0usize..1000, 0..40),
            transposed: bool,
        ) {
            let len: usize = shape.iter().product();
            let x = Tensor::from_shape_vec(shape.clone(), (0..len).map(|v| v as f32 * 0.5 - 3.0).collect()).unwrap();
            let x = if transposed { x.reversed_axes() } else { x };
            let n = x.len_of(Axis(0));
            let indices: Vec<usize> = picks.iter().map(|p| p % n).collect();
            let (got, want) = (gather(&x, &indices), x.select(Axis(0), &indices));
            prop_assert_eq!(got.shape(), want.shape());
            prop_assert_eq!(got, want);
        }
    }
}
