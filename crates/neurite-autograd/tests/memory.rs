//! Memory stays flat over 10,000 training steps: every graph is freed after
//! its backward pass. In its own test binary (own process) because
//! `live_nodes()` counts nodes process-wide.

use neurite_autograd::{live_nodes, no_grad, ops, Var};

#[test]
fn ten_thousand_training_steps_keep_the_node_count_flat() {
    let mut rng = neurite_tensor::random::rng_from_seed(3);
    let x = Var::constant(neurite_tensor::random::uniform(&[8, 4], -1.0, 1.0, &mut rng));
    let w = Var::parameter(neurite_tensor::random::uniform(&[4, 3], -0.5, 0.5, &mut rng));
    let b = Var::parameter(ndarray::Array1::<f32>::zeros(3).into_dyn());
    let params = [&w, &b];
    let baseline = live_nodes();
    let mut first_loss = None;
    let mut last_loss = 0.0;
    for step in 0..10_000 {
        // y = sum((x·W + b)^2)
        let y = ops::sum_all(&ops::square(&ops::add(&ops::matmul(&x, &w).unwrap(), &b).unwrap()).unwrap())
            .unwrap();
        let during = live_nodes();
        assert!(
            during >= baseline + 4,
            "step {step}: the graph has at least 4 nodes"
        );
        last_loss = y.item().unwrap();
        first_loss.get_or_insert(last_loss);
        y.backward().unwrap();
        drop(y);
        assert_eq!(live_nodes(), baseline, "step {step}: the graph was not freed");
        no_grad(|| {
            for p in params {
                let g = p.take_grad().expect("every parameter got a gradient");
                p.value_mut().scaled_add(-1e-3, &g);
            }
        });
        for p in params {
            p.zero_grad();
            assert!(p.grad().is_none());
        }
        assert_eq!(live_nodes(), baseline, "step {step}: the update created nodes");
    }
    assert!(last_loss < first_loss.unwrap(), "SGD should reduce the loss");
}
