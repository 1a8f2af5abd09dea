//! 2-d convolution on NHWC batches with Keras' `(kh, kw, in, out)` kernels.
//!
//! Forward: `Y = im2col(X) · W + b`, one GEMM `[N*OH*OW, KH*KW*C] x [KH*KW*C, F]`
//! whose result already is the NHWC output. Backward: `dW = cols^T · dY`,
//! `db = Σ dY`, `dX = col2im(dY · W^T)`.
//!
//! The batch is processed in chunks so that the im2col matrix stays below
//! [`COLS_BUDGET`] floats; the buffer is a per-thread scratch reused between
//! calls. im2col / col2im run one rayon task per image; the GEMMs use the
//! backend's own threads (BLAS or matrixmultiply). A 1x1, stride-1
//! convolution skips im2col: the input already is the `[N*H*W, C]` matrix.

use crate::error::{Result, TensorError};
use crate::gemm::gemm;
use crate::im2col::{col2im_batch, im2col_batch, ConvGeometry};
use crate::padding::Padding;
use ndarray::{s, Array1, Array4, ArrayView1, ArrayView2, ArrayView4, ArrayViewMut2};
use rayon::prelude::*;
use std::cell::RefCell;

/// Upper bound (in `f32`s) of the im2col scratch matrix; larger batches are
/// processed in chunks of whole images (at least one image per chunk).
pub const COLS_BUDGET: usize = 1 << 23;

/// Strides, padding and dilation of a 2-d convolution (Keras' `Conv2D` arguments).
///
/// ```
/// use neurite_tensor::{Conv2dParams, Padding};
/// let p = Conv2dParams::default();
/// assert_eq!((p.strides, p.padding, p.dilation), ((1, 1), Padding::Valid, (1, 1)));
/// let q = Conv2dParams { strides: (2, 2), padding: Padding::Same, ..Conv2dParams::default() };
/// assert_eq!(q.dilation, (1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    /// `(vertical, horizontal)` strides, each at least 1.
    pub strides: (usize, usize),
    /// `Valid` (no padding) or `Same` (TensorFlow's asymmetric padding).
    pub padding: Padding,
    /// `(vertical, horizontal)` dilation rates, each at least 1.
    pub dilation: (usize, usize),
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            strides: (1, 1),
            padding: Padding::Valid,
            dilation: (1, 1),
        }
    }
}

/// Gradients of [`conv2d`] with respect to its input, kernel and bias.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{conv2d_backward, Conv2dParams};
/// let x = Array4::<f32>::ones((1, 3, 3, 1));
/// let w = Array4::<f32>::ones((2, 2, 1, 1));
/// let gy = Array4::<f32>::ones((1, 2, 2, 1));
/// let g = conv2d_backward(x.view(), w.view(), gy.view(), &Conv2dParams::default(), false)?;
/// assert!(g.input.is_none());
/// assert_eq!(g.bias[0], 4.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2dGrads {
    /// `dL/dX`, shaped like the input; `None` unless requested.
    pub input: Option<Array4<f32>>,
    /// `dL/dW`, shaped like the kernel `(kh, kw, in, out)`.
    pub kernel: Array4<f32>,
    /// `dL/db`, one value per output channel.
    pub bias: Array1<f32>,
}

/// Output shape `[N, OH, OW, F]` of [`conv2d`] for an `[N, H, W, C]` input and a
/// `[KH, KW, C, F]` kernel.
///
/// Errors on wrong ranks, a channel mismatch, zero strides/dilations/kernel
/// sizes, or (valid padding) a dilated kernel larger than the input.
///
/// ```
/// use neurite_tensor::{conv2d_output_shape, Conv2dParams, Padding};
/// let p = Conv2dParams::default();
/// assert_eq!(conv2d_output_shape(&[32, 28, 28, 1], &[3, 3, 1, 32], &p)?, [32, 26, 26, 32]);
/// let same = Conv2dParams { strides: (2, 2), padding: Padding::Same, ..p };
/// assert_eq!(conv2d_output_shape(&[1, 5, 4, 3], &[3, 3, 3, 8], &same)?, [1, 3, 2, 8]);
/// assert!(conv2d_output_shape(&[1, 5, 4, 2], &[3, 3, 3, 8], &p).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_output_shape(input: &[usize], kernel: &[usize], p: &Conv2dParams) -> Result<[usize; 4]> {
    let g = geometry(input, kernel, p)?;
    Ok([g.batch, g.out_h, g.out_w, kernel[3]])
}

fn geometry(input: &[usize], kernel: &[usize], p: &Conv2dParams) -> Result<ConvGeometry> {
    if input.len() != 4 {
        return Err(TensorError::shape(
            "conv2d",
            input,
            kernel,
            "input must be rank 4 (batch, height, width, channels)",
        ));
    }
    if kernel.len() != 4 {
        return Err(TensorError::shape(
            "conv2d",
            input,
            kernel,
            "kernel must be rank 4 (kernel_h, kernel_w, in_channels, out_channels)",
        ));
    }
    if input[3] != kernel[2] {
        return Err(TensorError::shape(
            "conv2d",
            input,
            kernel,
            format!(
                "input has {} channels but the kernel expects {} (kernel axis 2)",
                input[3], kernel[2]
            ),
        ));
    }
    ConvGeometry::new(input, (kernel[0], kernel[1]), p)
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` floats (contents unspecified), reusing
/// a per-thread buffer so repeated calls do not page-fault fresh memory.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Images per im2col chunk.
fn chunk_images(g: &ConvGeometry) -> usize {
    let per = (g.rows_per_image() * g.patch_len()).max(1);
    (COLS_BUDGET / per).clamp(1, g.batch.max(1))
}

fn kernel_matrix<'a>(kernel: &'a ndarray::CowArray<'a, f32, ndarray::Ix4>) -> ArrayView2<'a, f32> {
    let sh = kernel.shape();
    let (k, f) = (sh[0] * sh[1] * sh[2], sh[3]);
    ArrayView2::from_shape((k, f), kernel.as_slice().expect("standard layout is contiguous"))
        .expect("kernel reshapes to (kh*kw*c, f)")
}

/// 2-d convolution (cross-correlation, as Keras/TensorFlow) of an NHWC batch.
///
/// `input` is `[N, H, W, C]`, `kernel` `[KH, KW, C, F]`, `bias` (optional) `[F]`;
/// the result is `[N, OH, OW, F]` (see [`conv2d_output_shape`]). Errors on
/// mismatched shapes or invalid parameters.
///
/// ```
/// use ndarray::{array, Array4};
/// use neurite_tensor::{conv2d, Conv2dParams, Padding};
/// let x = Array4::from_shape_vec((1, 3, 3, 1), (1..=9).map(|v| v as f32).collect()).unwrap();
/// let w = Array4::<f32>::ones((2, 2, 1, 1));
/// let y = conv2d(x.view(), w.view(), Some(array![0.5f32].view()), &Conv2dParams::default())?;
/// assert_eq!(y.shape(), &[1, 2, 2, 1]);
/// assert_eq!(y[[0, 0, 0, 0]], 1.0 + 2.0 + 4.0 + 5.0 + 0.5);
/// // `same` padding keeps the size; the extra padding row/column goes after.
/// let p = Conv2dParams { padding: Padding::Same, ..Default::default() };
/// let y = conv2d(x.view(), w.view(), None, &p)?;
/// assert_eq!(y[[0, 2, 2, 0]], 9.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
) -> Result<Array4<f32>> {
    let g = geometry(input.shape(), kernel.shape(), p)?;
    let f = kernel.shape()[3];
    if let Some(b) = &bias {
        if b.len() != f {
            return Err(TensorError::shape(
                "conv2d",
                b.shape(),
                kernel.shape(),
                format!("bias must have one value per output channel ({f})"),
            ));
        }
    }
    let rows = g.batch * g.rows_per_image();
    let mut out = Array4::<f32>::zeros((g.batch, g.out_h, g.out_w, f));
    if rows == 0 || f == 0 {
        return Ok(out);
    }
    let out_slice = out.as_slice_mut().expect("fresh array is contiguous");
    let beta = match &bias {
        Some(b) => {
            let b = b.to_vec();
            out_slice.par_chunks_mut(f * 1024).for_each(|blk| {
                for r in blk.chunks_exact_mut(f) {
                    r.copy_from_slice(&b);
                }
            });
            1.0
        }
        None => 0.0,
    };
    let k = g.patch_len();
    if k == 0 {
        return Ok(out);
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let w_owned = kernel.as_standard_layout();
    let w = kernel_matrix(&w_owned);
    let mut y = ArrayViewMut2::from_shape((rows, f), out_slice).expect("output is (rows, f)");
    if g.is_pointwise() {
        let xm = ArrayView2::from_shape((rows, k), x).expect("pointwise input is (rows, c)");
        gemm(1.0, xm, false, w, false, beta, &mut y)?;
        return Ok(out);
    }
    let per_img_rows = g.rows_per_image();
    let chunk = chunk_images(&g);
    with_scratch(chunk * per_img_rows * k, |buf| -> Result<()> {
        let mut first = 0;
        while first < g.batch {
            let count = chunk.min(g.batch - first);
            let crow = count * per_img_rows;
            im2col_batch(x, &g, first, count, buf);
            let cols = ArrayView2::from_shape((crow, k), &buf[..crow * k]).expect("cols shape");
            let mut yc = y.slice_mut(s![first * per_img_rows..first * per_img_rows + crow, ..]);
            gemm(1.0, cols, false, w, false, beta, &mut yc)?;
            first += count;
        }
        Ok(())
    })?;
    Ok(out)
}

/// Column sums of a row-major `[rows, f]` slice, computed in fixed blocks in
/// parallel and combined in order (deterministic whatever the thread count).
fn column_sums(dy: &[f32], f: usize) -> Array1<f32> {
    const BLOCK_ROWS: usize = 2048;
    let partials: Vec<Vec<f32>> = dy
        .par_chunks(BLOCK_ROWS * f)
        .map(|blk| {
            let mut acc = vec![0.0f32; f];
            for r in blk.chunks_exact(f) {
                for (a, v) in acc.iter_mut().zip(r) {
                    *a += v;
                }
            }
            acc
        })
        .collect();
    let mut total = Array1::<f32>::zeros(f);
    for part in partials {
        for (t, v) in total.iter_mut().zip(part) {
            *t += v;
        }
    }
    total
}

/// Gradients of [`conv2d`]: given the forward `input` and `kernel` and
/// `grad_output = dL/dY` (`[N, OH, OW, F]`), returns `dL/dW`, `dL/db` and,
/// when `need_input_grad`, `dL/dX`.
///
/// The bias gradient does not depend on whether the forward pass used a bias.
/// Errors when `grad_output` does not have the forward output's shape.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{conv2d_backward, Conv2dParams};
/// let x = Array4::from_shape_vec((1, 3, 3, 1), (1..=9).map(|v| v as f32).collect()).unwrap();
/// let w = Array4::<f32>::ones((2, 2, 1, 1));
/// let gy = Array4::<f32>::ones((1, 2, 2, 1));
/// let g = conv2d_backward(x.view(), w.view(), gy.view(), &Conv2dParams::default(), true)?;
/// // dW[0,0] = x00 + x01 + x10 + x11 (every window's top-left value).
/// assert_eq!(g.kernel[[0, 0, 0, 0]], 1.0 + 2.0 + 4.0 + 5.0);
/// // The centre pixel was read by all four windows.
/// assert_eq!(g.input.unwrap()[[0, 1, 1, 0]], 4.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_backward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    p: &Conv2dParams,
    need_input_grad: bool,
) -> Result<Conv2dGrads> {
    let g = geometry(input.shape(), kernel.shape(), p)?;
    let f = kernel.shape()[3];
    let out_shape = [g.batch, g.out_h, g.out_w, f];
    if grad_output.shape() != out_shape {
        return Err(TensorError::shape(
            "conv2d_backward",
            grad_output.shape(),
            &out_shape,
            "grad_output must have the shape of the forward output",
        ));
    }
    let k = g.patch_len();
    let rows = g.batch * g.rows_per_image();
    let kdim = kernel.raw_dim();
    let mut dw = Array4::<f32>::zeros(kdim);
    let mut dx = need_input_grad.then(|| Array4::<f32>::zeros(input.raw_dim()));
    if rows == 0 || f == 0 {
        return Ok(Conv2dGrads {
            input: dx,
            kernel: dw,
            bias: Array1::zeros(f),
        });
    }
    let dy = grad_output.as_standard_layout();
    let dy = dy.as_slice().expect("standard layout is contiguous");
    let db = column_sums(dy, f);
    if k == 0 {
        return Ok(Conv2dGrads {
            input: dx,
            kernel: dw,
            bias: db,
        });
    }
    let dym = ArrayView2::from_shape((rows, f), dy).expect("grad_output is (rows, f)");
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let w_owned = kernel.as_standard_layout();
    let w = kernel_matrix(&w_owned);
    let mut dwm = ArrayViewMut2::from_shape((k, f), dw.as_slice_mut().expect("fresh array is contiguous"))
        .expect("dW is (k, f)");
    if g.is_pointwise() {
        let xm = ArrayView2::from_shape((rows, k), x).expect("pointwise input is (rows, c)");
        gemm(1.0, xm, true, dym, false, 0.0, &mut dwm)?;
        if let Some(dx) = dx.as_mut() {
            let mut dxm = ArrayViewMut2::from_shape((rows, k), dx.as_slice_mut().expect("contiguous"))
                .expect("pointwise dX is (rows, c)");
            gemm(1.0, dym, false, w, true, 0.0, &mut dxm)?;
        }
        return Ok(Conv2dGrads {
            input: dx,
            kernel: dw,
            bias: db,
        });
    }
    let per_img_rows = g.rows_per_image();
    let chunk = chunk_images(&g);
    with_scratch(chunk * per_img_rows * k, |buf| -> Result<()> {
        let mut first = 0;
        while first < g.batch {
            let count = chunk.min(g.batch - first);
            let crow = count * per_img_rows;
            let r0 = first * per_img_rows;
            let dyc = dym.slice(s![r0..r0 + crow, ..]);
            im2col_batch(x, &g, first, count, buf);
            {
                let cols = ArrayView2::from_shape((crow, k), &buf[..crow * k]).expect("cols shape");
                let beta = if first == 0 { 0.0 } else { 1.0 };
                gemm(1.0, cols, true, dyc, false, beta, &mut dwm)?;
            }
            if let Some(dx) = dx.as_mut() {
                {
                    let mut dcols =
                        ArrayViewMut2::from_shape((crow, k), &mut buf[..crow * k]).expect("dcols shape");
                    gemm(1.0, dyc, false, w, true, 0.0, &mut dcols)?;
                }
                col2im_batch(
                    &buf[..crow * k],
                    &g,
                    first,
                    count,
                    dx.as_slice_mut().expect("fresh array is contiguous"),
                );
            }
            first += count;
        }
        Ok(())
    })?;
    Ok(Conv2dGrads {
        input: dx,
        kernel: dw,
        bias: db,
    })
}
