//! Transposed 2-d convolution (Keras' `Conv2DTranspose`) on NHWC batches
//! with Keras' `(kh, kw, filters, in_channels)` kernels.
//!
//! A transposed convolution is the input gradient of an ordinary one: the
//! "underlying" convolution reads an `[N, OH, OW, F]` image (the transposed
//! convolution's *output*) with the same kernel, read as
//! `(kh, kw, F, C)`, and produces `[N, H, W, C]` (its *input*). So, with
//! `W` the kernel as the `[KH*KW*F, C]` matrix:
//!
//! - forward: `Y = col2im(X · Wᵀ) + b` (the data gradient path of
//!   [`crate::conv2d_backward`]: one GEMM per task of whole images, then
//!   col2im of each image onto its zeroed output);
//! - backward: `cols = im2col(dY)`, `dX = cols · W` (the underlying
//!   convolution's forward), `dW = colsᵀ · X` and `db = Σ dY`, from the
//!   same `cols` in one task.
//!
//! The batch is split into tasks of whole images as [`crate::conv2d`]'s is
//! ([`TaskPlan`]), weight-gradient partials are summed in task order (the
//! result does not depend on the number of threads), and a 1x1 stride-1
//! kernel skips col2im/im2col (the images already are the matrices).
//!
//! Output size (Keras 3's `compute_conv_transpose_output_shape`, with
//! `K = (k - 1) * dilation + 1` the dilated kernel extent):
//!
//! | padding | `output_padding` | output length |
//! |---|---|---|
//! | valid | none | `in * stride + max(K - stride, 0)` |
//! | valid | `op` | `(in - 1) * stride + K + op` |
//! | same | none | `in * stride` |
//! | same | `op` | `(in - 1) * stride + K % 2 + op` |
//!
//! and the output position of input `i`, tap `t` is `i * stride + t * dilation - P`
//! with `P = K - 1 - min(ceil(L / 2), K - 1)` for `same` (`L` the total padding
//! Keras' JAX backend uses: `stride + K - 2` without, `K + K % 2 - 2 + op` with
//! `output_padding`), and `P = 0` for `valid`; taps landing outside the output
//! are dropped.

use crate::conv::conv2d::{image_cols, with_scratch, Conv2dGrads, TaskPlan};
use crate::conv::im2col::{col2im_image_add, ConvGeometry};
use crate::error::{Result, TensorError};
use crate::fill::{par_build, par_build_pair};
use crate::padding::Padding;
use crate::size::checked_len;
use ndarray::{Array1, Array4, ArrayView1, ArrayView2, ArrayView4, ArrayViewMut2};

const OP: &str = "conv2d_transpose";

/// Strides, padding, dilation and output padding of a transposed
/// convolution (Keras' `Conv2DTranspose` arguments).
///
/// ```
/// use neurite_tensor::{Conv2dTransposeParams, Padding};
/// let p = Conv2dTransposeParams::default();
/// assert_eq!((p.strides, p.padding, p.dilation, p.output_padding), ((1, 1), Padding::Valid, (1, 1), None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dTransposeParams {
    /// `(vertical, horizontal)` strides, each at least 1.
    pub strides: (usize, usize),
    /// `Valid` or `Same` (see the module docs for the output size).
    pub padding: Padding,
    /// `(vertical, horizontal)` dilation rates, each at least 1.
    pub dilation: (usize, usize),
    /// Extra rows/columns at the end of the output, each below its stride;
    /// `None` for Keras' default.
    pub output_padding: Option<(usize, usize)>,
}

impl Default for Conv2dTransposeParams {
    fn default() -> Self {
        Conv2dTransposeParams {
            strides: (1, 1),
            padding: Padding::Valid,
            dilation: (1, 1),
            output_padding: None,
        }
    }
}

/// Output length and leading padding `P` of one axis (see the module docs).
///
/// Errors on a zero size, kernel, stride or dilation, an output padding not
/// below the stride, or lengths that overflow `usize`.
///
/// ```
/// use neurite_tensor::{conv_transpose_output_size, Padding};
/// assert_eq!(conv_transpose_output_size(4, 3, 2, 1, Padding::Same, None)?, (8, 0));
/// assert_eq!(conv_transpose_output_size(4, 3, 2, 1, Padding::Valid, None)?, (9, 0));
/// assert_eq!(conv_transpose_output_size(4, 3, 2, 1, Padding::Same, Some(1))?, (8, 0));
/// assert_eq!(conv_transpose_output_size(4, 3, 1, 1, Padding::Same, None)?, (4, 1));
/// assert!(conv_transpose_output_size(4, 3, 2, 1, Padding::Same, Some(2)).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv_transpose_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
    output_padding: Option<usize>,
) -> Result<(usize, usize)> {
    for (what, v) in [
        ("spatial input size", input),
        ("kernel size", kernel),
        ("stride", stride),
        ("dilation", dilation),
    ] {
        if v == 0 {
            return Err(TensorError::invalid(
                OP,
                format!("{what} must be at least 1, got 0"),
            ));
        }
    }
    if let Some(op) = output_padding {
        if op >= stride {
            return Err(TensorError::invalid(
                OP,
                format!("output_padding {op} must be less than the stride {stride}"),
            ));
        }
    }
    let overflow = || TensorError::invalid(OP, "the output length overflows usize");
    let eff = (kernel - 1)
        .checked_mul(dilation)
        .and_then(|v| v.checked_add(1))
        .ok_or_else(overflow)?;
    let base = (input - 1).checked_mul(stride).ok_or_else(overflow)?;
    match padding {
        Padding::Valid => {
            let op = output_padding.unwrap_or(eff.max(stride) - eff);
            let out = base
                .checked_add(eff)
                .and_then(|v| v.checked_add(op))
                .ok_or_else(overflow)?;
            Ok((out, 0))
        }
        Padding::Same => {
            // Keras' JAX padding L: `stride + K - 2`, or `K + K % 2 - 2 + op`
            // (never negative: K, stride >= 1).
            let (pad_len, extra) = match output_padding {
                None => (stride.checked_add(eff).ok_or_else(overflow)? - 2, stride),
                Some(op) => (
                    (eff - 1 + eff % 2 - 1).checked_add(op).ok_or_else(overflow)?,
                    eff % 2 + op,
                ),
            };
            let left = pad_len.div_ceil(2).min(eff - 1);
            // (in - 1) * stride + L + 2 - K, where L + 2 - K is `extra`.
            let out = base.checked_add(extra).ok_or_else(overflow)?;
            Ok((out, eff - 1 - left))
        }
    }
}

/// The underlying convolution (output space -> input space) of a transposed
/// convolution, and the transposed convolution's output shape.
pub(crate) fn transpose_geometry(
    input: &[usize],
    kernel: &[usize],
    p: &Conv2dTransposeParams,
) -> Result<(ConvGeometry, [usize; 4])> {
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
            "kernel must be rank 4 (kernel_h, kernel_w, filters, in_channels)",
        ));
    }
    if input[3] != kernel[3] {
        return Err(TensorError::shape(
            OP,
            input,
            kernel,
            format!(
                "input has {} channels but the kernel expects {} (kernel axis 3)",
                input[3], kernel[3]
            ),
        ));
    }
    let axis = |i: usize, k: usize, s: usize, d: usize, op: Option<usize>, name: &str| {
        conv_transpose_output_size(input[i], k, s, d, p.padding, op).map_err(|e| match e {
            TensorError::InvalidArgument { message, .. } => {
                TensorError::invalid(OP, format!("{name} axis: {message}"))
            }
            other => other,
        })
    };
    let (oh, pad_top) = axis(
        1,
        kernel[0],
        p.strides.0,
        p.dilation.0,
        p.output_padding.map(|o| o.0),
        "height",
    )?;
    let (ow, pad_left) = axis(
        2,
        kernel[1],
        p.strides.1,
        p.dilation.1,
        p.output_padding.map(|o| o.1),
        "width",
    )?;
    let (n, f) = (input[0], kernel[2]);
    let out = [n, oh, ow, f];
    // Every buffer this op allocates: the input (and dX), the output (and
    // dY), the kernel (and dW), one image's im2col matrix.
    checked_len(OP, "the input", input)?;
    checked_len(OP, "the output", &out)?;
    checked_len(OP, "the kernel", kernel)?;
    checked_len(OP, "one window", &[kernel[0], kernel[1], f])?;
    checked_len(
        OP,
        "one image's im2col matrix",
        &[input[1], input[2], kernel[0], kernel[1], f],
    )?;
    let g = ConvGeometry {
        batch: n,
        in_h: oh,
        in_w: ow,
        channels: f,
        kernel_h: kernel[0],
        kernel_w: kernel[1],
        out_h: input[1],
        out_w: input[2],
        stride_h: p.strides.0,
        stride_w: p.strides.1,
        dilation_h: p.dilation.0,
        dilation_w: p.dilation.1,
        pad_top,
        pad_left,
    };
    Ok((g, out))
}

/// Output shape `[N, OH, OW, F]` of [`conv2d_transpose`] for an
/// `[N, H, W, C]` input and a `[KH, KW, F, C]` kernel (see the module docs).
///
/// ```
/// use neurite_tensor::{conv2d_transpose_output_shape, Conv2dTransposeParams, Padding};
/// let p = Conv2dTransposeParams { strides: (2, 2), ..Default::default() };
/// assert_eq!(conv2d_transpose_output_shape(&[1, 7, 7, 8], &[3, 3, 4, 8], &p)?, [1, 15, 15, 4]);
/// let same = Conv2dTransposeParams { padding: Padding::Same, ..p };
/// assert_eq!(conv2d_transpose_output_shape(&[1, 7, 7, 8], &[3, 3, 4, 8], &same)?, [1, 14, 14, 4]);
/// assert!(conv2d_transpose_output_shape(&[1, 7, 7, 8], &[3, 3, 4, 3], &p).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_transpose_output_shape(
    input: &[usize],
    kernel: &[usize],
    p: &Conv2dTransposeParams,
) -> Result<[usize; 4]> {
    transpose_geometry(input, kernel, p).map(|(_, out)| out)
}

/// The kernel `(kh, kw, F, C)` as the underlying convolution's `[KH*KW*F, C]` matrix.
fn kernel_matrix<'a>(w: &'a [f32], g: &ConvGeometry, c: usize) -> ArrayView2<'a, f32> {
    ArrayView2::from_shape((g.patch_len(), c), w).expect("kernel reshapes to (kh*kw*f, c)")
}

/// Transposed 2-d convolution of an NHWC batch (Keras' `Conv2DTranspose`).
///
/// `input` is `[N, H, W, C]`, `kernel` `[KH, KW, F, C]`, `bias` (optional)
/// `[F]`; the result is `[N, OH, OW, F]` (see [`conv2d_transpose_output_shape`]).
/// Errors on mismatched shapes or invalid parameters.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{conv2d_transpose, Conv2dTransposeParams};
/// // One pixel spread over a 2x2 window per input pixel, stride 2: no overlap.
/// let x = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0f32, 2.0]).unwrap();
/// let w = Array4::<f32>::ones((2, 2, 1, 1));
/// let p = Conv2dTransposeParams { strides: (2, 2), ..Default::default() };
/// let y = conv2d_transpose(x.view(), w.view(), None, &p)?;
/// assert_eq!(y.shape(), &[1, 2, 4, 1]);
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_transpose(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dTransposeParams,
) -> Result<Array4<f32>> {
    let (g, out) = transpose_geometry(input.shape(), kernel.shape(), p)?;
    let (c, f) = (input.shape()[3], kernel.shape()[2]);
    if let Some(b) = &bias {
        if b.len() != f {
            return Err(TensorError::shape(
                OP,
                b.shape(),
                kernel.shape(),
                format!("bias must have one value per filter ({f}, kernel axis 2)"),
            ));
        }
    }
    let bias = bias.map(|b| b.to_vec());
    let out_img = g.image_len();
    let rows_per_image = g.rows_per_image();
    let (k, total) = (g.patch_len(), g.batch * out_img);
    if total == 0 {
        return Ok(Array4::zeros(out));
    }
    let add_bias = |y: &mut [f32]| {
        if let Some(b) = &bias {
            for row in y.chunks_exact_mut(f) {
                row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
            }
        }
    };
    if c == 0 || k == 0 {
        let mut y = vec![0.0f32; total];
        add_bias(&mut y);
        return Ok(Array4::from_shape_vec(out, y).expect("output shape"));
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let w_owned = kernel.as_standard_layout();
    let w = kernel_matrix(w_owned.as_slice().expect("standard layout is contiguous"), &g, c);
    let plan = TaskPlan::new(&g, c);
    let in_img = rows_per_image * c;
    let y = par_build(total, plan.images * out_img, 0.0f32, |t, y| {
        let (first, count) = plan.images_of(t, g.batch);
        let rows = count * rows_per_image;
        let xm = ArrayView2::from_shape((rows, c), &x[first * in_img..][..count * in_img]).expect("X rows");
        if g.is_pointwise() {
            let mut ym = ArrayViewMut2::from_shape((rows, f), &mut *y).expect("pointwise Y rows");
            plan.gemm(xm, false, w, true, 0.0, &mut ym);
        } else {
            with_scratch(rows * k, |dcols| {
                let mut dm = ArrayViewMut2::from_shape((rows, k), &mut *dcols).expect("cols rows");
                plan.gemm(xm, false, w, true, 0.0, &mut dm);
                for (yi, ci) in y
                    .chunks_exact_mut(out_img)
                    .zip(dcols.chunks_exact(rows_per_image * k))
                {
                    col2im_image_add(ci, &g, yi);
                }
            });
        }
        add_bias(y);
    });
    Ok(Array4::from_shape_vec(out, y).expect("output length matches its shape"))
}

/// Gradients of [`conv2d_transpose`]: given the forward `input` and `kernel`
/// and `grad_output = dL/dY` (`[N, OH, OW, F]`), returns `dL/dW`, `dL/db` and,
/// when `need_input_grad`, `dL/dX`.
///
/// `dX` is the ordinary convolution of `dY` with the kernel; `dW` and `db`
/// come from the same im2col matrix of `dY`. The bias gradient does not
/// depend on whether the forward pass used a bias. Errors when
/// `grad_output` does not have the forward output's shape.
///
/// ```
/// use ndarray::Array4;
/// use neurite_tensor::{conv2d_transpose_backward, Conv2dTransposeParams};
/// let x = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0f32, 2.0]).unwrap();
/// let w = Array4::<f32>::ones((2, 2, 1, 1));
/// let p = Conv2dTransposeParams { strides: (2, 2), ..Default::default() };
/// let gy = Array4::<f32>::ones((1, 2, 4, 1));
/// let g = conv2d_transpose_backward(x.view(), w.view(), gy.view(), &p, true)?;
/// assert_eq!(g.bias[0], 8.0);
/// assert_eq!(g.kernel[[0, 0, 0, 0]], 3.0); // x0 + x1
/// assert_eq!(g.input.unwrap().into_raw_vec_and_offset().0, vec![4.0, 4.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_transpose_backward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    p: &Conv2dTransposeParams,
    need_input_grad: bool,
) -> Result<Conv2dGrads> {
    let (g, out) = transpose_geometry(input.shape(), kernel.shape(), p)?;
    if grad_output.shape() != out {
        return Err(TensorError::shape(
            "conv2d_transpose_backward",
            grad_output.shape(),
            &out,
            "grad_output must have the shape of the forward output",
        ));
    }
    let (c, f) = (input.shape()[3], kernel.shape()[2]);
    let k = g.patch_len();
    let kdim = kernel.raw_dim();
    let rows_per_image = g.rows_per_image();
    let dy = grad_output.as_standard_layout();
    let dy = dy.as_slice().expect("standard layout is contiguous");
    let out_img = g.image_len();
    if g.batch == 0 || out_img == 0 || c == 0 || rows_per_image == 0 {
        let mut db = Array1::<f32>::zeros(f);
        for row in dy.chunks_exact(f.max(1)) {
            db.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
        return Ok(Conv2dGrads {
            input: need_input_grad.then(|| Array4::zeros(input.raw_dim())),
            kernel: Array4::zeros(kdim),
            bias: if f == 0 { Array1::zeros(0) } else { db },
        });
    }
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let w_owned = kernel.as_standard_layout();
    let w = kernel_matrix(w_owned.as_slice().expect("standard layout is contiguous"), &g, c);
    let plan = TaskPlan::new(&g, c);
    let in_img = rows_per_image * c;
    let cols_len = if g.is_pointwise() {
        0
    } else {
        plan.images * rows_per_image * k
    };
    // Per task: its dW ([k, c]) then its db (f), summed in task order below.
    let partial = k * c + f;
    let task = |t: usize, dx: Option<&mut [f32]>, part: &mut [f32]| {
        let (first, count) = plan.images_of(t, g.batch);
        let rows = count * rows_per_image;
        let (dw_part, db_part) = part.split_at_mut(k * c);
        for row in dy[first * out_img..][..count * out_img].chunks_exact(f) {
            db_part.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
        if k == 0 {
            return;
        }
        let xm = ArrayView2::from_shape((rows, c), &x[first * in_img..][..count * in_img]).expect("X rows");
        with_scratch(cols_len, |buf| {
            let cols = image_cols(dy, &g, first, count, buf);
            let mut dwm = ArrayViewMut2::from_shape((k, c), dw_part).expect("dW is (k, c)");
            plan.gemm(cols, true, xm, false, 0.0, &mut dwm);
            if let Some(dx) = dx {
                let mut dxm = ArrayViewMut2::from_shape((rows, c), dx).expect("dX rows");
                plan.gemm(cols, false, w, false, 0.0, &mut dxm);
            }
        });
    };
    let (dx, partials) = if need_input_grad {
        let (dx, partials) = par_build_pair(
            (g.batch * in_img, plan.images * in_img, 0.0f32),
            (plan.tasks * partial, partial, 0.0f32),
            |t, dx, part| task(t, Some(dx), part),
        );
        (
            Some(Array4::from_shape_vec(input.raw_dim(), dx).expect("dX shape")),
            partials,
        )
    } else {
        (
            None,
            par_build(plan.tasks * partial, partial, 0.0f32, |t, part| {
                task(t, None, part)
            }),
        )
    };
    let mut total = partials[..partial].to_vec();
    for part in partials.chunks_exact(partial).skip(1) {
        total.iter_mut().zip(part).for_each(|(a, v)| *a += v);
    }
    let db = Array1::from_vec(total.split_off(k * c));
    Ok(Conv2dGrads {
        input: dx,
        kernel: Array4::from_shape_vec(kdim, total).expect("dW shape"),
        bias: db,
    })
}
