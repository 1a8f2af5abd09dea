//! Seed derivation: every random decision in the crate comes from a [`ChaCha8Rng`] seeded by a
//! user `u64` seed mixed with the coordinates of the decision (epoch, sample index, ...), so
//! results never depend on thread scheduling.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser: a bijective, well-mixing map on `u64`.
#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes a seed with a list of coordinates into a new seed. Different coordinate lists give
/// (with overwhelming probability) unrelated seeds.
pub fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    let mut h = splitmix64(seed ^ 0x6E65_7572_6974_6521); // "neurite!"
    for &p in parts {
        h = splitmix64(h ^ splitmix64(p.wrapping_add(0x5851_F42D_4C95_7F2D)));
    }
    h
}

/// A `ChaCha8Rng` for the given seed and coordinates.
pub fn rng_for(seed: u64, parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, parts))
}

// Stream tags, so that e.g. the shuffle of epoch 3 and the augmentation of sample 3 never share
// a random stream.
pub(crate) const STREAM_SHUFFLE: u64 = 1;
pub(crate) const STREAM_AUGMENT: u64 = 2;
pub(crate) const STREAM_SPLIT: u64 = 3;
pub(crate) const STREAM_FOLDS: u64 = 4;

/// Fisher-Yates shuffle with our rng (same result on every platform).
pub(crate) fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    use rand::Rng;
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// `0..n` in a random order.
pub(crate) fn permutation(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    shuffle(&mut v, rng);
    v
}
