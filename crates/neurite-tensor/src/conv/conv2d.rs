//! 2-d convolution on NHWC batches with Keras' `(kh, kw, in, out)` kernels.
//!
//! Forward: `Y = im2col(X) · W + b`, one GEMM `[N*OH*OW, KH*KW*C] x [KH*KW*C, F]`
//! whose result already is the NHWC output. Backward: `dW = cols^T · dY`,
//! `db = Σ dY`, `dX = col2im(dY · W^T)`.
//!
//! The batch is split into tasks of whole images whose im2col matrix and
//! output rows stay below [`COLS_BUDGET`] floats (so they are still in the
//! core's cache when the GEMM and the epilogue read them), and at least
//! [`MIN_TASKS`] tasks when the batch has that many images. Tasks run in parallel on rayon; each does im2col into a
//! per-thread scratch buffer, a single-threaded GEMM into its rows of the
//! output, then adds the bias and applies ReLU ([`conv2d_relu`]) on those rows
//! while they are in cache. A batch that makes a single task uses the GEMM
//! backend's threads instead. In backward, each task computes its share of
//! `dW` and `db` (summed in task order afterwards, so the result does not
//! depend on the number of threads) and its images' `dX`. A 1x1, stride-1
//! convolution skips im2col: the input already is the `[N*H*W, C]` matrix.

use crate::conv::direct;
use crate::conv::im2col::{col2im_image_add, im2col_image, ConvGeometry};
use crate::conv::winograd::{self, WinogradKernel};
use crate::error::{Result, TensorError};
use crate::fill::{par_build, par_build_pair, par_build_with};
use crate::gemm::{gemm_at, gemm_into_uninit};
use crate::padding::Padding;
use crate::precision::Precision;
use crate::size::checked_len;
use ndarray::{Array1, Array2, Array4, ArrayView1, ArrayView2, ArrayView4, ArrayViewMut2, CowArray, Ix4};
use std::cell::RefCell;

/// Upper bound (in `f32`s, 512 KiB) of the im2col matrix plus the output rows
/// of one task; a task holds at least one image whatever its size.
pub const COLS_BUDGET: usize = 1 << 17;

/// A batch of at least this many images is split into at least this many
/// tasks, so that both cores get work and the last task is not a straggler.
pub const MIN_TASKS: usize = 8;

/// Images per task the Winograd path aims for: it transforms and multiplies
/// one image at a time, so this only sets how coarsely the batch is split
/// into rayon tasks.
const WINOGRAD_TASK_IMAGES: usize = 8;

/// Output rows a task gets at least (cache budget permitting), so that the
/// small images of deep layers (e.g. 3x3 outputs) do not make GEMMs too short
/// to amortise packing the kernel matrix.
pub const MIN_TASK_ROWS: usize = 144;

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
/// sizes, (valid padding) a dilated kernel larger than the input, or an
/// output, kernel or im2col matrix too large to allocate (its element count
/// overflows).
///
/// ```
/// use neurite_tensor::{conv2d_output_shape, Conv2dParams, Padding};
/// let p = Conv2dParams::default();
/// assert_eq!(conv2d_output_shape(&[32, 28, 28, 1], &[3, 3, 1, 32], &p)?, [32, 26, 26, 32]);
/// let same = Conv2dParams { strides: (2, 2), padding: Padding::Same, ..p };
/// assert_eq!(conv2d_output_shape(&[1, 5, 4, 3], &[3, 3, 3, 8], &same)?, [1, 3, 2, 8]);
/// assert!(conv2d_output_shape(&[1, 5, 4, 2], &[3, 3, 3, 8], &p).is_err());
/// // 2^31 x 2^31 pixels of 2^31 filters: the output's size overflows.
/// assert!(conv2d_output_shape(&[1, 1 << 31, 1 << 31, 0], &[1, 1, 0, 1 << 31], &p).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_output_shape(input: &[usize], kernel: &[usize], p: &Conv2dParams) -> Result<[usize; 4]> {
    let g = geometry(input, kernel, p)?;
    Ok([g.batch, g.out_h, g.out_w, kernel[3]])
}

pub(crate) fn geometry(input: &[usize], kernel: &[usize], p: &Conv2dParams) -> Result<ConvGeometry> {
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
    let g = ConvGeometry::new(input, (kernel[0], kernel[1]), p)?;
    // Every buffer a convolution allocates is one of these: the output (and
    // dX, dY), the kernel (and dW), and one image's im2col matrix.
    checked_len("conv2d", "the output", &[g.batch, g.out_h, g.out_w, kernel[3]])?;
    checked_len("conv2d", "the kernel", kernel)?;
    checked_len(
        "conv2d",
        "one image's im2col matrix",
        &[g.rows_per_image(), g.patch_len()],
    )?;
    Ok(g)
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` floats (contents unspecified), reusing
/// a per-thread buffer so repeated calls do not page-fault fresh memory.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
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

/// How a batch is split into tasks of whole images (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskPlan {
    /// Images per task (the last task may have fewer).
    pub(crate) images: usize,
    /// Number of tasks.
    pub(crate) tasks: usize,
    /// Output rows (`OH*OW`) per image.
    pub(crate) rows_per_image: usize,
    /// Whether the GEMMs use the backend's threads (a single task) or run on the task's thread.
    pub(crate) parallel_gemm: bool,
    /// The precision of the plan's GEMMs: the calling thread's
    /// [`crate::precision::current`] when the plan was made, so that every
    /// task, on whichever thread it runs, multiplies at the caller's precision.
    pub(crate) precision: Precision,
}

impl TaskPlan {
    /// `filters`: output channels, whose rows share the cache with the im2col rows.
    pub(crate) fn new(g: &ConvGeometry, filters: usize) -> Self {
        let rows_per_image = g.rows_per_image();
        let per_image = (rows_per_image * (g.patch_len() + filters)).max(1);
        let by_budget = (COLS_BUDGET / per_image).max(1);
        let by_balance = g.batch.div_ceil(MIN_TASKS).max(1);
        // Small images: enough rows per task that the GEMM amortises packing the kernel.
        let by_rows = MIN_TASK_ROWS.div_ceil(rows_per_image.max(1)).min(by_budget);
        let images = by_budget.min(by_balance).max(by_rows);
        let tasks = g.batch.div_ceil(images);
        TaskPlan {
            images,
            tasks,
            rows_per_image,
            parallel_gemm: tasks <= 1,
            precision: crate::precision::current(),
        }
    }

    /// The same split with at least `images` images per task where the
    /// batch allows [`MIN_TASKS`] tasks of that size (the Winograd path's
    /// 36 small GEMMs per task want more rows than im2col's budget gives).
    pub(crate) fn with_min_images(self, g: &ConvGeometry, images: usize) -> Self {
        let by_balance = g.batch.div_ceil(MIN_TASKS).max(1);
        let images = self.images.max(images.min(by_balance));
        let tasks = g.batch.div_ceil(images);
        TaskPlan {
            images,
            tasks,
            parallel_gemm: tasks <= 1,
            ..self
        }
    }

    /// [`Self::gemm`] for operands that are already bf16 values whenever the
    /// plan's precision is bf16 (the convolution's rounded input, kernel and
    /// dY): the f32 GEMM then computes the same products, so the matrix unit
    /// runs only where it beats it ([`crate::bf16::bf16_pays_off`]) and no
    /// operand is copied to be rounded again.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm_rounded(
        &self,
        a: ArrayView2<f32>,
        ta: bool,
        b: ArrayView2<f32>,
        tb: bool,
        beta: f32,
        c: &mut ArrayViewMut2<f32>,
    ) {
        let (m, k) = if ta { (a.ncols(), a.nrows()) } else { a.dim() };
        let n = if tb { b.nrows() } else { b.ncols() };
        let precision = match self.precision {
            Precision::Bf16 if crate::bf16::bf16_pays_off(m, n, k) => Precision::Bf16,
            _ => Precision::F32,
        };
        gemm_at(precision, !self.parallel_gemm, 1.0, a, ta, b, tb, beta, c)
            .expect("conv GEMM shapes follow from the checked geometry");
    }

    /// First image and image count of task `t`.
    pub(crate) fn images_of(&self, t: usize, batch: usize) -> (usize, usize) {
        let first = t * self.images;
        (first, self.images.min(batch - first))
    }

    /// `C = alpha * op(A) * op(B) + beta * C` with the plan's threading and precision.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm(
        &self,
        a: ArrayView2<f32>,
        ta: bool,
        b: ArrayView2<f32>,
        tb: bool,
        beta: f32,
        c: &mut ArrayViewMut2<f32>,
    ) {
        gemm_at(self.precision, !self.parallel_gemm, 1.0, a, ta, b, tb, beta, c)
            .expect("conv GEMM shapes follow from the checked geometry");
    }
}

/// The im2col rows of images `first..first + count` as a `[rows, k]` view:
/// the input itself for a pointwise convolution, else built in `buf`.
pub(crate) fn image_cols<'a>(
    x: &'a [f32],
    g: &ConvGeometry,
    first: usize,
    count: usize,
    buf: &'a mut [f32],
) -> ArrayView2<'a, f32> {
    let (k, img) = (g.patch_len(), g.image_len());
    let rows = count * g.rows_per_image();
    let data: &[f32] = if g.is_pointwise() {
        &x[first * img..][..count * img]
    } else {
        let per = g.rows_per_image() * k;
        for (i, cols) in buf[..count * per].chunks_exact_mut(per).enumerate() {
            im2col_image(&x[(first + i) * img..][..img], g, cols);
        }
        &buf[..count * per]
    };
    ArrayView2::from_shape((rows, k), data).expect("cols are (rows, k)")
}

/// The algorithm a convolution forward pass ([`conv2d`], [`conv2d_relu`] and
/// the fused [`crate::conv2d_relu_max_pool2d`] passes) runs, as reported by
/// [`conv2d_forward_plan`].
///
/// ```
/// use neurite_tensor::{conv2d_forward_plan, ConvAlgorithm, Conv2dParams};
/// let plan = conv2d_forward_plan(&[0, 8, 8, 16], &[3, 3, 16, 16], &Conv2dParams::default())?;
/// assert_eq!(plan.algorithm, ConvAlgorithm::Trivial); // an empty batch
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvAlgorithm {
    /// No arithmetic: the output is empty, or the patch is (the output is the bias).
    Trivial,
    /// Tap by tap, for at most 32 taps (`KH*KW*C`) and a multiple of 16 filters
    /// (not 1x1 stride 1).
    Direct,
    /// Winograd F(4x4, 3x3): a 3x3, stride-1, undilated kernel, multiples of
    /// 16 channels and filters, and an output of at least 8x8.
    Winograd,
    /// im2col and one GEMM per task: every other shape.
    Gemm,
}

/// What [`conv2d_forward_plan`] reports: the algorithm, how many tasks the
/// batch is split into, and whether the GEMMs use the backend's threads (a
/// single task) rather than one thread per task.
///
/// ```
/// use neurite_tensor::{conv2d_forward_plan, ConvAlgorithm, Conv2dParams};
/// // 12 images of 13x13x32: Winograd, split into tasks of whole images.
/// let plan = conv2d_forward_plan(&[12, 13, 13, 32], &[3, 3, 32, 64], &Conv2dParams::default())?;
/// assert_eq!(plan.algorithm, ConvAlgorithm::Winograd);
/// assert!(plan.tasks > 1 && !plan.parallel_gemm);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvForwardPlan {
    /// The algorithm that computes the convolution rows.
    pub algorithm: ConvAlgorithm,
    /// Tasks of whole images (0 for [`ConvAlgorithm::Trivial`]).
    pub tasks: usize,
    /// Whether the GEMMs (im2col's, or Winograd's 36 per task) are multi-threaded.
    pub parallel_gemm: bool,
}

/// The algorithm and task split that a forward convolution of these shapes
/// runs: the very functions the forward passes dispatch with, so it cannot
/// disagree with them. Errors as [`conv2d_output_shape`] does.
///
/// ```
/// use neurite_tensor::{conv2d_forward_plan, ConvAlgorithm, Conv2dParams};
/// let p = Conv2dParams::default();
/// // The MNIST CNN's first layer: 9 taps, 32 filters.
/// assert_eq!(conv2d_forward_plan(&[64, 28, 28, 1], &[3, 3, 1, 32], &p)?.algorithm, ConvAlgorithm::Direct);
/// // Its second: 32 channels in, 64 filters, 3x3.
/// let one = conv2d_forward_plan(&[1, 13, 13, 32], &[3, 3, 32, 64], &p)?;
/// assert_eq!((one.algorithm, one.tasks, one.parallel_gemm), (ConvAlgorithm::Winograd, 1, true));
/// assert_eq!(conv2d_forward_plan(&[2, 5, 5, 3], &[3, 3, 3, 5], &p)?.algorithm, ConvAlgorithm::Gemm);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_forward_plan(input: &[usize], kernel: &[usize], p: &Conv2dParams) -> Result<ConvForwardPlan> {
    let g = geometry(input, kernel, p)?;
    let f = kernel[3];
    if g.batch * g.rows_per_image() == 0 || f == 0 || g.patch_len() == 0 {
        return Ok(ConvForwardPlan {
            algorithm: ConvAlgorithm::Trivial,
            tasks: 0,
            parallel_gemm: false,
        });
    }
    let algorithm = select_algorithm(&g, f);
    let plan = plan_for(algorithm, &g, f);
    Ok(ConvForwardPlan {
        algorithm,
        tasks: plan.tasks,
        parallel_gemm: plan.parallel_gemm,
    })
}

/// The forward algorithm for a non-trivial geometry with `filters` outputs.
fn select_algorithm(g: &ConvGeometry, filters: usize) -> ConvAlgorithm {
    if direct::applies(g, filters) {
        ConvAlgorithm::Direct
    } else if winograd::applies(g, filters) {
        ConvAlgorithm::Winograd
    } else {
        ConvAlgorithm::Gemm
    }
}

/// How `algorithm` splits `g`'s batch into tasks.
fn plan_for(algorithm: ConvAlgorithm, g: &ConvGeometry, f: usize) -> TaskPlan {
    let plan = TaskPlan::new(g, f);
    match algorithm {
        ConvAlgorithm::Winograd => plan.with_min_images(g, WINOGRAD_TASK_IMAGES),
        _ => plan,
    }
}

/// How a forward pass computes its convolution rows, chosen once per call:
/// [`direct`] for few taps, [`winograd`] for 3x3 stride-1 kernels over
/// whole channel blocks, else im2col and one GEMM.
pub(crate) enum ForwardKernel<'a> {
    /// The kernel matrix's floats, read tap by tap.
    Direct(&'a [f32]),
    /// The kernel's Winograd transform.
    Winograd(WinogradKernel),
    /// The `[KH*KW*C, F]` kernel matrix, the GEMM's right operand.
    Gemm(ArrayView2<'a, f32>),
}

impl<'a> ForwardKernel<'a> {
    /// `w` is the `[KH*KW*C, F]` kernel matrix.
    pub(crate) fn new(g: &ConvGeometry, w: ArrayView2<'a, f32>) -> Self {
        match select_algorithm(g, w.ncols()) {
            ConvAlgorithm::Direct => {
                ForwardKernel::Direct(w.to_slice().expect("the kernel matrix is contiguous"))
            }
            ConvAlgorithm::Winograd => ForwardKernel::Winograd(WinogradKernel::new(w, g.channels)),
            ConvAlgorithm::Gemm | ConvAlgorithm::Trivial => ForwardKernel::Gemm(w),
        }
    }

    /// The algorithm this kernel runs.
    fn algorithm(&self) -> ConvAlgorithm {
        match self {
            ForwardKernel::Direct(_) => ConvAlgorithm::Direct,
            ForwardKernel::Winograd(_) => ConvAlgorithm::Winograd,
            ForwardKernel::Gemm(_) => ConvAlgorithm::Gemm,
        }
    }

    /// How to split `g`'s batch into tasks for this kernel.
    pub(crate) fn plan(&self, g: &ConvGeometry, f: usize) -> TaskPlan {
        plan_for(self.algorithm(), g, f)
    }

    /// Whether this is the im2col + GEMM path, whose GEMM can write
    /// straight into uninitialised memory.
    pub(crate) fn is_gemm(&self) -> bool {
        matches!(self, ForwardKernel::Gemm(_))
    }

    /// Scratch floats [`Self::rows`] needs for a task of `plan`.
    pub(crate) fn scratch_len(&self, g: &ConvGeometry, plan: &TaskPlan) -> usize {
        match self {
            ForwardKernel::Direct(_) => direct::scratch_len(g),
            ForwardKernel::Winograd(k) => k.scratch_len(g),
            ForwardKernel::Gemm(_) if g.is_pointwise() => 0,
            ForwardKernel::Gemm(_) => plan.images * plan.rows_per_image * g.patch_len(),
        }
    }

    /// Whether [`Self::max_pool_2x2_rows`] can run: the direct kernel, and
    /// 2x2 stride-2 unpadded pooling.
    pub(crate) fn pools_in_registers(&self, pool: &crate::conv::pool::Pool2dParams) -> bool {
        matches!(self, ForwardKernel::Direct(_)) && direct::pools_2x2(pool)
    }

    /// The 2x2 stride-2 max pooling of the convolution (no bias) of images
    /// `first..first + count` into `out` (`[count * (OH/2)*(OW/2), F]`),
    /// pooled before it is stored. Needs [`Self::pools_in_registers`].
    pub(crate) fn max_pool_2x2_rows(
        &self,
        x: &[f32],
        g: &ConvGeometry,
        first: usize,
        count: usize,
        buf: &mut [f32],
        out: &mut [f32],
    ) {
        let ForwardKernel::Direct(kernel) = self else {
            unreachable!("max_pool_2x2_rows needs the direct kernel")
        };
        let images = &x[first * g.image_len()..][..count * g.image_len()];
        direct::conv_max_pool_images(images, g, kernel, out, buf);
    }

    /// The convolution (no bias) of images `first..first + count` into `out`
    /// (`[count * OH*OW, F]`), with `buf` as scratch.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rows(
        &self,
        x: &[f32],
        g: &ConvGeometry,
        plan: &TaskPlan,
        first: usize,
        count: usize,
        buf: &mut [f32],
        out: &mut [f32],
    ) {
        match self {
            ForwardKernel::Direct(kernel) => {
                let images = &x[first * g.image_len()..][..count * g.image_len()];
                direct::conv_images(images, g, kernel, out, buf)
            }
            ForwardKernel::Winograd(k) => {
                let images = &x[first * g.image_len()..][..count * g.image_len()];
                k.conv_images(images, g, out, buf, (None, false))
            }
            ForwardKernel::Gemm(w) => {
                let cols = image_cols(x, g, first, count, buf);
                let mut c = ArrayViewMut2::from_shape((count * plan.rows_per_image, w.ncols()), out)
                    .expect("conv rows are (rows, f)");
                plan.gemm_rounded(cols, false, *w, false, 0.0, &mut c);
            }
        }
    }
}

impl ForwardKernel<'_> {
    /// [`Self::rows`] with `bias` added and ReLU applied when asked: by the
    /// Winograd kernel as it stores each output, else in a pass over `out`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rows_with_bias(
        &self,
        x: &[f32],
        g: &ConvGeometry,
        plan: &TaskPlan,
        (first, count): (usize, usize),
        buf: &mut [f32],
        out: &mut [f32],
        (bias, relu): (Option<&[f32]>, bool),
    ) {
        if let ForwardKernel::Winograd(k) = self {
            let images = &x[first * g.image_len()..][..count * g.image_len()];
            k.conv_images(images, g, out, buf, (bias, relu));
        } else {
            self.rows(x, g, plan, first, count, buf, out);
            // `out` holds `count * OH*OW` rows of F floats.
            let f = out.len() / (count * g.rows_per_image()).max(1);
            bias_and_relu(out, bias, relu, f);
        }
    }
}

/// Adds `bias` to every `f`-wide row of `y` and applies ReLU when asked.
pub(crate) fn bias_and_relu(y: &mut [f32], bias: Option<&[f32]>, relu: bool, f: usize) {
    match (bias, relu) {
        (Some(b), true) => y.chunks_exact_mut(f).for_each(|r| {
            r.iter_mut().zip(b).for_each(|(v, b)| *v = (*v + b).max(0.0));
        }),
        (Some(b), false) => y.chunks_exact_mut(f).for_each(|r| {
            r.iter_mut().zip(b).for_each(|(v, b)| *v += b);
        }),
        (None, true) => y.iter_mut().for_each(|v| *v = v.max(0.0)),
        (None, false) => {}
    }
}

pub(crate) fn check_bias(bias: Option<&ArrayView1<f32>>, kernel: &[usize], f: usize) -> Result<()> {
    match bias {
        Some(b) if b.len() != f => Err(TensorError::shape(
            "conv2d",
            b.shape(),
            kernel,
            format!("bias must have one value per output channel ({f})"),
        )),
        _ => Ok(()),
    }
}

/// A forward pass's input (standard layout) and kernel at the calling
/// thread's [`crate::precision`]: under [`Precision::Bf16`] both are rounded
/// to bf16 once, here, so that every algorithm (direct, Winograd, im2col +
/// GEMM) multiplies bf16 values and accumulates in `f32`.
pub(crate) struct ForwardOperands<'a> {
    input: CowArray<'a, f32, Ix4>,
    kernel: CowArray<'a, f32, Ix4>,
}

impl<'a> ForwardOperands<'a> {
    pub(crate) fn new(input: ArrayView4<'a, f32>, kernel: ArrayView4<'a, f32>) -> Self {
        if crate::precision::current().is_bf16() {
            ForwardOperands {
                input: CowArray::from(crate::precision::rounded_to_bf16(input)),
                kernel: CowArray::from(crate::precision::rounded_to_bf16(kernel)),
            }
        } else {
            let standard = |v: ArrayView4<'a, f32>| {
                if v.is_standard_layout() {
                    CowArray::from(v)
                } else {
                    CowArray::from(v.as_standard_layout().into_owned())
                }
            };
            ForwardOperands {
                input: standard(input),
                kernel: standard(kernel),
            }
        }
    }

    /// The input's floats, `[N, H, W, C]` row-major.
    pub(crate) fn input(&self) -> &[f32] {
        self.input.as_slice().expect("standard layout is contiguous")
    }

    /// The `[KH*KW*C, F]` kernel matrix.
    pub(crate) fn kernel_matrix(&self) -> ArrayView2<'_, f32> {
        kernel_matrix(&self.kernel)
    }
}

pub(crate) fn kernel_matrix<'a>(kernel: &'a ndarray::CowArray<'a, f32, ndarray::Ix4>) -> ArrayView2<'a, f32> {
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
    conv_forward(input, kernel, bias, p, false)
}

/// [`conv2d`] followed by ReLU, applied to each task's rows right after its
/// GEMM (no second pass over the output).
///
/// ```
/// use ndarray::{array, Array4};
/// use neurite_tensor::{conv2d_relu, Conv2dParams};
/// let x = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0f32, -3.0]).unwrap();
/// let w = Array4::<f32>::ones((1, 1, 1, 1));
/// let y = conv2d_relu(x.view(), w.view(), Some(array![0.5f32].view()), &Conv2dParams::default())?;
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![1.5, 0.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_relu(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
) -> Result<Array4<f32>> {
    conv_forward(input, kernel, bias, p, true)
}

fn conv_forward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
    relu: bool,
) -> Result<Array4<f32>> {
    let g = geometry(input.shape(), kernel.shape(), p)?;
    let f = kernel.shape()[3];
    check_bias(bias.as_ref(), kernel.shape(), f)?;
    let out_shape = (g.batch, g.out_h, g.out_w, f);
    let (k, rows) = (g.patch_len(), g.batch * g.rows_per_image());
    if rows == 0 || f == 0 {
        return Ok(Array4::zeros(out_shape));
    }
    let bias = bias.map(|b| b.to_vec());
    if k == 0 {
        let mut y = vec![0.0f32; rows * f];
        bias_and_relu(&mut y, bias.as_deref(), relu, f);
        return Ok(Array4::from_shape_vec(out_shape, y).expect("output shape"));
    }
    let operands = ForwardOperands::new(input, kernel);
    let (x, w) = (operands.input(), operands.kernel_matrix());
    let kernel = ForwardKernel::new(&g, w);
    let plan = kernel.plan(&g, f);
    let scratch = kernel.scratch_len(&g, &plan);
    let chunk = plan.images * plan.rows_per_image * f;
    let y = if !kernel.is_gemm() {
        par_build(rows * f, chunk, 0.0f32, |t, y| {
            let task = plan.images_of(t, g.batch);
            with_scratch(scratch, |buf| {
                kernel.rows_with_bias(x, &g, &plan, task, buf, y, (bias.as_deref(), relu))
            });
        })
    } else {
        par_build_with(rows * f, chunk, |t, y| {
            let (first, count) = plan.images_of(t, g.batch);
            let y = with_scratch(scratch, |buf| {
                let cols = image_cols(x, &g, first, count, buf);
                gemm_into_uninit(cols, w, y, !plan.parallel_gemm)
            });
            bias_and_relu(y, bias.as_deref(), relu, f);
            y
        })
    };
    Ok(Array4::from_shape_vec(out_shape, y).expect("output length matches its shape"))
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
    check_output_shape("conv2d_backward", &g, kernel.shape()[3], grad_output.shape())?;
    let dy = grad_output.as_standard_layout();
    let dy = dy.as_slice().expect("standard layout is contiguous");
    conv_backward(input, kernel, OutputGrad::Dense(dy), p, need_input_grad)
}

/// Gradients of [`conv2d_relu`], given its `output`: the gradient is masked by
/// `output > 0` inside each task (no masked copy of the whole batch), then as
/// [`conv2d_backward`].
///
/// Errors when `output` or `grad_output` do not have the forward output's shape.
///
/// ```
/// use ndarray::{array, Array4};
/// use neurite_tensor::{conv2d_relu, conv2d_relu_backward, Conv2dParams};
/// let x = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0f32, -3.0]).unwrap();
/// let w = Array4::<f32>::ones((1, 1, 1, 1));
/// let p = Conv2dParams::default();
/// let y = conv2d_relu(x.view(), w.view(), None, &p)?;
/// let gy = Array4::<f32>::ones((1, 1, 2, 1));
/// let g = conv2d_relu_backward(x.view(), w.view(), y.view(), gy.view(), &p, true)?;
/// // Only the first position was active: dW = x0, db = 1, dX = (w, 0).
/// assert_eq!((g.kernel[[0, 0, 0, 0]], g.bias[0]), (1.0, 1.0));
/// assert_eq!(g.input.unwrap().into_raw_vec_and_offset().0, vec![1.0, 0.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_relu_backward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    output: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    p: &Conv2dParams,
    need_input_grad: bool,
) -> Result<Conv2dGrads> {
    if output.shape() != grad_output.shape() {
        return Err(TensorError::shape(
            "conv2d_relu_backward",
            output.shape(),
            grad_output.shape(),
            "the forward output and its gradient must have the same shape",
        ));
    }
    let g = geometry(input.shape(), kernel.shape(), p)?;
    check_output_shape("conv2d_backward", &g, kernel.shape()[3], grad_output.shape())?;
    let (dy, y) = (grad_output.as_standard_layout(), output.as_standard_layout());
    let grad = OutputGrad::Relu {
        grad: dy.as_slice().expect("standard layout is contiguous"),
        output: y.as_slice().expect("standard layout is contiguous"),
    };
    conv_backward(input, kernel, grad, p, need_input_grad)
}

/// Errors unless `found` is the shape `[N, OH, OW, F]` of the convolution's output.
pub(crate) fn check_output_shape(
    op: &'static str,
    g: &ConvGeometry,
    f: usize,
    found: &[usize],
) -> Result<()> {
    let out_shape = [g.batch, g.out_h, g.out_w, f];
    if found != out_shape {
        return Err(TensorError::shape(
            op,
            found,
            &out_shape,
            "grad_output must have the shape of the forward output",
        ));
    }
    Ok(())
}

/// Where a backward task finds its rows of `dL/dY` (`Y` the convolution's
/// output before any activation), all slices in standard layout.
#[derive(Clone, Copy)]
pub(crate) enum OutputGrad<'a> {
    /// `dL/dY` itself, `[N*OH*OW, F]`.
    Dense(&'a [f32]),
    /// The gradient of `relu(Y)` and that `output`: `dL/dY = grad` where `output > 0`.
    Relu { grad: &'a [f32], output: &'a [f32] },
    /// The gradient of `max_pool(relu(Y))`, its `pooled` output and the pool's
    /// per-image `argmax` into `Y`: each gradient whose pooled value is
    /// positive goes to its argmax (overlapping windows add up), the rest of
    /// `dL/dY` is zero. `pooled_image` outputs per image.
    ReluMaxPool {
        grad: &'a [f32],
        pooled: &'a [f32],
        argmax: &'a [u32],
        pooled_image: usize,
    },
}

impl OutputGrad<'_> {
    /// Whether [`Self::rows`] builds its rows in a scratch buffer.
    fn needs_buffer(&self) -> bool {
        !matches!(self, OutputGrad::Dense(_))
    }

    /// `dL/dY` of images `first..first + count` (`image` = `OH*OW*F` floats
    /// each), built in `buf` unless stored as such.
    fn rows<'s>(&'s self, first: usize, count: usize, image: usize, buf: &'s mut [f32]) -> &'s [f32] {
        let r = first * image..(first + count) * image;
        match *self {
            OutputGrad::Dense(dy) => &dy[r],
            OutputGrad::Relu { grad, output } => {
                let m = &mut buf[..r.len()];
                for ((m, &d), &o) in m.iter_mut().zip(&grad[r.clone()]).zip(&output[r]) {
                    *m = if o > 0.0 { d } else { 0.0 };
                }
                m
            }
            OutputGrad::ReluMaxPool {
                grad,
                pooled,
                argmax,
                pooled_image,
            } => {
                let m = &mut buf[..r.len()];
                m.fill(0.0);
                let p = first * pooled_image..(first + count) * pooled_image;
                let (grad, pooled, argmax) = (&grad[p.clone()], &pooled[p.clone()], &argmax[p]);
                for (i, dy) in m.chunks_exact_mut(image).enumerate() {
                    let o = i * pooled_image..(i + 1) * pooled_image;
                    for ((&d, &v), &a) in grad[o.clone()].iter().zip(&pooled[o.clone()]).zip(&argmax[o]) {
                        // Branch-free (the sign of v is a coin toss): every window
                        // that picked cell `a` has the same pooled value, so a cell
                        // gets either all its gradients or only zeros, which leave
                        // it at +0.0, as masking after the scatter does.
                        dy[a as usize] += if v > 0.0 { d } else { 0.0 };
                    }
                }
                m
            }
        }
    }
}

/// `dL/dX` of a stride-1, undilated convolution with odd kernel sides and
/// `same` padding, computed as the forward `same` convolution of `dL/dY` with
/// the kernel turned by 180 degrees and its channel axes swapped (the
/// transposed convolution equals that correlation): taken where that forward
/// runs the Winograd kernel, which beats im2col's `[rows, F] x [F, 9C]` GEMM
/// and col2im scatter for few channels.
struct TransposedForward<'a> {
    kernel: ForwardKernel<'a>,
    geometry: ConvGeometry,
    plan: TaskPlan,
    /// Scratch floats a task needs for [`ForwardKernel::rows`].
    scratch: usize,
}

impl TransposedForward<'_> {
    /// `None` unless the geometry allows it and the Winograd kernel applies.
    fn new(g: &ConvGeometry, kernel_shape: &[usize], w: ArrayView2<f32>, images: usize) -> Option<Self> {
        let (kh, kw, c, f) = (kernel_shape[0], kernel_shape[1], kernel_shape[2], kernel_shape[3]);
        let symmetric = (g.stride_h, g.stride_w, g.dilation_h, g.dilation_w) == (1, 1, 1, 1)
            && kh % 2 == 1
            && kw % 2 == 1
            && 2 * g.pad_top == kh - 1
            && 2 * g.pad_left == kw - 1
            && (g.out_h, g.out_w) == (g.in_h, g.in_w);
        if !symmetric {
            return None;
        }
        let p = Conv2dParams {
            strides: (1, 1),
            padding: Padding::Same,
            dilation: (1, 1),
        };
        let geometry = ConvGeometry::new(&[g.batch, g.out_h, g.out_w, f], (kh, kw), &p).ok()?;
        if select_algorithm(&geometry, c) != ConvAlgorithm::Winograd {
            return None;
        }
        // Row (i, j, o) of the turned kernel matrix is row (kh-1-i, kw-1-j, ·) of W, column o.
        let mut turned = Array2::<f32>::zeros((kh * kw * f, c));
        for i in 0..kh {
            for j in 0..kw {
                for ch in 0..c {
                    let src = w.row(((kh - 1 - i) * kw + (kw - 1 - j)) * c + ch);
                    for (o, &v) in src.iter().enumerate() {
                        turned[[(i * kw + j) * f + o, ch]] = v;
                    }
                }
            }
        }
        let kernel = ForwardKernel::Winograd(WinogradKernel::new(turned.view(), f));
        let plan = TaskPlan {
            images,
            ..kernel.plan(&geometry, c)
        };
        let scratch = kernel.scratch_len(&geometry, &plan);
        Some(TransposedForward {
            kernel,
            geometry,
            plan,
            scratch,
        })
    }
}

/// The backward of every convolution variant: `grad` says how each task gets
/// its rows of `dL/dY`; the caller has checked that its shapes match.
pub(crate) fn conv_backward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    grad: OutputGrad,
    p: &Conv2dParams,
    need_input_grad: bool,
) -> Result<Conv2dGrads> {
    let g = geometry(input.shape(), kernel.shape(), p)?;
    let f = kernel.shape()[3];
    let (k, rows) = (g.patch_len(), g.batch * g.rows_per_image());
    let kdim = kernel.raw_dim();
    if rows == 0 || f == 0 {
        return Ok(Conv2dGrads {
            input: need_input_grad.then(|| Array4::zeros(input.raw_dim())),
            kernel: Array4::zeros(kdim),
            bias: Array1::zeros(f),
        });
    }
    // Under bf16 the input and kernel are rounded once here, and each task
    // rounds its rows of dY below: every GEMM operand is then a bf16 value.
    let operands = ForwardOperands::new(input, kernel);
    let (x, w) = (operands.input(), operands.kernel_matrix());
    let plan = TaskPlan::new(&g, f);
    let bf16 = plan.precision.is_bf16();
    let task_rows = plan.images * plan.rows_per_image;
    let cols_len = if g.is_pointwise() { 0 } else { task_rows * k };
    let dcols_len = if need_input_grad && !g.is_pointwise() {
        task_rows * k
    } else {
        0
    };
    // dX as a forward convolution of dY where that runs the Winograd kernel.
    let transposed = (need_input_grad && !bf16)
        .then(|| TransposedForward::new(&g, kernel.shape(), w, plan.images))
        .flatten();
    let dcols_len = if transposed.is_some() { 0 } else { dcols_len };
    let dx_scratch = transposed.as_ref().map_or(0, |t| t.scratch);
    let dy_len = if grad.needs_buffer() { task_rows * f } else { 0 };
    let dy_bf16_len = if bf16 { task_rows * f } else { 0 };
    // Per task: its dW (k*f) then its db (f), summed in task order below.
    let partial = k * f + f;
    let task = |t: usize, dx: Option<&mut [f32]>, part: &mut [f32]| {
        let (first, count) = plan.images_of(t, g.batch);
        let task_rows = count * plan.rows_per_image;
        with_scratch(
            cols_len + dcols_len.max(dx_scratch) + dy_len + dy_bf16_len,
            |buf| {
                let (cols_buf, rest) = buf.split_at_mut(cols_len);
                let (dcols_buf, rest) = rest.split_at_mut(dcols_len.max(dx_scratch));
                let (dy_buf, dy_bf16_buf) = rest.split_at_mut(dy_len);
                let dy_t = grad.rows(first, count, plan.rows_per_image * f, dy_buf);
                let (dw_part, db_part) = part.split_at_mut(k * f);
                // The bias gradient sums the unrounded dY, in f32, under every precision.
                for row in dy_t.chunks_exact(f) {
                    db_part.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
                let dy_t: &[f32] = if bf16 {
                    let r = &mut dy_bf16_buf[..dy_t.len()];
                    r.iter_mut()
                        .zip(dy_t)
                        .for_each(|(r, &v)| *r = crate::bf16::round_to_bf16(v));
                    r
                } else {
                    dy_t
                };
                let dym = ArrayView2::from_shape((task_rows, f), dy_t).expect("dY rows");
                let cols = image_cols(x, &g, first, count, cols_buf);
                let mut dwm = ArrayViewMut2::from_shape((k, f), dw_part).expect("dW is (k, f)");
                plan.gemm_rounded(cols, true, dym, false, 0.0, &mut dwm);
                let Some(dx) = dx else { return };
                if let Some(t) = &transposed {
                    t.kernel.rows(dy_t, &t.geometry, &t.plan, 0, count, dcols_buf, dx);
                    return;
                }
                if g.is_pointwise() {
                    let mut dxm = ArrayViewMut2::from_shape((task_rows, k), dx).expect("pointwise dX rows");
                    plan.gemm_rounded(dym, false, w, true, 0.0, &mut dxm);
                    return;
                }
                let dcols = &mut dcols_buf[..task_rows * k];
                let mut dcm = ArrayViewMut2::from_shape((task_rows, k), &mut *dcols).expect("dcols rows");
                plan.gemm_rounded(dym, false, w, true, 0.0, &mut dcm);
                let (img, per) = (g.image_len(), plan.rows_per_image * k);
                for (d, c) in dx.chunks_exact_mut(img).zip(dcols.chunks_exact(per)) {
                    col2im_image_add(c, &g, d);
                }
            },
        );
    };
    let (dx, partials) = if need_input_grad {
        let img = g.image_len();
        let (dx, partials) = par_build_pair(
            (g.batch * img, plan.images * img, 0.0f32),
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
    let db = Array1::from_vec(total.split_off(k * f));
    Ok(Conv2dGrads {
        input: dx,
        kernel: Array4::from_shape_vec(kdim, total).expect("dW shape"),
        bias: db,
    })
}
