//! Per-image inner loops of 2-d max pooling, forward and backward.
//!
//! [`crate::pool`] checks shapes and splits the batch over rayon; this file
//! holds what runs for one image. The forward walks each output pixel's
//! channels in blocks of [`LANES`] kept in local arrays, so that the
//! compare-and-select over the window compiles to vector compares and blends
//! instead of per-lane conditional stores (the first version spent 4 ns per
//! input element there). On x86-64 the loops are compiled a second time with
//! AVX2 enabled and chosen at run time.

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

/// Max pooling of one image `x` (`H*W*C`, row-major) into `y` (`OH*OW*C`),
/// writing each output's argmax (flat index within the image) into `idx`.
/// Padded cells never win, a NaN wins (once), ties go to the first cell.
pub(crate) fn max_pool_image(x: &[f32], y: &mut [f32], idx: &mut [u32], g: &ImageWindows) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { max_pool_image_avx2(x, y, idx, g) };
    }
    max_pool_image_portable(x, y, idx, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn max_pool_image_avx2(x: &[f32], y: &mut [f32], idx: &mut [u32], g: &ImageWindows) {
    max_pool_image_portable(x, y, idx, g)
}

#[inline(always)]
fn max_pool_image_portable(x: &[f32], y: &mut [f32], idx: &mut [u32], g: &ImageWindows) {
    let c = g.channels;
    let mut o = 0;
    for rows in g.rows {
        for cols in g.cols {
            let mut c0 = 0;
            while c0 + LANES <= c {
                let (best, arg) = window_max_block(x, rows, cols, g.in_w, c, c0);
                y[o + c0..o + c0 + LANES].copy_from_slice(&best);
                idx[o + c0..o + c0 + LANES].copy_from_slice(&arg);
                c0 += LANES;
            }
            for ch in c0..c {
                let (best, arg) = window_max_scalar(x, rows, cols, g.in_w, c, ch);
                y[o + ch] = best;
                idx[o + ch] = arg;
            }
            o += c;
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

#[inline(always)]
fn window_max_scalar(
    x: &[f32],
    rows: &Range<usize>,
    cols: &Range<usize>,
    in_w: usize,
    c: usize,
    ch: usize,
) -> (f32, u32) {
    let start = (rows.start * in_w + cols.start) * c + ch;
    let (mut best, mut arg) = (x[start], start);
    for h in rows.clone() {
        for w in cols.clone() {
            let i = (h * in_w + w) * c + ch;
            if takes_over(x[i], best) {
                (best, arg) = (x[i], i);
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
