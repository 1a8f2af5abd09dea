//! SimpleRNN: scalar reference, gradient checks, errors; and what all three
//! recurrent layers share (config round trips through the registry,
//! `go_backwards` semantics, no-grad inference).

mod rnn_util;

use ndarray::{arr1, arr2, Array3};
use neurite_autograd::{gradcheck, no_grad, Var};
use neurite_nn::layers::{fused_simple_rnn, RecurrentOptions, SimpleRNN, GRU, LSTM};
use neurite_nn::{layer_from_config, Activation, ForwardContext, Layer, NnError};
use neurite_tensor::random::rng_from_seed;
use proptest::prelude::*;
use rnn_util::*;

/// h1 = tanh(0.5 * 0.8 + 0.1) = tanh(0.5) = 0.462117;
/// h2 = tanh(-1.0 * 0.8 + 0.1 + 0.462117 * 0.3) = tanh(-0.561365) = -0.508989
#[test]
fn simple_rnn_two_hand_computed_steps() {
    let mut rnn = SimpleRNN::new(1).return_sequences(true);
    rnn.set_weight_vars(
        Var::parameter(arr2(&[[0.8f32]]).into_dyn()),
        Var::parameter(arr2(&[[0.3f32]]).into_dyn()),
        Some(Var::parameter(arr1(&[0.1f32]).into_dyn())),
    )
    .unwrap();
    let x = Var::from_array(Array3::from_shape_vec((1, 2, 1), vec![0.5f32, -1.0]).unwrap());
    let y = rnn
        .forward(&x, &mut ForwardContext::inference())
        .unwrap()
        .to_tensor();
    assert!((y[[0, 0, 0]] - 0.462117).abs() < 1e-5, "{}", y[[0, 0, 0]]);
    assert!((y[[0, 1, 0]] + 0.508989).abs() < 1e-5, "{}", y[[0, 1, 0]]);
}

#[test]
fn simple_rnn_matches_scalar_reference() {
    let (b, t, f, u) = (2, 6, 3, 4);
    let x = rand(&[b, t, f], 1.0, 21);
    let w = rand(&[f, u], 0.5, 22);
    let rk = rand(&[u, u], 0.5, 23);
    let bias = rand(&[u], 0.5, 24);
    for (return_sequences, go_backwards) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut rnn = SimpleRNN::new(u)
            .return_sequences(return_sequences)
            .go_backwards(go_backwards);
        rnn.set_weight_vars(
            Var::parameter(w.clone()),
            Var::parameter(rk.clone()),
            Some(Var::parameter(bias.clone())),
        )
        .unwrap();
        let y = rnn
            .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
            .unwrap();
        let r = reference(Cell::Simple, &x, &w, &rk, Some(&bias), go_backwards);
        assert_matches(&y.to_tensor(), &r, return_sequences, 1e-5);
    }
}

/// go_backwards on a sequence equals the forward layer on the time-reversed sequence.
#[test]
fn go_backwards_is_reversed_input() {
    let x = rand(&[2, 4, 3], 1.0, 30);
    let mut reversed = x.clone();
    reversed.invert_axis(ndarray::Axis(1));
    let layers: Vec<(Box<dyn Layer>, Box<dyn Layer>)> = vec![
        (Box::new(LSTM::new(3).go_backwards(true)), Box::new(LSTM::new(3))),
        (Box::new(GRU::new(3).go_backwards(true)), Box::new(GRU::new(3))),
        (
            Box::new(SimpleRNN::new(3).go_backwards(true)),
            Box::new(SimpleRNN::new(3)),
        ),
    ];
    for (mut back, mut fwd) in layers {
        back.build(&[4, 3], &mut rng_from_seed(9)).unwrap();
        fwd.build(&[4, 3], &mut rng_from_seed(9)).unwrap();
        let a = back
            .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
            .unwrap();
        let b = fwd
            .forward(&Var::constant(reversed.clone()), &mut ForwardContext::inference())
            .unwrap();
        assert_eq!(a.to_tensor(), b.to_tensor(), "{}", back.class_name());
    }
}

#[test]
fn inference_under_no_grad_builds_no_graph() {
    let mut lstm = LSTM::new(3);
    lstm.build(&[4, 2], &mut rng_from_seed(0)).unwrap();
    let x = Var::parameter(rand(&[2, 4, 2], 1.0, 1));
    let y = no_grad(|| lstm.forward(&x, &mut ForwardContext::inference())).unwrap();
    assert!(!y.requires_grad());
}

#[test]
fn simple_rnn_errors_and_config() {
    let mut rnn = SimpleRNN::new(2).with_name("rnn_a");
    let err = rnn.build(&[3, 0], &mut rng_from_seed(0)).unwrap_err();
    assert!(matches!(err, NnError::Shape { .. }));
    rnn.build(&[3, 2], &mut rng_from_seed(0)).unwrap();
    let msg = rnn
        .forward(
            &Var::from_array(ndarray::Array4::<f32>::zeros((1, 3, 2, 1))),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(msg.contains("rnn_a") && msg.contains("[1, 3, 2, 1]"), "{msg}");
    assert_eq!(rnn.parameters()[1].var.shape(), vec![2, 2]);
    let again = layer_from_config("SimpleRNN", &rnn.config()).unwrap();
    assert_eq!(again.config(), rnn.config());
    assert!(layer_from_config("SimpleRNN", &serde_json::json!({"name": "x"})).is_err());
    let mut zero = SimpleRNN::new(0);
    assert!(matches!(
        zero.build(&[3, 2], &mut rng_from_seed(0)),
        Err(NnError::Config { .. })
    ));
}

/// Every activation (and, for the gated cells, every gate activation) in the
/// forward pass against the f64 reference written from Keras' equations.
#[test]
fn simple_rnn_every_activation_matches_reference() {
    check_every_activation(Cell::Simple);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn simple_rnn_fused_gradcheck(b in 1usize..3, t in 1usize..4, f in 1usize..5, u in 1usize..4,
                                  return_sequences in any::<bool>(), go_backwards in any::<bool>(),
                                  act in 0usize..3, seed in 0u64..1000) {
        let inputs = vec![
            rand(&[b, t, f], 1.0, seed),
            rand(&[f, u], 0.5, seed + 1),
            rand(&[u, u], 0.5, seed + 2),
            rand(&[u], 0.5, seed + 3),
        ];
        let activation = [Activation::Tanh, Activation::Sigmoid, Activation::Linear][act];
        let opts = RecurrentOptions { return_sequences, go_backwards, activation, ..Default::default() };
        gradcheck(|v| ag(fused_simple_rnn(&v[0], &v[1], &v[2], Some(&v[3]), &opts)), &inputs, &gc_opts())
            .unwrap();
    }

    /// Non-default gate activations in the LSTM/GRU kernels.
    #[test]
    fn gate_activation_variants_gradcheck(seed in 0u64..1000, which in 0usize..2) {
        let (b, t, f, u) = (2, 3, 2, 2);
        let opts = RecurrentOptions {
            activation: Activation::Sigmoid,
            recurrent_activation: Activation::Tanh,
            return_sequences: true,
            go_backwards: false,
        };
        if which == 0 {
            let inputs = vec![rand(&[b, t, f], 1.0, seed), rand(&[f, 4 * u], 0.5, seed + 1),
                rand(&[u, 4 * u], 0.5, seed + 2)];
            gradcheck(|v| ag(neurite_nn::layers::fused_lstm(&v[0], &v[1], &v[2], None, &opts)), &inputs,
                &gc_opts()).unwrap();
        } else {
            let inputs = vec![rand(&[b, t, f], 1.0, seed), rand(&[f, 3 * u], 0.5, seed + 1),
                rand(&[u, 3 * u], 0.5, seed + 2)];
            gradcheck(|v| ag(neurite_nn::layers::fused_gru(&v[0], &v[1], &v[2], None, &opts)), &inputs,
                &gc_opts()).unwrap();
        }
    }
}
