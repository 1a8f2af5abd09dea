//! Graph semantics: accumulation, no_grad, consumed graphs, error cases,
//! deep chains, thread safety.

use ndarray::{arr1, arr2, IxDyn};
use neurite_autograd::{no_grad, ops, AutogradError, NoGradGuard, Tensor, Var};

fn param(v: &[f32]) -> Var {
    Var::parameter(arr1(v).into_dyn())
}

#[test]
fn a_value_used_twice_gets_both_gradients() {
    let x = param(&[3.0, -2.0]);
    let y = ops::sum_all(&ops::mul(&x, &x).unwrap()).unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap(), arr1(&[6.0f32, -4.0]).into_dyn());

    // Shared weights: the same W in two branches, z = sum(W a) + sum(W b).
    let w = Var::parameter(arr2(&[[1.0f32, 2.0], [3.0, 4.0]]).into_dyn());
    let a = Var::from_array(arr2(&[[1.0f32], [0.0]]));
    let b = Var::from_array(arr2(&[[0.0f32], [1.0]]));
    let z = ops::add(
        &ops::sum_all(&ops::matmul(&w, &a).unwrap()).unwrap(),
        &ops::sum_all(&ops::matmul(&w, &b).unwrap()).unwrap(),
    )
    .unwrap();
    z.backward().unwrap();
    assert_eq!(w.grad().unwrap(), arr2(&[[1.0f32, 1.0], [1.0, 1.0]]).into_dyn());

    // A diamond: h used by two ops that join again.
    let x = param(&[2.0]);
    let h = ops::mul_scalar(&x, 3.0).unwrap();
    let j = ops::add(
        &ops::square(&h).unwrap(),
        &ops::exp(&ops::mul_scalar(&h, 0.0).unwrap()).unwrap(),
    )
    .unwrap();
    ops::sum_all(&j).unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap()[[0]], 2.0 * 6.0 * 3.0);
}

#[test]
fn no_grad_records_nothing() {
    let w = param(&[1.0, 2.0]);
    let y = no_grad(|| ops::relu(&ops::mul(&w, &w).unwrap()).unwrap());
    assert!(!y.requires_grad() && y.is_leaf() && y.op_name().is_none());
    assert!(matches!(
        ops::sum_all(&y).unwrap().backward(),
        Err(AutogradError::NoParameters)
    ));
    {
        let _guard = NoGradGuard::new();
        // A nested scope restores "off", not "on", when it ends.
        no_grad(|| assert!(!neurite_autograd::is_grad_enabled()));
        assert!(!neurite_autograd::is_grad_enabled());
        let z = ops::add(&w, &w).unwrap();
        assert!(!z.requires_grad());
    }
    assert!(neurite_autograd::is_grad_enabled());
    let z = ops::add(&w, &w).unwrap();
    assert_eq!(z.op_name(), Some("add"));
}

#[test]
fn gradients_accumulate_until_zeroed() {
    let w = param(&[1.0]);
    for k in 1..=3 {
        ops::sum_all(&ops::mul_scalar(&w, 2.0).unwrap())
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(w.grad().unwrap()[[0]], 2.0 * k as f32);
    }
    w.zero_grad();
    assert!(w.grad().is_none());
    ops::sum_all(&ops::mul_scalar(&w, 2.0).unwrap())
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(w.grad().unwrap()[[0]], 2.0);
}

#[test]
fn backward_on_a_consumed_graph_errors() {
    let w = param(&[1.0, 2.0]);
    let h = ops::tanh(&w).unwrap();
    let l1 = ops::sum_all(&h).unwrap();
    let l2 = ops::mean_all(&h).unwrap();
    l1.backward().unwrap();
    let e = l1.backward().unwrap_err();
    assert!(e.to_string().contains("already consumed"), "{e}");
    // h was freed by the first pass, so a second loss through it errors too.
    let e = l2.backward().unwrap_err();
    assert!(e.to_string().contains("already consumed"), "{e}");
}

#[test]
fn a_failed_backward_leaves_no_partial_gradients() {
    let w = param(&[1.0, 2.0]);
    let h = ops::tanh(&w).unwrap();
    // An op whose backward returns a gradient of the wrong shape.
    let bad = Var::from_op(
        h.value().sum_axis(ndarray::Axis(0)),
        "bad",
        &[&h],
        Box::new(|_| Ok(vec![Some(Tensor::zeros(IxDyn(&[3])))])),
    );
    let y = ops::add(&bad, &ops::sum_all(&h).unwrap()).unwrap();
    let e = y.backward().unwrap_err();
    assert!(e.to_string().contains("op bad"), "{e}");
    assert!(h.grad().is_none() && bad.grad().is_none() && y.grad().is_none());
}

#[test]
fn non_scalar_backward_needs_a_gradient() {
    let w = param(&[1.0, 2.0]);
    let y = ops::mul_scalar(&w, 2.0).unwrap();
    let e = y.backward().unwrap_err();
    assert!(e.to_string().contains("backward_with"), "{e}");
    assert!(y.backward_with(Tensor::ones(IxDyn(&[3]))).is_err());
    y.backward_with(arr1(&[1.0f32, 1.0]).into_dyn()).unwrap();
    assert_eq!(w.grad().unwrap(), arr1(&[2.0f32, 2.0]).into_dyn());
}

#[test]
fn constants_get_no_gradient() {
    let w = param(&[1.0]);
    let c = Var::constant(arr1(&[5.0f32]).into_dyn());
    ops::sum_all(&ops::mul(&w, &c).unwrap())
        .unwrap()
        .backward()
        .unwrap();
    assert!(c.grad().is_none());
    assert_eq!(w.grad().unwrap()[[0]], 5.0);
}

#[test]
fn ten_thousand_op_chains_do_not_overflow_the_stack() {
    // Built and dropped without backward (recursive drop would overflow).
    let w = param(&[0.5]);
    let mut y = w.clone();
    for _ in 0..10_000 {
        y = ops::mul(&y, &w).unwrap();
    }
    drop(y);
    // Built, differentiated and dropped, with a mix of op kinds.
    let w = param(&[0.1, -0.2]);
    let mut y = w.clone();
    for i in 0..10_000 {
        y = match i % 3 {
            0 => ops::add(&y, &w).unwrap(),
            1 => ops::mul_scalar(&y, 0.5).unwrap(),
            _ => ops::tanh(&y).unwrap(),
        };
    }
    ops::sum_all(&y).unwrap().backward().unwrap();
    assert!(w.grad().unwrap().iter().all(|g| g.is_finite()));
}

#[test]
fn var_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Var>();
    // Two threads run forward + backward over separate graphs that share
    // one parameter; the gradients add up.
    let w = param(&[1.0, 2.0]);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let w = w.clone();
            s.spawn(move || {
                for _ in 0..100 {
                    ops::sum_all(&ops::mul_scalar(&w, 1.0).unwrap())
                        .unwrap()
                        .backward()
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(w.grad().unwrap(), arr1(&[200.0f32, 200.0]).into_dyn());
}
