//! The seeded random generator every neurite crate takes: [`Generator`].
//!
//! Weight initialisation (`neurite-nn`), dropout masks (`neurite-autograd`),
//! shuffles, augmentation and k-fold splits (`neurite-data`) all draw from a
//! [`Generator`], so one seed reproduces a whole run on every platform.
//! `Generator` is neurite's own type: it wraps `rand_chacha`'s ChaCha8 stream
//! (the same numbers as `ChaCha8Rng::seed_from_u64`), so a program that uses
//! another version of `rand` can still build layers and augmentations. It
//! implements `rand`'s [`rand::RngCore`] and
//! [`rand::SeedableRng`] traits of the version re-exported here
//! as [`rand`], for drawing values of its own.
//!
//! ```
//! use neurite_rand::rand::Rng;
//! use neurite_rand::Generator;
//!
//! let mut a = Generator::seed_from_u64(7);
//! let mut b = Generator::seed_from_u64(7);
//! let x: f32 = a.random();
//! assert_eq!(x, b.random::<f32>());
//! ```

#![warn(missing_docs)]

pub use rand;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded, portable random generator (ChaCha with 8 rounds).
///
/// The same seed gives the same stream on every platform and thread count.
///
/// ```
/// use neurite_rand::Generator;
/// use neurite_rand::rand::RngCore;
///
/// let mut g = Generator::seed_from_u64(1);
/// let first = g.next_u64();
/// assert_eq!(first, Generator::seed_from_u64(1).next_u64());
/// assert_ne!(first, Generator::seed_from_u64(2).next_u64());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generator(ChaCha8Rng);

impl Generator {
    /// A generator seeded from a `u64` (the stream of
    /// `ChaCha8Rng::seed_from_u64(seed)`).
    ///
    /// ```
    /// let g = neurite_rand::Generator::seed_from_u64(42);
    /// assert_eq!(g, neurite_rand::Generator::seed_from_u64(42));
    /// ```
    pub fn seed_from_u64(seed: u64) -> Self {
        Generator(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A generator for one purpose of a run: `seed` mixed with the
    /// coordinates of a random decision (a stream tag, an epoch, a sample
    /// index, ...) by [`derive_seed`], so that results never depend on
    /// thread scheduling and different purposes never share a stream.
    ///
    /// ```
    /// use neurite_rand::Generator;
    /// use neurite_rand::rand::RngCore;
    ///
    /// let mut epoch0 = Generator::for_purpose(5, &[1, 0]);
    /// let mut epoch1 = Generator::for_purpose(5, &[1, 1]);
    /// assert_ne!(epoch0.next_u64(), epoch1.next_u64());
    /// ```
    pub fn for_purpose(seed: u64, parts: &[u64]) -> Self {
        Generator::seed_from_u64(derive_seed(seed, parts))
    }
}

impl Generator {
    /// Fills `out` with the values that `out.len()` successive calls of
    /// `rng.random::<f32>()` would return (uniform in `[0, 1)`, 24 random
    /// bits each), drawn in bulk from the ChaCha stream: faster than the
    /// calls, and the generator ends where they would leave it.
    ///
    /// ```
    /// use neurite_rand::rand::Rng;
    /// use neurite_rand::Generator;
    /// let (mut a, mut b) = (Generator::seed_from_u64(3), Generator::seed_from_u64(3));
    /// let mut bulk = [0.0f32; 100];
    /// a.fill_uniform_f32(&mut bulk);
    /// let one_by_one: Vec<f32> = (0..100).map(|_| b.random::<f32>()).collect();
    /// assert_eq!(bulk.to_vec(), one_by_one);
    /// assert_eq!(a.random::<u32>(), b.random::<u32>());
    /// ```
    pub fn fill_uniform_f32(&mut self, out: &mut [f32]) {
        use rand::Rng;
        const WORDS: usize = 64;
        let mut words = [0u32; WORDS];
        for chunk in out.chunks_mut(WORDS) {
            let words = &mut words[..chunk.len()];
            // `fill` on `[u32]` is `fill_bytes` on the words' bytes, read
            // little-endian: the words `next_u32` would return, in order.
            self.fill(words);
            for (v, &bits) in chunk.iter_mut().zip(words.iter()) {
                *v = unit_f32(bits);
            }
        }
    }

    /// The position in the stream, in 32-bit words drawn since the seed
    /// (`random::<f32>()` draws one word, `next_u64` two).
    ///
    /// ```
    /// use neurite_rand::rand::RngCore;
    /// let mut g = neurite_rand::Generator::seed_from_u64(1);
    /// g.next_u64();
    /// assert_eq!(g.word_pos(), 2);
    /// ```
    pub fn word_pos(&self) -> u128 {
        self.0.get_word_pos()
    }

    /// Moves to word `pos` of the same stream: with [`Self::word_pos`], lets
    /// several threads draw disjoint parts of one stream and give exactly the
    /// numbers a single thread would.
    ///
    /// ```
    /// use neurite_rand::rand::RngCore;
    /// let mut a = neurite_rand::Generator::seed_from_u64(9);
    /// let mut b = a.clone();
    /// a.next_u32();
    /// let second = a.next_u32();
    /// b.set_word_pos(1);
    /// assert_eq!(b.next_u32(), second);
    /// ```
    pub fn set_word_pos(&mut self, pos: u128) {
        self.0.set_word_pos(pos)
    }
}

/// `rand`'s `StandardUniform` `f32` from one 32-bit word: its top 24 bits
/// times `2^-24`.
#[inline]
fn unit_f32(bits: u32) -> f32 {
    (bits >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

impl RngCore for Generator {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    #[inline]
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
}

impl SeedableRng for Generator {
    type Seed = <ChaCha8Rng as SeedableRng>::Seed;

    fn from_seed(seed: Self::Seed) -> Self {
        Generator(ChaCha8Rng::from_seed(seed))
    }

    fn seed_from_u64(seed: u64) -> Self {
        Generator::seed_from_u64(seed)
    }
}

/// SplitMix64 finaliser: a bijective, well-mixing map on `u64`.
#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes a seed with a list of coordinates into a new seed. Different
/// coordinate lists give (with overwhelming probability) unrelated seeds.
///
/// ```
/// use neurite_rand::derive_seed;
/// assert_eq!(derive_seed(1, &[2, 3]), derive_seed(1, &[2, 3]));
/// assert_ne!(derive_seed(1, &[2, 3]), derive_seed(1, &[3, 2]));
/// ```
pub fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    let mut h = splitmix64(seed ^ 0x6E65_7572_6974_6521); // "neurite!"
    for &p in parts {
        h = splitmix64(h ^ splitmix64(p.wrapping_add(0x5851_F42D_4C95_7F2D)));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::{derive_seed, ChaCha8Rng, Generator, RngCore, SeedableRng};
    use proptest::prelude::{any, prop_assert_eq, prop_assert_ne, proptest};

    proptest! {
        /// The wrapper is the ChaCha8 stream, draw for draw.
        #[test]
        fn same_stream_as_chacha8(seed in any::<u64>(), n in 1usize..64) {
            let mut g = Generator::seed_from_u64(seed);
            let mut c = ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..n {
                prop_assert_eq!(g.next_u64(), c.next_u64());
                prop_assert_eq!(g.next_u32(), c.next_u32());
            }
            let (mut a, mut b) = ([0u8; 37], [0u8; 37]);
            g.fill_bytes(&mut a);
            c.fill_bytes(&mut b);
            prop_assert_eq!(a, b);
            prop_assert_eq!(<Generator as SeedableRng>::seed_from_u64(seed), Generator::seed_from_u64(seed));
        }

        /// Bulk uniform draws are the one-by-one draws, and leave the stream
        /// where they would; word positions split the stream exactly.
        #[test]
        fn bulk_uniform_is_the_sequential_stream(seed in any::<u64>(), skip in 0usize..5, n in 0usize..300) {
            use rand::Rng;
            let mut a = Generator::seed_from_u64(seed);
            let mut b = Generator::seed_from_u64(seed);
            for _ in 0..skip {
                a.next_u32();
                b.next_u32();
            }
            let mut bulk = vec![0.0f32; n];
            a.fill_uniform_f32(&mut bulk);
            let single: Vec<f32> = (0..n).map(|_| b.random::<f32>()).collect();
            prop_assert_eq!(&bulk, &single);
            prop_assert_eq!(a.word_pos(), (skip + n) as u128);
            prop_assert_eq!(a.next_u64(), b.next_u64());
            let mut c = Generator::seed_from_u64(seed);
            c.set_word_pos((skip + n / 2) as u128);
            let mut tail = vec![0.0f32; n - n / 2];
            c.fill_uniform_f32(&mut tail);
            prop_assert_eq!(&tail[..], &single[n / 2..]);
        }

        /// Seeds derived from different coordinates differ (no collision in
        /// a small neighbourhood), and derivation is deterministic.
        #[test]
        fn derived_seeds_are_distinct(seed in any::<u64>(), a in 0u64..1000, b in 0u64..1000) {
            prop_assert_eq!(derive_seed(seed, &[a, b]), derive_seed(seed, &[a, b]));
            if (a, b) != (b, a) {
                prop_assert_ne!(derive_seed(seed, &[a, b]), derive_seed(seed, &[b, a]));
            }
            prop_assert_ne!(derive_seed(seed, &[a]), derive_seed(seed, &[a, b]));
        }
    }
}
