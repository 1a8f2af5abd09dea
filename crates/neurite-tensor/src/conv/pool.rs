//! 2-d max / average pooling and global pooling on NHWC batches (Keras semantics).
//!
//! * Windows follow [`crate::conv_output_size`]: `valid`
//!   or TensorFlow's asymmetric `same` padding.
//! * Max pooling: padded cells never win; ties go to the first cell in
//!   row-major window order; a NaN in a window propagates. The forward
//!   returns [`MaxPoolIndices`] (the argmax of every output) for the backward,
//!   which routes each gradient to its argmax (accumulating where windows overlap).
//! * Average pooling with `same` padding divides by the number of *real*
//!   cells in the window (padded cells are excluded from the count), as TensorFlow.
//!
//! Every kernel is parallel over the batch (rayon, one task per image).

use crate::conv::max_pool_kernel::{max_pool_image, max_pool_image_backward, ImageWindows};
use crate::error::{Result, TensorError};
use crate::fill::{par_build, par_build_pair};
use crate::padding::{conv_output_size, Padding};
use crate::size::checked_len;
use ndarray::{Array2, Array4, ArrayView2, ArrayView4};
use rayon::prelude::*;
use std::ops::Range;

/// Window size, strides and padding of a 2-d pooling layer.
///
/// Keras' default strides are the pool size: use [`Pool2dParams::new`].
///
/// ```
/// use neurite_tensor::{Padding, Pool2dParams};
/// let p = Pool2dParams::new((2, 2));
/// assert_eq!((p.strides, p.padding), ((2, 2), Padding::Valid));
/// let q = Pool2dParams { strides: (1, 1), padding: Padding::Same, ..p };
/// assert_eq!(q.pool_size, (2, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2dParams {
    /// `(height, width)` of the pooling window.
    pub pool_size: (usize, usize),
    /// `(vertical, horizontal)` strides.
    pub strides: (usize, usize),
    /// `Valid` or `Same`.
    pub padding: Padding,
}

impl Pool2dParams {
    /// Keras' defaults for a given pool size: strides = pool size, valid padding.
    ///
    /// ```
    /// let p = neurite_tensor::Pool2dParams::new((3, 2));
    /// assert_eq!(p.strides, (3, 2));
    /// ```
    pub fn new(pool_size: (usize, usize)) -> Self {
        Pool2dParams {
            pool_size,
            strides: pool_size,
            padding: Padding::Valid,
        }
    }
}

impl Default for Pool2dParams {
    /// Keras' `MaxPooling2D()` defaults: 2x2 window, stride 2, valid.
    fn default() -> Self {
        Pool2dParams::new((2, 2))
    }
}

/// Argmax positions of a max-pooling forward pass, needed by its backward.
///
/// For each output element, the flat index `(h * W + w) * C + c` *within its
/// image* of the input element that won, as `u32` (half the memory of
/// `usize`; [`max_pool2d`] rejects images of more than `u32::MAX` elements).
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{max_pool2d, Pool2dParams};
/// let x = Array4::from_shape_vec((1, 2, 2, 1), vec![1.0f32, 5.0, 3.0, 2.0]).unwrap();
/// let (y, idx) = max_pool2d(x.view(), &Pool2dParams::new((2, 2)))?;
/// assert_eq!(y[[0, 0, 0, 0]], 5.0);
/// assert_eq!(idx.argmax(), &[1]);
/// assert_eq!(idx.input_shape(), [1, 2, 2, 1]);
/// assert_eq!(idx.output_shape(), &[1, 1, 1, 1]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxPoolIndices {
    input_shape: [usize; 4],
    output_shape: Vec<usize>,
    argmax: Vec<u32>,
}

impl MaxPoolIndices {
    /// `argmax` holds, per output element, a flat index below the image size of `input_shape`.
    pub(crate) fn new(input_shape: [usize; 4], output_shape: Vec<usize>, argmax: Vec<u32>) -> Self {
        MaxPoolIndices {
            input_shape,
            output_shape,
            argmax,
        }
    }

    /// Shape `[N, H, W, C]` of the pooled input.
    ///
    /// ```
    /// let x = ndarray::Array4::<f32>::zeros((2, 4, 4, 3));
    /// let (_, idx) = neurite_tensor::global_max_pool2d(x.view())?;
    /// assert_eq!(idx.input_shape(), [2, 4, 4, 3]);
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn input_shape(&self) -> [usize; 4] {
        self.input_shape
    }

    /// Shape of the pooled output: `[N, OH, OW, C]`, or `[N, C]` for global pooling.
    ///
    /// ```
    /// let x = ndarray::Array4::<f32>::zeros((2, 4, 4, 3));
    /// let (_, idx) = neurite_tensor::global_max_pool2d(x.view())?;
    /// assert_eq!(idx.output_shape(), &[2, 3]);
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    /// Per output element (row-major), the flat index within its image of its argmax.
    ///
    /// ```
    /// let x = ndarray::Array4::from_shape_vec((1, 1, 3, 1), vec![0.0f32, 9.0, 1.0]).unwrap();
    /// let (_, idx) = neurite_tensor::global_max_pool2d(x.view())?;
    /// assert_eq!(idx.argmax(), &[1]);
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn argmax(&self) -> &[u32] {
        &self.argmax
    }
}

/// Per-axis window ranges (already clipped to the input) of a pooling op.
pub(crate) struct PoolGeometry {
    batch: usize,
    in_h: usize,
    in_w: usize,
    channels: usize,
    out_h: usize,
    out_w: usize,
    /// Window ranges per output row and column; left empty when the input
    /// holds no element (no window is ever visited then, and the output
    /// sizes may be far too large to list).
    rows: Vec<Range<usize>>,
    cols: Vec<Range<usize>>,
}

impl PoolGeometry {
    fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }
    pub(crate) fn out_image_len(&self) -> usize {
        self.out_h * self.out_w * self.channels
    }
    pub(crate) fn out_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.channels]
    }
    pub(crate) fn image_windows(&self) -> ImageWindows<'_> {
        ImageWindows {
            rows: &self.rows,
            cols: &self.cols,
            in_w: self.in_w,
            channels: self.channels,
        }
    }
}

fn check_rank4(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    <[usize; 4]>::try_from(shape).map_err(|_| {
        TensorError::invalid(
            op,
            format!("input must be rank 4 (N, H, W, C), got shape {shape:?}"),
        )
    })
}

/// Output length of one axis and, when `list` is true, its windows.
fn windows(
    op: &'static str,
    axis: &str,
    input: usize,
    k: usize,
    s: usize,
    pad: Padding,
    list: bool,
) -> Result<(usize, Vec<Range<usize>>)> {
    let (out, before, _) = conv_output_size(input, k, s, 1, pad).map_err(|e| match e {
        TensorError::InvalidArgument { message, .. } => {
            TensorError::invalid(op, format!("{axis} axis: {message}"))
        }
        other => other,
    })?;
    if !list {
        return Ok((out, Vec::new()));
    }
    Ok((
        out,
        (0..out)
            .map(|o| {
                let lo = (o * s).max(before) - before;
                let hi = (o * s + k).min(before + input) - before;
                debug_assert!(lo < hi, "every pooling window overlaps the input");
                lo..hi
            })
            .collect(),
    ))
}

pub(crate) fn pool_geometry(op: &'static str, input: &[usize], p: &Pool2dParams) -> Result<PoolGeometry> {
    geometry_impl(op, input, p, true)
}

/// [`pool_geometry`] without the window lists (`list = false`): the output
/// shape only, O(1) whatever the sizes.
fn geometry_impl(op: &'static str, input: &[usize], p: &Pool2dParams, list: bool) -> Result<PoolGeometry> {
    let [n, h, w, c] = check_rank4(op, input)?;
    // The input, output and gradients are allocated from these shapes:
    // their element counts must not overflow.
    checked_len(op, "the input", input)?;
    let list = list && n != 0 && c != 0;
    let (out_h, rows) = windows(op, "height", h, p.pool_size.0, p.strides.0, p.padding, list)?;
    let (out_w, cols) = windows(op, "width", w, p.pool_size.1, p.strides.1, p.padding, list)?;
    Ok(PoolGeometry {
        batch: n,
        in_h: h,
        in_w: w,
        channels: c,
        out_h,
        out_w,
        rows,
        cols,
    })
}

/// Output shape `[N, OH, OW, C]` of 2-d pooling of an `[N, H, W, C]` input.
///
/// Errors on a wrong rank, zero pool sizes or strides, (valid) a window
/// larger than the input, or an input shape whose element count overflows.
///
/// ```
/// use neurite_tensor::{pool2d_output_shape, Padding, Pool2dParams};
/// assert_eq!(pool2d_output_shape(&[32, 26, 26, 32], &Pool2dParams::new((2, 2)))?, [32, 13, 13, 32]);
/// assert_eq!(pool2d_output_shape(&[1, 11, 11, 64], &Pool2dParams::new((2, 2)))?, [1, 5, 5, 64]);
/// let same = Pool2dParams { padding: Padding::Same, ..Pool2dParams::new((2, 2)) };
/// assert_eq!(pool2d_output_shape(&[1, 11, 11, 64], &same)?, [1, 6, 6, 64]);
/// assert!(pool2d_output_shape(&[1, 1, 1, 3], &Pool2dParams::new((2, 2))).is_err());
/// assert!(pool2d_output_shape(&[usize::MAX, 2, 2, 2], &Pool2dParams::new((2, 2))).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn pool2d_output_shape(input: &[usize], p: &Pool2dParams) -> Result<[usize; 4]> {
    Ok(geometry_impl("pool2d", input, p, false)?.out_shape())
}

/// 2-d max pooling. Returns the pooled batch and the argmax of every output.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{max_pool2d, Pool2dParams};
/// let x = Array4::from_shape_fn((1, 4, 4, 1), |(_, h, w, _)| (h * 4 + w) as f32);
/// let (y, _) = max_pool2d(x.view(), &Pool2dParams::new((2, 2)))?;
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![5.0, 7.0, 13.0, 15.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn max_pool2d(input: ArrayView4<f32>, p: &Pool2dParams) -> Result<(Array4<f32>, MaxPoolIndices)> {
    let g = pool_geometry("max_pool2d", input.shape(), p)?;
    if u32::try_from(g.image_len()).is_err() {
        return Err(TensorError::invalid(
            "max_pool2d",
            format!(
                "an image of shape {:?} has more than u32::MAX elements",
                &input.shape()[1..]
            ),
        ));
    }
    let out_shape = g.out_shape();
    let (img, oimg) = (g.image_len(), g.out_image_len());
    let out_len = out_shape.iter().product::<usize>();
    if out_len == 0 {
        let out = Array4::<f32>::zeros(out_shape);
        return Ok((out, indices(out_shape, input.shape(), Vec::new())));
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let windows = g.image_windows();
    let (out, argmax) = par_build_pair((out_len, oimg, 0.0f32), (out_len, oimg, 0u32), |n, y, idx| {
        max_pool_image(&x[n * img..(n + 1) * img], y, Some(idx), &windows)
    });
    let out = Array4::from_shape_vec(out_shape, out).expect("pooled length matches its shape");
    Ok((out, indices(out_shape, input.shape(), argmax)))
}

/// [`max_pool2d`] without the argmax, for inference: the same values, and
/// nothing kept for a backward pass.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{max_pool2d, max_pool2d_values, Pool2dParams};
/// let x = Array4::from_shape_fn((1, 4, 4, 1), |(_, h, w, _)| (h * 4 + w) as f32);
/// let p = Pool2dParams::new((2, 2));
/// assert_eq!(max_pool2d_values(x.view(), &p)?, max_pool2d(x.view(), &p)?.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn max_pool2d_values(input: ArrayView4<f32>, p: &Pool2dParams) -> Result<Array4<f32>> {
    let g = pool_geometry("max_pool2d", input.shape(), p)?;
    let out_shape = g.out_shape();
    let (img, oimg) = (g.image_len(), g.out_image_len());
    let out_len = out_shape.iter().product::<usize>();
    if out_len == 0 {
        return Ok(Array4::zeros(out_shape));
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let windows = g.image_windows();
    let out = par_build(out_len, oimg, 0.0f32, |n, y| {
        max_pool_image(&x[n * img..(n + 1) * img], y, None, &windows)
    });
    Ok(Array4::from_shape_vec(out_shape, out).expect("pooled length matches its shape"))
}

fn indices(out_shape: [usize; 4], input_shape: &[usize], argmax: Vec<u32>) -> MaxPoolIndices {
    let input_shape = [input_shape[0], input_shape[1], input_shape[2], input_shape[3]];
    MaxPoolIndices::new(input_shape, out_shape.to_vec(), argmax)
}

/// Scatter-adds per-image gradients to their argmax positions.
fn scatter_argmax(
    grad: &[f32],
    argmax: &[u32],
    input_shape: [usize; 4],
    per_image_out: usize,
) -> Array4<f32> {
    let img = input_shape[1] * input_shape[2] * input_shape[3];
    let len = input_shape[0] * img;
    if len == 0 || per_image_out == 0 {
        return Array4::zeros(input_shape);
    }
    let dx = par_build(len, img, 0.0f32, |n, dx| {
        let out = n * per_image_out..(n + 1) * per_image_out;
        max_pool_image_backward(dx, &grad[out.clone()], &argmax[out])
    });
    Array4::from_shape_vec(input_shape, dx).expect("gradient length matches the input shape")
}

/// Backward of [`max_pool2d`]: routes each output gradient to the input cell
/// that won its window (gradients of overlapping windows add up).
///
/// Errors when `grad_output` or `input_shape` do not match `indices`.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{max_pool2d, max_pool2d_backward, Pool2dParams};
/// let x = Array4::from_shape_vec((1, 2, 2, 1), vec![1.0f32, 5.0, 3.0, 2.0]).unwrap();
/// let (_, idx) = max_pool2d(x.view(), &Pool2dParams::new((2, 2)))?;
/// let dx = max_pool2d_backward(Array4::from_elem((1, 1, 1, 1), 7.0).view(), &idx, [1, 2, 2, 1])?;
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![0.0, 7.0, 0.0, 0.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn max_pool2d_backward(
    grad_output: ArrayView4<f32>,
    indices: &MaxPoolIndices,
    input_shape: [usize; 4],
) -> Result<Array4<f32>> {
    check_indices("max_pool2d_backward", grad_output.shape(), indices, input_shape)?;
    let g = grad_output.as_standard_layout();
    let per = grad_output.shape()[1..].iter().product();
    Ok(scatter_argmax(
        g.as_slice().expect("standard layout is contiguous"),
        &indices.argmax,
        input_shape,
        per,
    ))
}

fn check_indices(
    op: &'static str,
    grad: &[usize],
    indices: &MaxPoolIndices,
    input_shape: [usize; 4],
) -> Result<()> {
    if input_shape != indices.input_shape {
        return Err(TensorError::shape(
            op,
            &input_shape,
            &indices.input_shape,
            "input_shape must be the shape of the forward input",
        ));
    }
    if grad != indices.output_shape.as_slice() {
        return Err(TensorError::shape(
            op,
            grad,
            &indices.output_shape,
            "grad_output must have the shape of the forward output",
        ));
    }
    Ok(())
}

/// 2-d average pooling. With `same` padding, padded cells are not counted.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{avg_pool2d, Padding, Pool2dParams};
/// let x = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0f32, 2.0, 6.0]).unwrap();
/// let p = Pool2dParams { pool_size: (1, 2), strides: (1, 2), padding: Padding::Same };
/// let y = avg_pool2d(x.view(), &p)?;
/// // Windows [1, 2] and [6, pad]: the padded cell is excluded from the mean.
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![1.5, 6.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn avg_pool2d(input: ArrayView4<f32>, p: &Pool2dParams) -> Result<Array4<f32>> {
    let g = pool_geometry("avg_pool2d", input.shape(), p)?;
    let mut out = Array4::<f32>::zeros(g.out_shape());
    if out.is_empty() {
        return Ok(out);
    }
    let (img, oimg, c) = (g.image_len(), g.out_image_len(), g.channels);
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    out.as_slice_mut()
        .expect("fresh array is contiguous")
        .par_chunks_mut(oimg)
        .zip(x.par_chunks(img))
        .for_each(|(y, x)| {
            let mut o = 0;
            for rows in &g.rows {
                for cols in &g.cols {
                    let acc = &mut y[o..o + c];
                    for h in rows.clone() {
                        for w in cols.clone() {
                            let base = (h * g.in_w + w) * c;
                            for (a, v) in acc.iter_mut().zip(&x[base..base + c]) {
                                *a += v;
                            }
                        }
                    }
                    let inv = 1.0 / (rows.len() * cols.len()) as f32;
                    acc.iter_mut().for_each(|a| *a *= inv);
                    o += c;
                }
            }
        });
    Ok(out)
}

/// Backward of [`avg_pool2d`]: each output gradient is spread evenly over the
/// real (non-padded) cells of its window.
///
/// Errors when `grad_output` is not the forward output shape for `input_shape` and `p`.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{avg_pool2d_backward, Pool2dParams};
/// let gy = Array4::from_elem((1, 1, 1, 1), 4.0f32);
/// let dx = avg_pool2d_backward(gy.view(), [1, 2, 2, 1], &Pool2dParams::new((2, 2)))?;
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![1.0; 4]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn avg_pool2d_backward(
    grad_output: ArrayView4<f32>,
    input_shape: [usize; 4],
    p: &Pool2dParams,
) -> Result<Array4<f32>> {
    let out_shape = geometry_impl("avg_pool2d_backward", &input_shape, p, false)?.out_shape();
    if grad_output.shape() != out_shape {
        return Err(TensorError::shape(
            "avg_pool2d_backward",
            grad_output.shape(),
            &out_shape,
            "grad_output must have the shape of the forward output",
        ));
    }
    let mut dx = Array4::<f32>::zeros(input_shape);
    if dx.is_empty() || grad_output.is_empty() {
        return Ok(dx);
    }
    // The windows are listed only now that grad_output (real data) has the
    // output's shape, so their number is bounded by its size.
    let g = pool_geometry("avg_pool2d_backward", &input_shape, p)?;
    let (img, oimg, c) = (g.image_len(), g.out_image_len(), g.channels);
    let gy = grad_output.as_standard_layout();
    let gy = gy.as_slice().expect("standard layout is contiguous");
    dx.as_slice_mut()
        .expect("fresh array is contiguous")
        .par_chunks_mut(img)
        .zip(gy.par_chunks(oimg))
        .for_each(|(dx, gy)| {
            let mut o = 0;
            let mut scaled = vec![0.0f32; c];
            for rows in &g.rows {
                for cols in &g.cols {
                    let inv = 1.0 / (rows.len() * cols.len()) as f32;
                    for (s, v) in scaled.iter_mut().zip(&gy[o..o + c]) {
                        *s = v * inv;
                    }
                    for h in rows.clone() {
                        for w in cols.clone() {
                            let base = (h * g.in_w + w) * c;
                            for (d, s) in dx[base..base + c].iter_mut().zip(&scaled) {
                                *d += s;
                            }
                        }
                    }
                    o += c;
                }
            }
        });
    Ok(dx)
}

fn check_global(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    let s = check_rank4(op, shape)?;
    checked_len(op, "the input", shape)?;
    if s[1] == 0 || s[2] == 0 {
        return Err(TensorError::invalid(
            op,
            format!("spatial axes must be non-empty, got shape {shape:?}"),
        ));
    }
    Ok(s)
}

/// Global average pooling: `[N, H, W, C]` to the per-channel means `[N, C]`.
///
/// ```
/// use ndarray::Array4;
/// let x = Array4::from_shape_vec((1, 2, 1, 2), vec![1.0f32, 10.0, 3.0, 20.0]).unwrap();
/// let y = neurite_tensor::global_avg_pool2d(x.view())?;
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![2.0, 15.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn global_avg_pool2d(input: ArrayView4<f32>) -> Result<Array2<f32>> {
    let [n, h, w, c] = check_global("global_avg_pool2d", input.shape())?;
    let mut out = Array2::<f32>::zeros((n, c));
    if out.is_empty() {
        return Ok(out);
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let inv = 1.0 / (h * w) as f32;
    out.as_slice_mut()
        .expect("fresh array is contiguous")
        .par_chunks_mut(c)
        .zip(x.par_chunks(h * w * c))
        .for_each(|(y, x)| {
            for px in x.chunks_exact(c) {
                for (a, v) in y.iter_mut().zip(px) {
                    *a += v;
                }
            }
            y.iter_mut().for_each(|a| *a *= inv);
        });
    Ok(out)
}

/// Backward of [`global_avg_pool2d`]: `dX[n, h, w, c] = dY[n, c] / (H * W)`.
///
/// ```
/// use ndarray::Array2;
/// let dx = neurite_tensor::global_avg_pool2d_backward(Array2::from_elem((1, 1), 4.0).view(), [1, 2, 2, 1])?;
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![1.0; 4]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn global_avg_pool2d_backward(
    grad_output: ArrayView2<f32>,
    input_shape: [usize; 4],
) -> Result<Array4<f32>> {
    let [n, h, w, c] = check_global("global_avg_pool2d_backward", &input_shape)?;
    if grad_output.shape() != [n, c] {
        return Err(TensorError::shape(
            "global_avg_pool2d_backward",
            grad_output.shape(),
            &[n, c],
            "grad_output must be (batch, channels) of the forward input",
        ));
    }
    let mut dx = Array4::<f32>::zeros(input_shape);
    if dx.is_empty() {
        return Ok(dx);
    }
    let gy = grad_output.as_standard_layout();
    let gy = gy.as_slice().expect("standard layout is contiguous");
    let inv = 1.0 / (h * w) as f32;
    dx.as_slice_mut()
        .expect("fresh array is contiguous")
        .par_chunks_mut(h * w * c)
        .zip(gy.par_chunks(c))
        .for_each(|(dx, gy)| {
            let scaled: Vec<f32> = gy.iter().map(|v| v * inv).collect();
            for px in dx.chunks_exact_mut(c) {
                px.copy_from_slice(&scaled);
            }
        });
    Ok(dx)
}

/// Global max pooling: `[N, H, W, C]` to the per-channel maxima `[N, C]`, with argmax.
///
/// ```
/// use ndarray::Array4;
/// let x = Array4::from_shape_vec((1, 2, 1, 2), vec![1.0f32, 30.0, 3.0, 20.0]).unwrap();
/// let (y, idx) = neurite_tensor::global_max_pool2d(x.view())?;
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![3.0, 30.0]);
/// assert_eq!(idx.argmax(), &[2, 1]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn global_max_pool2d(input: ArrayView4<f32>) -> Result<(Array2<f32>, MaxPoolIndices)> {
    let [n, h, w, c] = check_global("global_max_pool2d", input.shape())?;
    let p = Pool2dParams::new((h, w));
    let (y, mut idx) = max_pool2d(input, &p)?;
    idx.output_shape = vec![n, c];
    let y = y
        .into_shape_with_order((n, c))
        .expect("(n, 1, 1, c) reshapes to (n, c)");
    Ok((y, idx))
}

/// Backward of [`global_max_pool2d`]: each `dY[n, c]` goes to its argmax cell.
///
/// ```
/// use ndarray::{Array2, Array4};
/// use neurite_tensor::{global_max_pool2d, global_max_pool2d_backward};
/// let x = Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap();
/// let (_, idx) = global_max_pool2d(x.view())?;
/// let dx = global_max_pool2d_backward(Array2::from_elem((1, 1), 2.0).view(), &idx, [1, 2, 1, 1])?;
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![0.0, 2.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn global_max_pool2d_backward(
    grad_output: ArrayView2<f32>,
    indices: &MaxPoolIndices,
    input_shape: [usize; 4],
) -> Result<Array4<f32>> {
    check_indices(
        "global_max_pool2d_backward",
        grad_output.shape(),
        indices,
        input_shape,
    )?;
    let g = grad_output.as_standard_layout();
    Ok(scatter_argmax(
        g.as_slice().expect("standard layout is contiguous"),
        &indices.argmax,
        input_shape,
        input_shape[3],
    ))
}
