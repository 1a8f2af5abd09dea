//! GRU (Keras 3, reset_after=true): hand-computed steps, a scalar
//! reference of the published equations, gradient checks, errors, init.

mod rnn_util;

use ndarray::{arr2, Array3};
use neurite_autograd::{gradcheck, ops, Var};
use neurite_nn::layers::{fused_gru, RecurrentOptions, GRU};
use neurite_nn::{layer_from_config, ForwardContext, Layer, NnError};
use neurite_tensor::random::rng_from_seed;
use proptest::prelude::*;
use rnn_util::*;

fn param(t: ndarray::ArrayD<f32>) -> Var {
    Var::parameter(t)
}

/// One unit, one feature, two steps, by hand from
/// z = σ(x W_z + b_in_z + h U_z + b_rec_z), r = σ(..),
/// ĥ = tanh(x W_h + b_in_h + r (h U_h + b_rec_h)), h = z h_prev + (1 - z) ĥ,
/// with W = [0.1, 0.2, 0.3], U = [0.4, 0.5, 0.6], b_in = [0.1, 0, -0.1], b_rec = [0, 0.2, 0.3]:
///
/// step 1 (x = 0.5, h = 0): z = σ(0.15) = 0.537430, r = σ(0.3) = 0.574443,
///   ĥ = tanh(0.05 + 0.574443 * 0.3) = tanh(0.222333) = 0.218747,
///   h = (1 - 0.537430) * 0.218747 = 0.101183
/// step 2 (x = -1.0): h = -0.052156
#[test]
fn gru_two_hand_computed_steps() {
    let mut gru = GRU::new(1).return_sequences(true);
    gru.set_weight_vars(
        param(arr2(&[[0.1f32, 0.2, 0.3]]).into_dyn()),
        param(arr2(&[[0.4f32, 0.5, 0.6]]).into_dyn()),
        Some(param(arr2(&[[0.1f32, 0.0, -0.1], [0.0, 0.2, 0.3]]).into_dyn())),
    )
    .unwrap();
    let x = Var::from_array(Array3::from_shape_vec((1, 2, 1), vec![0.5f32, -1.0]).unwrap());
    let y = gru
        .forward(&x, &mut ForwardContext::inference())
        .unwrap()
        .to_tensor();
    assert!((y[[0, 0, 0]] - 0.101183).abs() < 1e-5, "{}", y[[0, 0, 0]]);
    assert!((y[[0, 1, 0]] + 0.052156).abs() < 1e-5, "{}", y[[0, 1, 0]]);
}

#[test]
fn gru_matches_scalar_reference_in_every_mode() {
    let (b, t, f, u) = (3, 5, 4, 3);
    let x = rand(&[b, t, f], 1.0, 11);
    let w = rand(&[f, 3 * u], 0.5, 12);
    let rk = rand(&[u, 3 * u], 0.5, 13);
    let bias = rand(&[2, 3 * u], 0.5, 14);
    for (return_sequences, go_backwards) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut gru = GRU::new(u)
            .return_sequences(return_sequences)
            .go_backwards(go_backwards);
        gru.set_weight_vars(param(w.clone()), param(rk.clone()), Some(param(bias.clone())))
            .unwrap();
        let y = gru
            .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
            .unwrap();
        let r = reference(Cell::Gru, &x, &w, &rk, Some(&bias), go_backwards);
        assert_matches(&y.to_tensor(), &r, return_sequences, 1e-5);
    }
}

#[test]
fn gru_defaults_and_single_node() {
    let mut gru = GRU::new(4);
    gru.build(&[6, 2], &mut rng_from_seed(3)).unwrap();
    let p = gru.parameters();
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gru.kernel", "gru.recurrent_kernel", "gru.bias"]);
    assert_eq!(p[0].var.shape(), vec![2, 12]);
    assert_eq!(p[1].var.shape(), vec![4, 12]);
    assert_eq!(p[2].var.shape(), vec![2, 12]);
    assert!(p[2].var.value().iter().all(|&v| v == 0.0));
    let x = Var::parameter(rand(&[3, 6, 2], 1.0, 4));
    let y = gru.forward(&x, &mut ForwardContext::training(0)).unwrap();
    assert_eq!(y.op_name(), Some("gru"));
    ops::sum_all(&y).unwrap().backward().unwrap();
    assert!(p.iter().all(|p| p.var.grad().is_some()));
    assert_eq!(gru.config()["reset_after"], serde_json::json!(true));
}

#[test]
fn gru_errors() {
    let mut gru = GRU::new(2).with_name("gru_2");
    gru.build(&[3, 4], &mut rng_from_seed(0)).unwrap();
    let msg = gru
        .forward(
            &Var::from_array(Array3::<f32>::zeros((1, 3, 5))),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("gru_2") && msg.contains("(batch, timesteps, 4)") && msg.contains("[1, 3, 5]"),
        "{msg}"
    );
    // reset_after=false (the Keras 2 variant) loads, with a (3 units,) bias.
    let cfg = serde_json::json!({"name": "g", "units": 2, "reset_after": false});
    let shapes = layer_from_config("GRU", &cfg)
        .unwrap()
        .parameter_shapes(&[3, 4])
        .unwrap()
        .unwrap();
    assert_eq!(shapes[2], ("g.bias".to_string(), vec![6]));
    // ...and a (2, 3 units) bias is refused for it.
    let bad = GRU::new(1).reset_after(false).set_weight_vars(
        param(arr2(&[[0.1f32, 0.2, 0.3]]).into_dyn()),
        param(arr2(&[[0.4f32, 0.5, 0.6]]).into_dyn()),
        Some(param(arr2(&[[0.0f32, 0.0, 0.0], [0.0, 0.0, 0.0]]).into_dyn())),
    );
    assert!(matches!(bad, Err(NnError::Shape { .. })), "{bad:?}");
    // A (3 units) bias is refused: GRU's bias is (2, 3 units).
    let bad = GRU::new(1).set_weight_vars(
        param(arr2(&[[0.1f32, 0.2, 0.3]]).into_dyn()),
        param(arr2(&[[0.4f32, 0.5, 0.6]]).into_dyn()),
        Some(param(ndarray::arr1(&[0.0f32, 0.0, 0.0]).into_dyn())),
    );
    assert!(matches!(bad, Err(NnError::Shape { .. })));
}

#[test]
fn gru_config_round_trip() {
    let gru = GRU::new(5).return_sequences(true).with_name("g1");
    let again = layer_from_config("GRU", &gru.config()).unwrap();
    assert_eq!(again.config(), gru.config());
}

/// Every activation (and, for the gated cells, every gate activation) in the
/// forward pass against the f64 reference written from Keras' equations.
#[test]
fn gru_every_activation_matches_reference() {
    check_every_activation(Cell::Gru);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn gru_fused_gradcheck(b in 1usize..3, t in 1usize..4, f in 1usize..5, u in 1usize..4,
                           return_sequences in any::<bool>(), go_backwards in any::<bool>(),
                           seed in 0u64..1000) {
        let inputs = vec![
            rand(&[b, t, f], 1.0, seed),
            rand(&[f, 3 * u], 0.5, seed + 1),
            rand(&[u, 3 * u], 0.5, seed + 2),
            rand(&[2, 3 * u], 0.5, seed + 3),
        ];
        let opts = RecurrentOptions { return_sequences, go_backwards, ..Default::default() };
        gradcheck(|v| ag(fused_gru(&v[0], &v[1], &v[2], Some(&v[3]), &opts)), &inputs, &gc_opts()).unwrap();
    }

    #[test]
    fn gru_layer_gradcheck(seed in 0u64..1000, use_bias in any::<bool>()) {
        let (b, t, f, u) = (2, 3, 4, 3);
        let mut inputs = vec![rand(&[b, t, f], 1.0, seed), rand(&[f, 3 * u], 0.5, seed + 1),
            rand(&[u, 3 * u], 0.5, seed + 2)];
        if use_bias {
            inputs.push(rand(&[2, 3 * u], 0.5, seed + 3));
        }
        let base = GRU::new(u).use_bias(use_bias);
        gradcheck(|v| {
            let mut layer = base.clone();
            layer.set_weight_vars(v[1].clone(), v[2].clone(), v.get(3).cloned())
                .map_err(|e| neurite_autograd::AutogradError::Backward(e.to_string()))?;
            ag(layer.forward(&v[0], &mut ForwardContext::training(0)))
        }, &inputs, &gc_opts()).unwrap();
    }
}
