//! Forward 3x3, stride-1, undilated convolution by Winograd's minimal
//! filtering F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional
//! Neural Networks", CVPR 2016, section 4.2): each 4x4 block of outputs comes
//! from a 6x6 input tile with 36 multiplications per (input, output) channel
//! pair instead of 144, so the products shrink 4x (3.4x once an output is
//! rounded up to whole tiles, e.g. 11x11 -> 12x12).
//!
//! With `Bᵀ`, `G`, `Aᵀ` the paper's matrices: `V = Bᵀ d B` per input tile and
//! channel; `U = G g Gᵀ` per kernel channel pair, once per call; for
//! each of the 36 tile positions `ξ` one GEMM `M[ξ] = V[ξ] · U[ξ]`
//! (`[tiles, C] x [C, F]`, all tiles of a task's images at once); then
//! `Y = Aᵀ M A` per tile and output channel, cropped to the output. The
//! result is the convolution up to f32 rounding (the transforms' small
//! integer coefficients add a few ulps over the direct sum). NHWC keeps every
//! transform a loop over contiguous channel vectors, [`CHUNK`] at a time.

use crate::conv::im2col::ConvGeometry;
use ndarray::{ArrayView2, ArrayViewMut2};

/// Channels handled together: one `__m512`, two `__m256`.
const CHUNK: usize = 16;
type Chunk = [f32; CHUNK];

/// Smallest output height and width taken: below it, rounding up to whole
/// 4x4 tiles wastes more than the transforms save.
const MIN_OUTPUT: usize = 8;

/// Whether [`WinogradKernel`] applies: a 3x3 kernel, stride 1, no dilation,
/// input and output channels in whole [`CHUNK`]s, and an output of at least
/// [`MIN_OUTPUT`] on each side.
pub(crate) fn applies(g: &ConvGeometry, filters: usize) -> bool {
    (
        g.kernel_h,
        g.kernel_w,
        g.stride_h,
        g.stride_w,
        g.dilation_h,
        g.dilation_w,
    ) == (3, 3, 1, 1, 1, 1)
        && g.channels.is_multiple_of(CHUNK)
        && filters > 0
        && filters.is_multiple_of(CHUNK)
        && g.out_h.min(g.out_w) >= MIN_OUTPUT
}

/// `G` (6x3) of F(4x4, 3x3).
const G: [[f64; 3]; 6] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// Tile grid and padded-image extent of one image.
struct Tiles {
    rows: usize,
    cols: usize,
    /// Padded image height and width (the tiles' reach, zero beyond the input).
    ph: usize,
    pw: usize,
}

fn tiles(g: &ConvGeometry) -> Tiles {
    let (rows, cols) = (g.out_h.div_ceil(4), g.out_w.div_ceil(4));
    Tiles {
        rows,
        cols,
        ph: (4 * rows + 2).max(g.pad_top + g.in_h),
        pw: (4 * cols + 2).max(g.pad_left + g.in_w),
    }
}

/// The kernel transformed once per call: `U[ξ]` (`[C, F]`) for `ξ` in `0..36`.
pub(crate) struct WinogradKernel {
    u: Vec<f32>,
    c: usize,
    f: usize,
}

impl WinogradKernel {
    /// Transforms `kernel` (`[9*C, F]`, rows in `(kh, kw, c)` order), one
    /// input channel at a time over whole rows of `F` output channels.
    pub(crate) fn new(kernel: ArrayView2<f32>, c: usize) -> Self {
        let f = kernel.ncols();
        let kernel = kernel.as_standard_layout();
        let k = kernel.as_slice().expect("standard layout is contiguous");
        let mut u = vec![0.0f32; 36 * c * f];
        let mut t = vec![0.0f32; 18 * f];
        for ch in 0..c {
            let g = |i: usize, j: usize| &k[((i * 3 + j) * c + ch) * f..][..f];
            // t = G g (6x3 rows of F), then U = t Gᵀ (6x6 rows of F).
            for (i, grow) in G.iter().enumerate() {
                for j in 0..3 {
                    let dst = &mut t[(i * 3 + j) * f..][..f];
                    dst.fill(0.0);
                    for (kk, &coef) in grow.iter().enumerate() {
                        let coef = coef as f32;
                        dst.iter_mut().zip(g(kk, j)).for_each(|(d, &v)| *d += coef * v);
                    }
                }
            }
            for i in 0..6 {
                for (j, grow) in G.iter().enumerate() {
                    let dst = &mut u[((i * 6 + j) * c + ch) * f..][..f];
                    for (kk, &coef) in grow.iter().enumerate() {
                        let coef = coef as f32;
                        let src = &t[(i * 3 + kk) * f..][..f];
                        dst.iter_mut().zip(src).for_each(|(d, &v)| *d += coef * v);
                    }
                }
            }
        }
        WinogradKernel { u, c, f }
    }

    /// Scratch floats [`Self::conv_images`] needs for up to `images` images.
    pub(crate) fn scratch_len(&self, g: &ConvGeometry, images: usize) -> usize {
        let t = tiles(g);
        t.ph * t.pw * self.c + 36 * images * t.rows * t.cols * (self.c + self.f)
    }

    /// `out` (`[count * OH*OW, F]`) = the convolution (no bias) of the
    /// `count` images in `images` (each `H*W*C`); `scratch` holds at least
    /// [`Self::scratch_len`] floats for `count` images. The 36 GEMMs use the
    /// backend's threads when `parallel_gemm`.
    pub(crate) fn conv_images(
        &self,
        images: &[f32],
        g: &ConvGeometry,
        out: &mut [f32],
        scratch: &mut [f32],
        parallel_gemm: bool,
    ) {
        let (c, f) = (self.c, self.f);
        let t = tiles(g);
        let per_image = t.rows * t.cols;
        let out_img = g.rows_per_image() * f;
        let count = out.len() / out_img;
        let n = count * per_image;
        let (padded, rest) = scratch.split_at_mut(t.ph * t.pw * c);
        let (v, rest) = rest.split_at_mut(36 * n * c);
        let m = &mut rest[..36 * n * f];
        for (i, image) in images.chunks_exact(g.image_len()).take(count).enumerate() {
            pad_image(image, g, &t, padded);
            input_transform_dispatch(padded, &t, c, i * per_image, n, v);
        }
        for xi in 0..36 {
            let a = ArrayView2::from_shape((n, c), &v[xi * n * c..][..n * c]).expect("V[ξ] is (tiles, C)");
            let b = ArrayView2::from_shape((c, f), &self.u[xi * c * f..][..c * f]).expect("U[ξ] is (C, F)");
            let mut mm =
                ArrayViewMut2::from_shape((n, f), &mut m[xi * n * f..][..n * f]).expect("M[ξ] is (tiles, F)");
            let r = if parallel_gemm {
                crate::gemm::gemm(1.0, a, false, b, false, 0.0, &mut mm)
            } else {
                crate::gemm::gemm_single_thread(1.0, a, false, b, false, 0.0, &mut mm)
            };
            r.expect("Winograd GEMM shapes follow from the geometry");
        }
        for (i, out) in out.chunks_exact_mut(out_img).enumerate() {
            output_transform_dispatch(m, g, &t, f, i * per_image, n, out);
        }
    }
}

crate::simd_dispatch! {
    /// [`input_transform`] compiled for AVX-512F, AVX2 or portable, as the
    /// CPU allows: each build vectorizes the [`Chunk`] loops to its width.
    fn input_transform_dispatch(padded: &[f32], t: &Tiles, c: usize, first: usize, n: usize, v: &mut [f32]);
    avx512 => input_transform(padded, t, c, first, n, v),
    avx2 => input_transform(padded, t, c, first, n, v),
    portable => input_transform(padded, t, c, first, n, v),
}

crate::simd_dispatch! {
    /// [`output_transform`], dispatched as [`input_transform_dispatch`].
    fn output_transform_dispatch(m: &[f32], g: &ConvGeometry, t: &Tiles, f: usize, first: usize, n: usize, out: &mut [f32]);
    avx512 => output_transform(m, g, t, f, first, n, out),
    avx2 => output_transform(m, g, t, f, first, n, out),
    portable => output_transform(m, g, t, f, first, n, out),
}

/// Copies `image` into the zero-bordered `padded` (`ph x pw x C`).
fn pad_image(image: &[f32], g: &ConvGeometry, t: &Tiles, padded: &mut [f32]) {
    let c = g.channels;
    let row = g.in_w * c;
    for h in 0..t.ph {
        let dst = &mut padded[h * t.pw * c..(h + 1) * t.pw * c];
        match h.checked_sub(g.pad_top).filter(|&ih| ih < g.in_h) {
            Some(ih) => {
                let left = g.pad_left * c;
                dst[..left].fill(0.0);
                dst[left..left + row].copy_from_slice(&image[ih * row..(ih + 1) * row]);
                dst[left + row..].fill(0.0);
            }
            None => dst.fill(0.0),
        }
    }
}

#[inline(always)]
fn load(s: &[f32], at: usize) -> Chunk {
    s[at..at + CHUNK].try_into().expect("CHUNK floats")
}

#[inline(always)]
fn store(s: &mut [f32], at: usize, v: Chunk) {
    s[at..at + CHUNK].copy_from_slice(&v);
}

/// `Σ coef_i · x_i` over one chunk (zero coefficients are skipped by the
/// compiler: every call site passes constants).
#[inline(always)]
fn combine<const N: usize>(x: &[Chunk; N], coef: [f32; N]) -> Chunk {
    let mut r = [0.0f32; CHUNK];
    for (xi, &k) in x.iter().zip(&coef) {
        if k == 0.0 {
            continue;
        }
        for (r, &v) in r.iter_mut().zip(xi) {
            *r += k * v;
        }
    }
    r
}

/// `Bᵀ x` along one axis of a 6x6 tile.
#[inline(always)]
fn b_transform(x: [Chunk; 6]) -> [Chunk; 6] {
    [
        combine(&x, [4.0, 0.0, -5.0, 0.0, 1.0, 0.0]),
        combine(&x, [0.0, -4.0, -4.0, 1.0, 1.0, 0.0]),
        combine(&x, [0.0, 4.0, -4.0, -1.0, 1.0, 0.0]),
        combine(&x, [0.0, -2.0, -1.0, 2.0, 1.0, 0.0]),
        combine(&x, [0.0, 2.0, -1.0, -2.0, 1.0, 0.0]),
        combine(&x, [0.0, 4.0, 0.0, -5.0, 0.0, 1.0]),
    ]
}

/// `Aᵀ x` along one axis: 6 values to 4 outputs.
#[inline(always)]
fn a_transform(x: [Chunk; 6]) -> [Chunk; 4] {
    [
        combine(&x, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]),
        combine(&x, [0.0, 1.0, -1.0, 2.0, -2.0, 0.0]),
        combine(&x, [0.0, 1.0, 1.0, 4.0, 4.0, 0.0]),
        combine(&x, [0.0, 1.0, -1.0, 8.0, -8.0, 1.0]),
    ]
}

/// `Bᵀ` down column `j` of the 6x6 tile starting at `padded[at]` (`row`
/// floats per padded image row, `c` per cell).
#[inline(always)]
fn input_column(padded: &[f32], at: usize, row: usize, c: usize, j: usize) -> [Chunk; 6] {
    let d = |r: usize| load(padded, at + r * row + j * c);
    b_transform([d(0), d(1), d(2), d(3), d(4), d(5)])
}

/// `Aᵀ` down column `j` of a tile's 6x6 products (`M[ξ]` planes `plane` apart, the tile's chunk at `at`).
#[inline(always)]
fn product_column(m: &[f32], at: usize, plane: usize, j: usize) -> [Chunk; 4] {
    let mx = |i: usize| load(m, at + (i * 6 + j) * plane);
    a_transform([mx(0), mx(1), mx(2), mx(3), mx(4), mx(5)])
}

/// `V[ξ][first + tile] = (Bᵀ d B)[ξ]` for every tile of one padded image
/// (`n` tiles per `ξ` plane), a [`CHUNK`] of channels at a time in registers.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // `i` picks row i of all six columns
fn input_transform(padded: &[f32], t: &Tiles, c: usize, first: usize, n: usize, v: &mut [f32]) {
    for ti in 0..t.rows {
        for tj in 0..t.cols {
            let tile = first + ti * t.cols + tj;
            for ch in (0..c).step_by(CHUNK) {
                let at = ((4 * ti) * t.pw + 4 * tj) * c + ch;
                // An array literal, not a zeroed array filled in a loop (the
                // zeroing would be a `memset` call per tile), of calls to an
                // `inline(always)` fn, not a closure (which would be compiled
                // without the caller's target features).
                let (p, row) = (padded, t.pw * c);
                let cols = [
                    input_column(p, at, row, c, 0),
                    input_column(p, at, row, c, 1),
                    input_column(p, at, row, c, 2),
                    input_column(p, at, row, c, 3),
                    input_column(p, at, row, c, 4),
                    input_column(p, at, row, c, 5),
                ];
                for i in 0..6 {
                    let row = b_transform([
                        cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i],
                    ]);
                    for (j, val) in row.into_iter().enumerate() {
                        store(v, ((i * 6 + j) * n + tile) * c + ch, val);
                    }
                }
            }
        }
    }
}

/// One image's outputs `Aᵀ M A` from its tiles' `M[ξ]`, cropped to `OH x OW`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // `r` picks row r of all six columns
fn output_transform(
    m: &[f32],
    g: &ConvGeometry,
    t: &Tiles,
    f: usize,
    first: usize,
    n: usize,
    out: &mut [f32],
) {
    for ti in 0..t.rows {
        for tj in 0..t.cols {
            let tile = first + ti * t.cols + tj;
            for o in (0..f).step_by(CHUNK) {
                let (at, plane) = (tile * f + o, n * f);
                let cols = [
                    product_column(m, at, plane, 0),
                    product_column(m, at, plane, 1),
                    product_column(m, at, plane, 2),
                    product_column(m, at, plane, 3),
                    product_column(m, at, plane, 4),
                    product_column(m, at, plane, 5),
                ];
                for r in 0..4 {
                    let oh = 4 * ti + r;
                    if oh >= g.out_h {
                        break;
                    }
                    let y = a_transform([
                        cols[0][r], cols[1][r], cols[2][r], cols[3][r], cols[4][r], cols[5][r],
                    ]);
                    for (col, val) in y.into_iter().enumerate() {
                        let ow = 4 * tj + col;
                        if ow < g.out_w {
                            store(out, (oh * g.out_w + ow) * f + o, val);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::conv2d::Conv2dParams;
    use crate::padding::Padding;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The direct definition (in f64) within f32 rounding, for output
        /// sizes that do and do not fill whole tiles, both paddings and
        /// batches of several images.
        #[test]
        fn matches_the_definition(
            n in 1usize..4, h in 8usize..16, w in 8usize..16, c_chunks in 1usize..3, f_chunks in 1usize..4,
            same: bool, seed in 0u64..1000,
        ) {
            let (c, f) = (c_chunks * CHUNK, f_chunks * CHUNK);
            let p = Conv2dParams { padding: if same { Padding::Same } else { Padding::Valid }, ..Default::default() };
            let g = ConvGeometry::new(&[n, h, w, c], (3, 3), &p).unwrap();
            prop_assume!(applies(&g, f));
            let val = |i: usize, s: u64| ((i as u64 * 2654435761 + s * 97) % 17) as f32 / 8.0 - 1.0;
            let x: Vec<f32> = (0..n * h * w * c).map(|i| val(i, seed)).collect();
            let kernel: Vec<f32> = (0..9 * c * f).map(|i| val(i, seed + 1)).collect();
            let wk = WinogradKernel::new(ArrayView2::from_shape((9 * c, f), &kernel).unwrap(), c);
            let mut out = vec![f32::NAN; n * g.rows_per_image() * f];
            let mut scratch = vec![f32::NAN; wk.scratch_len(&g, n)];
            wk.conv_images(&x, &g, &mut out, &mut scratch, false);
            for b in 0..n {
                for oh in 0..g.out_h {
                    for ow in 0..g.out_w {
                        for o in 0..f {
                            let mut want = 0.0f64;
                            let mut scale = 0.0f64;
                            for i in 0..3 {
                                for j in 0..3 {
                                    let (ih, iw) = ((oh + i) as isize - g.pad_top as isize, (ow + j) as isize - g.pad_left as isize);
                                    if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                        continue;
                                    }
                                    for ch in 0..c {
                                        let term = x[((b * h + ih as usize) * w + iw as usize) * c + ch] as f64
                                            * kernel[((i * 3 + j) * c + ch) * f + o] as f64;
                                        want += term;
                                        scale += term.abs();
                                    }
                                }
                            }
                            let got = out[((b * g.out_h + oh) * g.out_w + ow) * f + o] as f64;
                            // F(4x4, 3x3) rounding grows with the magnitude of the summed terms.
                            prop_assert!((got - want).abs() <= 1e-5 * (1.0 + scale), "{} vs {} at ({}, {}, {}, {})", got, want, b, oh, ow, o);
                        }
                    }
                }
            }
        }
    }
}
