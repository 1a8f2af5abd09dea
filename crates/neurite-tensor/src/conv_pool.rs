//! Inference-only `Conv2D(relu) → MaxPooling2D` in one pass over the batch.
//!
//! The unfused pair writes the whole convolution output (`[N, OH, OW, F]`,
//! 22 MiB for the first layer of the MNIST CNN at batch 256) and pooling reads
//! it back from memory. Here each task of whole images (the same split as
//! [`crate::conv2d`]) runs im2col and its GEMM into a per-thread scratch
//! buffer, pools those rows while they are still in the core's cache, and
//! only the pooled rows reach the output. Bias and ReLU are applied **after**
//! pooling, on a quarter of the values (for 2x2 windows): the bias is the same
//! for every value of a channel and `x ↦ max(x + b, 0)` is non-decreasing
//! (f32 rounding included), so `max_i relu(x_i + b) = relu(max_i x_i + b)`.
//! No argmax is kept: there is no backward.

use crate::conv::{bias_and_relu, conv2d_relu, Conv2dParams};
use crate::conv::{check_bias, geometry, image_cols, kernel_matrix, with_scratch, TaskPlan};
use crate::error::Result;
use crate::fill::par_build;
use crate::max_pool_kernel::max_pool_image;
use crate::pool::{max_pool2d_values, pool_geometry, Pool2dParams};
use ndarray::{Array4, ArrayView1, ArrayView4, ArrayViewMut2};

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
    let g = geometry(input.shape(), kernel.shape(), conv)?;
    let f = kernel.shape()[3];
    check_bias(bias.as_ref(), kernel.shape(), f)?;
    let pg = pool_geometry("max_pool2d", &[g.batch, g.out_h, g.out_w, f], pool)?;
    let out_shape = pg.out_shape();
    let out_len = out_shape.iter().product::<usize>();
    let k = g.patch_len();
    if out_len == 0 || k == 0 {
        // Nothing to fuse (empty output, or a kernel with no taps).
        return max_pool2d_values(conv2d_relu(input, kernel, bias, conv)?.view(), pool);
    }
    let bias = bias.map(|b| b.to_vec());
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout is contiguous");
    let w_owned = kernel.as_standard_layout();
    let w = kernel_matrix(&w_owned);
    let plan = TaskPlan::new(&g, f);
    let conv_img = plan.rows_per_image * f;
    let cols_len = if g.is_pointwise() {
        0
    } else {
        plan.images * plan.rows_per_image * k
    };
    let (pooled_img, windows) = (pg.out_image_len(), pg.image_windows());
    let y = par_build(out_len, plan.images * pooled_img, 0.0f32, |t, out| {
        let (first, count) = plan.images_of(t, g.batch);
        with_scratch(cols_len + plan.images * conv_img, |buf| {
            let (cols_buf, conv_buf) = buf.split_at_mut(cols_len);
            let cols = image_cols(x, &g, first, count, cols_buf);
            let conv_out = &mut conv_buf[..count * conv_img];
            let mut c = ArrayViewMut2::from_shape((count * plan.rows_per_image, f), &mut *conv_out)
                .expect("conv rows are (rows, f)");
            plan.gemm(cols, false, w, false, 0.0, &mut c);
            for (img, pooled) in conv_out
                .chunks_exact(conv_img)
                .zip(out.chunks_exact_mut(pooled_img))
            {
                max_pool_image(img, pooled, None, &windows);
            }
        });
        bias_and_relu(out, bias.as_deref(), true, f);
    });
    Ok(Array4::from_shape_vec(out_shape, y).expect("pooled length matches its shape"))
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
            let x = Array4::from_shape_vec((n, h, w, c), values(n * h * w * c, seed)).unwrap();
            let k = Array4::from_shape_vec((kh, kw, c, f), values(kh * kw * c * f, seed + 1)).unwrap();
            let b = ndarray::Array1::from_vec(values(f, seed + 2));
            let b = with_bias.then_some(b.view());
            let fused = conv2d_relu_max_pool2d(x.view(), k.view(), b, &conv, &pool);
            let unfused = conv2d_relu(x.view(), k.view(), b, &conv)
                .and_then(|y| max_pool2d_values(y.view(), &pool));
            match (fused, unfused) {
                (Ok(a), Ok(e)) => prop_assert_eq!(a, e),
                (Err(_), Err(_)) => {}
                (a, e) => prop_assert!(false, "fused {:?} vs unfused {:?}", a.map(|v| v.dim()), e.map(|v| v.dim())),
            }
        }
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
