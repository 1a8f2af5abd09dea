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

/// Rows `indices` of `x` (axis 0), as a new contiguous array
/// ([`neurite_data::gather_rows`], or `x` itself in order when `indices` is
/// every row in order).
pub(crate) fn gather(x: &Tensor, indices: &[usize]) -> Tensor {
    if indices.len() == x.len_of(Axis(0)) && indices.iter().enumerate().all(|(i, &j)| i == j) {
        return x.as_standard_layout().into_owned();
    }
    neurite_data::gather_rows(x, indices)
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
    }
}
