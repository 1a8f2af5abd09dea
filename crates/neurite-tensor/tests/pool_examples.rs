//! Hand-computed pooling examples (TensorFlow `same` semantics) and the errors of bad input.

use ndarray::{Array2, Array4};
use neurite_tensor::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward, global_max_pool2d,
    global_max_pool2d_backward, max_pool2d, max_pool2d_backward, pool2d_output_shape, Padding, Pool2dParams,
    TensorError,
};

fn grid(h: usize, w: usize, f: impl Fn(usize) -> f32) -> Array4<f32> {
    Array4::from_shape_vec((1, h, w, 1), (0..h * w).map(f).collect()).unwrap()
}

fn same(k: usize, s: usize) -> Pool2dParams {
    Pool2dParams {
        pool_size: (k, k),
        strides: (s, s),
        padding: Padding::Same,
    }
}

#[test]
fn avg_same_excludes_padding_from_count() {
    // 3x3 of 1..9, 2x2 window stride 2, same: pad 0 before / 1 after on each axis.
    let x = grid(3, 3, |i| (i + 1) as f32);
    let y = avg_pool2d(x.view(), &same(2, 2)).unwrap();
    // (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9/1 — tf.nn.avg_pool2d gives the same.
    assert_eq!(y.into_raw_vec_and_offset().0, vec![3.0, 4.5, 7.5, 9.0]);
    let dx = avg_pool2d_backward(Array4::ones((1, 2, 2, 1)).view(), [1, 3, 3, 1], &same(2, 2)).unwrap();
    #[rustfmt::skip]
    let want = vec![0.25, 0.25, 0.5,
                    0.25, 0.25, 0.5,
                    0.5,  0.5,  1.0];
    assert_eq!(dx.into_raw_vec_and_offset().0, want);
}

#[test]
fn max_same_padding_never_wins() {
    // All negative: a zero-padded max would return 0 at the border.
    let x = grid(3, 3, |i| -((i + 1) as f32));
    let (y, idx) = max_pool2d(x.view(), &same(2, 2)).unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, vec![-1.0, -3.0, -7.0, -9.0]);
    assert_eq!(idx.argmax(), &[0, 2, 6, 8]);
    // Same, stride 1, window 3: pad 1 before and after.
    let (y, _) = max_pool2d(x.view(), &same(3, 1)).unwrap();
    assert_eq!(
        y.into_raw_vec_and_offset().0,
        vec![-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -4.0, -4.0, -5.0]
    );
}

#[test]
fn max_backward_accumulates_over_overlapping_windows() {
    // 1x4 row [0, 5, 1, 2], window 1x3 stride 1 valid: both windows pick the 5.
    let x = Array4::from_shape_vec((1, 1, 4, 1), vec![0.0f32, 5.0, 1.0, 2.0]).unwrap();
    let p = Pool2dParams {
        pool_size: (1, 3),
        strides: (1, 1),
        padding: Padding::Valid,
    };
    let (y, idx) = max_pool2d(x.view(), &p).unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, vec![5.0, 5.0]);
    let gy = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0f32, 10.0]).unwrap();
    let dx = max_pool2d_backward(gy.view(), &idx, [1, 1, 4, 1]).unwrap();
    assert_eq!(dx.into_raw_vec_and_offset().0, vec![0.0, 11.0, 0.0, 0.0]);
}

#[test]
fn max_pool_nan_propagates() {
    let x = Array4::from_shape_vec((1, 2, 2, 1), vec![1.0f32, f32::NAN, 3.0, 2.0]).unwrap();
    let (y, idx) = max_pool2d(x.view(), &Pool2dParams::new((2, 2))).unwrap();
    assert!(y[[0, 0, 0, 0]].is_nan());
    assert_eq!(idx.argmax(), &[1]);
}

#[test]
fn mnist_pool_shapes_and_multichannel_argmax() {
    assert_eq!(
        pool2d_output_shape(&[32, 26, 26, 32], &Pool2dParams::default()).unwrap(),
        [32, 13, 13, 32]
    );
    // Two channels pick different cells; argmax indices are (h * W + w) * C + c.
    let x = Array4::from_shape_vec((1, 2, 2, 2), vec![1.0f32, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0, 5.0]).unwrap();
    let (y, idx) = max_pool2d(x.view(), &Pool2dParams::default()).unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, vec![4.0, 8.0]);
    assert_eq!(idx.argmax(), &[6, 1]);
}

#[test]
fn global_pool_examples() {
    let x = Array4::from_shape_vec((2, 1, 2, 1), vec![1.0f32, 3.0, -5.0, -7.0]).unwrap();
    assert_eq!(
        global_avg_pool2d(x.view()).unwrap(),
        Array2::from_shape_vec((2, 1), vec![2.0, -6.0]).unwrap()
    );
    let (m, idx) = global_max_pool2d(x.view()).unwrap();
    assert_eq!(m, Array2::from_shape_vec((2, 1), vec![3.0, -5.0]).unwrap());
    let gy = Array2::from_shape_vec((2, 1), vec![1.0f32, 2.0]).unwrap();
    let dm = global_max_pool2d_backward(gy.view(), &idx, [2, 1, 2, 1]).unwrap();
    assert_eq!(dm.into_raw_vec_and_offset().0, vec![0.0, 1.0, 2.0, 0.0]);
    let da = global_avg_pool2d_backward(gy.view(), [2, 1, 2, 1]).unwrap();
    assert_eq!(da.into_raw_vec_and_offset().0, vec![0.5, 0.5, 1.0, 1.0]);
}

#[test]
fn empty_batch_is_fine() {
    let x = Array4::<f32>::zeros((0, 4, 4, 3));
    let (y, idx) = max_pool2d(x.view(), &Pool2dParams::default()).unwrap();
    assert_eq!(y.shape(), &[0, 2, 2, 3]);
    assert_eq!(
        max_pool2d_backward(y.view(), &idx, [0, 4, 4, 3]).unwrap().shape(),
        &[0, 4, 4, 3]
    );
    assert_eq!(
        avg_pool2d(x.view(), &Pool2dParams::default()).unwrap().shape(),
        &[0, 2, 2, 3]
    );
    assert_eq!(global_avg_pool2d(x.view()).unwrap().shape(), &[0, 3]);
}

fn invalid(e: TensorError) -> bool {
    matches!(e, TensorError::InvalidArgument { .. })
}

#[test]
fn errors_are_values() {
    let x = Array4::<f32>::ones((1, 4, 4, 2));
    let p = Pool2dParams::default();
    assert!(invalid(pool2d_output_shape(&[4, 4, 2], &p).unwrap_err()));
    for bad in [
        Pool2dParams::new((0, 2)),
        Pool2dParams { strides: (2, 0), ..p },
        Pool2dParams::new((5, 2)),
    ] {
        assert!(invalid(max_pool2d(x.view(), &bad).unwrap_err()), "{bad:?}");
        assert!(invalid(avg_pool2d(x.view(), &bad).unwrap_err()), "{bad:?}");
    }
    let e = avg_pool2d(x.view(), &Pool2dParams::new((5, 2))).unwrap_err();
    assert!(
        e.to_string().contains("avg_pool2d") && e.to_string().contains("height"),
        "{e}"
    );
    // A 5x5 window is fine with same padding.
    let big_same = Pool2dParams {
        padding: Padding::Same,
        ..Pool2dParams::new((5, 5))
    };
    assert_eq!(max_pool2d(x.view(), &big_same).unwrap().0.shape(), &[1, 1, 1, 2]);
    // Backward shape mismatches.
    let (y, idx) = max_pool2d(x.view(), &p).unwrap();
    assert!(max_pool2d_backward(y.view(), &idx, [1, 4, 5, 2]).is_err());
    let wrong = Array4::<f32>::ones((1, 2, 1, 2));
    assert!(max_pool2d_backward(wrong.view(), &idx, [1, 4, 4, 2]).is_err());
    assert!(avg_pool2d_backward(wrong.view(), [1, 4, 4, 2], &p).is_err());
    assert!(global_avg_pool2d_backward(Array2::ones((1, 3)).view(), [1, 4, 4, 2]).is_err());
    let (_, gidx) = global_max_pool2d(x.view()).unwrap();
    assert!(global_max_pool2d_backward(Array2::ones((2, 2)).view(), &gidx, [1, 4, 4, 2]).is_err());
    assert!(invalid(
        global_avg_pool2d(Array4::<f32>::ones((1, 0, 3, 2)).view()).unwrap_err()
    ));
}
