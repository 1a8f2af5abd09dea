//! im2col / col2im for NHWC images and `(kh, kw, in, out)` kernels.
//!
//! `im2col` turns a batch `[N, H, W, C]` into the matrix `[N*OH*OW, KH*KW*C]`
//! whose row `(n, oh, ow)` holds the (zero-padded) receptive field of output
//! pixel `(oh, ow)` of image `n`, ordered `(kh, kw, c)` — the row-major order
//! of a Keras kernel reshaped to `[KH*KW*C, F]`. So `cols x kernel` is the
//! convolution, already in NHWC order. `col2im` is its adjoint: it
//! scatter-adds such a matrix back onto an image batch.
//!
//! Both work image by image in parallel (rayon) on contiguous slices.

use crate::conv::conv2d::Conv2dParams;
use crate::error::{Result, TensorError};
use crate::padding::{conv_output_size, Padding};
use crate::size::checked_len;
use ndarray::{Array2, Array4, ArrayView2, ArrayView4};
use rayon::prelude::*;

/// Every size of one 2-d convolution: input, kernel window, output, strides,
/// dilations and the leading (top/left) padding.
///
/// ```
/// use neurite_tensor::{ConvGeometry, Conv2dParams, Padding};
/// let p = Conv2dParams { strides: (2, 2), padding: Padding::Same, dilation: (1, 1) };
/// let g = ConvGeometry::new(&[8, 4, 5, 3], (3, 3), &p)?;
/// assert_eq!((g.out_h, g.out_w), (2, 3));
/// assert_eq!((g.pad_top, g.pad_left), (0, 1));
/// assert_eq!(g.patch_len(), 27);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Batch size `N`.
    pub batch: usize,
    /// Input height `H`.
    pub in_h: usize,
    /// Input width `W`.
    pub in_w: usize,
    /// Input channels `C`.
    pub channels: usize,
    /// Kernel height `KH`.
    pub kernel_h: usize,
    /// Kernel width `KW`.
    pub kernel_w: usize,
    /// Output height `OH`.
    pub out_h: usize,
    /// Output width `OW`.
    pub out_w: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Vertical dilation.
    pub dilation_h: usize,
    /// Horizontal dilation.
    pub dilation_w: usize,
    /// Rows of (virtual) padding above the input.
    pub pad_top: usize,
    /// Columns of (virtual) padding left of the input.
    pub pad_left: usize,
}

impl ConvGeometry {
    /// Geometry of a convolution of an `[N, H, W, C]` input with a `(kh, kw)` window.
    ///
    /// ```
    /// use neurite_tensor::{ConvGeometry, Conv2dParams};
    /// let g = ConvGeometry::new(&[1, 28, 28, 1], (3, 3), &Conv2dParams::default())?;
    /// assert_eq!((g.out_h, g.out_w), (26, 26));
    /// assert!(ConvGeometry::new(&[28, 28, 1], (3, 3), &Conv2dParams::default()).is_err());
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn new(input_shape: &[usize], kernel_hw: (usize, usize), p: &Conv2dParams) -> Result<Self> {
        if input_shape.len() != 4 {
            return Err(TensorError::invalid(
                "conv2d",
                format!("input must be rank 4 (N, H, W, C), got shape {input_shape:?}"),
            ));
        }
        let (out_h, pad_top, _) =
            conv_output_size(input_shape[1], kernel_hw.0, p.strides.0, p.dilation.0, p.padding)
                .map_err(|e| axis_error(e, "height"))?;
        let (out_w, pad_left, _) =
            conv_output_size(input_shape[2], kernel_hw.1, p.strides.1, p.dilation.1, p.padding)
                .map_err(|e| axis_error(e, "width"))?;
        // Sizes derived from the geometry (`image_len`, `patch_len`,
        // `rows_per_image` and the whole batch's rows) must not overflow.
        checked_len("conv2d", "the input", input_shape)?;
        checked_len(
            "conv2d",
            "one window",
            &[kernel_hw.0, kernel_hw.1, input_shape[3]],
        )?;
        checked_len("conv2d", "the output pixels", &[input_shape[0], out_h, out_w])?;
        Ok(ConvGeometry {
            batch: input_shape[0],
            in_h: input_shape[1],
            in_w: input_shape[2],
            channels: input_shape[3],
            kernel_h: kernel_hw.0,
            kernel_w: kernel_hw.1,
            out_h,
            out_w,
            stride_h: p.strides.0,
            stride_w: p.strides.1,
            dilation_h: p.dilation.0,
            dilation_w: p.dilation.1,
            pad_top,
            pad_left,
        })
    }

    /// Length of one im2col row: `KH * KW * C`.
    ///
    /// ```
    /// use neurite_tensor::{ConvGeometry, Conv2dParams};
    /// let g = ConvGeometry::new(&[2, 5, 5, 4], (3, 2), &Conv2dParams::default())?;
    /// assert_eq!(g.patch_len(), 24);
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn patch_len(&self) -> usize {
        self.kernel_h * self.kernel_w * self.channels
    }

    /// Output pixels per image: `OH * OW` (= im2col rows per image).
    ///
    /// ```
    /// use neurite_tensor::{ConvGeometry, Conv2dParams};
    /// let g = ConvGeometry::new(&[2, 5, 5, 4], (3, 3), &Conv2dParams::default())?;
    /// assert_eq!(g.rows_per_image(), 9);
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn rows_per_image(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Elements of one input image: `H * W * C`.
    ///
    /// ```
    /// use neurite_tensor::{ConvGeometry, Conv2dParams};
    /// let g = ConvGeometry::new(&[2, 5, 5, 4], (3, 3), &Conv2dParams::default())?;
    /// assert_eq!(g.image_len(), 100);
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }

    /// True when the convolution is a plain matrix product of the input
    /// `[N*H*W, C]` with the kernel: a 1x1 window, stride 1 (no im2col needed).
    ///
    /// ```
    /// use neurite_tensor::{ConvGeometry, Conv2dParams};
    /// assert!(ConvGeometry::new(&[2, 5, 5, 4], (1, 1), &Conv2dParams::default())?.is_pointwise());
    /// assert!(!ConvGeometry::new(&[2, 5, 5, 4], (3, 3), &Conv2dParams::default())?.is_pointwise());
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn is_pointwise(&self) -> bool {
        self.kernel_h == 1 && self.kernel_w == 1 && self.stride_h == 1 && self.stride_w == 1
    }

    /// Errors unless `self` is exactly what [`ConvGeometry::new`] builds from
    /// its own sizes, strides and dilations with valid or same padding. The
    /// fields are public, so [`im2col`] and [`col2im`] check this before
    /// trusting them (a hand-made geometry could have an output size or
    /// padding that does not fit its input).
    fn check_consistent(&self, op: &'static str) -> Result<()> {
        let shape = [self.batch, self.in_h, self.in_w, self.channels];
        for padding in [Padding::Valid, Padding::Same] {
            let p = Conv2dParams {
                strides: (self.stride_h, self.stride_w),
                padding,
                dilation: (self.dilation_h, self.dilation_w),
            };
            if ConvGeometry::new(&shape, (self.kernel_h, self.kernel_w), &p).as_ref() == Ok(self) {
                return Ok(());
            }
        }
        Err(TensorError::invalid(
            op,
            format!(
                "inconsistent geometry {self:?}: its output size and padding are not those of valid \
                 or same padding for its input, kernel, strides and dilations (build it with ConvGeometry::new)"
            ),
        ))
    }

    /// Input column `iw` (if inside the image) read by output column `ow`, kernel column `kw`.
    #[inline(always)]
    fn in_col(&self, ow: usize, kw: usize) -> Option<usize> {
        (ow * self.stride_w + kw * self.dilation_w)
            .checked_sub(self.pad_left)
            .filter(|&iw| iw < self.in_w)
    }

    #[inline(always)]
    fn in_row(&self, oh: usize, kh: usize) -> Option<usize> {
        (oh * self.stride_h + kh * self.dilation_h)
            .checked_sub(self.pad_top)
            .filter(|&ih| ih < self.in_h)
    }

    /// Whether every window lies inside the image: no padding and dilation 1.
    #[inline(always)]
    fn windows_inside_image(&self) -> bool {
        self.pad_top == 0
            && self.pad_left == 0
            && self.dilation_h == 1
            && self.dilation_w == 1
            && (self.out_h == 0 || (self.out_h - 1) * self.stride_h + self.kernel_h <= self.in_h)
            && (self.out_w == 0 || (self.out_w - 1) * self.stride_w + self.kernel_w <= self.in_w)
    }

    /// First input column of output column `ow` when the whole dilation-1
    /// window row lies inside the image (then it is one contiguous slice).
    #[inline(always)]
    fn contiguous_window(&self, ow: usize) -> Option<usize> {
        if self.dilation_w != 1 {
            return None;
        }
        (ow * self.stride_w)
            .checked_sub(self.pad_left)
            .filter(|&iw0| iw0 + self.kernel_w <= self.in_w)
    }
}

fn axis_error(e: TensorError, axis: &str) -> TensorError {
    match e {
        TensorError::InvalidArgument { message, .. } => {
            TensorError::invalid("conv2d", format!("{axis} axis: {message}"))
        }
        other => other,
    }
}

/// Calls `$f::<ROW>(args)` with `ROW` the window-row length `$len` when it is
/// 1..=9 (few-channel images: fixed-size copies), else `$f::<0>` (any length).
macro_rules! with_row_len {
    ($len:expr, $f:ident($($arg:expr),*)) => {
        match $len {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            9 => $f::<9>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}

crate::simd_dispatch! {
    /// im2col of one image: `image` is `[H, W, C]` (contiguous), `cols` is
    /// `[OH*OW, KH*KW*C]` (contiguous) and is fully overwritten.
    ///
    /// On x86-64 with AVX2 the loop runs in a copy compiled for AVX2 (wider
    /// copies of the short window rows; 512-bit registers do not help here).
    pub(crate) fn im2col_image(image: &[f32], g: &ConvGeometry, cols: &mut [f32]);
    avx2 => im2col_image_portable(image, g, cols),
    portable => im2col_image_portable(image, g, cols),
}

#[inline(always)]
fn im2col_image_portable(image: &[f32], g: &ConvGeometry, cols: &mut [f32]) {
    if g.windows_inside_image() {
        return with_row_len!(g.kernel_w * g.channels, im2col_inside(image, g, cols));
    }
    let c = g.channels;
    let row_len = g.kernel_w * c;
    let k = g.kernel_h * row_len;
    let in_row_len = g.in_w * c;
    debug_assert_eq!(image.len(), g.image_len());
    debug_assert_eq!(cols.len(), g.rows_per_image() * k);
    for oh in 0..g.out_h {
        for ow in 0..g.out_w {
            let row = &mut cols[(oh * g.out_w + ow) * k..][..k];
            let contiguous = g.contiguous_window(ow);
            for kh in 0..g.kernel_h {
                let dst = &mut row[kh * row_len..][..row_len];
                let Some(ih) = g.in_row(oh, kh) else {
                    dst.fill(0.0);
                    continue;
                };
                let src = &image[ih * in_row_len..][..in_row_len];
                if let Some(iw0) = contiguous {
                    copy_small(dst, &src[iw0 * c..][..row_len]);
                } else {
                    for (kw, d) in dst.chunks_exact_mut(c).enumerate() {
                        match g.in_col(ow, kw) {
                            Some(iw) => copy_small(d, &src[iw * c..][..c]),
                            None => d.fill(0.0),
                        }
                    }
                }
            }
        }
    }
}

/// im2col when every window lies inside the image (no padding, dilation 1):
/// each cols row is `KH` contiguous input slices of `KW*C` floats. `ROW` is
/// that length when known at compile time (short rows of few-channel
/// images then copy as fixed-size moves), `0` otherwise.
#[inline(always)]
fn im2col_inside<const ROW: usize>(image: &[f32], g: &ConvGeometry, cols: &mut [f32]) {
    let row_len = g.kernel_w * g.channels;
    debug_assert!(ROW == 0 || ROW == row_len);
    let k = g.kernel_h * row_len;
    let in_row_len = g.in_w * g.channels;
    let mut rows = cols.chunks_exact_mut(k);
    for oh in 0..g.out_h {
        for ow in 0..g.out_w {
            let row = rows.next().expect("cols has OH*OW rows");
            let base = oh * g.stride_h * in_row_len + ow * g.stride_w * g.channels;
            for (kh, dst) in row.chunks_exact_mut(row_len).enumerate() {
                let src = &image[base + kh * in_row_len..][..row_len];
                if ROW == 0 {
                    dst.copy_from_slice(src);
                } else {
                    let src: &[f32; ROW] = src.try_into().expect("ROW floats");
                    let dst: &mut [f32; ROW] = dst.try_into().expect("ROW floats");
                    *dst = *src;
                }
            }
        }
    }
}

/// col2im when every window lies inside the image: the adjoint of
/// [`im2col_inside`] (`ROW` as there).
#[inline(always)]
fn col2im_inside<const ROW: usize>(cols: &[f32], g: &ConvGeometry, image: &mut [f32]) {
    let row_len = g.kernel_w * g.channels;
    debug_assert!(ROW == 0 || ROW == row_len);
    let k = g.kernel_h * row_len;
    let in_row_len = g.in_w * g.channels;
    let mut rows = cols.chunks_exact(k);
    for oh in 0..g.out_h {
        for ow in 0..g.out_w {
            let row = rows.next().expect("cols has OH*OW rows");
            let base = oh * g.stride_h * in_row_len + ow * g.stride_w * g.channels;
            for (kh, src) in row.chunks_exact(row_len).enumerate() {
                let dst = &mut image[base + kh * in_row_len..][..row_len];
                if ROW == 0 {
                    add_assign(dst, src);
                } else {
                    let src: &[f32; ROW] = src.try_into().expect("ROW floats");
                    let dst: &mut [f32; ROW] = dst.try_into().expect("ROW floats");
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d += s;
                    }
                }
            }
        }
    }
}

crate::simd_dispatch! {
    /// col2im of one image: adds the rows of `cols` (`[OH*OW, KH*KW*C]`) onto
    /// `image` (`[H, W, C]`), which the caller has initialised (usually to zero).
    ///
    /// Dispatched like [`im2col_image`] (AVX2 copy when present, fixed-size rows
    /// when every window is inside the image).
    pub(crate) fn col2im_image_add(cols: &[f32], g: &ConvGeometry, image: &mut [f32]);
    avx2 => col2im_image_add_portable(cols, g, image),
    portable => col2im_image_add_portable(cols, g, image),
}

#[inline(always)]
fn col2im_image_add_portable(cols: &[f32], g: &ConvGeometry, image: &mut [f32]) {
    if g.windows_inside_image() {
        return with_row_len!(g.kernel_w * g.channels, col2im_inside(cols, g, image));
    }
    let c = g.channels;
    let row_len = g.kernel_w * c;
    let k = g.kernel_h * row_len;
    let in_row_len = g.in_w * c;
    debug_assert_eq!(image.len(), g.image_len());
    debug_assert_eq!(cols.len(), g.rows_per_image() * k);
    for oh in 0..g.out_h {
        for ow in 0..g.out_w {
            let row = &cols[(oh * g.out_w + ow) * k..][..k];
            let contiguous = g.contiguous_window(ow);
            for kh in 0..g.kernel_h {
                let Some(ih) = g.in_row(oh, kh) else { continue };
                let src = &row[kh * row_len..][..row_len];
                let dst = &mut image[ih * in_row_len..][..in_row_len];
                if let Some(iw0) = contiguous {
                    add_assign(&mut dst[iw0 * c..][..row_len], src);
                } else {
                    for (kw, s) in src.chunks_exact(c).enumerate() {
                        if let Some(iw) = g.in_col(ow, kw) {
                            add_assign(&mut dst[iw * c..][..c], s);
                        }
                    }
                }
            }
        }
    }
}

/// `dst.copy_from_slice(src)` without a `memcpy` call for the short rows of
/// few-channel images (a 3x3 window on one channel copies 3 floats).
#[inline(always)]
fn copy_small(dst: &mut [f32], src: &[f32]) {
    if dst.len() >= 16 {
        dst.copy_from_slice(src);
        return;
    }
    let mut d = dst.chunks_exact_mut(4);
    let mut s = src.chunks_exact(4);
    for (a, b) in (&mut d).zip(&mut s) {
        let b: &[f32; 4] = b.try_into().expect("chunk of 4");
        a.copy_from_slice(b);
    }
    match (d.into_remainder(), s.remainder()) {
        ([a0], [b0]) => *a0 = *b0,
        ([a0, a1], [b0, b1]) => (*a0, *a1) = (*b0, *b1),
        ([a0, a1, a2], [b0, b1, b2]) => (*a0, *a1, *a2) = (*b0, *b1, *b2),
        _ => {}
    }
}

#[inline(always)]
fn add_assign(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// im2col of images `first..first + count` of the contiguous NHWC batch
/// `input` into `cols` (`count * OH*OW` rows), one rayon task per image.
pub(crate) fn im2col_batch(input: &[f32], g: &ConvGeometry, first: usize, count: usize, cols: &mut [f32]) {
    let img = g.image_len();
    let per = g.rows_per_image() * g.patch_len();
    if per == 0 {
        return;
    }
    let src = &input[first * img..][..count * img];
    if img == 0 {
        cols[..count * per].fill(0.0);
        return;
    }
    cols[..count * per]
        .par_chunks_mut(per)
        .zip(src.par_chunks(img))
        .for_each(|(c, x)| im2col_image(x, g, c));
}

/// Adds the col2im of `cols` onto images `first..first + count` of the
/// contiguous NHWC batch `out` (zeroed by the caller), one rayon task per image.
pub(crate) fn col2im_batch(cols: &[f32], g: &ConvGeometry, first: usize, count: usize, out: &mut [f32]) {
    let img = g.image_len();
    let per = g.rows_per_image() * g.patch_len();
    if img == 0 {
        return;
    }
    let dst = &mut out[first * img..][..count * img];
    if per == 0 {
        dst.fill(0.0);
        return;
    }
    dst.par_chunks_mut(img)
        .zip(cols[..count * per].par_chunks(per))
        .for_each(|(x, c)| {
            x.fill(0.0);
            col2im_image_add(c, g, x);
        });
}

/// The im2col matrix `[N*OH*OW, KH*KW*C]` of an NHWC batch.
///
/// Errors when `input`'s shape does not match `g`, when `g` is not one
/// [`ConvGeometry::new`] builds (its fields are public), or when the matrix
/// would be too large to allocate.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{im2col, ConvGeometry, Conv2dParams};
/// let x = Array4::from_shape_fn((1, 3, 3, 1), |(_, h, w, _)| (h * 3 + w) as f32);
/// let g = ConvGeometry::new(x.shape(), (2, 2), &Conv2dParams::default())?;
/// let cols = im2col(x.view(), &g)?;
/// assert_eq!(cols.dim(), (4, 4));
/// assert_eq!(cols.row(3).to_vec(), vec![4.0, 5.0, 7.0, 8.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn im2col(input: ArrayView4<f32>, g: &ConvGeometry) -> Result<Array2<f32>> {
    g.check_consistent("im2col")?;
    let expect = [g.batch, g.in_h, g.in_w, g.channels];
    if input.shape() != expect {
        return Err(TensorError::shape(
            "im2col",
            input.shape(),
            &expect,
            "input must match the geometry",
        ));
    }
    let rows = g.batch * g.rows_per_image();
    checked_len("im2col", "the im2col matrix", &[rows, g.patch_len()])?;
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let mut cols = Array2::<f32>::zeros((rows, g.patch_len()));
    im2col_batch(
        x,
        g,
        0,
        g.batch,
        cols.as_slice_mut().expect("fresh array is contiguous"),
    );
    Ok(cols)
}

/// col2im: scatter-adds the rows of a `[N*OH*OW, KH*KW*C]` matrix onto a new
/// zero NHWC batch — the adjoint of [`im2col`].
///
/// Errors when `cols`' shape does not match `g` or when `g` is not one
/// [`ConvGeometry::new`] builds (its fields are public).
///
/// ```
/// use ndarray::Array2;
/// use neurite_tensor::{col2im, ConvGeometry, Conv2dParams};
/// let g = ConvGeometry::new(&[1, 3, 3, 1], (2, 2), &Conv2dParams::default())?;
/// let x = col2im(Array2::ones((4, 4)).view(), &g)?;
/// // The centre pixel is in all four 2x2 windows.
/// assert_eq!(x[[0, 1, 1, 0]], 4.0);
/// assert_eq!(x[[0, 0, 0, 0]], 1.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn col2im(cols: ArrayView2<f32>, g: &ConvGeometry) -> Result<Array4<f32>> {
    g.check_consistent("col2im")?;
    let expect = [g.batch * g.rows_per_image(), g.patch_len()];
    if cols.shape() != expect {
        return Err(TensorError::shape(
            "col2im",
            cols.shape(),
            &expect,
            "cols must match the geometry",
        ));
    }
    let c = cols.as_standard_layout();
    let c = c.as_slice().expect("standard layout is contiguous");
    let mut out = Array4::<f32>::zeros((g.batch, g.in_h, g.in_w, g.channels));
    col2im_batch(
        c,
        g,
        0,
        g.batch,
        out.as_slice_mut().expect("fresh array is contiguous"),
    );
    Ok(out)
}
