//! Reductions against naive loops over multi-indices.
//! Tolerances: sums in f32 with a different association order than the f64
//! reference: 1e-5 absolute + 1e-5 relative per |value| <= 10 summands of <= 64;
//! max/min/argmax/argmin exact.

mod ops_common;

use neurite_tensor::reduce;
use neurite_tensor::Tensor;
use ops_common::*;
use proptest::prelude::*;

/// Naive reduction of `x` over the axes in `axes` with `f` over the f64 values of each group.
fn naive_reduce(x: &Tensor, axes: &[usize], keepdims: bool, f: impl Fn(&[f64]) -> f64) -> Tensor {
    let kept: Vec<usize> = (0..x.ndim()).filter(|a| !axes.contains(a)).collect();
    let out_kept: Vec<usize> = kept.iter().map(|&a| x.shape()[a]).collect();
    let n_out: usize = out_kept.iter().product();
    let mut groups = vec![Vec::new(); n_out];
    for flat in 0..x.len() {
        let idx = unravel(flat, x.shape());
        let o: Vec<usize> = kept.iter().map(|&a| idx[a]).collect();
        let of: usize = o.iter().zip(strides(&out_kept)).map(|(i, s)| i * s).sum();
        groups[of].push(x[idx.as_slice()] as f64);
    }
    let v: Vec<f32> = groups.iter().map(|g| f(g) as f32).collect();
    let shape: Vec<usize> = if keepdims {
        (0..x.ndim())
            .map(|a| if axes.contains(&a) { 1 } else { x.shape()[a] })
            .collect()
    } else {
        out_kept
    };
    Tensor::from_shape_vec(shape, v).unwrap()
}

fn sum(g: &[f64]) -> f64 {
    g.iter().sum()
}
fn mean(g: &[f64]) -> f64 {
    sum(g) / g.len() as f64
}
fn var(g: &[f64]) -> f64 {
    let m = mean(g);
    g.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / g.len() as f64
}
fn max(g: &[f64]) -> f64 {
    g.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
}
fn min(g: &[f64]) -> f64 {
    g.iter().cloned().fold(f64::INFINITY, f64::min)
}
fn first_index(g: &[f64], best: f64) -> f64 {
    g.iter().position(|&v| v == best).unwrap() as f64
}

/// A tensor of rank >= 1 and an axis of it.
fn tensor_and_axis() -> impl Strategy<Value = (Tensor, usize)> {
    tensor_strategy(4, 10.0)
        .prop_filter("rank >= 1", |t| t.ndim() >= 1)
        .prop_flat_map(|t| {
            let r = t.ndim();
            (Just(t), 0..r)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn axis_reductions_match_naive((x, axis) in tensor_and_axis(), keepdims in any::<bool>()) {
        let ax = [axis];
        assert_close(&reduce::sum_axis(&x, axis, keepdims).unwrap(), &naive_reduce(&x, &ax, keepdims, sum), 1e-5, 1e-5);
        assert_close(&reduce::mean_axis(&x, axis, keepdims).unwrap(), &naive_reduce(&x, &ax, keepdims, mean), 1e-5, 1e-5);
        assert_close(&reduce::variance_axis(&x, axis, keepdims).unwrap(), &naive_reduce(&x, &ax, keepdims, var), 1e-4, 1e-5);
        assert_close(&reduce::max_axis(&x, axis, keepdims).unwrap(), &naive_reduce(&x, &ax, keepdims, max), 0.0, 0.0);
        assert_close(&reduce::min_axis(&x, axis, keepdims).unwrap(), &naive_reduce(&x, &ax, keepdims, min), 0.0, 0.0);
        let am = reduce::argmax_axis(&x, axis).unwrap().mapv(|i| i as f32);
        assert_close(&am, &naive_reduce(&x, &ax, false, |g| first_index(g, max(g))), 0.0, 0.0);
        let am = reduce::argmin_axis(&x, axis).unwrap().mapv(|i| i as f32);
        assert_close(&am, &naive_reduce(&x, &ax, false, |g| first_index(g, min(g))), 0.0, 0.0);
    }

    #[test]
    fn multi_axis_reductions_match_naive(x in tensor_strategy(4, 10.0), mask in any::<u8>(), keepdims in any::<bool>()) {
        let axes: Vec<usize> = (0..x.ndim()).rev().filter(|a| mask & (1 << a) != 0).collect();
        assert_close(&reduce::sum_axes(&x, &axes, keepdims).unwrap(), &naive_reduce(&x, &axes, keepdims, sum), 1e-4, 1e-5);
        assert_close(&reduce::mean_axes(&x, &axes, keepdims).unwrap(), &naive_reduce(&x, &axes, keepdims, mean), 1e-5, 1e-5);
        let all: Vec<usize> = (0..x.ndim()).collect();
        let total = naive_reduce(&x, &all, false, sum);
        prop_assert!((reduce::sum_all(&x) - total.iter().next().unwrap()).abs() <= 1e-3);
        prop_assert!((reduce::mean_all(&x) - (sum(&x.iter().map(|&v| v as f64).collect::<Vec<_>>()) / x.len() as f64) as f32).abs() <= 1e-5);
    }

    #[test]
    fn axis_out_of_range_is_an_error(x in tensor_strategy(3, 1.0), extra in 0..3usize) {
        let axis = x.ndim() + extra;
        let e = reduce::sum_axis(&x, axis, false).unwrap_err().to_string();
        prop_assert!(e.contains("sum_axis") && e.contains(&format!("axis {axis}")) && e.contains(&format!("rank {}", x.ndim())), "{}", e);
        prop_assert!(reduce::max_axis(&x, axis, true).is_err());
        prop_assert!(reduce::argmin_axis(&x, axis).is_err());
        prop_assert!(reduce::variance_axis(&x, axis, true).is_err());
        prop_assert!(reduce::mean_axes(&x, &[axis], true).is_err());
    }
}

#[test]
fn empty_axes() {
    let x = Tensor::zeros(vec![2, 0, 3]);
    assert_eq!(reduce::sum_axis(&x, 1, false).unwrap(), Tensor::zeros(vec![2, 3]));
    assert!(reduce::mean_axis(&x, 1, false).is_err());
    assert!(reduce::max_axis(&x, 1, false).is_err());
    assert!(reduce::argmax_axis(&x, 1).is_err());
    assert!(reduce::variance_axis(&x, 1, false).is_err());
    assert!(reduce::mean_axes(&x, &[0, 1], false).is_err());
    assert_eq!(reduce::max_axis(&x, 0, false).unwrap().shape(), &[0, 3]);
    assert_eq!(reduce::sum_all(&x), 0.0);
    assert!(reduce::mean_all(&x).is_nan());
    assert!(reduce::sum_axes(&x, &[0, 0], false).is_err());
}

#[test]
fn nan_handling_follows_numpy() {
    let x = Tensor::from_shape_vec(vec![4], vec![1.0, f32::NAN, 5.0, f32::NAN]).unwrap();
    assert!(reduce::max_axis(&x, 0, false).unwrap()[[]].is_nan());
    assert!(reduce::min_axis(&x, 0, false).unwrap()[[]].is_nan());
    assert_eq!(reduce::argmax_axis(&x, 0).unwrap()[[]], 1);
    assert_eq!(reduce::argmin_axis(&x, 0).unwrap()[[]], 1);
}

#[test]
fn variance_is_stable_with_a_large_offset() {
    // Naive E[x^2] - E[x]^2 in f32 would give garbage here; two-pass gives 1.25.
    let x = Tensor::from_shape_vec(vec![4], vec![1e4 + 1.0, 1e4 + 2.0, 1e4 + 3.0, 1e4 + 4.0]).unwrap();
    let v = reduce::variance_axis(&x, 0, false).unwrap()[[]];
    assert!((v - 1.25).abs() < 1e-3, "{v}");
}
