//! Per-image inner loops of 2-d max pooling, forward and backward.
//!
//! [`crate::conv::pool`] checks shapes and splits the batch over rayon; this file
//! holds what runs for one image. The forward walks each output pixel's
//! channels in blocks of [`LANES`] kept in local arrays, so that the
//! compare-and-select over the window compiles to vector compares and blends
//! instead of per-lane conditional stores (the first version spent 4 ns per
//! input element there). On x86-64 with AVX2 and FMA an intrinsics version
//! does the same on 8 channels per vector register (chosen at run time by
//! [`crate::simd_dispatch!`]). The
//! argmax is optional: inference does not need it.

use std::ops::Range;

/// Channels handled together in the forward's inner loop.
const LANES: usize = 16;

/// Geometry of one image's pooling: window ranges per axis (clipped to the
/// input), input width and channel count.
pub(crate) struct ImageWindows<'a> {
    pub rows: &'a [Range<usize>],
    pub cols: &'a [Range<usize>],
    pub in_w: usize,
    pub channels: usize,
}

crate::simd_dispatch! {
    /// Max pooling of one image `x` (`H*W*C`, row-major) into `y` (`OH*OW*C`),
    /// writing each output's argmax (flat index within the image) into `idx`
    /// when given. Padded cells never win, a NaN wins (once), ties go to the
    /// first cell.
    pub(crate) fn max_pool_image(x: &[f32], y: &mut [f32], idx: Option<&mut [u32]>, g: &ImageWindows);
    avx2 => match idx {
        Some(idx) => avx2::max_pool_argmax::<false>(x, y, idx, g, &[]),
        None => avx2::max_pool_values(x, y, g),
    },
    portable => max_pool_image_portable(x, y, idx, g),
}

crate::simd_dispatch! {
    /// [`max_pool_image`] with argmax of `x + bias` (`bias` one value per
    /// channel): the values and argmax are exactly those of adding the bias to
    /// `x` first (which the portable path does, in place) and pooling that.
    ///
    /// Panics unless `bias` has one value per channel.
    pub(crate) fn max_pool_image_biased(x: &mut [f32], y: &mut [f32], idx: &mut [u32], g: &ImageWindows, bias: &[f32]);
    avx2 => {
        assert_eq!(bias.len(), g.channels, "one bias per channel");
        avx2::max_pool_argmax::<true>(x, y, idx, g, bias)
    },
    portable => {
        assert_eq!(bias.len(), g.channels, "one bias per channel");
        for px in x.chunks_exact_mut(g.channels) {
            px.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
        max_pool_image_portable(x, y, Some(idx), g)
    },
}

fn max_pool_image_portable(x: &[f32], y: &mut [f32], mut idx: Option<&mut [u32]>, g: &ImageWindows) {
    let c = g.channels;
    let mut o = 0;
    for rows in g.rows {
        for cols in g.cols {
            let mut c0 = 0;
            while c0 + LANES <= c {
                let (best, arg) = window_max_block(x, rows, cols, g.in_w, c, c0);
                y[o + c0..o + c0 + LANES].copy_from_slice(&best);
                if let Some(idx) = idx.as_deref_mut() {
                    idx[o + c0..o + c0 + LANES].copy_from_slice(&arg);
                }
                c0 += LANES;
            }
            window_max_tail(
                x,
                rows,
                cols,
                g,
                c0,
                &mut y[o..o + c],
                idx.as_deref_mut().map(|i| &mut i[o..o + c]),
            );
            o += c;
        }
    }
}

/// AVX2 version: 8 channels per `__m256`, compare and blend over the window.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::ImageWindows;
    use std::arch::x86_64::*;

    const W: usize = 8;

    /// Blocks of `W` channels whose running maxima and argmax a window pass
    /// keeps in registers (2 x 4 of the 16 `ymm`).
    const ARG_BLOCKS: usize = 4;

    /// [`super::max_pool_image`] with the argmax written to `idx` (`y`'s
    /// length), of `x + bias` when `BIAS` (`bias` one value per channel,
    /// ignored otherwise). As [`max_pool_values`], each output pixel walks
    /// its window once per [`ARG_BLOCKS`] blocks with their compare-and-take
    /// chains side by side, each block keeping the winning cell's offset; a
    /// running sum sends a block whose window may hold a NaN to the exact
    /// lane-by-lane rule.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn max_pool_argmax<const BIAS: bool>(
        x: &[f32],
        y: &mut [f32],
        idx: &mut [u32],
        g: &ImageWindows,
        bias: &[f32],
    ) {
        let c = g.channels;
        let full = c / W;
        let mut o = 0;
        assert!(idx.len() == y.len() && (!BIAS || bias.len() == c));
        for rows in g.rows {
            for cols in g.cols {
                assert_window_inside(x, y, rows, cols, g, o);
                let mut b0 = 0;
                while b0 < full {
                    let nb = (full - b0).min(ARG_BLOCKS);
                    let (yo, io, c0) = (&mut y[o..o + c], &mut idx[o..o + c], b0 * W);
                    // SAFETY (every arm): channels c0 + nb * W <= c of every window
                    // cell lie inside `x` (asserted above); `yo`, `io` (and `bias`
                    // when used) hold c values.
                    unsafe {
                        match nb {
                            1 => argmax_group::<1, BIAS>(x, yo, io, rows, cols, g, c0, bias),
                            2 => argmax_group::<2, BIAS>(x, yo, io, rows, cols, g, c0, bias),
                            3 => argmax_group::<3, BIAS>(x, yo, io, rows, cols, g, c0, bias),
                            _ => argmax_group::<4, BIAS>(x, yo, io, rows, cols, g, c0, bias),
                        }
                    }
                    b0 += nb;
                }
                let bias = if BIAS { Some(&bias[full * W..]) } else { None };
                for (i, ch) in (full * W..c).enumerate() {
                    let b = bias.map(|b| b[i]);
                    let (v, a) = super::window_max_scalar(x, rows, cols, g.in_w, c, ch, b);
                    (y[o + ch], idx[o + ch]) = (v, a);
                }
                o += c;
            }
        }
    }

    /// Channels `c0..c0 + NB * W` of one window's maximum and argmax into `y`
    /// and `idx` (the output pixel's `C` slots).
    ///
    /// # Safety
    /// AVX2 available; `c0 + NB * W <= C`, every cell of the window inside
    /// `x`, and `bias` (when `BIAS`) `C` long.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn argmax_group<const NB: usize, const BIAS: bool>(
        x: &[f32],
        y: &mut [f32],
        idx: &mut [u32],
        rows: &std::ops::Range<usize>,
        cols: &std::ops::Range<usize>,
        g: &ImageWindows,
        c0: usize,
        bias: &[f32],
    ) {
        let c = g.channels;
        let xp = x.as_ptr();
        let load = |at: usize, b: usize| {
            let v = _mm256_loadu_ps(xp.add(at + c0 + b * W));
            if BIAS {
                _mm256_add_ps(v, _mm256_loadu_ps(bias.as_ptr().add(c0 + b * W)))
            } else {
                v
            }
        };
        let first = (rows.start * g.in_w + cols.start) * c;
        let mut best = [_mm256_setzero_ps(); NB];
        let mut arg = [_mm256_castsi256_ps(_mm256_set1_epi32(first as i32)); NB];
        let mut sum = _mm256_setzero_ps();
        for (b, m) in best.iter_mut().enumerate() {
            *m = load(first, b);
            sum = _mm256_add_ps(sum, *m);
        }
        for h in rows.clone() {
            for w in cols.clone() {
                let cell = (h * g.in_w + w) * c;
                if cell == first {
                    continue;
                }
                let at = _mm256_castsi256_ps(_mm256_set1_epi32(cell as i32));
                for b in 0..NB {
                    let v = load(cell, b);
                    // Strictly greater: ties keep the first cell (NaNs go to the fallback).
                    let take = _mm256_cmp_ps::<_CMP_GT_OQ>(v, best[b]);
                    best[b] = _mm256_max_ps(v, best[b]);
                    arg[b] = _mm256_blendv_ps(arg[b], at, take);
                    sum = _mm256_add_ps(sum, v);
                }
            }
        }
        if _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(sum, sum)) == 0 {
            let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            for b in 0..NB {
                _mm256_storeu_ps(y.as_mut_ptr().add(c0 + b * W), best[b]);
                let off = _mm256_add_epi32(lanes, _mm256_set1_epi32((c0 + b * W) as i32));
                let a = _mm256_add_epi32(_mm256_castps_si256(arg[b]), off);
                _mm256_storeu_si256(idx.as_mut_ptr().add(c0 + b * W).cast(), a);
            }
        } else {
            for ch in c0..c0 + NB * W {
                let b = BIAS.then(|| bias[ch]);
                (y[ch], idx[ch]) = super::window_max_scalar(x, rows, cols, g.in_w, c, ch, b);
            }
        }
    }

    /// Asserts that every cell's `C` channels of the window lie inside `x`
    /// (the last one ends at `((rows.end - 1) W + cols.end - 1) C + C`) and the
    /// output pixel at `o` inside `y`: checked once per window, so the vector
    /// loads and stores need no bounds checks.
    #[inline(always)]
    fn assert_window_inside(
        x: &[f32],
        y: &[f32],
        rows: &std::ops::Range<usize>,
        cols: &std::ops::Range<usize>,
        g: &ImageWindows,
        o: usize,
    ) {
        let c = g.channels;
        let last = ((rows.end - 1) * g.in_w + cols.end - 1) * c + c;
        assert!(
            last <= x.len() && o + c <= y.len(),
            "pooling window outside the image"
        );
    }

    /// [`max_pool_image`] without the argmax (inference). Each output pixel
    /// keeps up to 8 registers (64 channels) of running maxima while it
    /// walks its window cell by cell, so the window loop's overhead is paid
    /// once per 64 channels and the registers' `max` chains run side by
    /// side. `max(v, best)` keeps `best` on ties, as the blend does; a
    /// running sum of the cells (NaN if any cell is NaN, or on inf - inf)
    /// sends a block whose window may hold a NaN to the exact lane-by-lane
    /// rule, so the values equal [`max_pool_image`]'s.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn max_pool_values(x: &[f32], y: &mut [f32], g: &ImageWindows) {
        let c = g.channels;
        let full = c / W;
        let mut o = 0;
        for rows in g.rows {
            for cols in g.cols {
                assert_window_inside(x, y, rows, cols, g, o);
                let mut b0 = 0;
                while b0 < full {
                    let nb = (full - b0).min(8);
                    let (yo, c0) = (&mut y[o..o + c], b0 * W);
                    // SAFETY (every arm): channels c0 + nb * W <= c of every window
                    // cell lie inside `x` (asserted above), and `yo` holds c floats.
                    unsafe {
                        match nb {
                            1 => window_group::<1>(x, yo, rows, cols, g, c0),
                            2 => window_group::<2>(x, yo, rows, cols, g, c0),
                            3 => window_group::<3>(x, yo, rows, cols, g, c0),
                            4 => window_group::<4>(x, yo, rows, cols, g, c0),
                            5 => window_group::<5>(x, yo, rows, cols, g, c0),
                            6 => window_group::<6>(x, yo, rows, cols, g, c0),
                            7 => window_group::<7>(x, yo, rows, cols, g, c0),
                            _ => window_group::<8>(x, yo, rows, cols, g, c0),
                        }
                    }
                    b0 += nb;
                }
                super::window_max_tail(x, rows, cols, g, full * W, &mut y[o..o + c], None);
                o += c;
            }
        }
    }

    /// Channels `c0..c0 + NB * W` of one window's maximum into `y` (the
    /// output pixel's `C` slots).
    ///
    /// # Safety
    /// AVX2 available; `c0 + NB * W <= C` and every cell of the window inside `x`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn window_group<const NB: usize>(
        x: &[f32],
        y: &mut [f32],
        rows: &std::ops::Range<usize>,
        cols: &std::ops::Range<usize>,
        g: &ImageWindows,
        c0: usize,
    ) {
        let c = g.channels;
        let xp = x.as_ptr();
        let start = (rows.start * g.in_w + cols.start) * c + c0;
        let mut best = [_mm256_setzero_ps(); NB];
        let mut sum = _mm256_setzero_ps();
        for (b, v) in best.iter_mut().enumerate() {
            *v = _mm256_loadu_ps(xp.add(start + b * W));
            sum = _mm256_add_ps(sum, *v);
        }
        for h in rows.clone() {
            for w in cols.clone() {
                let base = (h * g.in_w + w) * c + c0;
                if base == start {
                    continue;
                }
                for (b, m) in best.iter_mut().enumerate() {
                    let v = _mm256_loadu_ps(xp.add(base + b * W));
                    *m = _mm256_max_ps(v, *m);
                    sum = _mm256_add_ps(sum, v);
                }
            }
        }
        if _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(sum, sum)) == 0 {
            for (b, &m) in best.iter().enumerate() {
                _mm256_storeu_ps(y.as_mut_ptr().add(c0 + b * W), m);
            }
        } else {
            for (ch, out) in y.iter_mut().enumerate().skip(c0).take(NB * W) {
                *out = super::window_max_scalar(x, rows, cols, g.in_w, c, ch, None).0;
            }
        }
    }
}

/// Whether `v` replaces the running maximum `best`: larger, or the first NaN.
#[inline(always)]
#[allow(clippy::eq_op)]
fn takes_over(v: f32, best: f32) -> bool {
    (v > best) | ((v != v) & (best == best))
}

#[inline(always)]
fn window_max_block(
    x: &[f32],
    rows: &Range<usize>,
    cols: &Range<usize>,
    in_w: usize,
    c: usize,
    c0: usize,
) -> ([f32; LANES], [u32; LANES]) {
    let start = (rows.start * in_w + cols.start) * c + c0;
    let mut best: [f32; LANES] = x[start..start + LANES].try_into().expect("LANES floats");
    let mut arg: [u32; LANES] = std::array::from_fn(|l| (start + l) as u32);
    for h in rows.clone() {
        for w in cols.clone() {
            let base = (h * in_w + w) * c + c0;
            if base == start {
                continue;
            }
            let src: &[f32; LANES] = x[base..base + LANES].try_into().expect("LANES floats");
            for l in 0..LANES {
                let take = takes_over(src[l], best[l]);
                best[l] = if take { src[l] } else { best[l] };
                arg[l] = if take { (base + l) as u32 } else { arg[l] };
            }
        }
    }
    (best, arg)
}

/// Channels `c0..` of one output pixel (`y` and `idx` are that pixel's `C` slots), one at a time.
#[inline(always)]
fn window_max_tail(
    x: &[f32],
    rows: &Range<usize>,
    cols: &Range<usize>,
    g: &ImageWindows,
    c0: usize,
    y: &mut [f32],
    mut idx: Option<&mut [u32]>,
) {
    for ch in c0..g.channels {
        let (best, arg) = window_max_scalar(x, rows, cols, g.in_w, g.channels, ch, None);
        y[ch] = best;
        if let Some(idx) = idx.as_deref_mut() {
            idx[ch] = arg;
        }
    }
}

/// One channel's window maximum and argmax, of `x + bias` when given.
#[inline(always)]
fn window_max_scalar(
    x: &[f32],
    rows: &Range<usize>,
    cols: &Range<usize>,
    in_w: usize,
    c: usize,
    ch: usize,
    bias: Option<f32>,
) -> (f32, u32) {
    let at = |i: usize| bias.map_or(x[i], |b| x[i] + b);
    let start = (rows.start * in_w + cols.start) * c + ch;
    let (mut best, mut arg) = (at(start), start);
    for h in rows.clone() {
        for w in cols.clone() {
            let i = (h * in_w + w) * c + ch;
            let v = at(i);
            if takes_over(v, best) {
                (best, arg) = (v, i);
            }
        }
    }
    (best, arg as u32)
}

/// Backward of [`max_pool_image`] for one image: `dx` (the image's input
/// gradient, already zeroed by [`crate::fill::par_build`]) receives each
/// output gradient at its argmax; overlapping windows accumulate.
pub(crate) fn max_pool_image_backward(dx: &mut [f32], grad: &[f32], argmax: &[u32]) {
    for (&i, &v) in argmax.iter().zip(grad) {
        dx[i as usize] += v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranges(n: usize, k: usize, s: usize) -> Vec<Range<usize>> {
        (0..(n - k) / s + 1).map(|o| o * s..o * s + k).collect()
    }

    proptest! {
        /// The portable loops (used where AVX2 is missing) agree with the
        /// dispatched kernel, argmax included, on values with NaNs and ties.
        #[test]
        fn portable_matches_dispatched(
            h in 1usize..7, w in 1usize..7, c in 1usize..40,
            k in 1usize..4, s in 1usize..3, seed in any::<u64>(),
        ) {
            let (kh, kw) = (k.min(h), k.min(w));
            let (rows, cols) = (ranges(h, kh, s), ranges(w, kw, s));
            let g = ImageWindows { rows: &rows, cols: &cols, in_w: w, channels: c };
            let mut state = seed;
            let x: Vec<f32> = (0..h * w * c)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    match state >> 60 {
                        0 => f32::NAN,
                        1 => -0.0,
                        v => (v % 5) as f32 - 2.0,
                    }
                })
                .collect();
            let out = rows.len() * cols.len() * c;
            let (mut y1, mut i1, mut y2, mut i2) = (vec![0.0; out], vec![0; out], vec![0.0; out], vec![0; out]);
            max_pool_image(&x, &mut y1, Some(&mut i1), &g);
            max_pool_image_portable(&x, &mut y2, Some(&mut i2), &g);
            prop_assert_eq!(&i1, &i2);
            let same = |a: &f32, b: &f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            prop_assert!(y1.iter().zip(&y2).all(|(a, b)| same(a, b)));
            // Values only (the inference kernel): the same values, -0.0 vs 0.0 ties included.
            let mut y3 = vec![0.0; out];
            max_pool_image(&x, &mut y3, None, &g);
            prop_assert!(y1.iter().zip(&y3).all(|(a, b)| same(a, b)));
            let mut y4 = vec![0.0; out];
            max_pool_image_portable(&x, &mut y4, None, &g);
            prop_assert!(y1.iter().zip(&y4).all(|(a, b)| same(a, b)));
            // With a per-channel bias: as adding it first, argmax included.
            let bias: Vec<f32> = (0..c).map(|ch| ((ch * 7 + seed as usize) % 5) as f32 * 0.5 - 1.0).collect();
            let mut biased = x.clone();
            for px in biased.chunks_exact_mut(c) {
                px.iter_mut().zip(&bias).for_each(|(v, b)| *v += b);
            }
            let (mut y5, mut i5, mut y6, mut i6) = (vec![0.0; out], vec![0; out], vec![0.0; out], vec![0; out]);
            max_pool_image_biased(&mut x.clone(), &mut y5, &mut i5, &g, &bias);
            max_pool_image_portable(&biased, &mut y6, Some(&mut i6), &g);
            prop_assert_eq!(&i5, &i6);
            prop_assert!(y5.iter().zip(&y6).all(|(a, b)| same(a, b)));
        }
    }
}
