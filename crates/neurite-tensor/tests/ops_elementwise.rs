//! Binary element-wise ops against a naive broadcasting reference.
//! Tolerance: exact (the same single f32 operation is evaluated on the same
//! operands), except `pow` (libm may differ by an ulp between call paths: 1e-6 relative).

mod ops_common;

use neurite_tensor::elementwise::{self, PAR_THRESHOLD};
use neurite_tensor::Tensor;
use ops_common::*;
use proptest::prelude::*;

type Op = fn(&Tensor, &Tensor) -> neurite_tensor::Result<Tensor>;
type Scalar = fn(f32, f32) -> f32;

fn np_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}

fn np_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a <= b {
        a
    } else {
        b
    }
}

fn cases() -> Vec<(&'static str, Op, Scalar)> {
    vec![
        ("add", elementwise::add, |x, y| x + y),
        ("sub", elementwise::sub, |x, y| x - y),
        ("mul", elementwise::mul, |x, y| x * y),
        ("div", elementwise::div, |x, y| x / y),
        ("maximum", elementwise::maximum, np_max),
        ("minimum", elementwise::minimum, np_min),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn binary_ops_match_naive_broadcasting((a, b) in broadcast_pair(10.0)) {
        for (name, op, f) in cases() {
            let got = op(&a, &b).unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = naive_binary(&a, &b, f).unwrap();
            assert_close(&got, &want, 0.0, 0.0);
            // The operands swapped broadcast too.
            let got = op(&b, &a).unwrap();
            let want = naive_binary(&b, &a, f).unwrap();
            assert_close(&got, &want, 0.0, 0.0);
        }
    }

    #[test]
    fn pow_matches_naive((a, b) in broadcast_pair(3.0)) {
        let a = a.mapv(f32::abs);
        let got = elementwise::pow(&a, &b).unwrap();
        let want = naive_binary(&a, &b, f32::powf).unwrap();
        assert_close(&got, &want, 0.0, 1e-6);
    }

    #[test]
    fn incompatible_shapes_are_errors(a in tensor_strategy(4, 1.0), b in tensor_strategy(4, 1.0)) {
        let compatible = naive_broadcast_shape(a.shape(), b.shape()).is_some();
        let r = elementwise::add(&a, &b);
        prop_assert_eq!(r.is_ok(), compatible);
        if let Err(e) = r {
            prop_assert!(e.to_string().starts_with("add:"), "{}", e);
        }
    }

    #[test]
    fn scale_and_add_scalar(x in tensor_strategy(4, 10.0), s in -5.0f32..5.0) {
        assert_close(&elementwise::scale(&x, s), &x.mapv(|v| v * s), 0.0, 0.0);
        assert_close(&elementwise::add_scalar(&x, s), &x.mapv(|v| v + s), 0.0, 0.0);
    }
}

#[test]
fn nan_propagates_through_maximum_and_minimum() {
    let a = Tensor::from_shape_vec(vec![2], vec![f32::NAN, 1.0]).unwrap();
    let b = Tensor::from_shape_vec(vec![2], vec![0.0, f32::NAN]).unwrap();
    assert!(elementwise::maximum(&a, &b).unwrap().iter().all(|v| v.is_nan()));
    assert!(elementwise::minimum(&a, &b).unwrap().iter().all(|v| v.is_nan()));
}

#[test]
fn parallel_path_matches_naive() {
    // Above the rayon threshold: equal shapes, a scalar, and a broadcast row.
    let n = PAR_THRESHOLD + 1000;
    let a = Tensor::from_shape_fn(vec![n / 100, 100], |i| (i[0] * 100 + i[1]) as f32 * 0.001 - 10.0);
    let b = a.mapv(|v| v.sin());
    let row = Tensor::from_shape_fn(vec![100], |i| i[0] as f32);
    let s = Tensor::from_elem(vec![1, 1], 2.0);
    for (op, f) in [
        (elementwise::sub as Op, (|x, y| x - y) as Scalar),
        (elementwise::mul, |x, y| x * y),
    ] {
        assert_close(&op(&a, &b).unwrap(), &naive_binary(&a, &b, f).unwrap(), 0.0, 0.0);
        assert_close(
            &op(&a, &row).unwrap(),
            &naive_binary(&a, &row, f).unwrap(),
            0.0,
            0.0,
        );
        assert_close(&op(&s, &a).unwrap(), &naive_binary(&s, &a, f).unwrap(), 0.0, 0.0);
    }
    assert_close(&elementwise::scale(&a, 3.0), &a.mapv(|v| v * 3.0), 0.0, 0.0);
}

#[test]
fn error_names_op_and_shapes() {
    let e = elementwise::mul(&Tensor::zeros(vec![2, 3]), &Tensor::zeros(vec![4])).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("mul") && msg.contains("[2, 3]") && msg.contains("[4]"),
        "{msg}"
    );
}
