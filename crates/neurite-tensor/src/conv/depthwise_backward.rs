//! Gradients of the depthwise convolution (`depthwise.rs`).
//!
//! The batch is cut into tasks of (image, block of output rows); the
//! blocks depend only on the shapes ([`Dw::row_blocks`], at least
//! [`crate::conv::MIN_TASKS`] tasks over the batch and blocks whose rows fit
//! in a core's L2 next to their gradients, [`TASK_BYTES`]), never on the
//! thread count. Each task
//!
//! - sums `db` and `dW` of its rows into its own partial: per output row and
//!   channel block, groups of up to 9 taps accumulate in registers over the
//!   row's pixels, so each `dY` vector is loaded once per group (the whole
//!   3x3 kernel is one group) — the partials are summed in task order;
//! - computes its block of `dX` rows by a *gather*: for stride 1, `dX` is
//!   the forward depthwise convolution of the zero-padded `dY` with the
//!   kernel flipped in both spatial axes (padding `eff - 1 - pad` before),
//!   so it runs the forward's register-tiled kernels and writes each `dX`
//!   value once (summed over the `M` copies of a channel afterwards). Strides
//!   above 1 scatter `dY * W` into a padded copy of the image instead, one
//!   task per image (neighbouring rows' windows overlap), which then also
//!   computes the image's `dW` blocks, in the same order.
//!
//! Bodies are compiled for AVX-512F, AVX2 + FMA and the portable baseline
//! through [`crate::simd_dispatch!`].

use crate::conv::conv2d::{with_scratch, Conv2dGrads, Conv2dParams};
use crate::conv::depthwise::{channel_blocks, forward_block, madd, Dw};
use crate::conv::im2col::ConvGeometry;
use crate::error::{Result, TensorError};
use crate::fill::{par_build, par_build_pair};
use crate::simd::SimdLevel;
use ndarray::{Array1, Array4, ArrayView4};
use rayon::prelude::*;

/// Bytes of source strips and gradient rows one backward task aims to keep in
/// a core's L2 (2 MiB on the Xeon this was tuned on).
const TASK_BYTES: usize = 1 << 20;

/// Gradients of [`depthwise_conv2d`](crate::depthwise_conv2d): given the
/// forward `input` and `kernel` and `grad_output = dL/dY`
/// (`[N, OH, OW, C*M]`), returns `dL/dW` (`[KH, KW, C, M]`), `dL/db`
/// (`[C*M]`) and, when `need_input_grad`, `dL/dX`.
///
/// Errors when `grad_output` does not have the forward output's shape.
/// Results do not depend on the number of threads.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{depthwise_conv2d_backward, Conv2dParams};
/// let x = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0f32, 2.0, 3.0]).unwrap();
/// let w = Array4::from_shape_vec((1, 2, 1, 2), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
/// let gy = Array4::<f32>::ones((1, 1, 2, 2));
/// let g = depthwise_conv2d_backward(x.view(), w.view(), gy.view(), &Conv2dParams::default(), true)?;
/// // dW[0, 0, 0, m] = x0 + x1, dW[0, 1, 0, m] = x1 + x2.
/// assert_eq!(g.kernel.into_raw_vec_and_offset().0, vec![3.0, 3.0, 5.0, 5.0]);
/// assert_eq!(g.bias.to_vec(), vec![2.0, 2.0]);
/// // dX = sum over windows and m: (1+2), (1+2)+(3+4), (3+4).
/// assert_eq!(g.input.unwrap().into_raw_vec_and_offset().0, vec![3.0, 10.0, 7.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn depthwise_conv2d_backward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    p: &Conv2dParams,
    need_input_grad: bool,
) -> Result<Conv2dGrads> {
    backward_at(
        crate::simd::simd_level(),
        input,
        kernel,
        grad_output,
        p,
        need_input_grad,
    )
}

/// [`depthwise_conv2d_backward`] with the kernels of a chosen SIMD level.
pub(crate) fn backward_at(
    level: SimdLevel,
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    p: &Conv2dParams,
    need_input_grad: bool,
) -> Result<Conv2dGrads> {
    let d = Dw::new(input.shape(), kernel.shape(), p)?;
    let g = d.g;
    let out = [g.batch, g.out_h, g.out_w, d.j];
    if grad_output.shape() != out {
        return Err(TensorError::shape(
            "depthwise_conv2d_backward",
            grad_output.shape(),
            &out,
            "grad_output must have the shape of the forward output",
        ));
    }
    let taps = g.kernel_h * g.kernel_w;
    let kdim = kernel.raw_dim();
    let (out_img, in_img) = (g.out_h * g.out_w * d.j, g.image_len());
    if g.batch * out_img == 0 {
        return Ok(Conv2dGrads {
            input: need_input_grad.then(|| Array4::zeros(input.raw_dim())),
            kernel: Array4::zeros(kdim),
            bias: Array1::zeros(d.j),
        });
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let w = kernel.as_standard_layout();
    let w = w.as_slice().expect("standard layout is contiguous");
    let dy = grad_output.as_standard_layout();
    let dy = dy.as_slice().expect("standard layout is contiguous");
    let gather = if need_input_grad { Gather::new(&d, w) } else { None };
    let scatter = need_input_grad && gather.is_none();
    // About five row-sized buffers per output row: the source strip, dY, the
    // padded dY strip, dX and the image rows it is read from.
    let row_bytes = 5 * 4 * d.need_w * d.j;
    let blocks = d.row_blocks((g.out_h * row_bytes).div_ceil(TASK_BYTES));
    let block_rows = g.out_h.div_ceil(blocks);
    let blocks = g.out_h.div_ceil(block_rows);
    // Per task: its dW (taps * j) then its db (j), summed in task order below.
    let partial = taps * d.j + d.j;
    let plan = Plan {
        level,
        d: &d,
        block_rows,
        dx_rows: g.in_h.div_ceil(blocks),
        gather: gather.as_ref(),
    };
    let image_task = |n: usize, dx_img: Option<&mut [f32]>, parts: &mut [f32]| {
        let image = &x[n * in_img..][..in_img];
        let dy_img = &dy[n * out_img..][..out_img];
        match dx_img {
            Some(dx_img) if scatter => {
                // The same blocks (and sums) as without dX, in one task.
                for (b, part) in parts.chunks_exact_mut(partial).enumerate() {
                    plan.weight_grads(image, dy_img, b, part);
                }
                scatter_input_grad(level, &d, w, dy_img, dx_img);
            }
            dx_img => {
                let dx_blocks: Vec<Option<&mut [f32]>> = match dx_img {
                    Some(dx_img) => split_rows(dx_img, g.in_h, g.in_w * g.channels, blocks)
                        .into_iter()
                        .map(Some)
                        .collect(),
                    None => (0..blocks).map(|_| None).collect(),
                };
                dx_blocks
                    .into_par_iter()
                    .zip(parts.par_chunks_mut(partial))
                    .enumerate()
                    .for_each(|(b, (dx, part))| {
                        plan.weight_grads(image, dy_img, b, part);
                        if let Some(dx) = dx {
                            plan.gather_input_grad(dy_img, b, dx);
                        }
                    });
            }
        }
    };
    let (dx, partials) = if need_input_grad {
        let (dx, partials) = par_build_pair(
            (g.batch * in_img, in_img, 0.0f32),
            (g.batch * blocks * partial, blocks * partial, 0.0f32),
            |n, dx, parts| image_task(n, Some(dx), parts),
        );
        (
            Some(Array4::from_shape_vec(input.raw_dim(), dx).expect("dX shape")),
            partials,
        )
    } else {
        let partials = par_build(
            g.batch * blocks * partial,
            blocks * partial,
            0.0f32,
            |n, parts| image_task(n, None, parts),
        );
        (None, partials)
    };
    let mut total = partials[..partial].to_vec();
    for part in partials.chunks_exact(partial).skip(1) {
        total.iter_mut().zip(part).for_each(|(a, v)| *a += v);
    }
    let db = Array1::from_vec(total.split_off(taps * d.j));
    Ok(Conv2dGrads {
        input: dx,
        kernel: Array4::from_shape_vec(kdim, total).expect("dW shape"),
        bias: db,
    })
}

/// `rows` rows of `row` floats cut into `blocks` consecutive parts of
/// `rows.div_ceil(blocks)` rows (the last ones shorter or empty), as
/// [`Plan::dx_rows`].
fn split_rows(mut buf: &mut [f32], rows: usize, row: usize, blocks: usize) -> Vec<&mut [f32]> {
    let per = rows.div_ceil(blocks.max(1));
    let mut parts = Vec::with_capacity(blocks);
    for b in 0..blocks {
        let n = per.min(rows.saturating_sub(b * per));
        let (head, tail) = std::mem::take(&mut buf).split_at_mut(n * row);
        parts.push(head);
        buf = tail;
    }
    parts
}

/// What every task of one backward call shares.
struct Plan<'a> {
    level: SimdLevel,
    d: &'a Dw,
    /// Output rows per block (the last block may have fewer).
    block_rows: usize,
    /// `dX` rows per block (the gather's; the last blocks may have fewer or none).
    dx_rows: usize,
    gather: Option<&'a Gather>,
}

impl Plan<'_> {
    /// Adds `dW` and `db` of output-row block `b` of one image to `part`
    /// (`[KH*KW, j]` then `[j]`).
    fn weight_grads(&self, image: &[f32], dy_img: &[f32], b: usize, part: &mut [f32]) {
        let (d, g) = (self.d, &self.d.g);
        let r0 = b * self.block_rows;
        let rows = self.block_rows.min(g.out_h - r0);
        let out_row = g.out_w * d.j;
        let dy = &dy_img[r0 * out_row..][..rows * out_row];
        let row = if d.in_place {
            g.in_w * g.channels
        } else {
            d.need_w * d.j
        };
        let offsets = d.offsets(row);
        let args = GradArgs {
            src: image,
            row,
            offsets: &offsets,
            dy,
            j: d.j,
            stride_h: g.stride_h,
            stride_w: g.stride_w,
            out_w: g.out_w,
        };
        if d.in_place {
            let src = &image[r0 * g.stride_h * row..];
            weight_grad_rows_at(self.level, &GradArgs { src, ..args }, part);
        } else {
            with_scratch(d.strip_len(rows), |buf| {
                let strip = d.strip_rows(rows);
                d.fill_padded(image, r0 * g.stride_h, strip, buf);
                let src = &buf[..strip * row];
                weight_grad_rows_at(self.level, &GradArgs { src, ..args }, part);
            });
        }
    }

    /// `dX` rows of block `b` of one image (`dx`: those rows, zeroed) by the gather.
    fn gather_input_grad(&self, dy_img: &[f32], b: usize, dx: &mut [f32]) {
        let (d, gather) = (self.d, self.gather.expect("gather plan"));
        let c = d.g.channels;
        let row = d.g.in_w * c;
        if dx.is_empty() {
            return;
        }
        let (x0, rows) = (b * self.dx_rows, dx.len() / row);
        let t = &gather.d;
        let strip = t.strip_len(rows);
        if d.m == 1 {
            with_scratch(strip, |buf| {
                forward_block(self.level, t, dy_img, &gather.flipped, None, x0, dx, buf)
            });
            return;
        }
        let expanded = rows * d.g.in_w * d.j;
        with_scratch(strip + expanded, |buf| {
            let (buf, out) = buf.split_at_mut(strip);
            forward_block(self.level, t, dy_img, &gather.flipped, None, x0, out, buf);
            for (v, copies) in dx.iter_mut().zip(out.chunks_exact(d.m)) {
                *v = copies.iter().sum();
            }
        });
    }
}

/// The stride-1 input gradient as a forward depthwise convolution: `dY`
/// zero-padded by `eff - 1 - pad` before, read with the flipped kernel.
struct Gather {
    /// The forward geometry over `dY` (`C*M` channels, multiplier 1) whose
    /// output is `dX` with the `M` copies of each channel not yet summed.
    d: Dw,
    /// The kernel with its taps in reverse order (`[KH*KW, j]`).
    flipped: Vec<f32>,
}

impl Gather {
    /// The gather of `d` (kernel `w`), or `None` when a stride is above 1.
    fn new(d: &Dw, w: &[f32]) -> Option<Gather> {
        let g = &d.g;
        if g.stride_h != 1 || g.stride_w != 1 {
            return None;
        }
        let eff_h = (g.kernel_h - 1) * g.dilation_h + 1;
        let eff_w = (g.kernel_w - 1) * g.dilation_w + 1;
        // Keras' padding puts at most eff - 1 cells before the image.
        let pad_top = (eff_h - 1).checked_sub(g.pad_top)?;
        let pad_left = (eff_w - 1).checked_sub(g.pad_left)?;
        let (need_h, need_w) = (g.in_h + eff_h - 1, g.in_w + eff_w - 1);
        let t = ConvGeometry {
            in_h: g.out_h,
            in_w: g.out_w,
            channels: d.j,
            out_h: g.in_h,
            out_w: g.in_w,
            pad_top,
            pad_left,
            ..*g
        };
        let taps = g.kernel_h * g.kernel_w;
        let flipped = (0..taps)
            .rev()
            .flat_map(|t| &w[t * d.j..][..d.j])
            .copied()
            .collect();
        Some(Gather {
            d: Dw {
                g: t,
                m: 1,
                j: d.j,
                need_h,
                need_w,
                in_place: pad_top == 0 && pad_left == 0 && need_h <= t.in_h && need_w <= t.in_w,
            },
            flipped,
        })
    }
}

/// `dx` (one image, zeroed) += the input gradient by scattering `dY * W` onto
/// a padded, expanded copy of the image (strides above 1).
fn scatter_input_grad(level: SimdLevel, d: &Dw, w: &[f32], dy_img: &[f32], dx: &mut [f32]) {
    let g = &d.g;
    let row = d.need_w * d.j;
    let offsets = d.offsets(row);
    with_scratch(d.need_h * row, |dxp| {
        dxp.fill(0.0);
        let args = ScatterArgs {
            offsets: &offsets,
            w,
            dy: dy_img,
            row,
            j: d.j,
            stride_h: g.stride_h,
            stride_w: g.stride_w,
            out_w: g.out_w,
        };
        scatter_rows_at(level, &args, dxp);
        crop_and_reduce(d, dxp, dx);
    });
}

/// `dx` (one image, `[H, W, C]`) = the gradient of the padded, expanded
/// image `dxp`: its inside cells, summed over the `M` copies of each channel.
fn crop_and_reduce(d: &Dw, dxp: &[f32], dx: &mut [f32]) {
    let g = &d.g;
    let c = g.channels;
    for (ih, dx_row) in dx.chunks_exact_mut(g.in_w * c).enumerate() {
        let pr = ih + g.pad_top;
        if pr >= d.need_h {
            continue; // never read: zero gradient (dx starts zeroed)
        }
        let src = &dxp[pr * d.need_w * d.j..][..d.need_w * d.j];
        for (iw, px) in dx_row.chunks_exact_mut(c).enumerate() {
            let pc = iw + g.pad_left;
            if pc >= d.need_w {
                break;
            }
            let cell = &src[pc * d.j..][..d.j];
            if d.m == 1 {
                px.copy_from_slice(cell);
            } else {
                for (v, copies) in px.iter_mut().zip(cell.chunks_exact(d.m)) {
                    *v = copies.iter().sum();
                }
            }
        }
    }
}

/// The operands of [`weight_grad_rows`]: output rows `dy` and the (padded,
/// expanded) source `src` whose rows are `row` floats apart, starting at the
/// first output row's first input row.
struct GradArgs<'a> {
    src: &'a [f32],
    row: usize,
    offsets: &'a [usize],
    /// `dL/dY` of the rows, `[rows, OW, j]`.
    dy: &'a [f32],
    j: usize,
    stride_h: usize,
    stride_w: usize,
    out_w: usize,
}

crate::simd_dispatch! {
    /// Adds the rows' `dW` (`[KH*KW, j]`) and `db` (`[j]`, after it) to
    /// `part` (only the `_at` form is called: the level is chosen once per pass).
    #[allow(dead_code)]
    fn weight_grad_rows(a: &GradArgs, part: &mut [f32]);
    /// [`weight_grad_rows`] at a chosen level.
    fn weight_grad_rows_at(level);
    avx512 => weight_grad_body::<true>(a, part),
    avx2 => weight_grad_body::<true>(a, part),
    portable => weight_grad_body::<false>(a, part),
}

#[inline(always)]
fn weight_grad_body<const FMA: bool>(a: &GradArgs, part: &mut [f32]) {
    let taps = a.offsets.len();
    let out_row = a.out_w * a.j;
    let last_tap = a.offsets.last().copied().unwrap_or(0);
    assert!(
        part.len() >= (taps + 1) * a.j,
        "depthwise partial shorter than dW + db"
    );
    let (dw, db) = part.split_at_mut(taps * a.j);
    for (r, dy_row) in a.dy.chunks_exact(out_row).enumerate() {
        let row_base = r * a.stride_h * a.row;
        // The furthest read of this row: its last pixel's last tap, last channel.
        let end = row_base + (a.out_w - 1) * a.stride_w * a.j + last_tap + a.j;
        assert!(end <= a.src.len(), "depthwise tap outside the source");
        for (j0, width) in channel_blocks(a.j) {
            match width {
                16 => grad_row_block::<16, FMA>(a, row_base, j0, dy_row, dw, db),
                8 => grad_row_block::<8, FMA>(a, row_base, j0, dy_row, dw, db),
                _ => grad_row_block::<1, FMA>(a, row_base, j0, dy_row, dw, db),
            }
        }
    }
}

/// Channels `j0..j0 + B` of one output row: every tap's `dW` in groups of
/// 9, 4 and 1 taps, then `db`. The caller asserted that every read of the
/// row lies inside `a.src`, that `dy_row` holds `out_w * j` floats and
/// `dw`/`db` `taps * j`/`j`.
#[inline(always)]
fn grad_row_block<const B: usize, const FMA: bool>(
    a: &GradArgs,
    row_base: usize,
    j0: usize,
    dy_row: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let taps = a.offsets.len();
    let mut t0 = 0;
    while t0 < taps {
        match taps - t0 {
            9.. => grad_taps::<9, B, FMA>(a, row_base, t0, j0, dy_row, dw),
            4..=8 => grad_taps::<4, B, FMA>(a, row_base, t0, j0, dy_row, dw),
            _ => grad_taps::<1, B, FMA>(a, row_base, t0, j0, dy_row, dw),
        }
        t0 += match taps - t0 {
            9.. => 9,
            4..=8 => 4,
            _ => 1,
        };
    }
    let mut acc = [0.0f32; B];
    for px in dy_row.chunks_exact(a.j) {
        let d: &[f32; B] = px[j0..j0 + B].try_into().expect("B floats");
        for i in 0..B {
            acc[i] += d[i];
        }
    }
    for (s, v) in db[j0..j0 + B].iter_mut().zip(acc) {
        *s += v;
    }
}

/// `dW` of taps `t0..t0 + G`, channels `j0..j0 + B`, over one output row,
/// accumulated in `G` registers (each `dY` vector loaded once).
#[inline(always)]
fn grad_taps<const G: usize, const B: usize, const FMA: bool>(
    a: &GradArgs,
    row_base: usize,
    t0: usize,
    j0: usize,
    dy_row: &[f32],
    dw: &mut [f32],
) {
    let offs: [usize; G] = std::array::from_fn(|g| a.offsets[t0 + g]);
    let mut acc = [[0.0f32; B]; G];
    let step = a.stride_w * a.j;
    let (src, dy) = (a.src.as_ptr(), dy_row.as_ptr());
    for ow in 0..a.out_w {
        let p = row_base + ow * step + j0;
        // SAFETY: ow * j + j0 + B <= out_w * j == dy_row.len() (caller).
        let d: [f32; B] = unsafe { *dy.add(ow * a.j + j0).cast() };
        for (acc, &off) in acc.iter_mut().zip(&offs) {
            // SAFETY: p + off + B is at most the row's furthest read (ow <
            // out_w, off <= last tap, j0 + B <= j), asserted inside src.
            let x: [f32; B] = unsafe { *src.add(p + off).cast() };
            for i in 0..B {
                acc[i] = madd::<FMA>(x[i], d[i], acc[i]);
            }
        }
    }
    for (g, acc) in acc.iter().enumerate() {
        for (s, v) in dw[(t0 + g) * a.j + j0..][..B].iter_mut().zip(acc) {
            *s += v;
        }
    }
}

/// The operands of [`scatter_rows`]: one image's `dY` scattered onto a
/// padded, expanded `dX` whose rows are `row` floats apart.
struct ScatterArgs<'a> {
    offsets: &'a [usize],
    w: &'a [f32],
    dy: &'a [f32],
    row: usize,
    j: usize,
    stride_h: usize,
    stride_w: usize,
    out_w: usize,
}

crate::simd_dispatch! {
    /// `dxp += dY * W` scattered over the taps (only the `_at` form is called).
    #[allow(dead_code)]
    fn scatter_rows(a: &ScatterArgs, dxp: &mut [f32]);
    /// [`scatter_rows`] at a chosen level.
    fn scatter_rows_at(level);
    avx512 => scatter_body::<true>(a, dxp),
    avx2 => scatter_body::<true>(a, dxp),
    portable => scatter_body::<false>(a, dxp),
}

#[inline(always)]
fn scatter_body<const FMA: bool>(a: &ScatterArgs, dxp: &mut [f32]) {
    let out_row = a.out_w * a.j;
    let last_tap = a.offsets.last().copied().unwrap_or(0);
    assert!(
        a.w.len() >= a.offsets.len() * a.j,
        "depthwise kernel shorter than its taps"
    );
    for (r, dy_row) in a.dy.chunks_exact(out_row).enumerate() {
        let row_base = r * a.stride_h * a.row;
        let end = row_base + (a.out_w - 1) * a.stride_w * a.j + last_tap + a.j;
        assert!(end <= dxp.len(), "depthwise tap outside dX");
        for (t, &off) in a.offsets.iter().enumerate() {
            let w_t = &a.w[t * a.j..][..a.j];
            for (j0, width) in channel_blocks(a.j) {
                match width {
                    16 => scatter_block::<16, FMA>(a, row_base + off, j0, dy_row, w_t, dxp),
                    8 => scatter_block::<8, FMA>(a, row_base + off, j0, dy_row, w_t, dxp),
                    _ => scatter_block::<1, FMA>(a, row_base + off, j0, dy_row, w_t, dxp),
                }
            }
        }
    }
}

/// One tap, channels `j0..j0 + B`, over one output row: `dxp += dY * w`.
/// The caller asserted that every write of the row lies inside `dxp`, that
/// `dy_row` holds `out_w * j` floats and `w_t` `j`.
#[inline(always)]
fn scatter_block<const B: usize, const FMA: bool>(
    a: &ScatterArgs,
    base: usize,
    j0: usize,
    dy_row: &[f32],
    w_t: &[f32],
    dxp: &mut [f32],
) {
    let wv: &[f32; B] = w_t[j0..j0 + B].try_into().expect("B floats");
    let step = a.stride_w * a.j;
    let (dy, dx) = (dy_row.as_ptr(), dxp.as_mut_ptr());
    for ow in 0..a.out_w {
        // SAFETY: base + ow * step + j0 + B <= the row's furthest write and
        // ow * j + j0 + B <= dy_row.len(), both asserted by the caller.
        unsafe {
            let d: [f32; B] = *dy.add(ow * a.j + j0).cast();
            let dx = &mut *dx.add(base + ow * step + j0).cast::<[f32; B]>();
            for i in 0..B {
                dx[i] = madd::<FMA>(d[i], wv[i], dx[i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::padding::Padding;
    use proptest::prelude::*;

    fn random4(shape: [usize; 4], seed: u64) -> Array4<f32> {
        let mut rng = crate::random::rng_from_seed(seed);
        crate::random::normal(&shape, 0.0, 1.0, &mut rng)
            .into_dimensionality()
            .unwrap()
    }

    fn run(
        threads: usize,
        x: &Array4<f32>,
        w: &Array4<f32>,
        gy: &Array4<f32>,
        p: &Conv2dParams,
    ) -> Conv2dGrads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| depthwise_conv2d_backward(x.view(), w.view(), gy.view(), p, true).unwrap())
    }

    /// Bit-identical gradients on 1, 2 and 5 threads: gather (stride 1, one
    /// and several row blocks), scatter (stride 2), multiplier 2, batch 1.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        for (x, k, s, same) in [
            ([1, 23, 17, 40], [3, 3, 40, 1], 1, true),
            ([3, 70, 64, 12], [3, 3, 12, 2], 1, true),
            ([2, 15, 13, 9], [5, 3, 9, 1], 1, false),
            ([1, 19, 21, 33], [3, 3, 33, 1], 2, true),
        ] {
            let p = Conv2dParams {
                strides: (s, s),
                padding: if same { Padding::Same } else { Padding::Valid },
                dilation: (1, 1),
            };
            let (x, w) = (random4(x, 1), random4(k, 2));
            let gy = random4(
                crate::depthwise_conv2d_output_shape(x.shape(), w.shape(), &p).unwrap(),
                3,
            );
            let one = run(1, &x, &w, &gy, &p);
            for threads in [2, 5] {
                let other = run(threads, &x, &w, &gy, &p);
                assert_eq!(one.input, other.input, "{threads} threads dX");
                assert_eq!(one.kernel, other.kernel, "{threads} threads dW");
                assert_eq!(one.bias, other.bias, "{threads} threads db");
            }
        }
    }

    /// The plain f64 gradients (every window, every tap, output channel `c*M + m`).
    fn reference(x: &Array4<f32>, w: &Array4<f32>, gy: &Array4<f32>, p: &Conv2dParams) -> [Vec<f64>; 3] {
        let d = Dw::new(x.shape(), w.shape(), p).unwrap();
        let g = d.g;
        let (mut dx, mut dw) = (vec![0.0f64; x.len()], vec![0.0f64; w.len()]);
        let mut db = vec![0.0f64; d.j];
        for ((n, oh, ow, jj), &v) in gy.indexed_iter() {
            let (c, m, v) = (jj / d.m, jj % d.m, v as f64);
            db[jj] += v;
            for a in 0..g.kernel_h {
                for b in 0..g.kernel_w {
                    let ih = (oh * g.stride_h + a * g.dilation_h).checked_sub(g.pad_top);
                    let iw = (ow * g.stride_w + b * g.dilation_w).checked_sub(g.pad_left);
                    if let (Some(ih), Some(iw)) = (ih, iw) {
                        if ih < g.in_h && iw < g.in_w {
                            dx[((n * g.in_h + ih) * g.in_w + iw) * g.channels + c] +=
                                v * w[[a, b, c, m]] as f64;
                            dw[((a * g.kernel_w + b) * g.channels + c) * d.m + m] +=
                                v * x[[n, ih, iw, c]] as f64;
                        }
                    }
                }
            }
        }
        [dx, dw, db]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Every SIMD level's dX, dW and db against the f64 reference, on the
        /// gather (stride 1 on both axes) and scatter paths, tall images that
        /// split into row blocks, channel counts crossing the 16/8/1 blocks,
        /// kernels of 1 to 11 taps per axis (tap groups of 9, 4 and 1).
        #[test]
        fn every_level_matches_the_f64_gradients(n in 1usize..3, h in 1usize..40, wd in 1usize..12,
                                                 c in 1usize..40, m in 1usize..3, kh in 1usize..5,
                                                 kw in 1usize..4, sh in 1usize..3, sw in 1usize..3,
                                                 dil in 1usize..3, same in any::<bool>(), seed in 0u64..1000) {
            let p = Conv2dParams {
                strides: (sh, sw),
                padding: if same { Padding::Same } else { Padding::Valid },
                dilation: (dil, 1),
            };
            prop_assume!(same || ((kh - 1) * dil < h && kw <= wd));
            let (x, w) = (random4([n, h, wd, c], seed), random4([kh, kw, c, m], seed + 1));
            let gy = random4(crate::depthwise_conv2d_output_shape(x.shape(), w.shape(), &p).unwrap(), seed + 2);
            let [dx, dw, db] = reference(&x, &w, &gy, &p);
            for level in SimdLevel::available() {
                let got = backward_at(level, x.view(), w.view(), gy.view(), &p, true).unwrap();
                let without = backward_at(level, x.view(), w.view(), gy.view(), &p, false).unwrap();
                prop_assert!(without.input.is_none());
                let pairs = [
                    ("dX", got.input.unwrap().into_raw_vec_and_offset().0, dx.clone()),
                    ("dW", got.kernel.into_raw_vec_and_offset().0, dw.clone()),
                    ("dW without dX", without.kernel.into_raw_vec_and_offset().0, dw.clone()),
                    ("db", got.bias.to_vec(), db.clone()),
                ];
                for (what, got, want) in pairs {
                    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                        prop_assert!((*a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()) * (1.0 + (n * h * wd) as f64).sqrt(),
                                     "{:?} {} [{}]: {} vs {}", level, what, i, a, b);
                    }
                }
            }
        }
    }
}
