//! LSTM: hand-computed steps, a scalar reference of the published
//! equations, gradient checks (input and every parameter), errors, init.

mod rnn_util;

use ndarray::{arr1, arr2, Array3};
use neurite_autograd::{gradcheck, ops, Var};
use neurite_nn::layers::{fused_lstm, RecurrentOptions, LSTM};
use neurite_nn::{layer_from_config, ForwardContext, Layer, NnError};
use neurite_tensor::random::rng_from_seed;
use proptest::prelude::*;
use rnn_util::*;

fn param(t: ndarray::ArrayD<f32>) -> Var {
    Var::parameter(t)
}

/// One unit, one feature, two steps, numbers worked out by hand from
/// i = σ(x W_i + h U_i + b_i), f = σ(..), g = tanh(..), o = σ(..),
/// c = f c_prev + i g, h = o tanh(c):
///
/// step 1 (x = 0.5, h = c = 0): z = [0.05, 1.1, 0.15, 0.2]
///   i = 0.512497, f = 0.750260, g = 0.148885, o = 0.549834
///   c = 0.512497 * 0.148885 = 0.076303, h = 0.549834 * tanh(0.076303) = 0.041873
/// step 2 (x = -1.0): c = -0.073857, h = -0.030181
#[test]
fn lstm_two_hand_computed_steps() {
    let mut lstm = LSTM::new(1).return_sequences(true);
    lstm.set_weight_vars(
        param(arr2(&[[0.1f32, 0.2, 0.3, 0.4]]).into_dyn()),
        param(arr2(&[[0.5f32, 0.6, 0.7, 0.8]]).into_dyn()),
        Some(param(arr1(&[0.0f32, 1.0, 0.0, 0.0]).into_dyn())),
    )
    .unwrap();
    let x = Var::from_array(Array3::from_shape_vec((1, 2, 1), vec![0.5f32, -1.0]).unwrap());
    let y = lstm.forward(&x, &mut ForwardContext::inference()).unwrap();
    assert_eq!(y.shape(), vec![1, 2, 1]);
    let y = y.to_tensor();
    assert!((y[[0, 0, 0]] - 0.041873).abs() < 1e-5, "{}", y[[0, 0, 0]]);
    assert!((y[[0, 1, 0]] + 0.030181).abs() < 1e-5, "{}", y[[0, 1, 0]]);
}

#[test]
fn lstm_matches_scalar_reference_in_every_mode() {
    let (b, t, f, u) = (3, 5, 4, 3);
    let x = rand(&[b, t, f], 1.0, 1);
    let w = rand(&[f, 4 * u], 0.5, 2);
    let rk = rand(&[u, 4 * u], 0.5, 3);
    let bias = rand(&[4 * u], 0.5, 4);
    for (return_sequences, go_backwards) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut lstm = LSTM::new(u)
            .return_sequences(return_sequences)
            .go_backwards(go_backwards);
        lstm.set_weight_vars(param(w.clone()), param(rk.clone()), Some(param(bias.clone())))
            .unwrap();
        let y = lstm
            .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
            .unwrap();
        let r = reference(Cell::Lstm, &x, &w, &rk, Some(&bias), go_backwards);
        assert_matches(&y.to_tensor(), &r, return_sequences, 1e-5);
    }
}

#[test]
fn lstm_is_one_graph_node() {
    let mut lstm = LSTM::new(2);
    lstm.build(&[3, 2], &mut rng_from_seed(0)).unwrap();
    let x = Var::parameter(rand(&[2, 3, 2], 1.0, 5));
    let y = lstm.forward(&x, &mut ForwardContext::training(0)).unwrap();
    assert_eq!(y.op_name(), Some("lstm"));
    ops::sum_all(&y).unwrap().backward().unwrap();
    for p in lstm.parameters() {
        assert!(p.var.grad().is_some(), "{} got no gradient", p.name);
    }
    assert_eq!(x.grad().unwrap().shape(), &[2, 3, 2]);
}

#[test]
fn lstm_defaults_follow_keras() {
    let mut lstm = LSTM::new(3).with_name("enc");
    lstm.build(&[7, 5], &mut rng_from_seed(1)).unwrap();
    let p = lstm.parameters();
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["enc.kernel", "enc.recurrent_kernel", "enc.bias"]);
    assert_eq!(p[0].var.shape(), vec![5, 12]);
    assert_eq!(p[1].var.shape(), vec![3, 12]);
    // glorot_uniform: |w| <= sqrt(6 / (5 + 12))
    let limit = (6.0f32 / 17.0).sqrt();
    assert!(p[0].var.value().iter().all(|v| v.abs() <= limit));
    // orthogonal (3, 12): orthonormal rows, U U^T = I.
    let u = p[1]
        .var
        .to_tensor()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let uut = u.dot(&u.t());
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!(
                (uut[[i, j]] - want).abs() < 1e-5,
                "U U^T[{i},{j}] = {}",
                uut[[i, j]]
            );
        }
    }
    // unit_forget_bias: [0, 1, 0, 0] blocks.
    let b = p[2].var.to_tensor();
    for (k, &v) in b.iter().enumerate() {
        assert_eq!(v, if (3..6).contains(&k) { 1.0 } else { 0.0 }, "bias[{k}]");
    }
    assert_eq!(lstm.output_shape(&[7, 5]).unwrap(), vec![3]);
}

#[test]
fn lstm_shape_errors_name_layer_and_shapes() {
    let mut lstm = LSTM::new(4).with_name("lstm_7");
    let x = Var::from_array(Array3::<f32>::zeros((2, 3, 6)));
    assert!(matches!(
        lstm.forward(&x, &mut ForwardContext::inference()),
        Err(NnError::NotBuilt(_))
    ));
    let err = lstm.build(&[6], &mut rng_from_seed(0)).unwrap_err();
    assert!(matches!(&err, NnError::Shape { layer, found, .. } if layer == "lstm_7" && found == &vec![6]));
    lstm.build(&[3, 5], &mut rng_from_seed(0)).unwrap();
    // Wrong feature size.
    let err = lstm.forward(&x, &mut ForwardContext::inference()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("lstm_7") && msg.contains("(batch, timesteps, 5)") && msg.contains("[2, 3, 6]"),
        "{msg}"
    );
    // Wrong rank.
    let x2 = Var::from_array(ndarray::Array2::<f32>::zeros((2, 5)));
    let msg = lstm
        .forward(&x2, &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("lstm_7") && msg.contains("[2, 5]"), "{msg}");
    assert!(lstm.output_shape(&[3, 4]).is_err());
    // Fused op: bad weights are named errors too.
    let bad = fused_lstm(
        &Var::from_array(Array3::<f32>::zeros((1, 2, 3))),
        &Var::constant(ndarray::ArrayD::zeros(ndarray::IxDyn(&[3, 8]))),
        &Var::constant(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 6]))),
        None,
        &RecurrentOptions::default(),
    );
    assert!(bad.unwrap_err().to_string().contains("fused_lstm"));
    // Unsupported activation is a configuration error, not a panic.
    let mut soft = LSTM::new(2).activation(neurite_nn::Activation::Softmax);
    assert!(matches!(
        soft.build(&[3, 2], &mut rng_from_seed(0)),
        Err(NnError::Config { .. })
    ));
}

#[test]
fn lstm_config_round_trip() {
    let lstm = LSTM::new(6)
        .return_sequences(true)
        .go_backwards(true)
        .unit_forget_bias(false)
        .with_name("l1");
    let again = layer_from_config("LSTM", &lstm.config()).unwrap();
    assert_eq!(again.config(), lstm.config());
    assert_eq!(again.class_name(), "LSTM");
    let keras = serde_json::json!({"name": "lstm", "units": 4, "activation": "tanh",
        "recurrent_activation": "sigmoid", "return_sequences": true});
    let l = layer_from_config("LSTM", &keras).unwrap();
    assert_eq!(l.output_shape(&[10, 3]).unwrap(), vec![10, 4]);
}

#[test]
fn lstm_kernel_regularizer_adds_a_loss_in_training() {
    let mut lstm = LSTM::new(2).kernel_regularizer(neurite_nn::regularizers::Regularizer::l2(0.1));
    lstm.build(&[3, 2], &mut rng_from_seed(0)).unwrap();
    let x = Var::from_array(Array3::<f32>::ones((1, 3, 2)));
    let mut ctx = ForwardContext::training(0);
    lstm.forward(&x, &mut ctx).unwrap();
    let losses = ctx.take_losses();
    assert_eq!(losses.len(), 1);
    let w = lstm.parameters()[0].var.to_tensor();
    let want = 0.1 * w.iter().map(|v| v * v).sum::<f32>();
    assert!((losses[0].item().unwrap() - want).abs() < 1e-5);
}

/// Every activation (and, for the gated cells, every gate activation) in the
/// forward pass against the f64 reference written from Keras' equations.
#[test]
fn lstm_every_activation_matches_reference() {
    check_every_activation(Cell::Lstm);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Gradients of the fused op w.r.t. input, kernel, recurrent kernel and bias.
    #[test]
    fn lstm_fused_gradcheck(b in 1usize..3, t in 1usize..4, f in 1usize..5, u in 1usize..4,
                            return_sequences in any::<bool>(), go_backwards in any::<bool>(),
                            seed in 0u64..1000) {
        let inputs = vec![
            rand(&[b, t, f], 1.0, seed),
            rand(&[f, 4 * u], 0.5, seed + 1),
            rand(&[u, 4 * u], 0.5, seed + 2),
            rand(&[4 * u], 0.5, seed + 3),
        ];
        let opts = RecurrentOptions { return_sequences, go_backwards, ..Default::default() };
        gradcheck(|v| ag(fused_lstm(&v[0], &v[1], &v[2], Some(&v[3]), &opts)), &inputs, &gc_opts()).unwrap();
    }

    /// Gradients through the layer (weights installed with set_weight_vars), default tanh/sigmoid, with and without bias.
    #[test]
    fn lstm_layer_gradcheck(seed in 0u64..1000, use_bias in any::<bool>()) {
        let (b, t, f, u) = (2, 3, 4, 3);
        let mut inputs = vec![rand(&[b, t, f], 1.0, seed), rand(&[f, 4 * u], 0.5, seed + 1),
            rand(&[u, 4 * u], 0.5, seed + 2)];
        if use_bias {
            inputs.push(rand(&[4 * u], 0.5, seed + 3));
        }
        let base = LSTM::new(u).use_bias(use_bias).return_sequences(true);
        gradcheck(|v| {
            let mut layer = base.clone();
            layer.set_weight_vars(v[1].clone(), v[2].clone(), v.get(3).cloned())
                .map_err(|e| neurite_autograd::AutogradError::Backward(e.to_string()))?;
            ag(layer.forward(&v[0], &mut ForwardContext::training(0)))
        }, &inputs, &gc_opts()).unwrap();
    }
}
