//! A vectorizable `exp` and the softmax of a row built on it.
//!
//! [`exp_approx`] is Cephes' `expf`: `x = n·ln 2 + r` with `|r| <= ln 2 / 2`,
//! a degree-7 polynomial for `e^r`, and `2^n` put into the exponent bits. It
//! has no branches and no calls, so loops over it vectorize (libm's `expf`
//! is a call per element); it is within 2 ulp of the exact value on
//! `[-87.33, 88.37]` (tested against `f64::exp`). Below that range it returns
//! 0 (where `expf` would return a subnormal, which neurite flushes to zero by
//! default anyway, see [`crate::denormals`]), above it `+inf`; NaN stays NaN.
//!
//! [`softmax_row_in_place`] runs it compiled for the CPU's best
//! [`SimdLevel`](crate::simd::SimdLevel).
//!
//! ```
//! let mut row = [1.0f32, 2.0, 3.0];
//! neurite_tensor::exp::softmax_row_in_place(&mut row);
//! let exact: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|v| (v - 3.0f64).exp() / (1.0 + (-1.0f64).exp() + (-2.0f64).exp())).collect();
//! assert!(row.iter().zip(&exact).all(|(a, b)| (*a as f64 - b).abs() < 1e-7));
//! ```

/// The smallest argument with a normal result (`e^x >= 2^-126`).
const MIN_ARG: f32 = -87.336_54;
/// The largest argument whose `n` fits the exponent (`n <= 127`).
const MAX_ARG: f32 = 88.376_26;
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// 1.5·2^23: adding it rounds to an integer (to nearest even) in the low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;
/// `ln 2` split in two (Cephes' `C1`, `C2`): `n * LN2_HI` is exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Lanes of the max and sum accumulators (one AVX-512 register).
const LANES: usize = 16;

/// `e^x` within 2 ulp on `[-87.33, 88.37]`, 0 below, `+inf` above, NaN for
/// NaN; written without branches or calls so that loops over it vectorize.
///
/// ```
/// use neurite_tensor::exp::exp_approx;
/// assert_eq!(exp_approx(0.0), 1.0);
/// assert!((exp_approx(1.0) - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
/// assert_eq!(exp_approx(-1e9), 0.0);
/// assert_eq!(exp_approx(100.0), f32::INFINITY);
/// assert!(exp_approx(f32::NAN).is_nan());
/// ```
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    // Clamped so that `n` stays in [-128, 130] (NaN passes: comparisons are false).
    let xc = if x < -88.5 { -88.5 } else { x };
    let xc = if xc > 89.5 { 89.5 } else { xc };
    // Rounding by the 1.5·2^23 trick: `t`'s low mantissa bits are `n`, so
    // no float-to-int conversion (Rust's is saturating, and does not vectorize).
    let t = xc * LOG2_E + ROUNDER;
    let n = t - ROUNDER;
    let n_bits = t.to_bits().wrapping_sub(ROUNDER.to_bits());
    let r = xc - n * LN2_HI - n * LN2_LO;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let p = p * r2 + r + 1.0;
    // 2^n in the exponent bits; `n` is in [-126, 127] whenever the result is used.
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    let y = p * scale;
    let y = if x < MIN_ARG { 0.0 } else { y };
    if x > MAX_ARG {
        f32::INFINITY
    } else {
        y
    }
}

crate::simd_dispatch! {
    /// Softmax of `row` in place: `e^(x - max) / Σ e^(x - max)` with
    /// [`exp_approx`] (a row whose maximum is `-inf` is shifted by 0 and
    /// becomes NaN, as `0 / 0`; a NaN makes the row NaN). Empty rows are
    /// left alone.
    ///
    /// ```
    /// let mut row = [0.0f32, -1e9, 0.0];
    /// neurite_tensor::exp::softmax_row_in_place(&mut row);
    /// assert_eq!(row, [0.5, 0.0, 0.5]);
    /// ```
    pub fn softmax_row_in_place(row: &mut [f32]);
    /// [`softmax_row_in_place`] at a chosen [`SimdLevel`](crate::simd::SimdLevel)
    /// (clamped to what the CPU has), for tests that compare the variants.
    ///
    /// ```
    /// use neurite_tensor::simd::SimdLevel;
    /// let mut a = [1.0f32, 2.0];
    /// let mut b = a;
    /// neurite_tensor::exp::softmax_row_in_place_at(SimdLevel::Portable, &mut a);
    /// neurite_tensor::exp::softmax_row_in_place(&mut b);
    /// assert!((a[0] - b[0]).abs() < 1e-7);
    /// ```
    pub fn softmax_row_in_place_at(level);
    avx512 => softmax_body(row),
    avx2 => softmax_body(row),
    portable => softmax_body(row),
}

#[inline(always)]
fn softmax_body(row: &mut [f32]) {
    if row.is_empty() {
        return;
    }
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    let mut max = lanes
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    for &v in chunks.remainder() {
        max = if v > max { v } else { max };
    }
    let shift = if max == f32::NEG_INFINITY { 0.0 } else { max };
    let mut sums = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (s, v) in sums.iter_mut().zip(c.iter_mut()) {
            let e = exp_approx(*v - shift);
            *v = e;
            *s += e;
        }
    }
    let mut sum: f32 = sums.iter().sum();
    for v in chunks.into_remainder() {
        let e = exp_approx(*v - shift);
        *v = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}
