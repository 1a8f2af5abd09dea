//! Forward convolution with few taps (`KH*KW*C <= MAX_TAPS`, e.g. the 3x3x1
//! first layer of an MNIST CNN) straight from the input image, without im2col.
//!
//! For such a kernel, im2col copies runs of `KW*C` floats (3 for a 3x3x1
//! kernel) and the general GEMM then packs the `[rows, 9]` matrix again and
//! tiles the product along the rows: the copies cost more than the
//! arithmetic. Here each tile of a few neighbouring output pixels of one
//! output row reads its taps directly from the image (`x[base(p) + offset(k)]`,
//! the offsets computed once) and keeps accumulators for up to 32 channels
//! of each pixel in registers: per tap, one broadcast of the pixel's value
//! and one FMA per [`BLOCK`] channels against the kernel row `W[k]`.
//! A padded input is first copied into a zero-bordered scratch image.
//!
//! The body is compiled three times (AVX-512F + FMA, AVX2 + FMA, portable,
//! chosen at run time); the two FMA builds give identical results, the
//! portable one differs only in rounding (separate multiply and add).

use crate::conv::im2col::ConvGeometry;

/// Largest `KH*KW*C` taken by [`conv_images`].
pub(crate) const MAX_TAPS: usize = 32;
/// Output channels per accumulator block (one `__m512`, two `__m256`).
const BLOCK: usize = 16;

/// Whether [`conv_images`] handles this convolution: few taps, output
/// channels a multiple of [`BLOCK`], and not a 1x1 stride-1 convolution
/// (whose input already is the GEMM operand).
pub(crate) fn applies(g: &ConvGeometry, filters: usize) -> bool {
    g.patch_len() <= MAX_TAPS && filters > 0 && filters.is_multiple_of(BLOCK) && !g.is_pointwise()
}

/// Extent `(height, width)` of the (padded) image the taps read.
fn padded_extent(g: &ConvGeometry) -> (usize, usize) {
    let need_h = (g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
    let need_w = (g.out_w - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w + 1;
    (need_h.max(g.pad_top + g.in_h), need_w.max(g.pad_left + g.in_w))
}

/// Floats of scratch [`conv_images`] needs (a padded image, or none).
pub(crate) fn scratch_len(g: &ConvGeometry) -> usize {
    let (h, w) = padded_extent(g);
    if (h, w) == (g.in_h, g.in_w) {
        0
    } else {
        h * w * g.channels
    }
}

/// `out` (`[count * OH*OW, F]`) = the convolution of the `count` images in
/// `images` (each `H*W*C`) with `kernel` (`[KH*KW*C, F]` row-major), without
/// bias. `scratch` holds at least [`scratch_len`] floats. Needs [`applies`].
pub(crate) fn conv_images(
    images: &[f32],
    g: &ConvGeometry,
    kernel: &[f32],
    out: &mut [f32],
    scratch: &mut [f32],
) {
    let out_img = g.rows_per_image() * (kernel.len() / g.patch_len().max(1));
    for_each_image(images, g, kernel, scratch, out, out_img, dispatch);
}

/// Whether [`conv_max_pool_images`] can follow the convolution with this
/// pooling: 2x2 windows, stride 2, no padding (the usual CNN pooling).
pub(crate) fn pools_2x2(pool: &crate::conv::pool::Pool2dParams) -> bool {
    pool.pool_size == (2, 2) && pool.strides == (2, 2) && pool.padding == crate::padding::Padding::Valid
}

/// `out` (`[count * (OH/2)*(OW/2), F]`) = the 2x2, stride-2 max pooling of
/// [`conv_images`]'s output, taken in registers: each tile computes two
/// output rows and pools them before anything is stored. The values equal
/// pooling the stored convolution (the same sums, compared in window order
/// with ties kept on the first cell) unless it holds a NaN.
pub(crate) fn conv_max_pool_images(
    images: &[f32],
    g: &ConvGeometry,
    kernel: &[f32],
    out: &mut [f32],
    scratch: &mut [f32],
) {
    let f = kernel.len() / g.patch_len().max(1);
    let out_img = (g.out_h / 2) * (g.out_w / 2) * f;
    for_each_image(images, g, kernel, scratch, out, out_img, dispatch_pooled);
}

/// Runs `body` on each image (zero-bordered into `scratch` when padded) and
/// its `out_img` floats of `out`.
fn for_each_image(
    images: &[f32],
    g: &ConvGeometry,
    kernel: &[f32],
    scratch: &mut [f32],
    out: &mut [f32],
    out_img: usize,
    body: fn(&ImagePlan, &mut [f32]),
) {
    let (k, f, img) = (g.patch_len(), kernel.len() / g.patch_len().max(1), g.image_len());
    assert!(
        applies(g, f) && kernel.len() == k * f,
        "direct conv needs few taps and F % 16 == 0"
    );
    let count = out.len() / out_img.max(1);
    assert!(images.len() >= count * img && out.len() == count * out_img);
    let (ph, pw) = padded_extent(g);
    let c = g.channels;
    let offsets: Vec<usize> = (0..g.kernel_h)
        .flat_map(|i| {
            (0..g.kernel_w).flat_map(move |j| {
                (0..c).map(move |ch| ((i * g.dilation_h) * pw + j * g.dilation_w) * c + ch)
            })
        })
        .collect();
    let padded = scratch_len(g) > 0;
    for (image, out) in images.chunks_exact(img).zip(out.chunks_exact_mut(out_img.max(1))) {
        let src: &[f32] = if padded {
            let buf = &mut scratch[..ph * pw * c];
            buf.fill(0.0);
            for (h, row) in image.chunks_exact(g.in_w * c).enumerate() {
                let at = ((h + g.pad_top) * pw + g.pad_left) * c;
                buf[at..at + row.len()].copy_from_slice(row);
            }
            buf
        } else {
            image
        };
        let plan = ImagePlan {
            src,
            offsets: &offsets,
            kernel,
            f,
            pw,
            g,
        };
        body(&plan, out);
    }
}

/// One image's operands.
struct ImagePlan<'a> {
    src: &'a [f32],
    offsets: &'a [usize],
    kernel: &'a [f32],
    f: usize,
    pw: usize,
    g: &'a ConvGeometry,
}

crate::simd_dispatch! {
    /// [`image_body`] with the register tile of the CPU's vector width.
    fn dispatch(p: &ImagePlan, out: &mut [f32]);
    // 6 pixels x 32 channels: twelve of the 32 `zmm` accumulate.
    avx512 => image_body::<6, true>(p, out),
    // 3 pixels x 32 channels: twelve of the 16 `ymm` accumulate.
    avx2 => image_body::<3, true>(p, out),
    portable => image_body::<4, false>(p, out),
}

/// Every output row of one image, in tiles of `R` pixels (then single pixels).
#[inline(always)]
fn image_body<const R: usize, const FMA: bool>(p: &ImagePlan, out: &mut [f32]) {
    let g = p.g;
    let c = g.channels;
    for oh in 0..g.out_h {
        let row_base = oh * g.stride_h * p.pw * c;
        let out_row = &mut out[oh * g.out_w * p.f..(oh + 1) * g.out_w * p.f];
        let mut ow = 0;
        while ow + R <= g.out_w {
            tile::<R, FMA>(p, row_base, ow, out_row);
            ow += R;
        }
        while ow < g.out_w {
            tile::<1, FMA>(p, row_base, ow, out_row);
            ow += 1;
        }
    }
}

/// Output pixels `ow..ow + R` of one output row, every channel, two blocks
/// of [`BLOCK`] channels at a time (each tap's value feeds both).
#[inline(always)]
fn tile<const R: usize, const FMA: bool>(p: &ImagePlan, row_base: usize, ow: usize, out_row: &mut [f32]) {
    let (c, f) = (p.g.channels, p.f);
    let bases: [usize; R] = std::array::from_fn(|r| row_base + (ow + r) * p.g.stride_w * c);
    let mut fb = 0;
    while fb + 2 * BLOCK <= f {
        blocks::<R, 2, FMA>(p, &bases, fb, ow, out_row);
        fb += 2 * BLOCK;
    }
    if fb < f {
        blocks::<R, 1, FMA>(p, &bases, fb, ow, out_row);
    }
}

/// Channels `fb..fb + NB * BLOCK` of the tile's `R` pixels.
#[inline(always)]
fn blocks<const R: usize, const NB: usize, const FMA: bool>(
    p: &ImagePlan,
    bases: &[usize; R],
    fb: usize,
    ow: usize,
    out_row: &mut [f32],
) {
    let f = p.f;
    // Offsets grow with the tap index, so the last tap of the last pixel is the furthest read.
    let last = bases[R - 1] + p.offsets.last().copied().unwrap_or(0);
    assert!(last < p.src.len(), "direct conv tap outside the image");
    assert!(p.kernel.len() >= (p.offsets.len() - 1) * f + fb + NB * BLOCK);
    let (src, kernel) = (p.src.as_ptr(), p.kernel.as_ptr());
    let mut acc = [[[0.0f32; BLOCK]; NB]; R];
    for (k, &off) in p.offsets.iter().enumerate() {
        // SAFETY: `k * f + fb + NB * BLOCK <= kernel.len()` (asserted above
        // for the last tap, and taps grow), so both blocks lie inside it.
        let w: [[f32; BLOCK]; NB] =
            std::array::from_fn(|b| unsafe { *kernel.add(k * f + fb + b * BLOCK).cast() });
        for (acc, &base) in acc.iter_mut().zip(bases) {
            // SAFETY: base + off <= last < src.len() (asserted above).
            let a = unsafe { *src.add(base + off) };
            for (acc, w) in acc.iter_mut().zip(&w) {
                for (s, &wv) in acc.iter_mut().zip(w) {
                    *s = if FMA { a.mul_add(wv, *s) } else { a * wv + *s };
                }
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (b, acc) in acc.iter().enumerate() {
            out_row[(ow + r) * f + fb + b * BLOCK..][..BLOCK].copy_from_slice(acc);
        }
    }
}

crate::simd_dispatch! {
    /// [`pooled_body`] with the register tile of the CPU's vector width.
    fn dispatch_pooled(p: &ImagePlan, out: &mut [f32]);
    // 2 rows x 6 pixels x 32 channels: 24 of the 32 `zmm` accumulate.
    avx512 => pooled_body::<6, 2, true>(p, out),
    // 2 rows x 2 pixels x 16 channels: 8 of the 16 `ymm` accumulate.
    avx2 => pooled_body::<2, 1, true>(p, out),
    portable => pooled_body::<2, 1, false>(p, out),
}

/// Every pooled row of one image: conv rows `2ph` and `2ph + 1` in tiles of
/// `R` pixels (`R / 2` pooled outputs), then single pooled outputs.
#[inline(always)]
fn pooled_body<const R: usize, const NB: usize, const FMA: bool>(p: &ImagePlan, out: &mut [f32]) {
    let g = p.g;
    let (c, f) = (g.channels, p.f);
    let (pooled_h, pooled_w) = (g.out_h / 2, g.out_w / 2);
    for ph in 0..pooled_h {
        let rows = [2 * ph, 2 * ph + 1].map(|oh| oh * g.stride_h * p.pw * c);
        let out_row = &mut out[ph * pooled_w * f..(ph + 1) * pooled_w * f];
        let mut q = 0;
        while q + R / 2 <= pooled_w {
            pooled_tile::<R, NB, FMA>(p, rows, q, out_row);
            q += R / 2;
        }
        while q < pooled_w {
            pooled_tile::<2, 1, FMA>(p, rows, q, out_row);
            q += 1;
        }
    }
}

/// Pooled outputs `q..q + R/2` of one pooled row, every channel.
#[inline(always)]
fn pooled_tile<const R: usize, const NB: usize, const FMA: bool>(
    p: &ImagePlan,
    rows: [usize; 2],
    q: usize,
    out_row: &mut [f32],
) {
    let (c, f) = (p.g.channels, p.f);
    let bases = rows.map(|rb| -> [usize; R] { std::array::from_fn(|r| rb + (2 * q + r) * p.g.stride_w * c) });
    let mut fb = 0;
    while fb + NB * BLOCK <= f {
        pooled_blocks::<R, NB, FMA>(p, &bases, fb, q, out_row);
        fb += NB * BLOCK;
    }
    while fb < f {
        pooled_blocks::<R, 1, FMA>(p, &bases, fb, q, out_row);
        fb += BLOCK;
    }
}

/// Channels `fb..fb + NB * BLOCK` of the tile: both rows' sums, then the
/// maximum of each 2x2 window in window order (`a` replaced only by a larger `b`).
#[inline(always)]
fn pooled_blocks<const R: usize, const NB: usize, const FMA: bool>(
    p: &ImagePlan,
    bases: &[[usize; R]; 2],
    fb: usize,
    q: usize,
    out_row: &mut [f32],
) {
    let f = p.f;
    let last = bases[1][R - 1] + p.offsets.last().copied().unwrap_or(0);
    assert!(last < p.src.len(), "direct conv tap outside the image");
    assert!(bases[0][R - 1] <= bases[1][R - 1]);
    assert!(p.kernel.len() >= (p.offsets.len() - 1) * f + fb + NB * BLOCK);
    let (src, kernel) = (p.src.as_ptr(), p.kernel.as_ptr());
    let mut acc = [[[[0.0f32; BLOCK]; NB]; R]; 2];
    for (k, &off) in p.offsets.iter().enumerate() {
        // SAFETY: `k * f + fb + NB * BLOCK <= kernel.len()` (asserted above
        // for the last tap, and taps grow), so both blocks lie inside it.
        let mut w = [[0.0f32; BLOCK]; NB];
        for (b, w) in w.iter_mut().enumerate() {
            *w = unsafe { *kernel.add(k * f + fb + b * BLOCK).cast() };
        }
        for (acc, bases) in acc.iter_mut().zip(bases) {
            for (acc, &base) in acc.iter_mut().zip(bases) {
                // SAFETY: base + off <= last < src.len() (asserted above; the
                // second row's bases are the larger).
                let a = unsafe { *src.add(base + off) };
                for (acc, w) in acc.iter_mut().zip(&w) {
                    for (s, &wv) in acc.iter_mut().zip(w) {
                        *s = if FMA { a.mul_add(wv, *s) } else { a * wv + *s };
                    }
                }
            }
        }
    }
    for j in 0..R / 2 {
        for b in 0..NB {
            let mut best = acc[0][2 * j][b];
            for cell in [&acc[0][2 * j + 1][b], &acc[1][2 * j][b], &acc[1][2 * j + 1][b]] {
                for (m, &v) in best.iter_mut().zip(cell) {
                    *m = if v > *m { v } else { *m };
                }
            }
            out_row[(q + j) * f + fb + b * BLOCK..][..BLOCK].copy_from_slice(&best);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::conv2d::Conv2dParams;
    use crate::padding::Padding;
    use proptest::prelude::*;

    /// The convolution written out as its definition, in f64.
    fn reference(x: &[f32], g: &ConvGeometry, kernel: &[f32], f: usize) -> Vec<f64> {
        let c = g.channels;
        let mut out = vec![0.0f64; g.batch * g.rows_per_image() * f];
        for n in 0..g.batch {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    for i in 0..g.kernel_h {
                        for j in 0..g.kernel_w {
                            let h = (oh * g.stride_h + i * g.dilation_h) as isize - g.pad_top as isize;
                            let w = (ow * g.stride_w + j * g.dilation_w) as isize - g.pad_left as isize;
                            if h < 0 || w < 0 || h >= g.in_h as isize || w >= g.in_w as isize {
                                continue;
                            }
                            for ch in 0..c {
                                let xv = x[((n * g.in_h + h as usize) * g.in_w + w as usize) * c + ch] as f64;
                                for o in 0..f {
                                    let kv = kernel[((i * g.kernel_w + j) * c + ch) * f + o] as f64;
                                    out[((n * g.out_h + oh) * g.out_w + ow) * f + o] += xv * kv;
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// Every stride, dilation and padding: the f64 definition within f32
        /// rounding, on both the dispatched and the portable body.
        #[test]
        fn matches_the_definition(
            n in 1usize..4, h in 1usize..12, w in 1usize..12, c in 1usize..4, blocks in 1usize..4,
            kh in 1usize..4, kw in 1usize..4, stride in 1usize..3, dil in 1usize..3, same: bool, seed in 0u64..1000,
        ) {
            let p = Conv2dParams {
                strides: (stride, stride),
                padding: if same { Padding::Same } else { Padding::Valid },
                dilation: (dil, dil),
            };
            let Ok(g) = ConvGeometry::new(&[n, h, w, c], (kh, kw), &p) else {
                return Err(TestCaseError::reject("invalid geometry"));
            };
            let f = blocks * BLOCK;
            prop_assume!(applies(&g, f));
            let val = |i: usize, s: u64| ((i as u64 * 2654435761 + s * 97) % 17) as f32 / 8.0 - 1.0;
            let x: Vec<f32> = (0..n * h * w * c).map(|i| val(i, seed)).collect();
            let kernel: Vec<f32> = (0..g.patch_len() * f).map(|i| val(i, seed + 1)).collect();
            let want = reference(&x, &g, &kernel, f);
            let mut scratch = vec![f32::NAN; scratch_len(&g)];
            let mut out = vec![f32::NAN; want.len()];
            conv_images(&x, &g, &kernel, &mut out, &mut scratch);
            for (a, e) in out.iter().zip(&want) {
                prop_assert!((*a as f64 - e).abs() <= 1e-4 * (1.0 + e.abs()), "{} vs {}", a, e);
            }
            // Pooled in registers: bit for bit the 2x2 stride-2 maximum of
            // `out` in window order (a larger value replaces, ties keep the first).
            let (pooled_h, pooled_w) = (g.out_h / 2, g.out_w / 2);
            let mut pooled = vec![f32::NAN; n * pooled_h * pooled_w * f];
            conv_max_pool_images(&x, &g, &kernel, &mut pooled, &mut scratch);
            for b in 0..n {
                for ph in 0..pooled_h {
                    for pw_ in 0..pooled_w {
                        for o in 0..f {
                            let at = |dh: usize, dw: usize| out[((b * g.out_h + 2 * ph + dh) * g.out_w + 2 * pw_ + dw) * f + o];
                            let mut best = at(0, 0);
                            for v in [at(0, 1), at(1, 0), at(1, 1)] {
                                if v > best {
                                    best = v;
                                }
                            }
                            let got = pooled[((b * pooled_h + ph) * pooled_w + pw_) * f + o];
                            prop_assert_eq!(got.to_bits(), best.to_bits());
                        }
                    }
                }
            }
            // The portable body, image by image.
            let (ph, pw) = padded_extent(&g);
            let out_img = g.rows_per_image() * f;
            for (i, o) in out.chunks_exact(out_img).enumerate() {
                let image = &x[i * g.image_len()..][..g.image_len()];
                let mut buf = vec![0.0f32; ph * pw * c];
                for (hh, row) in image.chunks_exact(w * c).enumerate() {
                    let at = ((hh + g.pad_top) * pw + g.pad_left) * c;
                    buf[at..at + row.len()].copy_from_slice(row);
                }
                let offsets: Vec<usize> = (0..kh)
                    .flat_map(|a| (0..kw).flat_map(move |b| (0..c).map(move |ch| ((a * dil) * pw + b * dil) * c + ch)))
                    .collect();
                let plan = ImagePlan { src: &buf, offsets: &offsets, kernel: &kernel, f, pw, g: &g };
                let mut portable = vec![0.0f32; out_img];
                image_body::<4, false>(&plan, &mut portable);
                for (a, b) in portable.iter().zip(o) {
                    prop_assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()));
                }
            }
        }
    }
}
