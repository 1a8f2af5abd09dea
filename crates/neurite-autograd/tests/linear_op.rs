//! `ops::linear` against `reshape → matmul → add → reshape` (values and
//! gradients), and finite differences.

use neurite_autograd::{ops, Var};
use neurite_tensor::Tensor;
use proptest::prelude::*;

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| (((i as u64 * 2_654_435_761 + seed * 97) % 1000) as f32 / 500.0) - 1.0)
        .collect();
    Tensor::from_shape_vec(shape, data).unwrap()
}

/// The plainly written composition the op replaces.
fn composed(x: &Var, k: &Var, b: Option<&Var>, contract: usize) -> Var {
    let (xs, ks) = (x.shape(), k.shape());
    let lead = &xs[..xs.len() - contract];
    let outer = &ks[contract..];
    let rows: usize = lead.iter().product();
    let inner: usize = ks[..contract].iter().product();
    let n: usize = outer.iter().product();
    let mut y = ops::matmul(
        &ops::reshape(x, &[rows, inner]).unwrap(),
        &ops::reshape(k, &[inner, n]).unwrap(),
    )
    .unwrap();
    if let Some(b) = b {
        y = ops::add(&y, &ops::reshape(b, &[n]).unwrap()).unwrap();
    }
    let mut shape = lead.to_vec();
    shape.extend_from_slice(outer);
    ops::reshape(&y, &shape).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Same values and the same gradients (bit for bit: the same GEMMs and
    /// the same row-order sums) as the composition, for any lead/contract/outer axes.
    #[test]
    fn equals_reshape_matmul_add(
        lead in proptest::collection::vec(1usize..4, 0..3),
        contracted in proptest::collection::vec(1usize..5, 1..3),
        outer in proptest::collection::vec(1usize..5, 1..3),
        with_bias in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let contract = contracted.len();
        let xs: Vec<usize> = lead.iter().chain(&contracted).copied().collect();
        let ks: Vec<usize> = contracted.iter().chain(&outer).copied().collect();
        if xs.is_empty() { return Ok(()); }
        let run = |fused: bool| {
            let x = Var::parameter(tensor(&xs, seed));
            let k = Var::parameter(tensor(&ks, seed + 1));
            let b = with_bias.then(|| Var::parameter(tensor(&outer, seed + 2)));
            let y = if fused { ops::linear(&x, &k, b.as_ref(), contract).unwrap() } else { composed(&x, &k, b.as_ref(), contract) };
            let w = Var::from_array(tensor(&y.shape(), seed + 3));
            ops::sum_all(&ops::mul(&y, &w).unwrap()).unwrap().backward().unwrap();
            let value = y.value().clone();
            (value, x.grad().unwrap(), k.grad().unwrap(), b.map(|b| b.grad().unwrap()))
        };
        let (fused, plain) = (run(true), run(false));
        prop_assert_eq!(fused.0, plain.0);
        prop_assert_eq!(fused.1, plain.1);
        prop_assert_eq!(fused.2, plain.2);
        prop_assert_eq!(fused.3, plain.3);
    }
}

#[test]
fn gradients_match_finite_differences() {
    let inputs = [tensor(&[2, 3, 4], 1), tensor(&[4, 2, 3], 2), tensor(&[2, 3], 3)];
    neurite_autograd::gradcheck(
        |v| ops::linear(&v[0], &v[1], Some(&v[2]), 1),
        &inputs,
        &neurite_autograd::GradcheckOptions::default(),
    )
    .unwrap();
    let inputs = [tensor(&[3, 2, 2], 4), tensor(&[2, 2, 5], 5)];
    neurite_autograd::gradcheck(
        |v| ops::linear(&v[0], &v[1], None, 2),
        &inputs,
        &neurite_autograd::GradcheckOptions::default(),
    )
    .unwrap();
}

#[test]
fn bad_shapes_are_errors_naming_the_op() {
    let x = Var::from_array(tensor(&[2, 3], 0));
    let k = Var::from_array(tensor(&[4, 5], 0));
    let e = ops::linear(&x, &k, None, 1).unwrap_err().to_string();
    assert!(
        e.contains("linear") && e.contains("[2, 3]") && e.contains("[4, 5]"),
        "{e}"
    );
    let k = Var::from_array(tensor(&[3, 5], 0));
    assert!(ops::linear(&x, &k, None, 0).is_err());
    assert!(ops::linear(&x, &k, None, 3).is_err());
    let b = Var::from_array(tensor(&[4], 0));
    let e = ops::linear(&x, &k, Some(&b), 1).unwrap_err().to_string();
    assert!(e.contains("bias"), "{e}");
}

#[test]
fn non_contiguous_inputs_are_read_in_logical_order() {
    let xnc = Var::from_array(tensor(&[3, 4], 5).reversed_axes());
    assert!(!xnc.value().is_standard_layout());
    let k = Var::from_array(tensor(&[3, 2], 6));
    let x_std = Var::from_array(xnc.value().as_standard_layout().into_owned());
    let want = ops::matmul(&x_std, &k).unwrap();
    assert_eq!(*ops::linear(&xnc, &k, None, 1).unwrap().value(), *want.value());
}
