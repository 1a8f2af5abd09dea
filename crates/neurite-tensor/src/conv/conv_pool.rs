//! `Conv2D(relu) → MaxPooling2D` in one pass over the batch, for inference
//! and for training (with its backward).
//!
//! The unfused pair writes the whole convolution output (`[N, OH, OW, F]`,
//! 22 MiB for the first layer of the MNIST CNN at batch 256) and pooling reads
//! it back from memory. Here each task of whole images (the same split as
//! [`crate::conv2d`]) computes its convolution rows into a per-thread scratch
//! buffer (or, for the direct kernel and 2x2 pooling, pools them in
//! registers), pools those rows while they are still in the core's cache,
//! and only the pooled rows reach the output.
//!
//! - **Inference** ([`conv2d_relu_max_pool2d`]): bias and ReLU are applied
//!   **after** pooling, on a quarter of the values (for 2x2 windows): the bias
//!   is the same for every value of a channel and `x ↦ max(x + b, 0)` is
//!   non-decreasing (f32 rounding included), so
//!   `max_i relu(x_i + b) = relu(max_i x_i + b)`. No argmax is kept.
//! - **Training** ([`conv2d_relu_max_pool2d_with_indices`]): the bias is added
//!   inside the argmax kernel, so values and argmax are the unfused pair's;
//!   [`conv2d_relu_max_pool2d_backward`] scatters the pooled gradient back per
//!   task inside the convolution's backward.

use crate::conv::conv2d::{bias_and_relu, conv2d_relu, conv_backward, Conv2dGrads, Conv2dParams, OutputGrad};
use crate::conv::conv2d::{check_bias, geometry, with_scratch, ForwardKernel, ForwardOperands};
use crate::conv::im2col::ConvGeometry;
use crate::conv::max_pool_kernel::{max_pool_image, max_pool_image_biased};
use crate::conv::pool::{
    max_pool2d, max_pool2d_values, pool_geometry, MaxPoolIndices, Pool2dParams, PoolGeometry,
};
use crate::error::{Result, TensorError};
use crate::fill::{par_build, par_build_pair};
use ndarray::{Array4, ArrayView1, ArrayView4};

/// `max_pool2d_values(conv2d_relu(input, kernel, bias, conv), pool)` without
/// materialising the convolution output: the result is bit for bit the same
/// whenever the convolution output holds no NaN (a NaN in a window yields 0
/// here, and the largest other value after ReLU in the unfused pair).
///
/// `input` `[N, H, W, C]`, `kernel` `[KH, KW, C, F]`, `bias` `[F]`; the result is
/// `[N, PH, PW, F]` with `PH x PW` the pooled size of the convolution output
/// (see [`crate::conv2d_output_shape`], [`crate::pool2d_output_shape`]).
/// Errors as the two unfused ops do.
///
/// ```
/// use ndarray::{array, Array4};
/// use neurite_tensor::{conv2d_relu, conv2d_relu_max_pool2d, max_pool2d_values, Conv2dParams, Pool2dParams};
/// let x = Array4::from_shape_fn((2, 6, 6, 1), |(n, h, w, _)| (n + h * 6 + w) as f32 - 10.0);
/// let k = Array4::from_shape_fn((3, 3, 1, 2), |(i, j, _, f)| (i + j) as f32 - f as f32);
/// let b = array![0.5f32, -1.0];
/// let (cp, pp) = (Conv2dParams::default(), Pool2dParams::new((2, 2)));
/// let fused = conv2d_relu_max_pool2d(x.view(), k.view(), Some(b.view()), &cp, &pp)?;
/// let unfused = max_pool2d_values(conv2d_relu(x.view(), k.view(), Some(b.view()), &cp)?.view(), &pp)?;
/// assert_eq!(fused, unfused);
/// assert_eq!(fused.shape(), &[2, 2, 2, 2]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_relu_max_pool2d(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    conv: &Conv2dParams,
    pool: &Pool2dParams,
) -> Result<Array4<f32>> {
    let (g, pg) = fused_geometry(&input, &kernel, bias.as_ref(), conv, pool)?;
    if pg.out_shape().iter().product::<usize>() == 0 || g.patch_len() == 0 {
        // Nothing to fuse (empty output, or a kernel with no taps).
        return max_pool2d_values(conv2d_relu(input, kernel, bias, conv)?.view(), pool);
    }
    Ok(fused_forward(input, kernel, bias, &g, &pg, Some(pool)).0)
}

/// [`conv2d_relu_max_pool2d`] for training: also returns the pool's argmax
/// into the (never written) `[N, OH, OW, F]` convolution output, for
/// [`conv2d_relu_max_pool2d_backward`]. The bias is added before pooling, so
/// the values **and** the argmax are bit for bit those of
/// [`crate::max_pool2d`] over [`conv2d_relu`]'s output wherever the pooled
/// value is positive (where it is zero the gradient is zero either way),
/// as long as the convolution output holds no NaN.
///
/// ```
/// use ndarray::{array, Array4};
/// use neurite_tensor::{conv2d_relu, conv2d_relu_max_pool2d_with_indices, max_pool2d, Conv2dParams, Pool2dParams};
/// let x = Array4::from_shape_fn((2, 6, 6, 1), |(n, h, w, _)| (n + h * 6 + w) as f32 - 10.0);
/// let k = Array4::from_shape_fn((3, 3, 1, 2), |(i, j, _, f)| (i + j) as f32 - f as f32);
/// let b = array![0.5f32, -1.0];
/// let (cp, pp) = (Conv2dParams::default(), Pool2dParams::new((2, 2)));
/// let (y, idx) = conv2d_relu_max_pool2d_with_indices(x.view(), k.view(), Some(b.view()), &cp, &pp)?;
/// let (y2, idx2) = max_pool2d(conv2d_relu(x.view(), k.view(), Some(b.view()), &cp)?.view(), &pp)?;
/// assert_eq!(y, y2);
/// assert_eq!(idx.input_shape(), [2, 4, 4, 2]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_relu_max_pool2d_with_indices(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    conv: &Conv2dParams,
    pool: &Pool2dParams,
) -> Result<(Array4<f32>, MaxPoolIndices)> {
    let (g, pg) = fused_geometry(&input, &kernel, bias.as_ref(), conv, pool)?;
    let f = kernel.shape()[3];
    let conv_shape = [g.batch, g.out_h, g.out_w, f];
    if u32::try_from(g.rows_per_image() * f).is_err() {
        return Err(TensorError::invalid(
            "max_pool2d",
            format!(
                "a convolution output image of shape {:?} has more than u32::MAX elements",
                &conv_shape[1..]
            ),
        ));
    }
    if pg.out_shape().iter().product::<usize>() == 0 || g.patch_len() == 0 {
        return max_pool2d(conv2d_relu(input, kernel, bias, conv)?.view(), pool);
    }
    let (y, argmax) = fused_forward(input, kernel, bias, &g, &pg, None);
    let idx = MaxPoolIndices::new(conv_shape, pg.out_shape().to_vec(), argmax);
    Ok((y, idx))
}

/// Gradients of [`conv2d_relu_max_pool2d_with_indices`] from its pooled
/// `output`, its `indices` and `grad_output = dL/d(output)`: the same as
/// [`crate::conv2d_relu_backward`] after [`crate::max_pool2d_backward`], but
/// each task scatters its images' gradients into a scratch block in cache
/// instead of the whole batch's `dL/dY` going through memory twice.
///
/// Errors when `output`, `grad_output` or `indices` do not fit the forward shapes.
///
/// ```
/// use ndarray::{array, Array4};
/// use neurite_tensor::*;
/// let x = Array4::from_shape_fn((1, 4, 4, 1), |(_, h, w, _)| (h * 4 + w) as f32 - 6.0);
/// let k = Array4::<f32>::ones((1, 1, 1, 1));
/// let (cp, pp) = (Conv2dParams::default(), Pool2dParams::new((2, 2)));
/// let (y, idx) = conv2d_relu_max_pool2d_with_indices(x.view(), k.view(), None, &cp, &pp)?;
/// let gy = Array4::<f32>::ones((1, 2, 2, 1));
/// let g = conv2d_relu_max_pool2d_backward(x.view(), k.view(), y.view(), &idx, gy.view(), &cp, true)?;
/// // Windows with maxima -1, 1, 7, 9: three are positive after ReLU.
/// assert_eq!(g.bias[0], 3.0);
/// assert_eq!(g.kernel[[0, 0, 0, 0]], 1.0 + 7.0 + 9.0);
/// assert_eq!(g.input.unwrap()[[0, 3, 3, 0]], 1.0);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv2d_relu_max_pool2d_backward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    output: ArrayView4<f32>,
    indices: &MaxPoolIndices,
    grad_output: ArrayView4<f32>,
    conv: &Conv2dParams,
    need_input_grad: bool,
) -> Result<Conv2dGrads> {
    const OP: &str = "conv2d_relu_max_pool2d_backward";
    let g = geometry(input.shape(), kernel.shape(), conv)?;
    let conv_shape = [g.batch, g.out_h, g.out_w, kernel.shape()[3]];
    if indices.input_shape() != conv_shape {
        return Err(TensorError::shape(
            OP,
            &indices.input_shape(),
            &conv_shape,
            "the pooling indices must come from this convolution's output",
        ));
    }
    for (what, shape) in [("output", output.shape()), ("grad_output", grad_output.shape())] {
        if shape != indices.output_shape() {
            return Err(TensorError::shape(
                OP,
                shape,
                indices.output_shape(),
                format!("{what} must have the shape of the pooled forward output"),
            ));
        }
    }
    let (dy, y) = (grad_output.as_standard_layout(), output.as_standard_layout());
    let grad = OutputGrad::ReluMaxPool {
        grad: dy.as_slice().expect("standard layout is contiguous"),
        pooled: y.as_slice().expect("standard layout is contiguous"),
        argmax: indices.argmax(),
        pooled_image: indices.output_shape()[1..].iter().product(),
    };
    conv_backward(input, kernel, grad, conv, need_input_grad)
}

/// Checks both ops' shapes as the unfused pair would, and returns their geometries.
fn fused_geometry(
    input: &ArrayView4<f32>,
    kernel: &ArrayView4<f32>,
    bias: Option<&ArrayView1<f32>>,
    conv: &Conv2dParams,
    pool: &Pool2dParams,
) -> Result<(ConvGeometry, PoolGeometry)> {
    let g = geometry(input.shape(), kernel.shape(), conv)?;
    let f = kernel.shape()[3];
    check_bias(bias, kernel.shape(), f)?;
    let pg = pool_geometry("max_pool2d", &[g.batch, g.out_h, g.out_w, f], pool)?;
    Ok((g, pg))
}

/// The fused pass over a non-empty output. For training (`inference` is
/// `None`), the bias is added before pooling and the argmax kept; for
/// inference (`Some(pool)`), the bias and ReLU come after pooling, on fewer
/// values, and the direct kernel pools 2x2 windows in registers.
fn fused_forward(
    input: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    g: &ConvGeometry,
    pg: &PoolGeometry,
    inference: Option<&Pool2dParams>,
) -> (Array4<f32>, Vec<u32>) {
    let argmax = inference.is_none();
    let f = kernel.shape()[3];
    let out_shape = pg.out_shape();
    let out_len = out_shape.iter().product::<usize>();
    let bias = bias.map(|b| b.to_vec());
    let operands = ForwardOperands::new(input, kernel);
    let (x, w) = (operands.input(), operands.kernel_matrix());
    let kernel = ForwardKernel::new(g, w);
    let plan = kernel.plan(g, f);
    let conv_img = plan.rows_per_image * f;
    let cols_len = kernel.scratch_len(g, &plan);
    let (pooled_img, windows) = (pg.out_image_len(), pg.image_windows());
    let in_registers = inference.is_some_and(|pool| kernel.pools_in_registers(pool));
    let task = |t: usize, out: &mut [f32], mut idx: Option<&mut [u32]>| {
        let (first, count) = plan.images_of(t, g.batch);
        if in_registers {
            with_scratch(cols_len, |buf| {
                kernel.max_pool_2x2_rows(x, g, first, count, buf, out)
            });
            bias_and_relu(out, bias.as_deref(), true, f);
            return;
        }
        with_scratch(cols_len + plan.images * conv_img, |buf| {
            let (cols_buf, conv_buf) = buf.split_at_mut(cols_len);
            let conv_out = &mut conv_buf[..count * conv_img];
            kernel.rows(x, g, &plan, first, count, cols_buf, conv_out);
            for (i, (img, pooled)) in conv_out
                .chunks_exact_mut(conv_img)
                .zip(out.chunks_exact_mut(pooled_img))
                .enumerate()
            {
                let image_idx = idx.as_deref_mut().map(|a| &mut a[i * pooled_img..][..pooled_img]);
                match (image_idx, bias.as_deref()) {
                    // Training: pool `conv + bias`, so the argmax is the unfused pair's.
                    (Some(ix), Some(b)) => max_pool_image_biased(img, pooled, ix, &windows, b),
                    (ix, _) => max_pool_image(img, pooled, ix, &windows),
                }
            }
        });
        let bias = if idx.is_some() { None } else { bias.as_deref() };
        bias_and_relu(out, bias, true, f);
    };
    let chunk = plan.images * pooled_img;
    let (y, argmax) = if argmax {
        par_build_pair((out_len, chunk, 0.0f32), (out_len, chunk, 0u32), |t, out, idx| {
            task(t, out, Some(idx))
        })
    } else {
        (
            par_build(out_len, chunk, 0.0f32, |t, out| task(t, out, None)),
            Vec::new(),
        )
    };
    let y = Array4::from_shape_vec(out_shape, y).expect("pooled length matches its shape");
    (y, argmax)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::padding::Padding;
    use proptest::prelude::*;

    fn values(len: usize, seed: u64) -> Vec<f32> {
        // Small integers and halves: sums are exact, so ties between window cells are common.
        (0..len)
            .map(|i| (((i as u64 * 2654435761 + seed * 97) % 9) as f32 - 4.0) * 0.5)
            .collect()
    }

    /// Input `[N, H, W, C]`, kernel `[KH, KW, C, F]` and bias `[F]` of tie-heavy values.
    fn operands(
        input: [usize; 4],
        kernel: [usize; 4],
        seed: u64,
    ) -> (Array4<f32>, Array4<f32>, ndarray::Array1<f32>) {
        let len = |s: [usize; 4]| s.iter().product::<usize>();
        let x = Array4::from_shape_vec(input, values(len(input), seed)).unwrap();
        let k = Array4::from_shape_vec(kernel, values(len(kernel), seed + 1)).unwrap();
        (x, k, ndarray::Array1::from_vec(values(kernel[3], seed + 2)))
    }

    /// The fused inference pass equals `max_pool2d_values(conv2d_relu(..))`
    /// bit for bit, or both fail.
    fn fused_inference_equals_unfused(
        x: &Array4<f32>,
        k: &Array4<f32>,
        b: Option<ndarray::ArrayView1<f32>>,
        conv: &Conv2dParams,
        pool: &Pool2dParams,
    ) -> std::result::Result<(), TestCaseError> {
        let fused = conv2d_relu_max_pool2d(x.view(), k.view(), b, conv, pool);
        let unfused =
            conv2d_relu(x.view(), k.view(), b, conv).and_then(|y| max_pool2d_values(y.view(), pool));
        match (fused, unfused) {
            (Ok(a), Ok(e)) => prop_assert_eq!(a, e),
            (Err(_), Err(_)) => {}
            (a, e) => prop_assert!(
                false,
                "fused {:?} vs unfused {:?}",
                a.map(|v| v.dim()),
                e.map(|v| v.dim())
            ),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Equal, bit for bit, to pooling the output of `conv2d_relu`, over
        /// strides, padding, dilation, pooling windows and batches big enough
        /// to make several tasks.
        #[test]
        fn fused_equals_conv_then_pool(
            n in 1usize..20, h in 3usize..12, w in 3usize..12, c in 1usize..5, f in 1usize..20,
            kh in 1usize..4, kw in 1usize..4, stride in 1usize..3, dil in 1usize..3,
            same in any::<bool>(), ph in 1usize..4, pw in 1usize..4, ps in 1usize..4,
            pool_same in any::<bool>(), with_bias in any::<bool>(), seed in 0u64..50,
        ) {
            let conv = Conv2dParams {
                strides: (stride, stride),
                padding: if same { Padding::Same } else { Padding::Valid },
                dilation: (dil, dil),
            };
            let pool = Pool2dParams {
                pool_size: (ph, pw),
                strides: (ps, ps),
                padding: if pool_same { Padding::Same } else { Padding::Valid },
            };
            let (x, k, b) = operands([n, h, w, c], [kh, kw, c, f], seed);
            let b = with_bias.then_some(b.view());
            fused_inference_equals_unfused(&x, &k, b, &conv, &pool)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Few taps, whole 16-channel blocks and 2x2 stride-2 pooling: the
        /// inference pass pools in the direct kernel's registers, and still
        /// equals the unfused pair bit for bit.
        #[test]
        fn pooled_in_registers_equals_conv_then_pool(
            n in 1usize..12, h in 2usize..16, w in 2usize..16, c in 1usize..4, blocks in 1usize..4,
            k in 1usize..4, stride in 1usize..3, same in any::<bool>(), with_bias in any::<bool>(), seed in 0u64..50,
        ) {
            let f = 16 * blocks;
            let conv = conv_params(stride, 1, same);
            let pool = Pool2dParams::new((2, 2));
            let (x, kern, b) = operands([n, h, w, c], [k, k, c, f], seed);
            let b = with_bias.then_some(b.view());
            fused_inference_equals_unfused(&x, &kern, b, &conv, &pool)?;
        }
    }

    fn conv_params(stride: usize, dil: usize, same: bool) -> Conv2dParams {
        Conv2dParams {
            strides: (stride, stride),
            padding: if same { Padding::Same } else { Padding::Valid },
            dilation: (dil, dil),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Training pair: the forward's values equal the unfused pair's, its
        /// argmax picks the same cell wherever the pooled value is positive,
        /// and the backward's three gradients equal, bit for bit,
        /// `conv2d_relu_backward(max_pool2d_backward(..))` of the unfused pair
        /// (tie-heavy values, overlapping windows, several tasks).
        #[test]
        fn training_pair_equals_unfused_chain(
            n in 1usize..20, h in 3usize..11, w in 3usize..11, c in 1usize..4, f in 1usize..18,
            kh in 1usize..4, kw in 1usize..4, stride in 1usize..3, dil in 1usize..3,
            same in any::<bool>(), pk in 1usize..4, ps in 1usize..3,
            pool_same in any::<bool>(), with_bias in any::<bool>(), need_dx in any::<bool>(), seed in 0u64..50,
        ) {
            let conv = conv_params(stride, dil, same);
            let pool = Pool2dParams {
                pool_size: (pk, pk),
                strides: (ps, ps),
                padding: if pool_same { Padding::Same } else { Padding::Valid },
            };
            let (x, k, b) = operands([n, h, w, c], [kh, kw, c, f], seed);
            let b = with_bias.then_some(b.view());
            let fused = conv2d_relu_max_pool2d_with_indices(x.view(), k.view(), b, &conv, &pool);
            let conv_out = conv2d_relu(x.view(), k.view(), b, &conv);
            let unfused = conv_out.as_ref().map_err(Clone::clone)
                .and_then(|y| max_pool2d(y.view(), &pool));
            let ((y, idx), (y2, idx2)) = match (fused, unfused) {
                (Ok(a), Ok(e)) => (a, e),
                // Both refuse the geometry (that they agree is the inference test's): a reject, not a pass.
                (Err(_), Err(_)) => return Err(TestCaseError::reject("both refuse this geometry")),
                (a, e) => return Err(TestCaseError::fail(format!("fused {:?} vs unfused {:?}", a.is_ok(), e.is_ok()))),
            };
            prop_assert_eq!(&y, &y2);
            prop_assert_eq!(idx.input_shape(), idx2.input_shape());
            prop_assert_eq!(idx.output_shape(), idx2.output_shape());
            for ((v, a), a2) in y.iter().zip(idx.argmax()).zip(idx2.argmax()) {
                prop_assert!(*v <= 0.0 || a == a2, "argmax {} vs {} at pooled value {}", a, a2, v);
            }
            let gy = Array4::from_shape_vec(y.raw_dim(), values(y.len(), seed + 3)).unwrap();
            let got = conv2d_relu_max_pool2d_backward(x.view(), k.view(), y.view(), &idx, gy.view(), &conv, need_dx).unwrap();
            let conv_out = conv_out.unwrap();
            let d_conv = crate::max_pool2d_backward(gy.view(), &idx2, idx2.input_shape()).unwrap();
            let want = crate::conv2d_relu_backward(x.view(), k.view(), conv_out.view(), d_conv.view(), &conv, need_dx).unwrap();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn training_pair_rejects_foreign_indices_and_shapes() {
        let x = Array4::<f32>::ones((2, 6, 6, 1));
        let k = Array4::<f32>::ones((3, 3, 1, 2));
        let (cp, pp) = (Conv2dParams::default(), Pool2dParams::new((2, 2)));
        let (y, idx) = conv2d_relu_max_pool2d_with_indices(x.view(), k.view(), None, &cp, &pp).unwrap();
        // Indices of another shape (pooling the input itself).
        let (_, other) = max_pool2d(x.view(), &pp).unwrap();
        let e = conv2d_relu_max_pool2d_backward(x.view(), k.view(), y.view(), &other, y.view(), &cp, true);
        assert!(e.unwrap_err().to_string().contains("pooling indices"));
        let wrong = Array4::<f32>::ones((2, 2, 2, 1));
        let e = conv2d_relu_max_pool2d_backward(x.view(), k.view(), y.view(), &idx, wrong.view(), &cp, true);
        assert!(e.unwrap_err().to_string().contains("grad_output"));
        let e = conv2d_relu_max_pool2d_backward(x.view(), k.view(), wrong.view(), &idx, y.view(), &cp, true);
        assert!(e.unwrap_err().to_string().contains("output"));
    }

    #[test]
    fn shape_errors_are_reported() {
        let x = Array4::<f32>::zeros((1, 4, 4, 2));
        let k = Array4::<f32>::zeros((3, 3, 3, 1));
        let p = Pool2dParams::new((2, 2));
        assert!(conv2d_relu_max_pool2d(x.view(), k.view(), None, &Conv2dParams::default(), &p).is_err());
        // A 2x2 conv output cannot take a 3x3 valid pooling window.
        let k = Array4::<f32>::zeros((3, 3, 2, 1));
        let p = Pool2dParams::new((3, 3));
        let e = conv2d_relu_max_pool2d(x.view(), k.view(), None, &Conv2dParams::default(), &p);
        assert!(e.unwrap_err().to_string().contains("max_pool2d"));
    }
}
