//! Hostile inputs (issue #15, "Reliability"): every public kernel must
//! answer bad shapes, sizes and parameters with a `TensorError` naming the
//! op, never a panic, an abort or a hang. Each call runs under
//! `catch_unwind`, so a panic shows up as a clear test failure naming the
//! case instead of a crash.

use ndarray::{Array1, Array2, Array3, Array4, ArrayView2, ArrayView3, ArrayView4, Dimension, IxDyn};
use neurite_tensor::gemm::{batched_matmul, gemm, matmul, matmul_t};
use neurite_tensor::{
    avg_pool2d, avg_pool2d_backward, broadcast, col2im, compare, conv2d, conv2d_backward,
    conv2d_output_shape, conv2d_relu_max_pool2d, conv2d_relu_max_pool2d_with_indices, conv_output_size,
    elementwise, global_avg_pool2d, global_avg_pool2d_backward, global_max_pool2d, im2col, max_pool2d,
    max_pool2d_values, pool2d_output_shape, reduce, softmax, unary, Conv2dParams, ConvGeometry, Padding,
    Pool2dParams, Tensor, TensorError,
};
use proptest::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into a test failure that names `case`.
fn no_panic<T>(case: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{case}: panicked instead of returning an error: {msg}")
        }
    }
}

/// Asserts that `r` is an error whose message starts with `op` (the op is named).
fn assert_err<T: std::fmt::Debug>(case: &str, op: &str, r: Result<T, TensorError>) {
    match r {
        Ok(v) => panic!("{case}: expected an error from {op}, got Ok({v:?})"),
        Err(e) => assert!(
            e.to_string().starts_with(op),
            "{case}: the error should name {op}: {e}"
        ),
    }
}

/// An empty `[d0, d1]` view with no data: shapes with a zero axis cost nothing,
/// so they are the way to reach huge (overflowing) output sizes.
fn empty2(d: (usize, usize)) -> ArrayView2<'static, f32> {
    ArrayView2::from_shape(d, &[]).unwrap()
}

fn empty4(d: (usize, usize, usize, usize)) -> ArrayView4<'static, f32> {
    ArrayView4::from_shape(d, &[]).unwrap()
}

fn t(shape: &[usize]) -> Tensor {
    Tensor::from_shape_fn(IxDyn(shape), |i| {
        i.as_array_view()
            .iter()
            .enumerate()
            .map(|(k, &v)| (k + 1) as f32 * v as f32)
            .sum::<f32>()
            * 0.25
            - 1.0
    })
}

// ---------------------------------------------------------------- products

#[test]
fn matmul_whose_product_size_overflows_is_an_error() {
    // [2^40, 0] x [0, 2^40]: valid operands, but the [2^40, 2^40] result cannot exist.
    let (a, b) = (empty2((1 << 40, 0)), empty2((0, 1 << 40)));
    assert_err("matmul overflow", "matmul", no_panic("matmul", || matmul(a, b)));
    assert_err(
        "matmul_t overflow",
        "matmul",
        no_panic("matmul_t", || {
            matmul_t(a.reversed_axes(), true, b.reversed_axes(), true)
        }),
    );
    // Mismatched inner dimensions, with and without transposes.
    let (x, y) = (Array2::<f32>::ones((2, 3)), Array2::<f32>::ones((2, 3)));
    assert_err(
        "inner",
        "matmul",
        no_panic("matmul", || matmul(x.view(), y.view())),
    );
    assert_err(
        "inner t",
        "matmul",
        no_panic("matmul_t", || matmul_t(x.view(), true, y.view(), true)),
    );
    let mut c = Array2::<f32>::zeros((3, 3));
    assert_err(
        "gemm C shape",
        "gemm",
        no_panic("gemm", || {
            gemm(1.0, x.view(), false, y.view(), true, 0.0, &mut c.view_mut())
        }),
    );
}

#[test]
fn batched_matmul_checks_shapes_even_for_an_empty_batch() {
    let a = ArrayView3::<f32>::from_shape((0, 2, 3), &[]).unwrap();
    let b = ArrayView3::<f32>::from_shape((0, 4, 5), &[]).unwrap();
    // Used to index matrix 0 of an empty batch (panic).
    assert_err(
        "empty batch, inner mismatch",
        "batched_matmul",
        no_panic("bmm", || batched_matmul(a, false, b, false)),
    );
    let b = ArrayView3::<f32>::from_shape((0, 3, 5), &[]).unwrap();
    let c = no_panic("bmm empty", || batched_matmul(a, false, b, false)).unwrap();
    assert_eq!(c.dim(), (0, 2, 5));
    let c = no_panic("bmm empty t", || {
        batched_matmul(a, true, b.reversed_axes(), false)
    });
    assert_err(
        "empty batch, transposed mismatch",
        "batched_matmul",
        c.map(|c| c.dim()),
    );
    let (x, y) = (Array3::<f32>::ones((2, 2, 3)), Array3::<f32>::ones((3, 3, 2)));
    assert_err(
        "batch mismatch",
        "batched_matmul",
        no_panic("bmm", || batched_matmul(x.view(), false, y.view(), false)),
    );
    let big = ArrayView3::<f32>::from_shape((1, 1 << 31, 0), &[]).unwrap();
    let big_t = ArrayView3::<f32>::from_shape((1, 0, 1 << 31), &[]).unwrap();
    // [1, 2^31, 2^31]: 8 EiB of output, refused before allocating.
    assert_err(
        "bmm output size",
        "batched_matmul",
        no_panic("bmm 2^62", || batched_matmul(big, false, big_t, false)),
    );
}

#[test]
fn matmul_of_non_standard_layouts_matches_standard_layouts() {
    let a = Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f32 * 0.5 - 2.0);
    let b = Array2::from_shape_fn((4, 5), |(i, j)| (i + 2 * j) as f32 * 0.25);
    // a^T (3x5) and b^T (5x4) as strided views, against owned standard-layout copies.
    let strided = matmul(a.t(), b.t()).unwrap();
    let owned = matmul(
        a.t().as_standard_layout().view(),
        b.t().as_standard_layout().view(),
    )
    .unwrap();
    assert_eq!(strided, owned);
    // A view with a step (every other row) and a reversed axis.
    let tall = Array2::from_shape_fn((6, 3), |(i, j)| (i * 7 + j) as f32);
    let stepped = tall.slice(ndarray::s![..;2, ..;-1]);
    let r = matmul(stepped, a.t()).unwrap();
    let r2 = matmul(stepped.as_standard_layout().view(), a.t()).unwrap();
    assert_eq!(r, r2);
}

// ---------------------------------------------------------- convolution

#[test]
fn conv_output_size_refuses_zero_and_overflowing_parameters() {
    for (case, args) in [
        ("kernel 0", (5, 0, 1, 1, Padding::Valid)),
        ("stride 0", (5, 3, 0, 1, Padding::Same)),
        ("dilation 0", (5, 3, 1, 0, Padding::Valid)),
        ("input 0", (0, 1, 1, 1, Padding::Same)),
        ("kernel > input", (2, 3, 1, 1, Padding::Valid)),
        ("dilated kernel overflows", (5, 3, 1, usize::MAX, Padding::Same)),
        // (out - 1) * stride + eff_k = 1 + usize::MAX: used to wrap to a padding of 0.
        ("same padding overflows", (2, 2, 1, usize::MAX - 1, Padding::Same)),
        ("same, kernel usize::MAX", (3, usize::MAX, 1, 1, Padding::Same)),
    ] {
        let (i, k, s, d, p) = args;
        assert_err(
            case,
            "conv_output_size",
            no_panic(case, || conv_output_size(i, k, s, d, p)),
        );
    }
    // Huge but representable: same padding of a kernel far larger than the input.
    assert_eq!(conv_output_size(3, 1 << 40, 1, 1, Padding::Same).unwrap().0, 3);
}

#[test]
fn conv2d_refuses_bad_shapes_and_parameters() {
    let x = Array4::<f32>::ones((2, 5, 5, 3));
    let w = Array4::<f32>::ones((3, 3, 3, 4));
    let p = Conv2dParams::default();
    type Case = (&'static str, Conv2dParams, Array4<f32>, Option<Array1<f32>>);
    let cases: Vec<Case> = vec![
        ("channel mismatch", p, Array4::ones((3, 3, 2, 4)), None),
        ("kernel larger than input", p, Array4::ones((6, 1, 3, 4)), None),
        ("stride 0", Conv2dParams { strides: (0, 1), ..p }, w.clone(), None),
        (
            "dilation 0",
            Conv2dParams {
                dilation: (1, 0),
                ..p
            },
            w.clone(),
            None,
        ),
        (
            "dilated kernel larger than input",
            Conv2dParams {
                dilation: (3, 3),
                ..p
            },
            w.clone(),
            None,
        ),
        ("kernel height 0", p, Array4::ones((0, 3, 3, 4)), None),
        ("bias length", p, w.clone(), Some(Array1::ones(3))),
        (
            "same padding overflow",
            Conv2dParams {
                padding: Padding::Same,
                dilation: (usize::MAX / 2, 1),
                ..p
            },
            w.clone(),
            None,
        ),
    ];
    for (case, params, kernel, bias) in &cases {
        let b = bias.as_ref().map(|b| b.view());
        assert_err(
            case,
            "conv2d",
            no_panic(case, || conv2d(x.view(), kernel.view(), b, params)),
        );
        assert_err(
            case,
            "conv2d",
            no_panic(case, || {
                neurite_tensor::conv2d_relu(x.view(), kernel.view(), b, params)
            }),
        );
    }
    // Wrong ranks never reach the kernels.
    assert_err(
        "rank 3 input",
        "conv2d",
        no_panic("rank", || conv2d_output_shape(&[5, 5, 3], &[3, 3, 3, 4], &p)),
    );
    assert_err(
        "rank 2 kernel",
        "conv2d",
        no_panic("rank", || conv2d_output_shape(&[1, 5, 5, 3], &[3, 3], &p)),
    );
}

#[test]
fn conv2d_with_an_overflowing_output_size_is_an_error() {
    // A zero-channel input costs nothing however large its spatial axes; the
    // output [1, 2^31, 2^31, 2^31] overflows usize (it used to wrap).
    let x = empty4((1, 1 << 31, 1 << 31, 0));
    let w = empty4((1, 1, 0, 1 << 31));
    let p = Conv2dParams::default();
    assert_err(
        "output overflow",
        "conv2d",
        no_panic("conv2d", || conv2d(x, w, None, &p)),
    );
    assert_err(
        "output shape overflow",
        "conv2d",
        no_panic("shape", || conv2d_output_shape(x.shape(), w.shape(), &p)),
    );
    // [1, 2^31, 2^31] pixels of 4 filters: 2^64 elements.
    let w4 = Array4::<f32>::zeros((1, 1, 0, 4));
    assert_err(
        "output bytes",
        "conv2d",
        no_panic("conv2d", || conv2d(x, w4.view(), None, &p)),
    );
    let gy = empty4((0, 1, 1, 4));
    assert_err(
        "backward output overflow",
        "conv2d",
        no_panic("conv2d_backward", || conv2d_backward(x, w4.view(), gy, &p, true)),
    );
    // Empty batches with ordinary sizes still work.
    let y = conv2d(empty4((0, 5, 5, 3)), Array4::ones((3, 3, 3, 2)).view(), None, &p).unwrap();
    assert_eq!(y.shape(), &[0, 3, 3, 2]);
}

#[test]
fn conv2d_backward_refuses_a_gradient_of_the_wrong_shape() {
    let x = Array4::<f32>::ones((2, 5, 5, 3));
    let w = Array4::<f32>::ones((3, 3, 3, 4));
    let p = Conv2dParams::default();
    for (case, gy) in [
        ("batch", Array4::<f32>::ones((1, 3, 3, 4))),
        ("height", Array4::<f32>::ones((2, 5, 3, 4))),
        ("filters", Array4::<f32>::ones((2, 3, 3, 5))),
        ("empty", Array4::<f32>::ones((0, 3, 3, 4))),
    ] {
        assert_err(
            case,
            "conv2d_backward",
            no_panic(case, || conv2d_backward(x.view(), w.view(), gy.view(), &p, true)),
        );
    }
}

#[test]
fn conv2d_of_non_standard_layouts_matches_standard_layouts() {
    // NCHW data viewed as NHWC (permuted axes) and a kernel view with reversed axes.
    let nchw = Array4::from_shape_fn((2, 3, 6, 5), |(n, c, h, w)| {
        (n * 7 + c * 5 + h * 3 + w) as f32 * 0.1 - 1.0
    });
    let x = nchw.view().permuted_axes([0, 2, 3, 1]);
    assert!(!x.is_standard_layout());
    let k = Array4::from_shape_fn((4, 3, 3, 2), |(f, c, i, j)| {
        (f + c + i * 2 + j) as f32 * 0.05 - 0.2
    });
    let w = k.view().permuted_axes([2, 3, 1, 0]);
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let y = conv2d(x, w, None, &p).unwrap();
    let y2 = conv2d(
        x.as_standard_layout().view(),
        w.as_standard_layout().view(),
        None,
        &p,
    )
    .unwrap();
    assert_eq!(y, y2);
}

#[test]
fn im2col_and_col2im_refuse_a_hand_made_inconsistent_geometry() {
    let x = Array4::<f32>::ones((1, 4, 4, 2));
    let good = ConvGeometry::new(x.shape(), (3, 3), &Conv2dParams::default()).unwrap();
    let bad = [
        ("output too tall", ConvGeometry { out_h: 9, ..good }),
        (
            "padding far outside",
            ConvGeometry {
                pad_top: usize::MAX,
                ..good
            },
        ),
        ("stride 0", ConvGeometry { stride_w: 0, ..good }),
        ("kernel larger than input", ConvGeometry { kernel_h: 5, ..good }),
        (
            "huge sizes",
            ConvGeometry {
                out_h: usize::MAX,
                out_w: usize::MAX,
                ..good
            },
        ),
    ];
    for (case, g) in bad {
        assert_err(case, "im2col", no_panic(case, || im2col(x.view(), &g)));
        let cols = Array2::<f32>::zeros((4, 18));
        assert_err(case, "col2im", no_panic(case, || col2im(cols.view(), &g)));
    }
    // The genuine geometry, and its same-padding sibling, still pass.
    assert_eq!(im2col(x.view(), &good).unwrap().dim(), (4, 18));
    let same = ConvGeometry::new(
        x.shape(),
        (3, 3),
        &Conv2dParams {
            padding: Padding::Same,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        col2im(Array2::ones((16, 18)).view(), &same).unwrap().dim(),
        (1, 4, 4, 2)
    );
}

// -------------------------------------------------------------- pooling

#[test]
fn pooling_refuses_zero_sizes_and_windows_larger_than_the_input() {
    let x = Array4::<f32>::ones((2, 4, 4, 3));
    for (case, p) in [
        ("pool size 0", Pool2dParams::new((0, 2))),
        (
            "stride 0",
            Pool2dParams {
                strides: (2, 0),
                ..Pool2dParams::new((2, 2))
            },
        ),
        ("window > input", Pool2dParams::new((5, 1))),
        (
            "same, stride 0",
            Pool2dParams {
                strides: (0, 0),
                padding: Padding::Same,
                ..Pool2dParams::new((2, 2))
            },
        ),
    ] {
        assert_err(case, "max_pool2d", no_panic(case, || max_pool2d(x.view(), &p)));
        assert_err(
            case,
            "max_pool2d",
            no_panic(case, || max_pool2d_values(x.view(), &p)),
        );
        assert_err(case, "avg_pool2d", no_panic(case, || avg_pool2d(x.view(), &p)));
        assert_err(
            case,
            "pool2d",
            no_panic(case, || pool2d_output_shape(x.shape(), &p)),
        );
        let fused = no_panic(case, || {
            conv2d_relu_max_pool2d(
                x.view(),
                Array4::ones((1, 1, 3, 2)).view(),
                None,
                &Conv2dParams::default(),
                &p,
            )
        });
        assert_err(case, "max_pool2d", fused);
    }
    let empty_hw = Array4::<f32>::ones((2, 0, 4, 3));
    assert_err(
        "global avg, H = 0",
        "global_avg_pool2d",
        no_panic("g", || global_avg_pool2d(empty_hw.view())),
    );
    assert_err(
        "global max, H = 0",
        "global_max_pool2d",
        no_panic("g", || global_max_pool2d(empty_hw.view())),
    );
}

#[test]
fn pooling_an_empty_batch_with_huge_spatial_axes_returns_at_once() {
    // 0 images of 2^40 x 2^20 pixels: the output is empty, so no window may
    // be listed (2^40 ranges used to be allocated: an abort, or a hang).
    let x = empty4((0, 1 << 40, 1 << 20, 1));
    let p = Pool2dParams {
        strides: (1, 1),
        ..Pool2dParams::new((1, 1))
    };
    assert_eq!(
        no_panic("values", || max_pool2d_values(x, &p)).unwrap().shape(),
        &[0, 1 << 40, 1 << 20, 1]
    );
    assert_eq!(no_panic("avg", || avg_pool2d(x, &p)).unwrap().len(), 0);
    let dx = no_panic("avg backward", || {
        avg_pool2d_backward(x, [0, 1 << 40, 1 << 20, 1], &p)
    })
    .unwrap();
    assert_eq!(dx.len(), 0);
    // With indices, images are limited to u32::MAX elements (an error, not a panic).
    assert_err(
        "argmax too large",
        "max_pool2d",
        no_panic("max_pool2d", || max_pool2d(x, &p)),
    );
    let x = empty4((0, 1 << 20, 1 << 10, 1));
    let (y, idx) = no_panic("max_pool2d", || max_pool2d(x, &p)).unwrap();
    assert_eq!(y.shape(), &[0, 1 << 20, 1 << 10, 1]);
    assert_eq!(idx.output_shape(), &[0, 1 << 20, 1 << 10, 1]);
}

#[test]
fn pool_backward_refuses_overflowing_or_mismatched_input_shapes() {
    let p = Pool2dParams::new((2, 2));
    let gy = Array4::<f32>::ones((1, 2, 2, 1));
    for (case, shape) in [
        ("overflowing input shape", [usize::MAX, 4, 4, 1]),
        ("empty but overflowing", [0, usize::MAX, usize::MAX, 1]),
        ("mismatched", [1, 6, 6, 1]),
        ("window > input", [1, 1, 1, 1]),
    ] {
        assert_err(
            case,
            "avg_pool2d_backward",
            no_panic(case, || avg_pool2d_backward(gy.view(), shape, &p)),
        );
    }
    let g2 = Array2::<f32>::ones((1, 1));
    for (case, shape) in [
        ("overflowing", [1, usize::MAX, usize::MAX, 1]),
        ("H = 0", [1, 0, 2, 1]),
        ("batch mismatch", [2, 2, 2, 1]),
    ] {
        assert_err(
            case,
            "global_avg_pool2d_backward",
            no_panic(case, || global_avg_pool2d_backward(g2.view(), shape)),
        );
    }
    let (_, idx) = max_pool2d(Array4::<f32>::ones((1, 4, 4, 1)).view(), &p).unwrap();
    assert_err(
        "max backward, wrong input shape",
        "max_pool2d_backward",
        no_panic("max", || {
            neurite_tensor::max_pool2d_backward(gy.view(), &idx, [1, 4, 4, 2])
        }),
    );
    assert_err(
        "max backward, wrong grad shape",
        "max_pool2d_backward",
        no_panic("max", || {
            neurite_tensor::max_pool2d_backward(Array4::ones((1, 2, 1, 1)).view(), &idx, [1, 4, 4, 1])
        }),
    );
    let (_, gidx) = global_max_pool2d(Array4::<f32>::ones((1, 4, 4, 1)).view()).unwrap();
    assert_err(
        "global max backward, wrong grad shape",
        "global_max_pool2d_backward",
        no_panic("gmax", || {
            neurite_tensor::global_max_pool2d_backward(Array2::ones((2, 1)).view(), &gidx, [1, 4, 4, 1])
        }),
    );
}

#[test]
fn fused_conv_pool_refuses_mismatched_indices_and_channels() {
    let x = Array4::<f32>::ones((1, 6, 6, 2));
    let w = Array4::<f32>::ones((3, 3, 2, 3));
    let (conv, pool) = (Conv2dParams::default(), Pool2dParams::new((2, 2)));
    let (y, idx) = conv2d_relu_max_pool2d_with_indices(x.view(), w.view(), None, &conv, &pool).unwrap();
    let bad_w = Array4::<f32>::ones((3, 3, 1, 3));
    assert_err(
        "channels",
        "conv2d",
        no_panic("fused", || {
            conv2d_relu_max_pool2d_with_indices(x.view(), bad_w.view(), None, &conv, &pool)
        }),
    );
    // Indices of another convolution (5 filters instead of 3).
    let w5 = Array4::<f32>::ones((3, 3, 2, 5));
    assert_err(
        "indices of another conv",
        "conv2d_relu_max_pool2d_backward",
        no_panic("fused backward", || {
            neurite_tensor::conv2d_relu_max_pool2d_backward(
                x.view(),
                w5.view(),
                y.view(),
                &idx,
                y.view(),
                &conv,
                true,
            )
        }),
    );
    let gy = Array4::<f32>::ones((1, 1, 2, 3));
    assert_err(
        "grad shape",
        "conv2d_relu_max_pool2d_backward",
        no_panic("fused backward", || {
            neurite_tensor::conv2d_relu_max_pool2d_backward(
                x.view(),
                w.view(),
                y.view(),
                &idx,
                gy.view(),
                &conv,
                true,
            )
        }),
    );
}

// ------------------------------------------------ element-wise, reductions

#[test]
fn reductions_and_softmax_refuse_bad_axes_and_empty_lanes() {
    let x = t(&[2, 0, 3]);
    for (case, op, r) in [
        ("sum axis 3", "sum_axis", reduce::sum_axis(&x, 3, false)),
        ("mean empty", "mean_axis", reduce::mean_axis(&x, 1, false)),
        ("max empty", "max_axis", reduce::max_axis(&x, 1, true)),
        ("min empty", "min_axis", reduce::min_axis(&x, 1, false)),
        (
            "variance empty",
            "variance_axis",
            reduce::variance_axis(&x, 1, false),
        ),
        (
            "mean axes empty",
            "mean_axes",
            reduce::mean_axes(&x, &[0, 1], false),
        ),
        (
            "sum axes repeated",
            "sum_axes",
            reduce::sum_axes(&x, &[2, 2], false),
        ),
        (
            "sum axes out of range",
            "sum_axes",
            reduce::sum_axes(&x, &[usize::MAX], false),
        ),
        ("softmax axis", "softmax", softmax::softmax(&x, usize::MAX)),
        ("log_softmax axis", "log_softmax", softmax::log_softmax(&x, 3)),
        ("logsumexp axis", "logsumexp", softmax::logsumexp(&x, 3, true)),
    ] {
        assert_err(case, op, no_panic(case, || r));
    }
    assert_err(
        "argmax empty",
        "argmax_axis",
        no_panic("argmax", || reduce::argmax_axis(&x, 1)),
    );
    assert_err(
        "argmin axis",
        "argmin_axis",
        no_panic("argmin", || reduce::argmin_axis(&x, 7)),
    );
    // Softmax over an empty axis is an empty result (as PyTorch), logsumexp is -inf.
    assert_eq!(softmax::softmax(&x, 1).unwrap().shape(), &[2, 0, 3]);
    let lse = softmax::logsumexp(&x, 1, false).unwrap();
    assert!(lse.iter().all(|&v| v == f32::NEG_INFINITY));
    // Rank 0.
    let s = Tensor::from_elem(IxDyn(&[]), 1.0);
    assert_err("softmax of a scalar", "softmax", softmax::softmax(&s, 0));
}

#[test]
fn softmax_of_non_standard_layouts_matches_standard_layouts() {
    let x = t(&[3, 4, 5]);
    let perm = x.clone().permuted_axes(IxDyn(&[2, 0, 1]));
    assert!(!perm.is_standard_layout());
    let std = perm.as_standard_layout().into_owned();
    for axis in 0..3 {
        assert_eq!(
            softmax::softmax(&perm, axis).unwrap(),
            softmax::softmax(&std, axis).unwrap()
        );
        assert_eq!(
            softmax::log_softmax(&perm, axis).unwrap(),
            softmax::log_softmax(&std, axis).unwrap()
        );
    }
}

#[test]
fn clip_with_a_nan_bound_gives_nan() {
    let x = t(&[2, 3]);
    // A NaN bound used to leave that side unclipped: a silent wrong result.
    assert!(unary::clip(&x, f32::NAN, 0.0).iter().all(|v| v.is_nan()));
    assert!(unary::clip(&x, -1.0, f32::NAN).iter().all(|v| v.is_nan()));
    assert_eq!(unary::clip(&x, -0.5, 0.5), x.mapv(|v| v.clamp(-0.5, 0.5)));
}

#[test]
fn where_select_and_sum_to_shape_refuse_incompatible_shapes() {
    let (a, b, c) = (t(&[2, 3]), t(&[3]), t(&[4]));
    assert_err("where cond", "where_select", compare::where_select(&c, &a, &b));
    assert_err("where b", "where_select", compare::where_select(&b, &a, &c));
    assert_err("sum_to_shape", "sum_to_shape", broadcast::sum_to_shape(&a, &[4]));
    assert_err(
        "sum_to_shape rank",
        "sum_to_shape",
        broadcast::sum_to_shape(&b, &[2, 3]),
    );
    // Compatible, but [2^40, 2^40] cannot be allocated: an error, not an
    // allocator panic (every broadcasting op asks broadcast_shape first).
    assert_err(
        "broadcast overflow",
        "mul",
        no_panic("broadcast_shape", || {
            broadcast::broadcast_shape("mul", &[1 << 40, 1], &[1, 1 << 40])
        }),
    );
}

/// A binary kernel of this crate.
type BinaryOp = fn(&Tensor, &Tensor) -> neurite_tensor::Result<Tensor>;

fn binary_ops() -> Vec<(&'static str, BinaryOp)> {
    vec![
        ("add", elementwise::add),
        ("sub", elementwise::sub),
        ("mul", elementwise::mul),
        ("div", elementwise::div),
        ("pow", elementwise::pow),
        ("maximum", elementwise::maximum),
        ("minimum", elementwise::minimum),
        ("greater", compare::greater),
        ("less_equal", compare::less_equal),
        ("not_equal", compare::not_equal),
    ]
}

/// Two shapes of random ranks (0..=4) with one aligned axis made deliberately
/// incompatible (lengths >= 2 that differ).
fn incompatible_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        prop::collection::vec(1usize..4, 1..=4),
        prop::collection::vec(1usize..4, 1..=4),
        any::<prop::sample::Index>(),
        2usize..5,
        1usize..3,
    )
        .prop_map(|(mut a, mut b, i, len, delta)| {
            let common = a.len().min(b.len());
            let k = i.index(common);
            let (ia, ib) = (a.len() - 1 - k, b.len() - 1 - k);
            a[ia] = len;
            b[ib] = len + delta;
            (a, b)
        })
}

/// Random convolution parameters, zeros and absurd sizes included.
fn any_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..5,
        Just(usize::MAX),
        Just(usize::MAX / 2),
        Just(1usize << 32)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn incompatible_broadcasts_are_errors_never_panics((sa, sb) in incompatible_shapes()) {
        let (a, b) = (t(&sa), t(&sb));
        for (name, op) in binary_ops() {
            let r = no_panic(name, || op(&a, &b));
            prop_assert!(r.is_err(), "{name}({sa:?}, {sb:?}) should fail");
            prop_assert!(r.unwrap_err().to_string().starts_with(name));
            let r = no_panic(name, || op(&b, &a));
            prop_assert!(r.is_err(), "{name}({sb:?}, {sa:?}) should fail");
        }
        prop_assert!(no_panic("broadcast_shape", || broadcast::broadcast_shape("x", &sa, &sb)).is_err());
    }

    #[test]
    fn conv_and_pool_never_panic_on_any_parameters(
        (kh, kw) in (any_size(), any_size()),
        (sh, sw) in (any_size(), any_size()),
        (dh, dw) in (any_size(), any_size()),
        same in any::<bool>(),
        (h, w) in (1usize..7, 1usize..7),
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        let p = Conv2dParams { strides: (sh, sw), padding, dilation: (dh, dw) };
        let x = Array4::from_shape_fn((2, h, w, 2), |(n, i, j, c)| (n + i * 2 + j * 3 + c) as f32 * 0.1);
        let shape = no_panic("conv2d_output_shape", || conv2d_output_shape(x.shape(), &[kh, kw, 2, 3], &p));
        // Kernels with absurd sizes cannot be materialised; a zero-size one can.
        if kh.max(kw) <= 4 {
            let k = Array4::<f32>::ones((kh, kw, 2, 3));
            let y = no_panic("conv2d", || conv2d(x.view(), k.view(), None, &p));
            prop_assert_eq!(y.is_ok(), shape.is_ok(), "conv2d and conv2d_output_shape disagree: {:?}", p);
            if let (Ok(y), Ok(s)) = (y, shape) {
                prop_assert_eq!(y.shape(), &s[..]);
            }
        }
        let pp = Pool2dParams { pool_size: (kh, kw), strides: (sh, sw), padding };
        let out = no_panic("pool2d_output_shape", || pool2d_output_shape(x.shape(), &pp));
        if kh.max(kw) <= 4 && sh.max(sw) <= 4 || out.is_err() {
            let y = no_panic("max_pool2d", || max_pool2d_values(x.view(), &pp));
            prop_assert_eq!(y.is_ok(), out.is_ok());
            let y = no_panic("avg_pool2d", || avg_pool2d(x.view(), &pp));
            prop_assert_eq!(y.is_ok(), out.is_ok());
        }
    }
}

#[test]
fn random_fills_from_user_input_are_checked() {
    use neurite_tensor::random::{normal, rng_from_seed, try_normal, try_truncated_normal, try_uniform};
    let mut rng = rng_from_seed(1);
    for shape in [&[usize::MAX, 2][..], &[1 << 62, 4], &[0, usize::MAX]] {
        assert_err(
            "uniform shape",
            "uniform",
            no_panic("uniform", || try_uniform(shape, 0.0, 1.0, &mut rng)),
        );
        assert_err(
            "normal shape",
            "normal",
            no_panic("normal", || try_normal(shape, 0.0, 1.0, &mut rng)),
        );
        assert_err(
            "truncated shape",
            "truncated_normal",
            no_panic("truncated", || try_truncated_normal(shape, 0.0, 1.0, &mut rng)),
        );
    }
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert_err("uniform low", "uniform", try_uniform(&[2], bad, 1.0, &mut rng));
        assert_err("uniform high", "uniform", try_uniform(&[2], 0.0, bad, &mut rng));
        assert_err("normal std", "normal", try_normal(&[2], 0.0, bad, &mut rng));
        assert_err(
            "truncated mean",
            "truncated_normal",
            try_truncated_normal(&[2], bad, 1.0, &mut rng),
        );
    }
    // Valid input: the very same numbers as the infallible versions.
    let a = try_normal(&[3, 2], 1.0, 0.5, &mut rng_from_seed(9)).unwrap();
    assert_eq!(a, normal(&[3, 2], 1.0, 0.5, &mut rng_from_seed(9)));
    assert_eq!(try_uniform(&[0, 5], 0.0, 1.0, &mut rng).unwrap().shape(), &[0, 5]);
}
