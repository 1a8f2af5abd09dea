//! Hand-computed conv2d examples (TensorFlow's asymmetric `same` padding) and
//! the errors of every bad input.

use ndarray::{array, Array1, Array4};
use neurite_tensor::{
    conv2d, conv2d_backward, conv2d_output_shape, conv_output_size, Conv2dParams, Padding, TensorError,
};

fn same(stride: usize) -> Conv2dParams {
    Conv2dParams {
        strides: (stride, stride),
        padding: Padding::Same,
        dilation: (1, 1),
    }
}

/// Values TensorFlow's `tf.nn.conv2d` documentation formula gives.
#[test]
fn output_size_table() {
    let cases = [
        // (in, k, s, d, padding) -> (out, before, after)
        ((4, 3, 2, 1, Padding::Same), (2, 0, 1)),
        ((5, 3, 2, 1, Padding::Same), (3, 1, 1)),
        ((6, 3, 2, 1, Padding::Same), (3, 0, 1)),
        ((7, 3, 1, 2, Padding::Same), (7, 2, 2)),
        ((5, 2, 1, 1, Padding::Same), (5, 0, 1)),
        ((1, 5, 1, 1, Padding::Same), (1, 2, 2)),
        ((2, 4, 3, 1, Padding::Same), (1, 1, 1)),
        ((7, 2, 3, 1, Padding::Same), (3, 0, 1)),
        ((6, 2, 3, 1, Padding::Same), (2, 0, 0)),
        ((28, 3, 1, 1, Padding::Valid), (26, 0, 0)),
        ((13, 3, 2, 1, Padding::Valid), (6, 0, 0)),
        ((7, 3, 1, 3, Padding::Valid), (1, 0, 0)),
        ((3, 3, 5, 1, Padding::Valid), (1, 0, 0)),
    ];
    for ((i, k, s, d, p), want) in cases {
        assert_eq!(
            conv_output_size(i, k, s, d, p).unwrap(),
            want,
            "in {i} k {k} s {s} d {d} {p:?}"
        );
    }
}

#[test]
fn same_padding_is_asymmetric_input4_kernel3_stride2() {
    // 4x4 input 1..16, 3x3 ones kernel, stride 2, same: out 2x2, pad top/left 0, bottom/right 1.
    let x = Array4::from_shape_vec((1, 4, 4, 1), (1..=16).map(|v| v as f32).collect()).unwrap();
    let w = Array4::<f32>::ones((3, 3, 1, 1));
    let y = conv2d(x.view(), w.view(), None, &same(2)).unwrap();
    // [0,0]: rows 0-2, cols 0-2 = 1+2+3+5+6+7+9+10+11
    // [0,1]: rows 0-2, cols 2-3 (+pad) = 3+4+7+8+11+12
    // [1,0]: rows 2-3 (+pad), cols 0-2 = 9+10+11+13+14+15
    // [1,1]: rows 2-3, cols 2-3 = 11+12+15+16
    // (PyTorch-style symmetric padding 1 would give 14, 30, 57, 99 instead.)
    assert_eq!(y.into_raw_vec_and_offset().0, vec![54.0, 45.0, 72.0, 54.0]);
}

#[test]
fn same_padding_even_kernel_pads_after() {
    // 1x3 input, 1x2 kernel [1, 10], stride 1, same: pad 0 before, 1 after.
    let x = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0f32, 2.0, 3.0]).unwrap();
    let w = Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 10.0]).unwrap();
    let y = conv2d(x.view(), w.view(), None, &same(1)).unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, vec![21.0, 32.0, 3.0]);
}

#[test]
fn dilation_and_stride_example() {
    // 1x7 input 0..6, kernel [1, 1] with dilation 3, stride 2, valid: out[j] = x[2j] + x[2j+3].
    let x = Array4::from_shape_vec((1, 1, 7, 1), (0..7).map(|v| v as f32).collect()).unwrap();
    let w = Array4::<f32>::ones((1, 2, 1, 1));
    let p = Conv2dParams {
        strides: (1, 2),
        padding: Padding::Valid,
        dilation: (1, 3),
    };
    let y = conv2d(x.view(), w.view(), None, &p).unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, vec![3.0, 7.0]);
}

#[test]
fn multichannel_example_with_bias() {
    // 1x1 output: y[f] = sum_c x[c] * w[c, f] + b[f].
    let x = Array4::from_shape_vec((1, 1, 1, 2), vec![2.0f32, 3.0]).unwrap();
    let w = Array4::from_shape_vec((1, 1, 2, 2), vec![1.0f32, 10.0, 100.0, 1000.0]).unwrap();
    let b = array![0.5f32, -0.5];
    let y = conv2d(x.view(), w.view(), Some(b.view()), &Conv2dParams::default()).unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, vec![302.5, 3019.5]);
}

#[test]
fn backward_same_padding_example() {
    // Gradient of the 4x4/3x3/stride-2/same example with dY = 1: dX counts windows per cell.
    let x = Array4::<f32>::zeros((1, 4, 4, 1));
    let w = Array4::<f32>::ones((3, 3, 1, 1));
    let gy = Array4::<f32>::ones((1, 2, 2, 1));
    let g = conv2d_backward(x.view(), w.view(), gy.view(), &same(2), true).unwrap();
    let dx = g.input.unwrap();
    #[rustfmt::skip]
    let want = vec![
        1.0, 1.0, 2.0, 1.0,
        1.0, 1.0, 2.0, 1.0,
        2.0, 2.0, 4.0, 2.0,
        1.0, 1.0, 2.0, 1.0,
    ];
    assert_eq!(dx.into_raw_vec_and_offset().0, want);
    assert_eq!(g.bias, array![4.0f32]);
}

#[test]
fn empty_batch_and_zero_filters() {
    let x = Array4::<f32>::zeros((0, 5, 5, 3));
    let w = Array4::<f32>::ones((3, 3, 3, 4));
    let y = conv2d(x.view(), w.view(), None, &Conv2dParams::default()).unwrap();
    assert_eq!(y.shape(), &[0, 3, 3, 4]);
    let g = conv2d_backward(x.view(), w.view(), y.view(), &Conv2dParams::default(), true).unwrap();
    assert_eq!(g.kernel, Array4::<f32>::zeros((3, 3, 3, 4)));
    assert_eq!(g.input.unwrap().shape(), &[0, 5, 5, 3]);
    let w0 = Array4::<f32>::ones((3, 3, 3, 0));
    let x1 = Array4::<f32>::ones((1, 5, 5, 3));
    let y = conv2d(x1.view(), w0.view(), None, &Conv2dParams::default()).unwrap();
    assert_eq!(y.shape(), &[1, 3, 3, 0]);
}

fn is_invalid(e: TensorError) -> bool {
    matches!(e, TensorError::InvalidArgument { .. })
}
fn is_shape(e: TensorError) -> bool {
    matches!(e, TensorError::ShapeMismatch { .. })
}

#[test]
fn errors_are_values() {
    let p = Conv2dParams::default();
    let x = Array4::<f32>::ones((1, 5, 5, 3));
    let w = Array4::<f32>::ones((3, 3, 3, 4));
    // Wrong ranks.
    assert!(is_shape(
        conv2d_output_shape(&[5, 5, 3], &[3, 3, 3, 4], &p).unwrap_err()
    ));
    assert!(is_shape(
        conv2d_output_shape(&[1, 5, 5, 3], &[3, 3, 3], &p).unwrap_err()
    ));
    // Channel mismatch.
    let w2 = Array4::<f32>::ones((3, 3, 2, 4));
    let e = conv2d(x.view(), w2.view(), None, &p).unwrap_err();
    assert!(e.to_string().contains("channels"), "{e}");
    // Zero stride / dilation / kernel.
    for q in [
        Conv2dParams { strides: (0, 1), ..p },
        Conv2dParams { strides: (1, 0), ..p },
        Conv2dParams {
            dilation: (0, 1),
            ..p
        },
    ] {
        assert!(is_invalid(conv2d(x.view(), w.view(), None, &q).unwrap_err()));
    }
    let w0 = Array4::<f32>::ones((0, 3, 3, 4));
    assert!(is_invalid(conv2d(x.view(), w0.view(), None, &p).unwrap_err()));
    // Kernel larger than the (valid-padded) input, also through dilation.
    let big = Array4::<f32>::ones((6, 3, 3, 4));
    let e = conv2d(x.view(), big.view(), None, &p).unwrap_err();
    assert!(e.to_string().contains("height"), "{e}");
    let dil = Conv2dParams {
        dilation: (1, 3),
        ..p
    };
    assert!(is_invalid(conv2d(x.view(), w.view(), None, &dil).unwrap_err()));
    // ...which `same` accepts.
    let same_big = Conv2dParams {
        padding: Padding::Same,
        ..p
    };
    assert_eq!(
        conv2d(x.view(), big.view(), None, &same_big).unwrap().shape(),
        &[1, 5, 5, 4]
    );
    // Empty spatial axis.
    let e0 = Array4::<f32>::ones((1, 0, 5, 3));
    assert!(is_invalid(
        conv2d(e0.view(), w.view(), None, &same_big).unwrap_err()
    ));
    // Bias length.
    let b = Array1::<f32>::zeros(3);
    assert!(is_shape(
        conv2d(x.view(), w.view(), Some(b.view()), &p).unwrap_err()
    ));
    // grad_output shape.
    let gy = Array4::<f32>::ones((1, 3, 2, 4));
    let e = conv2d_backward(x.view(), w.view(), gy.view(), &p, true).unwrap_err();
    assert!(
        is_shape(e.clone()) && e.to_string().contains("conv2d_backward"),
        "{e}"
    );
}
