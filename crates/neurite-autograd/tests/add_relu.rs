//! `ops::add_relu` against `ops::add` then `ops::relu`: values and both
//! gradients bit for bit, on random shapes and values (negatives, zeros of
//! both signs, and NaN included), and a shape mismatch is an error.

use ndarray::ArrayD;
use neurite_autograd::{ops, Var};
use proptest::prelude::*;

/// A value drawn from a pool that hits the sign edge cases.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -4.0f32..4.0,
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => Just(f32::NAN),
    ]
}

fn tensor(shape: Vec<usize>) -> impl Strategy<Value = ArrayD<f32>> {
    let len: usize = shape.iter().product();
    proptest::collection::vec(value(), len)
        .prop_map(move |v| ArrayD::from_shape_vec(shape.clone(), v).unwrap())
}

fn pair() -> impl Strategy<Value = (ArrayD<f32>, ArrayD<f32>, ArrayD<f32>)> {
    proptest::collection::vec(1usize..6, 1..4)
        .prop_flat_map(|s| (tensor(s.clone()), tensor(s.clone()), tensor(s)))
}

fn bits(t: &ArrayD<f32>) -> Vec<u32> {
    t.iter().map(|v| v.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn equals_add_then_relu_bit_for_bit((a, b, g) in pair()) {
        let (a1, b1) = (Var::parameter(a.clone()), Var::parameter(b.clone()));
        let fused = ops::add_relu(&a1, &b1).unwrap();
        let (a2, b2) = (Var::parameter(a), Var::parameter(b));
        let plain = ops::relu(&ops::add(&a2, &b2).unwrap()).unwrap();
        prop_assert_eq!(bits(&fused.to_tensor()), bits(&plain.to_tensor()));
        // An upstream gradient g: backward of sum(y * g).
        let gv = Var::constant(g);
        ops::sum_all(&ops::mul(&fused, &gv).unwrap()).unwrap().backward().unwrap();
        ops::sum_all(&ops::mul(&plain, &gv).unwrap()).unwrap().backward().unwrap();
        prop_assert_eq!(bits(&a1.grad().unwrap()), bits(&a2.grad().unwrap()));
        prop_assert_eq!(bits(&b1.grad().unwrap()), bits(&b2.grad().unwrap()));
    }
}

#[test]
fn large_tensors_take_the_parallel_path_and_agree() {
    let n = 1 << 19;
    let a = ArrayD::from_shape_fn(vec![n], |i| ((i[0] * 7919) % 1000) as f32 / 500.0 - 1.0);
    let b = ArrayD::from_shape_fn(vec![n], |i| ((i[0] * 104729) % 1000) as f32 / 500.0 - 1.0);
    let fused = ops::add_relu(&Var::constant(a.clone()), &Var::constant(b.clone())).unwrap();
    let plain = ops::relu(&ops::add(&Var::constant(a), &Var::constant(b)).unwrap()).unwrap();
    assert_eq!(bits(&fused.to_tensor()), bits(&plain.to_tensor()));
}

#[test]
fn shapes_must_match() {
    let a = Var::constant(ArrayD::zeros(vec![2, 3]));
    let b = Var::constant(ArrayD::zeros(vec![3]));
    let e = ops::add_relu(&a, &b).unwrap_err().to_string();
    assert!(
        e.contains("add_relu") && e.contains("[2, 3]") && e.contains("[3]"),
        "{e}"
    );
}
