//! softmax / log_softmax / logsumexp against an f64 reference, plus extreme logits.
//! Tolerances: 1e-6 absolute + 1e-5 relative (f32 exp/ln and a sum of <= 5 terms).

mod ops_common;

use neurite_tensor::softmax::{log_softmax, logsumexp, softmax};
use neurite_tensor::Tensor;
use ops_common::*;
use proptest::prelude::*;

/// f64 log-sum-exp of every lane along `axis`, keepdims.
fn naive_lse(x: &Tensor, axis: usize) -> Tensor {
    let mut shape = x.shape().to_vec();
    shape[axis] = 1;
    let n: usize = shape.iter().product();
    let mut v = Vec::with_capacity(n);
    for flat in 0..n {
        let mut idx = unravel(flat, &shape);
        let lane: Vec<f64> = (0..x.shape()[axis])
            .map(|k| {
                idx[axis] = k;
                x[idx.as_slice()] as f64
            })
            .collect();
        let m = lane.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        v.push((m + lane.iter().map(|&l| (l - m).exp()).sum::<f64>().ln()) as f32);
    }
    Tensor::from_shape_vec(shape, v).unwrap()
}

fn tensor_and_axis(lim: f32) -> impl Strategy<Value = (Tensor, usize)> {
    tensor_strategy(5, lim)
        .prop_filter("rank >= 1", |t| t.ndim() >= 1)
        .prop_flat_map(|t| {
            let r = t.ndim();
            (Just(t), 0..r)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn match_f64_reference((x, axis) in tensor_and_axis(30.0)) {
        let lse = naive_lse(&x, axis);
        assert_close(&logsumexp(&x, axis, true).unwrap(), &lse, 1e-5, 1e-6);
        assert_close(&logsumexp(&x, axis, false).unwrap(), &lse.clone().remove_axis(ndarray::Axis(axis)), 1e-5, 1e-6);
        let want_log = &x - &lse;
        assert_close(&log_softmax(&x, axis).unwrap(), &want_log, 2e-5, 1e-6);
        let want = want_log.mapv(f32::exp);
        let got = softmax(&x, axis).unwrap();
        assert_close(&got, &want, 1e-6, 1e-5);
        let sums = got.sum_axis(ndarray::Axis(axis));
        prop_assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
    }

    #[test]
    fn huge_logits_stay_finite((x, axis) in tensor_and_axis(1.0)) {
        // Scale to +-1e30 magnitudes: no NaN/inf anywhere, softmax still a distribution.
        let x = x.mapv(|v| v * 1e30);
        let s = softmax(&x, axis).unwrap();
        prop_assert!(s.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
        let sums = s.sum_axis(ndarray::Axis(axis));
        prop_assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
        prop_assert!(log_softmax(&x, axis).unwrap().iter().all(|v| v.is_finite() && *v <= 0.0));
        let lse = logsumexp(&x, axis, false).unwrap();
        prop_assert!(lse.iter().all(|v| v.is_finite()));
        // logsumexp >= max, and within ln(n) of it.
        let mx = x.fold_axis(ndarray::Axis(axis), f32::NEG_INFINITY, |&a, &b| a.max(b));
        let ln_n = (x.shape()[axis] as f32).ln();
        for (l, m) in lse.iter().zip(mx.iter()) {
            prop_assert!(*l >= *m && *l <= *m + ln_n + m.abs() * 1e-6, "{} vs {}", l, m);
        }
    }

    #[test]
    fn bad_axis_is_an_error(x in tensor_strategy(3, 1.0), extra in 0..2usize) {
        let axis = x.ndim() + extra;
        let e = softmax(&x, axis).unwrap_err().to_string();
        prop_assert!(e.contains("softmax") && e.contains(&format!("axis {axis}")), "{}", e);
        prop_assert!(log_softmax(&x, axis).is_err());
        prop_assert!(logsumexp(&x, axis, true).is_err());
    }
}

#[test]
fn extreme_values_exact() {
    let x = Tensor::from_shape_vec(vec![2, 3], vec![1e30, -1e30, 0.0, -1e30, -1e30, -1e30]).unwrap();
    let s = softmax(&x, 1).unwrap();
    assert_eq!(s.as_slice().unwrap()[..3], [1.0, 0.0, 0.0]);
    assert!(s.as_slice().unwrap()[3..]
        .iter()
        .all(|&v| (v - 1.0 / 3.0).abs() < 1e-6));
    let l = logsumexp(&x, 1, false).unwrap();
    assert_eq!(l[[0]], 1e30);
    assert!((l[[1]] - (-1e30)).abs() <= 1e24);
    // Same along axis 0 (the generic path) and on a transposed (non-contiguous) input.
    let t = x.clone().reversed_axes();
    assert_close(&softmax(&t, 0).unwrap(), &s.clone().reversed_axes(), 0.0, 1e-6);
}

#[test]
fn all_neg_infinity_lane_and_empty_axis() {
    let x = Tensor::from_elem(vec![1, 2], f32::NEG_INFINITY);
    assert_eq!(logsumexp(&x, 1, false).unwrap()[[0]], f32::NEG_INFINITY);
    assert!(softmax(&x, 1).unwrap().iter().all(|v| v.is_nan()));
    let e = Tensor::zeros(vec![3, 0]);
    assert_eq!(softmax(&e, 1).unwrap().shape(), &[3, 0]);
    let l = logsumexp(&e, 1, true).unwrap();
    assert_eq!(l.shape(), &[3, 1]);
    assert!(l.iter().all(|&v| v == f32::NEG_INFINITY));
    assert_eq!(
        logsumexp(&Tensor::zeros(vec![0, 4]), 1, false).unwrap().shape(),
        &[0]
    );
}

#[test]
fn parallel_rows_match_reference() {
    let rows = neurite_tensor::elementwise::PAR_THRESHOLD / 10 + 7;
    let x = Tensor::from_shape_fn(vec![rows, 10], |i| {
        ((i[0] * 10 + i[1]) as f32 * 0.37).sin() * 20.0
    });
    let lse = naive_lse(&x, 1);
    assert_close(&logsumexp(&x, 1, true).unwrap(), &lse, 1e-5, 1e-6);
    assert_close(&softmax(&x, 1).unwrap(), &(&x - &lse).mapv(f32::exp), 1e-6, 1e-5);
    assert_close(&log_softmax(&x, 1).unwrap(), &(&x - &lse), 2e-5, 1e-6);
}
