//! `Var::backward_observed`: every parameter the loss depends on is
//! reported once, when its gradient is already final, and the gradients are
//! those of `backward()`.

use ndarray::arr1;
use neurite_autograd::{ops, BackwardObserver, Result, Tensor, Var};
use proptest::prelude::*;
use std::collections::HashMap;

/// Records each reported leaf with its gradient at the time of the report.
#[derive(Default)]
struct Recorder {
    ready: Vec<(usize, Option<Tensor>)>,
    ops_done: usize,
}

impl BackwardObserver for Recorder {
    fn leaf_ready(&mut self, leaf: &Var) -> Result<()> {
        self.ready.push((leaf.id(), leaf.grad()));
        Ok(())
    }
    fn after_op(&mut self) -> Result<()> {
        self.ops_done += 1;
        Ok(())
    }
}

/// One step of a random graph: an op kind and the two earlier values it reads.
type Step = (u8, usize, usize);

/// Builds the graph of `steps` over `params` and returns its loss.
fn build(params: &[Var], steps: &[Step]) -> Var {
    let mut values: Vec<Var> = params.to_vec();
    for &(kind, a, b) in steps {
        let (x, y) = (&values[a % values.len()], &values[b % values.len()]);
        let v = match kind % 4 {
            0 => ops::add(x, y),
            1 => ops::mul(x, y),
            2 => ops::tanh(x),
            _ => ops::sub(x, &ops::mul_scalar(y, 0.5).unwrap()),
        }
        .unwrap();
        values.push(v);
    }
    let last = values.last().unwrap();
    ops::sum_all(&ops::mul(last, last).unwrap()).unwrap()
}

fn params(values: &[Vec<f32>]) -> Vec<Var> {
    values
        .iter()
        .map(|v| Var::parameter(arr1(v).into_dyn()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn each_parameter_is_reported_once_with_its_final_gradient(
        values in prop::collection::vec(prop::collection::vec(-1.0f32..1.0, 3), 1..5),
        steps in prop::collection::vec((0u8..4, 0usize..16, 0usize..16), 1..12),
    ) {
        let plain = params(&values);
        build(&plain, &steps).backward().unwrap();

        let observed = params(&values);
        let mut recorder = Recorder::default();
        build(&observed, &steps).backward_observed(&mut recorder).unwrap();

        let reported: HashMap<usize, Option<Tensor>> = recorder.ready.iter().cloned().collect();
        prop_assert_eq!(reported.len(), recorder.ready.len(), "a leaf was reported twice");
        prop_assert!(recorder.ops_done >= 2, "after_op runs after every op");
        for (p, q) in plain.iter().zip(&observed) {
            // Same gradients as backward(); reported exactly when the loss depends on it.
            prop_assert_eq!(p.grad(), q.grad());
            match reported.get(&q.id()) {
                Some(at_report) => prop_assert_eq!(at_report, &q.grad(), "reported before final"),
                None => prop_assert!(q.grad().is_none(), "a parameter with a gradient was not reported"),
            }
        }
    }
}

#[test]
fn the_last_used_parameter_is_reported_first() {
    // loss = sum((w1 * x) * w2): w2 is used by the last op, w1 by the first.
    let w1 = Var::parameter(arr1(&[1.0f32, 2.0]).into_dyn());
    let w2 = Var::parameter(arr1(&[3.0f32, 4.0]).into_dyn());
    let x = Var::from_array(arr1(&[0.5f32, 0.25]));
    let loss = ops::sum_all(&ops::mul(&ops::mul(&w1, &x).unwrap(), &w2).unwrap()).unwrap();
    let mut recorder = Recorder::default();
    loss.backward_observed(&mut recorder).unwrap();
    let order: Vec<usize> = recorder.ready.iter().map(|(id, _)| *id).collect();
    assert_eq!(order, vec![w2.id(), w1.id()]);
    assert_eq!(recorder.ops_done, 3);
}

#[test]
fn an_observer_error_stops_the_pass() {
    struct Refuse;
    impl BackwardObserver for Refuse {
        fn leaf_ready(&mut self, _: &Var) -> Result<()> {
            Err(neurite_autograd::AutogradError::Backward("refused".into()))
        }
    }
    let w = Var::parameter(arr1(&[1.0f32]).into_dyn());
    let loss = ops::sum_all(&ops::mul(&w, &w).unwrap()).unwrap();
    assert!(loss.backward_observed(&mut Refuse).is_err());
    // A one-element output that is not a loss of several elements is refused as backward() refuses it.
    let v = Var::parameter(arr1(&[1.0f32, 2.0]).into_dyn());
    assert!(ops::mul(&v, &v).unwrap().backward_observed(&mut Refuse).is_err());
}
