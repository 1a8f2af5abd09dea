//! Seeded random fills, on [`Generator`] for reproducibility.
//!
//! The same seed gives the same numbers on every platform (ChaCha is portable
//! and the tensors are filled in row-major order, one draw per element except
//! for the re-draws of [`truncated_normal`]).
//!
//! ```
//! use neurite_tensor::random::{normal, rng_from_seed};
//! let a = normal(&[2, 3], 0.0, 1.0, &mut rng_from_seed(42));
//! let b = normal(&[2, 3], 0.0, 1.0, &mut rng_from_seed(42));
//! assert_eq!(a, b);
//! ```

use crate::error::{Result, TensorError};
use crate::size::checked_len;
use crate::Tensor;
pub use neurite_rand::Generator;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

/// A ChaCha8 generator seeded from a `u64` (via `SeedableRng::seed_from_u64`).
///
/// ```
/// use rand::Rng;
/// let mut r = neurite_tensor::random::rng_from_seed(7);
/// let x: f32 = r.random();
/// assert_eq!(x, neurite_tensor::random::rng_from_seed(7).random::<f32>());
/// ```
pub fn rng_from_seed(seed: u64) -> Generator {
    Generator::seed_from_u64(seed)
}

/// Uniform values in `[low, high)`.
///
/// For finite `low < high` this samples `rand`'s `Uniform` (never returns
/// `high`); otherwise it is `low + (high - low) * u` with `u` in `[0, 1)`, as
/// TensorFlow computes it: `low == high` fills with `low`, `low > high` gives
/// values in `(high, low]`.
///
/// # Panics
/// If `shape` is too large to allocate (its element count overflows); use
/// [`try_uniform`] where the shape comes from user input.
///
/// ```
/// use neurite_tensor::random::{rng_from_seed, uniform};
/// let x = uniform(&[100], -0.5, 0.5, &mut rng_from_seed(1));
/// assert!(x.iter().all(|&v| (-0.5..0.5).contains(&v)));
/// ```
pub fn uniform(shape: &[usize], low: f32, high: f32, rng: &mut impl Rng) -> Tensor {
    match Uniform::new(low, high) {
        Ok(dist) if low.is_finite() && high.is_finite() => {
            Tensor::from_shape_simple_fn(shape, || dist.sample(rng))
        }
        _ => Tensor::from_shape_simple_fn(shape, || low + (high - low) * rng.random::<f32>()),
    }
}

/// Normal (Gaussian) values with the given `mean` and standard deviation `std`
/// (`mean + std * z`, `z` standard normal by the ziggurat method of `rand_distr`).
///
/// # Panics
/// If `shape` is too large to allocate; use [`try_normal`] where the shape
/// comes from user input.
///
/// ```
/// use neurite_tensor::random::{normal, rng_from_seed};
/// let x = normal(&[4, 4], 1.0, 0.0, &mut rng_from_seed(3));
/// assert!(x.iter().all(|&v| v == 1.0));
/// ```
pub fn normal(shape: &[usize], mean: f32, std: f32, rng: &mut impl Rng) -> Tensor {
    Tensor::from_shape_simple_fn(shape, || {
        let z: f32 = StandardNormal.sample(rng);
        mean + std * z
    })
}

/// Truncated normal with Keras' semantics: a draw more than two standard
/// deviations from the mean is discarded and re-drawn, so every value lies in
/// `[mean - 2|std|, mean + 2|std|]`. (The resulting standard deviation is about
/// `0.88 * std`; Keras' `TruncatedNormal` initializer has the same property.)
///
/// # Panics
/// If `shape` is too large to allocate; use [`try_truncated_normal`] where
/// the shape comes from user input.
///
/// ```
/// use neurite_tensor::random::{rng_from_seed, truncated_normal};
/// let x = truncated_normal(&[1000], 0.0, 0.05, &mut rng_from_seed(9));
/// assert!(x.iter().all(|&v| v.abs() <= 0.1));
/// ```
pub fn truncated_normal(shape: &[usize], mean: f32, std: f32, rng: &mut impl Rng) -> Tensor {
    Tensor::from_shape_simple_fn(shape, || loop {
        let z: f32 = StandardNormal.sample(rng);
        if z.abs() <= 2.0 {
            return mean + std * z;
        }
    })
}

/// Errors unless `shape` can be allocated and every named parameter is finite.
fn check_fill(op: &'static str, shape: &[usize], params: &[(&str, f32)]) -> Result<()> {
    checked_len(op, "the shape", shape)?;
    for &(name, v) in params {
        if !v.is_finite() {
            return Err(TensorError::invalid(
                op,
                format!("{name} must be finite, found {v}"),
            ));
        }
    }
    Ok(())
}

/// [`uniform`] for shapes and bounds from user input: errors (naming the op)
/// when `shape` is too large to allocate or a bound is NaN or infinite;
/// otherwise the same values as [`uniform`].
///
/// ```
/// use neurite_tensor::random::{rng_from_seed, try_uniform, uniform};
/// let x = try_uniform(&[3], -1.0, 1.0, &mut rng_from_seed(5))?;
/// assert_eq!(x, uniform(&[3], -1.0, 1.0, &mut rng_from_seed(5)));
/// assert!(try_uniform(&[usize::MAX, 2], 0.0, 1.0, &mut rng_from_seed(5)).is_err());
/// assert!(try_uniform(&[3], f32::NAN, 1.0, &mut rng_from_seed(5)).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn try_uniform(shape: &[usize], low: f32, high: f32, rng: &mut impl Rng) -> Result<Tensor> {
    check_fill("uniform", shape, &[("low", low), ("high", high)])?;
    Ok(uniform(shape, low, high, rng))
}

/// [`normal`] for shapes and parameters from user input: errors (naming the
/// op) when `shape` is too large to allocate or `mean`/`std` is NaN or
/// infinite; otherwise the same values as [`normal`].
///
/// ```
/// use neurite_tensor::random::{normal, rng_from_seed, try_normal};
/// let x = try_normal(&[2, 2], 0.0, 1.0, &mut rng_from_seed(5))?;
/// assert_eq!(x, normal(&[2, 2], 0.0, 1.0, &mut rng_from_seed(5)));
/// assert!(try_normal(&[1 << 62, 4], 0.0, 1.0, &mut rng_from_seed(5)).is_err());
/// assert!(try_normal(&[2], 0.0, f32::INFINITY, &mut rng_from_seed(5)).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn try_normal(shape: &[usize], mean: f32, std: f32, rng: &mut impl Rng) -> Result<Tensor> {
    check_fill("normal", shape, &[("mean", mean), ("std", std)])?;
    Ok(normal(shape, mean, std, rng))
}

/// [`truncated_normal`] for shapes and parameters from user input: errors
/// (naming the op) when `shape` is too large to allocate or `mean`/`std` is
/// NaN or infinite; otherwise the same values as [`truncated_normal`].
///
/// ```
/// use neurite_tensor::random::{rng_from_seed, truncated_normal, try_truncated_normal};
/// let x = try_truncated_normal(&[4], 0.0, 0.05, &mut rng_from_seed(5))?;
/// assert_eq!(x, truncated_normal(&[4], 0.0, 0.05, &mut rng_from_seed(5)));
/// assert!(try_truncated_normal(&[0, usize::MAX], 0.0, 1.0, &mut rng_from_seed(5)).is_err());
/// assert!(try_truncated_normal(&[4], f32::NAN, 1.0, &mut rng_from_seed(5)).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn try_truncated_normal(shape: &[usize], mean: f32, std: f32, rng: &mut impl Rng) -> Result<Tensor> {
    check_fill("truncated_normal", shape, &[("mean", mean), ("std", std)])?;
    Ok(truncated_normal(shape, mean, std, rng))
}

/// Values drawn per parallel task by [`dropout_multipliers`].
const DROPOUT_CHUNK: usize = 1 << 15;

/// Inverted-dropout multipliers for `len` elements: each is `0` with
/// probability `rate`, else `1 / (1 - rate)`. Element `i` is kept when the
/// `i`-th `rng.random::<f32>()` is `>= rate` — exactly the mask of a loop
/// drawing one value per element — but the uniforms are drawn in bulk, in
/// parallel over disjoint parts of the stream (so the result does not depend
/// on the thread count), and `rng` ends after the `len` draws.
///
/// # Panics
/// If `rate` is not in `[0, 1)` (callers check it and return an error).
///
/// ```
/// use neurite_tensor::random::{dropout_multipliers, rng_from_seed};
/// use rand::Rng;
/// let m = dropout_multipliers(100_000, 0.25, &mut rng_from_seed(1));
/// let mut rng = rng_from_seed(1);
/// let expected: Vec<f32> = (0..100_000)
///     .map(|_| if rng.random::<f32>() >= 0.25 { 1.0 / 0.75 } else { 0.0 })
///     .collect();
/// assert_eq!(m, expected);
/// ```
pub fn dropout_multipliers(len: usize, rate: f32, rng: &mut Generator) -> Vec<f32> {
    assert!((0.0..1.0).contains(&rate), "dropout rate {rate} not in [0, 1)");
    let keep = 1.0 / (1.0 - rate);
    let threshold = keep_threshold(rate);
    if len <= DROPOUT_CHUNK {
        let mut out = vec![0.0f32; len];
        write_multipliers(&mut out, threshold, keep, rng);
        return out;
    }
    let start = rng.word_pos();
    let base = &*rng;
    // Each task fills its own chunk (in cache) rather than one zeroing pass
    // over the whole buffer first.
    let out = crate::fill::par_build(len, DROPOUT_CHUNK, 0.0f32, |i, part| {
        let mut g = base.clone();
        g.set_word_pos(start + (i * DROPOUT_CHUNK) as u128);
        write_multipliers(part, threshold, keep, &mut g);
    });
    rng.set_word_pos(start + len as u128);
    out
}

/// The smallest `t` with `t * 2^-24 >= rate`: a uniform drawn from a word
/// `bits` (`random::<f32>()` is `(bits >> 8) * 2^-24`, exactly) is `>= rate`
/// exactly when `bits >> 8 >= t`, so the keep decision is one integer
/// comparison on the raw word.
fn keep_threshold(rate: f32) -> u32 {
    // rate * 2^24 is exact in f64 (an f32 times a power of two) and <= 2^24.
    (f64::from(rate) * f64::from(1u32 << 24)).ceil() as u32
}

/// Words drawn at a time by [`write_multipliers`].
const WORDS: usize = 512;

/// Writes `part[i] = keep` when the `i`-th word `w` of `rng` has
/// `w >> 8 >= threshold`, else `0`.
fn write_multipliers(part: &mut [f32], threshold: u32, keep: f32, rng: &mut Generator) {
    let mut words = [0u32; WORDS];
    for chunk in part.chunks_mut(WORDS) {
        let words = &mut words[..chunk.len()];
        // `fill` on `[u32]` gives the words `next_u32` would, in order
        // (as `Generator::fill_uniform_f32` reads them).
        rng.fill(words);
        for (v, &bits) in chunk.iter_mut().zip(words.iter()) {
            *v = if bits >> 8 >= threshold { keep } else { 0.0 };
        }
    }
}

/// [`dropout_multipliers`] as a tensor of `shape`.
///
/// ```
/// use neurite_tensor::random::{dropout_mask, rng_from_seed};
/// let m = dropout_mask(&[2, 3], 0.5, &mut rng_from_seed(0));
/// assert_eq!(m.shape(), &[2, 3]);
/// assert!(m.iter().all(|&v| v == 0.0 || v == 2.0));
/// ```
pub fn dropout_mask(shape: &[usize], rate: f32, rng: &mut Generator) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_shape_vec(shape, dropout_multipliers(len, rate, rng))
        .expect("the multipliers have the shape's element count")
}

#[cfg(test)]
mod keep_threshold_tests {
    use super::keep_threshold;
    use proptest::prelude::*;

    /// `random::<f32>()` of a word whose top 24 bits are `k`.
    fn unit(k: u32) -> f32 {
        k as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// The integer decision is the float one: `unit(k) >= rate` exactly
    /// when `k >= keep_threshold(rate)`, checked on both sides of the
    /// threshold (random rates never land a word there).
    fn check(rate: f32) {
        let t = keep_threshold(rate);
        assert!(t <= 1 << 24, "rate {rate}: threshold {t}");
        if t < 1 << 24 {
            assert!(unit(t) >= rate, "rate {rate}: unit({t}) = {} < rate", unit(t));
        }
        if t > 0 {
            assert!(unit(t - 1) < rate, "rate {rate}: unit({}) >= rate", t - 1);
        }
    }

    #[test]
    fn exact_grid_rates_and_their_neighbours() {
        for k in [0u32, 1, 2, 3, 1 << 20, 1 << 22, 1 << 23, (1 << 24) - 1] {
            let rate = unit(k);
            check(rate);
            check(f32::from_bits(rate.to_bits() + 1));
            if rate > 0.0 {
                check(f32::from_bits(rate.to_bits() - 1));
            }
        }
        for rate in [0.1f32, 0.25, 0.5, 0.9, 0.99999994] {
            check(rate);
        }
    }

    proptest! {
        #[test]
        fn any_rate_in_zero_one(bits in 0u32..0x3f80_0000) {
            check(f32::from_bits(bits));
        }
    }
}
