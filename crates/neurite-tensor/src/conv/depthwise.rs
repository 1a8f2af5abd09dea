//! Depthwise 2-d convolution (Keras' `DepthwiseConv2D`) on NHWC batches
//! with Keras' `(kh, kw, in_channels, depth_multiplier)` kernels: output
//! channel `c * M + m` is input channel `c` convolved with `kernel[.., .., c, m]`.
//!
//! There is no reduction over channels, so no GEMM: each output value is
//! `KH*KW` multiply-adds along the channel axis, which NHWC makes
//! contiguous. The kernels vectorise across channels: blocks of 16 (one
//! `zmm`, two `ymm`), then 8, then single channels, accumulated in registers
//! over the taps. With a multiplier `M > 1` each input value is first
//! repeated `M` times (so the expanded image has the output's `C*M`
//! channels and the kernel's `(kh, kw, C*M)` layout); padding is written as
//! zeros into the same per-task scratch copy, so the loops never test
//! bounds. An unpadded, `M = 1` input whose windows lie inside the image is
//! read in place.
//!
//! - forward: rayon tasks of whole images, or of blocks of output rows when
//!   the batch has fewer than [`MIN_TASKS`] images;
//! - backward (`depthwise_backward.rs`): tasks of (image, block of output
//!   rows); `dW` in register groups of taps, `dX` by the forward kernels
//!   applied to the padded `dY` with the flipped kernel (stride 1);
//!   `dW`/`db` partials are summed in task order, so results do not depend
//!   on the number of threads.
//!
//! The bodies are compiled for AVX-512F, AVX2 + FMA and the portable
//! baseline through [`crate::simd_dispatch!`]; the two FMA builds give
//! identical results, the portable one differs only by rounding.

use crate::conv::conv2d::{with_scratch, Conv2dParams, MIN_TASKS};
use crate::conv::im2col::ConvGeometry;
use crate::error::{Result, TensorError};
use crate::fill::par_build;
use crate::simd::SimdLevel;
use crate::size::checked_len;
use ndarray::{Array4, ArrayView1, ArrayView4};
use rayon::prelude::*;

const OP: &str = "depthwise_conv2d";

/// Everything a depthwise pass needs to know about its shapes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dw {
    pub(super) g: ConvGeometry,
    /// Depth multiplier `M`.
    pub(super) m: usize,
    /// Output channels `C * M`.
    pub(super) j: usize,
    /// Rows and columns of the (padded) image the taps read.
    pub(super) need_h: usize,
    pub(super) need_w: usize,
    /// Whether the input is read in place (no padding copy, no expansion).
    pub(super) in_place: bool,
}

impl Dw {
    pub(super) fn new(input: &[usize], kernel: &[usize], p: &Conv2dParams) -> Result<Self> {
        if input.len() != 4 {
            return Err(TensorError::shape(
                OP,
                input,
                kernel,
                "input must be rank 4 (batch, height, width, channels)",
            ));
        }
        if kernel.len() != 4 {
            return Err(TensorError::shape(
                OP,
                input,
                kernel,
                "kernel must be rank 4 (kernel_h, kernel_w, in_channels, depth_multiplier)",
            ));
        }
        if input[3] != kernel[2] {
            return Err(TensorError::shape(
                OP,
                input,
                kernel,
                format!(
                    "input has {} channels but the kernel expects {} (kernel axis 2)",
                    input[3], kernel[2]
                ),
            ));
        }
        let g = ConvGeometry::new(input, (kernel[0], kernel[1]), p).map_err(|e| match e {
            TensorError::InvalidArgument { message, .. } => TensorError::invalid(OP, message),
            other => other,
        })?;
        let m = kernel[3];
        let j = checked_len(OP, "the output channels", &[input[3], m])?;
        checked_len(OP, "the output", &[g.batch, g.out_h, g.out_w, j])?;
        checked_len(OP, "the kernel", kernel)?;
        // The extents below were checked not to overflow by `conv_output_size`.
        let need_h = (g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
        let need_w = (g.out_w - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w + 1;
        // Forward strips and the backward's padded input + its gradient.
        checked_len(OP, "the padded image", &[2, need_h, need_w, j])?;
        let in_place = m == 1 && g.pad_top == 0 && g.pad_left == 0 && need_h <= g.in_h && need_w <= g.in_w;
        Ok(Dw {
            g,
            m,
            j,
            need_h,
            need_w,
            in_place,
        })
    }

    /// Blocks of output rows per image: at least `min` (at most one per
    /// row), and enough that the batch makes [`MIN_TASKS`] tasks. Depends on
    /// the shapes only, never on the thread count.
    pub(super) fn row_blocks(&self, min: usize) -> usize {
        let for_tasks = if self.g.batch >= MIN_TASKS {
            1
        } else {
            MIN_TASKS.div_ceil(self.g.batch)
        };
        for_tasks.max(min).clamp(1, self.g.out_h.max(1))
    }

    /// Padded rows read by `rows` consecutive output rows.
    pub(super) fn strip_rows(&self, rows: usize) -> usize {
        (rows.max(1) - 1) * self.g.stride_h + (self.g.kernel_h - 1) * self.g.dilation_h + 1
    }

    /// Scratch floats [`forward_block`] needs for `rows` output rows.
    pub(super) fn strip_len(&self, rows: usize) -> usize {
        if self.in_place {
            0
        } else {
            self.strip_rows(rows) * self.need_w * self.j
        }
    }

    /// Offsets of the `KH*KW` taps from a window's first element, in a
    /// source whose rows are `row` floats apart (`(kh, kw)` order, as the kernel).
    pub(super) fn offsets(&self, row: usize) -> Vec<usize> {
        let g = &self.g;
        (0..g.kernel_h)
            .flat_map(|a| (0..g.kernel_w).map(move |b| a * g.dilation_h * row + b * g.dilation_w * self.j))
            .collect()
    }

    /// Writes padded rows `first..first + rows` (padded coordinates) of
    /// `image` into `dst` (`rows * need_w * j` floats), zeros outside the
    /// image, each input value repeated `m` times.
    pub(super) fn fill_padded(&self, image: &[f32], first: usize, rows: usize, dst: &mut [f32]) {
        let g = &self.g;
        let (c, row_len) = (g.channels, self.need_w * self.j);
        for (r, out) in dst[..rows * row_len].chunks_exact_mut(row_len).enumerate() {
            let ih = (first + r).checked_sub(g.pad_top).filter(|&ih| ih < g.in_h);
            let Some(ih) = ih else {
                out.fill(0.0);
                continue;
            };
            let src = &image[ih * g.in_w * c..][..g.in_w * c];
            // Padded columns pad_left..pad_left + in_w hold the image (clipped to need_w).
            let lo = g.pad_left.min(self.need_w);
            let hi = (g.pad_left + g.in_w).min(self.need_w);
            out[..lo * self.j].fill(0.0);
            out[hi * self.j..].fill(0.0);
            let inside = &mut out[lo * self.j..hi * self.j];
            // The first inside column is input column 0 (when any is inside).
            let src = &src[..(hi - lo) * c];
            if self.m == 1 {
                inside.copy_from_slice(src);
            } else {
                for (d, &v) in inside.chunks_exact_mut(self.m).zip(src) {
                    d.fill(v);
                }
            }
        }
    }
}

/// Output shape `[N, OH, OW, C*M]` of [`depthwise_conv2d`] for an
/// `[N, H, W, C]` input and a `[KH, KW, C, M]` kernel.
///
/// ```
/// use neurite_tensor::{depthwise_conv2d_output_shape, Conv2dParams, Padding};
/// let same = Conv2dParams { strides: (2, 2), padding: Padding::Same, ..Default::default() };
/// assert_eq!(depthwise_conv2d_output_shape(&[8, 56, 56, 32], &[3, 3, 32, 2], &same)?, [8, 28, 28, 64]);
/// assert!(depthwise_conv2d_output_shape(&[8, 56, 56, 32], &[3, 3, 16, 1], &same).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn depthwise_conv2d_output_shape(
    input: &[usize],
    kernel: &[usize],
    p: &Conv2dParams,
) -> Result<[usize; 4]> {
    let d = Dw::new(input, kernel, p)?;
    Ok([d.g.batch, d.g.out_h, d.g.out_w, d.j])
}

/// Depthwise 2-d convolution of an NHWC batch (Keras' `DepthwiseConv2D`).
///
/// `input` is `[N, H, W, C]`, `kernel` `[KH, KW, C, M]`, `bias` (optional)
/// `[C*M]`; the result is `[N, OH, OW, C*M]`, output channel `c*M + m` being
/// channel `c` convolved with `kernel[.., .., c, m]`. Strides, padding and
/// dilation as [`crate::conv2d`]. Errors on mismatched shapes or invalid
/// parameters.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{depthwise_conv2d, Conv2dParams};
/// let x = Array4::from_shape_fn((1, 2, 2, 2), |(_, h, w, c)| ((h * 2 + w) * (c + 1)) as f32);
/// let w = Array4::from_shape_vec((2, 2, 2, 1), vec![1.0f32, 10.0, 1.0, 10.0, 1.0, 10.0, 1.0, 10.0]).unwrap();
/// let y = depthwise_conv2d(x.view(), w.view(), None, &Conv2dParams::default())?;
/// // Channel 0 sums 0+1+2+3, channel 1 sums 10 * (0+2+4+6).
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![6.0, 120.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn depthwise_conv2d(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
) -> Result<Array4<f32>> {
    forward_at(crate::simd::simd_level(), input, kernel, bias, p)
}

/// [`depthwise_conv2d`] with the kernels of a chosen SIMD level (clamped to the CPU's).
pub(crate) fn forward_at(
    level: SimdLevel,
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
) -> Result<Array4<f32>> {
    let d = Dw::new(input.shape(), kernel.shape(), p)?;
    let g = d.g;
    if let Some(b) = &bias {
        if b.len() != d.j {
            return Err(TensorError::shape(
                OP,
                b.shape(),
                kernel.shape(),
                format!(
                    "bias must have one value per output channel ({} = in_channels * depth_multiplier)",
                    d.j
                ),
            ));
        }
    }
    let shape = (g.batch, g.out_h, g.out_w, d.j);
    let out_img = g.out_h * g.out_w * d.j;
    if g.batch * out_img == 0 {
        return Ok(Array4::zeros(shape));
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let w = kernel.as_standard_layout();
    let w = w.as_slice().expect("standard layout is contiguous");
    let bias = bias.map(|b| b.to_vec());
    let blocks = d.row_blocks(1);
    let block_rows = g.out_h.div_ceil(blocks);
    let in_img = g.image_len();
    let y = par_build(g.batch * out_img, out_img, 0.0f32, |n, y| {
        let image = &x[n * in_img..][..in_img];
        y.par_chunks_mut(block_rows * g.out_w * d.j)
            .enumerate()
            .for_each(|(b, y)| {
                let rows = y.len() / (g.out_w * d.j);
                with_scratch(d.strip_len(rows), |buf| {
                    forward_block(level, &d, image, w, bias.as_deref(), b * block_rows, y, buf);
                });
            });
    });
    Ok(Array4::from_shape_vec(shape, y).expect("output length matches its shape"))
}

/// Output rows `r0..r0 + rows` of one image (`y` holds `rows * OW * j`
/// floats) read from `image`, `w` as `[KH*KW, j]`; `scratch` holds at least
/// [`Dw::strip_len`]`(rows)` floats (the padded strip when the image is not
/// read in place).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_block(
    level: SimdLevel,
    d: &Dw,
    image: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    r0: usize,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let g = &d.g;
    let rows = y.len() / (g.out_w * d.j);
    let row = if d.in_place {
        g.in_w * g.channels
    } else {
        d.need_w * d.j
    };
    let offsets = d.offsets(row);
    let src = if d.in_place {
        &image[r0 * g.stride_h * row..]
    } else {
        let strip = d.strip_rows(rows);
        d.fill_padded(image, r0 * g.stride_h, strip, scratch);
        &scratch[..strip * row]
    };
    let args = RowArgs {
        src,
        row,
        offsets: &offsets,
        w,
        bias,
        j: d.j,
        stride_h: g.stride_h,
        stride_w: g.stride_w,
        out_w: g.out_w,
    };
    forward_rows_at(level, &args, y);
}

/// The operands of [`forward_rows`]: output rows read from `src`, a (padded,
/// expanded) image whose rows are `row` floats apart, starting at the first
/// output row's first input row.
struct RowArgs<'a> {
    src: &'a [f32],
    row: usize,
    offsets: &'a [usize],
    /// The kernel as `[KH*KW, j]`.
    w: &'a [f32],
    bias: Option<&'a [f32]>,
    j: usize,
    stride_h: usize,
    stride_w: usize,
    out_w: usize,
}

crate::simd_dispatch! {
    /// Output rows `out` (`rows * OW * j` floats) of one image (only the
    /// `_at` form is called: the level is chosen once per pass).
    #[allow(dead_code)]
    fn forward_rows(a: &RowArgs, out: &mut [f32]);
    /// [`forward_rows`] at a chosen level.
    fn forward_rows_at(level);
    avx512 => forward_rows_body::<true>(a, out),
    avx2 => forward_rows_body::<true>(a, out),
    portable => forward_rows_body::<false>(a, out),
}

/// `acc + a * b`, fused when the variant has FMA.
#[inline(always)]
pub(super) fn madd<const FMA: bool>(a: f32, b: f32, acc: f32) -> f32 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        a * b + acc
    }
}

/// The channel blocks `(first, width)` of `j` channels: 16s, an 8, then ones.
pub(super) fn channel_blocks(j: usize) -> impl Iterator<Item = (usize, usize)> {
    let (sixteens, rest) = (j / 16 * 16, j % 16);
    let eights = rest / 8 * 8;
    (0..sixteens)
        .step_by(16)
        .map(|j0| (j0, 16))
        .chain((sixteens..sixteens + eights).step_by(8).map(|j0| (j0, 8)))
        .chain((sixteens + eights..j).map(|j0| (j0, 1)))
}

/// Output pixels per register tile of the forward pass (each tap's kernel
/// block is loaded once for all of them).
const TILE: usize = 4;

#[inline(always)]
fn forward_rows_body<const FMA: bool>(a: &RowArgs, out: &mut [f32]) {
    let out_row = a.out_w * a.j;
    let last_tap = a.offsets.last().copied().unwrap_or(0);
    assert!(
        a.w.len() >= a.offsets.len() * a.j,
        "depthwise kernel shorter than its taps"
    );
    assert!(
        a.bias.is_none_or(|b| b.len() >= a.j),
        "depthwise bias shorter than its channels"
    );
    for (r, y) in out.chunks_exact_mut(out_row).enumerate() {
        let row_base = r * a.stride_h * a.row;
        // The furthest read of this row: its last pixel's last tap, last channel.
        let end = row_base + (a.out_w - 1) * a.stride_w * a.j + last_tap + a.j;
        assert!(end <= a.src.len(), "depthwise tap outside the source");
        for (j0, width) in channel_blocks(a.j) {
            match width {
                16 => fwd_row_block::<16, FMA>(a, row_base, j0, y),
                8 => fwd_row_block::<8, FMA>(a, row_base, j0, y),
                _ => fwd_row_block::<1, FMA>(a, row_base, j0, y),
            }
        }
    }
}

/// Channels `j0..j0 + B` of one output row, in tiles of [`TILE`] pixels.
/// The caller asserted that every read of the row lies inside `a.src`,
/// `a.w` and `a.bias`.
#[inline(always)]
fn fwd_row_block<const B: usize, const FMA: bool>(a: &RowArgs, row_base: usize, j0: usize, y: &mut [f32]) {
    let mut ow = 0;
    while ow + TILE <= a.out_w {
        fwd_tile::<TILE, B, FMA>(a, row_base, ow, j0, y);
        ow += TILE;
    }
    while ow < a.out_w {
        fwd_tile::<1, B, FMA>(a, row_base, ow, j0, y);
        ow += 1;
    }
}

/// Channels `j0..j0 + B` of output pixels `ow..ow + R`, accumulated in
/// registers over the taps.
#[inline(always)]
fn fwd_tile<const R: usize, const B: usize, const FMA: bool>(
    a: &RowArgs,
    row_base: usize,
    ow: usize,
    j0: usize,
    y: &mut [f32],
) {
    let init: [f32; B] = match a.bias {
        // SAFETY: j0 + B <= j <= bias.len() (asserted by forward_rows_body).
        Some(b) => unsafe { *b.as_ptr().add(j0).cast::<[f32; B]>() },
        None => [0.0; B],
    };
    let mut acc = [init; R];
    let (src, w) = (a.src.as_ptr(), a.w.as_ptr());
    let step = a.stride_w * a.j;
    for (t, &off) in a.offsets.iter().enumerate() {
        // SAFETY: t * j + j0 + B <= taps * j <= w.len() (asserted by forward_rows_body).
        let wv: [f32; B] = unsafe { *w.add(t * a.j + j0).cast() };
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: row_base + (ow + r) * step + off + j0 + B is at most the
            // row's furthest read (ow + r < out_w, off <= last tap, j0 + B <= j),
            // which forward_rows_body asserted to lie inside src.
            let x: [f32; B] = unsafe { *src.add(row_base + (ow + r) * step + off + j0).cast() };
            for i in 0..B {
                acc[i] = madd::<FMA>(x[i], wv[i], acc[i]);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        y[(ow + r) * a.j + j0..][..B].copy_from_slice(acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::depthwise_backward::backward_at;
    use crate::padding::Padding;
    use ndarray::Array4;
    use proptest::prelude::*;

    /// The plain f64 definition, output channel `c * M + m`.
    fn reference(x: &Array4<f32>, w: &Array4<f32>, p: &Conv2dParams) -> Array4<f64> {
        let d = Dw::new(x.shape(), w.shape(), p).unwrap();
        let g = d.g;
        let mut y = Array4::<f64>::zeros((g.batch, g.out_h, g.out_w, d.j));
        for ((n, oh, ow, jj), v) in y.indexed_iter_mut() {
            let (c, m) = (jj / d.m, jj % d.m);
            for a in 0..g.kernel_h {
                for b in 0..g.kernel_w {
                    let ih = (oh * g.stride_h + a * g.dilation_h).checked_sub(g.pad_top);
                    let iw = (ow * g.stride_w + b * g.dilation_w).checked_sub(g.pad_left);
                    if let (Some(ih), Some(iw)) = (ih, iw) {
                        if ih < g.in_h && iw < g.in_w {
                            *v += x[[n, ih, iw, c]] as f64 * w[[a, b, c, m]] as f64;
                        }
                    }
                }
            }
        }
        y
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Every SIMD variant the CPU has: the forward against the f64
        /// definition, the backward by the adjoint identities of the bilinear
        /// `Y(x, w)`: `<dX, x> = <dW, w> = <dY, Y>` (the element-wise
        /// backward reference is in `tests/depthwise_props.rs`), and every
        /// variant's gradients equal the portable ones up to rounding.
        #[test]
        fn every_level_matches_the_reference(n in 1usize..3, h in 1usize..7, wd in 1usize..7, c in 1usize..20,
                                             m in 1usize..3, k in 1usize..4, s in 1usize..3, dil in 1usize..3,
                                             same in any::<bool>(), seed in 0u64..1000) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let (s, dil) = if dil > 1 { (1, dil) } else { (s, 1) };
            let p = Conv2dParams { strides: (s, s), padding, dilation: (dil, dil) };
            let eff = (k - 1) * dil + 1;
            prop_assume!(same || (eff <= h && eff <= wd));
            let mut rng = crate::random::rng_from_seed(seed);
            let x = crate::random::normal(&[n, h, wd, c], 0.0, 1.0, &mut rng).into_dimensionality().unwrap();
            let w: Array4<f32> = crate::random::normal(&[k, k, c, m], 0.0, 1.0, &mut rng).into_dimensionality().unwrap();
            let want = reference(&x, &w, &p);
            let gy: Array4<f32> = crate::random::normal(want.shape(), 0.0, 1.0, &mut rng).into_dimensionality().unwrap();
            let portable = backward_at(SimdLevel::Portable, x.view(), w.view(), gy.view(), &p, true).unwrap();
            for level in SimdLevel::available() {
                let y = forward_at(level, x.view(), w.view(), None, &p).unwrap();
                for (a, b) in y.iter().zip(want.iter()) {
                    prop_assert!((*a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()), "{:?}: {} vs {}", level, a, b);
                }
                let gr = backward_at(level, x.view(), w.view(), gy.view(), &p, true).unwrap();
                // <dY, Y> is linear in x and in w: <dX, x> = <dW, w> = <dY, Y>.
                let dot_y: f64 = gy.iter().zip(want.iter()).map(|(a, b)| *a as f64 * b).sum();
                let dot_x: f64 = gr.input.unwrap().iter().zip(x.iter()).map(|(a, b)| *a as f64 * *b as f64).sum();
                let dot_w: f64 = gr.kernel.iter().zip(w.iter()).map(|(a, b)| *a as f64 * *b as f64).sum();
                prop_assert!((dot_x - dot_y).abs() <= 1e-3 * (1.0 + dot_y.abs()), "{:?} dx: {} vs {}", level, dot_x, dot_y);
                prop_assert!((dot_w - dot_y).abs() <= 1e-3 * (1.0 + dot_y.abs()), "{:?} dw: {} vs {}", level, dot_w, dot_y);
                let gl = backward_at(level, x.view(), w.view(), gy.view(), &p, true).unwrap();
                for (a, b) in gl.kernel.iter().zip(portable.kernel.iter()) {
                    prop_assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{:?} dW {} vs {}", level, a, b);
                }
                let (gi, pi) = (gl.input.unwrap(), portable.input.as_ref().unwrap().clone());
                for (a, b) in gi.iter().zip(pi.iter()) {
                    prop_assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{:?} dX {} vs {}", level, a, b);
                }
            }
        }
    }
}
