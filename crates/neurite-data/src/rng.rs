//! Seed derivation: every random decision in the crate comes from a [`Generator`] seeded by a
//! user `u64` seed mixed with the coordinates of the decision (epoch, sample index, ...), so
//! results never depend on thread scheduling.

use neurite_rand::Generator;

pub use neurite_rand::derive_seed;

/// A [`Generator`] for the given seed and coordinates
/// ([`Generator::for_purpose`]).
///
/// ```
/// use neurite_data::rng::rng_for;
/// assert_eq!(rng_for(3, &[1, 2]), rng_for(3, &[1, 2]));
/// ```
pub fn rng_for(seed: u64, parts: &[u64]) -> Generator {
    Generator::for_purpose(seed, parts)
}

// Stream tags, so that e.g. the shuffle of epoch 3 and the augmentation of sample 3 never share
// a random stream.
pub(crate) const STREAM_SHUFFLE: u64 = 1;
pub(crate) const STREAM_AUGMENT: u64 = 2;
pub(crate) const STREAM_SPLIT: u64 = 3;
pub(crate) const STREAM_FOLDS: u64 = 4;
pub(crate) const STREAM_SHARD_ORDER: u64 = 5;
pub(crate) const STREAM_SHUFFLE_BUFFER: u64 = 6;

/// Fisher-Yates shuffle with our rng (same result on every platform).
pub(crate) fn shuffle<T>(v: &mut [T], rng: &mut Generator) {
    use rand::Rng;
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// `0..n` in a random order.
pub(crate) fn permutation(n: usize, rng: &mut Generator) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    shuffle(&mut v, rng);
    v
}
