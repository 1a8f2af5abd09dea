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
use ndarray::ArrayView2;

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

/// The grid of 4x4 output tiles of one image.
struct Tiles {
    rows: usize,
    cols: usize,
}

fn tiles(g: &ConvGeometry) -> Tiles {
    Tiles {
        rows: g.out_h.div_ceil(4),
        cols: g.out_w.div_ceil(4),
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

    /// Scratch floats [`Self::conv_images`] needs, whatever the image count:
    /// one image's `V[ξ]` and products `M[ξ]`.
    pub(crate) fn scratch_len(&self, g: &ConvGeometry) -> usize {
        let t = tiles(g);
        36 * t.rows * t.cols * (self.c + self.f)
    }

    /// `out` (`[count * OH*OW, F]`) = the convolution (no bias) of the
    /// `count` images in `images` (each `H*W*C`); `scratch` holds at least
    /// [`Self::scratch_len`] floats.
    ///
    /// One image at a time, so that its transformed tiles and their products
    /// (about 100-250 KiB for 16-32 channels of a 28x28 image) stay in the
    /// core's cache from the input transform through the 36 products to the
    /// output transform: `V = Bᵀ d B` (tiles reaching into the padding read
    /// zeros there, so the image is never copied), `M[ξ] = V[ξ] · U[ξ]` by a
    /// register-tiled product ([`products_dispatch`]), `Y = Aᵀ M A`.
    ///
    /// `bias` (`F` floats) is added and ReLU applied when asked, as each
    /// output is stored.
    pub(crate) fn conv_images(
        &self,
        images: &[f32],
        g: &ConvGeometry,
        out: &mut [f32],
        scratch: &mut [f32],
        (bias, relu): (Option<&[f32]>, bool),
    ) {
        let (c, f) = (self.c, self.f);
        let t = tiles(g);
        let n = t.rows * t.cols;
        let out_img = g.rows_per_image() * f;
        let (v, rest) = scratch.split_at_mut(36 * n * c);
        let m = &mut rest[..36 * n * f];
        for (image, out) in images
            .chunks_exact(g.image_len())
            .zip(out.chunks_exact_mut(out_img))
        {
            input_transform_dispatch(image, g, &t, v);
            products_dispatch(v, &self.u, n, c, f, m);
            output_transform_dispatch(m, g, &t, f, bias, relu, out);
        }
    }
}

crate::simd_dispatch! {
    /// [`input_transform`] compiled for AVX-512F, AVX2 or portable, as the
    /// CPU allows: each build vectorizes the [`Chunk`] loops to its width.
    fn input_transform_dispatch(image: &[f32], g: &ConvGeometry, t: &Tiles, v: &mut [f32]);
    avx512 => input_transform(image, g, t, v),
    avx2 => input_transform(image, g, t, v),
    portable => input_transform(image, g, t, v),
}

crate::simd_dispatch! {
    /// [`output_transform`], dispatched as [`input_transform_dispatch`].
    fn output_transform_dispatch(m: &[f32], g: &ConvGeometry, t: &Tiles, f: usize, bias: Option<&[f32]>, relu: bool, out: &mut [f32]);
    avx512 => output_transform(m, g, t, f, bias, relu, out),
    avx2 => output_transform(m, g, t, f, bias, relu, out),
    portable => output_transform(m, g, t, f, bias, relu, out),
}

crate::simd_dispatch! {
    /// [`products`] with the register tile of the CPU's vector width.
    fn products_dispatch(v: &[f32], u: &[f32], n: usize, c: usize, f: usize, m: &mut [f32]);
    // 12 tiles x 32 channels: 24 of the 32 `zmm` accumulate.
    avx512 => products::<12, true>(v, u, n, c, f, m),
    // 3 tiles x 32 channels: 12 of the 16 `ymm` accumulate.
    avx2 => products::<3, true>(v, u, n, c, f, m),
    portable => products::<4, false>(v, u, n, c, f, m),
}

/// `M[ξ] = V[ξ] · U[ξ]` for `ξ` in `0..36`: `V[ξ]` is `[n, c]`, `U[ξ]`
/// `[c, f]`, `M[ξ]` `[n, f]`, all row-major and packed one `ξ` after the
/// other. `R` tiles at a time keep `R x 2` [`CHUNK`]s of sums in registers;
/// each step broadcasts one `V` value per tile against one row of `U`.
#[inline(always)]
fn products<const R: usize, const FMA: bool>(
    v: &[f32],
    u: &[f32],
    n: usize,
    c: usize,
    f: usize,
    m: &mut [f32],
) {
    assert!(v.len() >= 36 * n * c && u.len() >= 36 * c * f && m.len() >= 36 * n * f);
    assert!(f.is_multiple_of(CHUNK));
    for xi in 0..36 {
        let a = &v[xi * n * c..][..n * c];
        let b = &u[xi * c * f..][..c * f];
        let out = &mut m[xi * n * f..][..n * f];
        let mut fb = 0;
        while fb + 2 * CHUNK <= f {
            product_rows::<R, 2, FMA>(a, b, n, c, f, fb, out);
            fb += 2 * CHUNK;
        }
        if fb < f {
            product_rows::<R, 1, FMA>(a, b, n, c, f, fb, out);
        }
    }
}

/// Columns `fb..fb + NB * CHUNK` of `a · b` (`[n, c] x [c, f]`) for every
/// row: `R` rows at a time, then 4, then single rows.
#[inline(always)]
fn product_rows<const R: usize, const NB: usize, const FMA: bool>(
    a: &[f32],
    b: &[f32],
    n: usize,
    c: usize,
    f: usize,
    fb: usize,
    out: &mut [f32],
) {
    let mut row = 0;
    while row + R <= n {
        product_tile::<R, NB, FMA>(a, b, c, f, fb, row, out);
        row += R;
    }
    while row + 4 <= n {
        product_tile::<4, NB, FMA>(a, b, c, f, fb, row, out);
        row += 4;
    }
    while row < n {
        product_tile::<1, NB, FMA>(a, b, c, f, fb, row, out);
        row += 1;
    }
}

/// Rows `row..row + R`, columns `fb..fb + NB * CHUNK` of `a · b`.
#[inline(always)]
fn product_tile<const R: usize, const NB: usize, const FMA: bool>(
    a: &[f32],
    b: &[f32],
    c: usize,
    f: usize,
    fb: usize,
    row: usize,
    out: &mut [f32],
) {
    assert!((row + R) * c <= a.len() && c * f <= b.len() && fb + NB * CHUNK <= f);
    assert!((row + R) * f <= out.len());
    let (a, b) = (a.as_ptr(), b.as_ptr());
    let mut acc = [[[0.0f32; CHUNK]; NB]; R];
    for k in 0..c {
        // SAFETY: k < c and fb + NB * CHUNK <= f, so the row lies inside `b` (asserted above).
        let w: [Chunk; NB] = std::array::from_fn(|j| unsafe { *b.add(k * f + fb + j * CHUNK).cast() });
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: (row + r) * c + k < (row + R) * c <= a.len() (asserted above).
            let x = unsafe { *a.add((row + r) * c + k) };
            for (acc, w) in acc.iter_mut().zip(&w) {
                for (s, &wv) in acc.iter_mut().zip(w) {
                    *s = if FMA { x.mul_add(wv, *s) } else { x * wv + *s };
                }
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (j, acc) in acc.iter().enumerate() {
            out[(row + r) * f + fb + j * CHUNK..][..CHUNK].copy_from_slice(acc);
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

/// `V[ξ][tile] = (Bᵀ d B)[ξ]` for every tile of one image (`H*W*C`), a
/// [`CHUNK`] of channels at a time: `d B` row by row into a 6x6 block on the
/// stack, then `Bᵀ` down its columns. A tile reaching past the image (the
/// padding, or the rounding up to whole tiles) reads zeros there.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // `j` picks column j of all six rows
fn input_transform(image: &[f32], g: &ConvGeometry, t: &Tiles, v: &mut [f32]) {
    let c = g.channels;
    let n = t.rows * t.cols;
    let (h, w) = (g.in_h as isize, g.in_w as isize);
    for ti in 0..t.rows {
        for tj in 0..t.cols {
            let tile = ti * t.cols + tj;
            let top = (4 * ti) as isize - g.pad_top as isize;
            let left = (4 * tj) as isize - g.pad_left as isize;
            let inside = top >= 0 && left >= 0 && top + 6 <= h && left + 6 <= w;
            for ch in (0..c).step_by(CHUNK) {
                let cell = |r: usize, j: usize| -> Chunk {
                    let (y, x) = (top + r as isize, left + j as isize);
                    if inside || (y >= 0 && x >= 0 && y < h && x < w) {
                        load(image, (y as usize * g.in_w + x as usize) * c + ch)
                    } else {
                        [0.0; CHUNK]
                    }
                };
                let mut rows = [[[0.0f32; CHUNK]; 6]; 6];
                for (r, row) in rows.iter_mut().enumerate() {
                    *row = b_transform(std::array::from_fn(|j| cell(r, j)));
                }
                for j in 0..6 {
                    let column = b_transform(std::array::from_fn(|r| rows[r][j]));
                    for (i, val) in column.into_iter().enumerate() {
                        store(v, ((i * 6 + j) * n + tile) * c + ch, val);
                    }
                }
            }
        }
    }
}

/// One image's outputs `Aᵀ M A` from its tiles' `M[ξ]`, cropped to `OH x OW`:
/// `Aᵀ` down each column of a tile's 6x6 products into a 4x6 block on the
/// stack, then `A` along its rows.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // `r` picks row r of all six columns
fn output_transform(
    m: &[f32],
    g: &ConvGeometry,
    t: &Tiles,
    f: usize,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    let n = t.rows * t.cols;
    for ti in 0..t.rows {
        for tj in 0..t.cols {
            let tile = ti * t.cols + tj;
            for o in (0..f).step_by(CHUNK) {
                let b: Chunk = bias.map_or([0.0; CHUNK], |b| load(b, o));
                let mut columns = [[[0.0f32; CHUNK]; 4]; 6];
                for (j, column) in columns.iter_mut().enumerate() {
                    *column = a_transform(std::array::from_fn(|i| load(m, ((i * 6 + j) * n + tile) * f + o)));
                }
                for r in 0..4 {
                    let oh = 4 * ti + r;
                    if oh >= g.out_h {
                        break;
                    }
                    let y = a_transform(std::array::from_fn(|j| columns[j][r]));
                    for (col, val) in y.into_iter().enumerate() {
                        let ow = 4 * tj + col;
                        if ow < g.out_w {
                            let mut val = val;
                            if bias.is_some() {
                                val.iter_mut().zip(&b).for_each(|(v, b)| *v += b);
                            }
                            if relu {
                                val.iter_mut().for_each(|v| *v = v.max(0.0));
                            }
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
            let mut scratch = vec![f32::NAN; wk.scratch_len(&g)];
            wk.conv_images(&x, &g, &mut out, &mut scratch, (None, false));
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
