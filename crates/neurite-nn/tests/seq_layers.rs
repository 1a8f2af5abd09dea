//! The issue-#17 sequence layers as layers: Conv1D's gradients through the
//! input, kernel and bias (every padding × stride × dilation drawn);
//! TimeDistributed equal to the wrapped layer called on each step and
//! stacked; Bidirectional equal to a forward layer plus a second layer run on
//! the reversed sequence (its outputs reversed back), merged by each mode,
//! with gradients checked by finite differences; 1-d pooling layers'
//! shapes; and the errors (not panics) for bad configs and inputs, naming
//! the layer.

use neurite_autograd::ops::Conv1dPadding;
use neurite_autograd::{gradcheck, ops, AutogradError, GradcheckOptions, Tensor, Var};
use neurite_nn::layers::*;
use neurite_nn::{Activation, ForwardContext, Layer, NnError};
use neurite_tensor::random::{normal, rng_from_seed};
use neurite_tensor::Padding;
use proptest::prelude::*;

fn ag(r: neurite_nn::Result<Var>) -> neurite_autograd::Result<Var> {
    r.map_err(|e| match e {
        NnError::Autograd(a) => a,
        other => AutogradError::Backward(other.to_string()),
    })
}

fn opts() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-2,
        atol: 2e-2,
        rtol: 2e-2,
        seed: 0,
    }
}

fn close(a: &Tensor, b: &Tensor) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

/// A recurrent layer of kind `kind` (0 SimpleRNN, 1 LSTM, 2 GRU).
fn rnn(kind: usize, units: usize, seqs: bool) -> Box<dyn Layer> {
    match kind {
        0 => Box::new(SimpleRNN::new(units).return_sequences(seqs)),
        1 => Box::new(LSTM::new(units).return_sequences(seqs)),
        _ => Box::new(GRU::new(units).return_sequences(seqs)),
    }
}

/// `x` `(n, T, f)` with the time axis reversed.
fn reversed(x: &Var) -> Var {
    let steps: Vec<usize> = (0..x.shape()[1]).rev().collect();
    ops::index_select(x, 1, &steps).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn conv1d_gradients(batch in 1usize..3, len in 1usize..9, c in 1usize..4, f in 1usize..4, k in 1usize..4,
                        stride in 1usize..4, dilation in 1usize..3, pad in 0usize..3, bias in any::<bool>(),
                        seed in 0u64..1000) {
        let padding = [Conv1dPadding::Valid, Conv1dPadding::Same, Conv1dPadding::Causal][pad];
        let dilation = if stride > 1 { 1 } else { dilation };
        let mut conv = Conv1D::new(f, k).strides(stride).padding(padding).dilation_rate(dilation)
            .use_bias(bias).activation(Activation::Tanh);
        let built = conv.build(&[len, c], &mut rng_from_seed(seed));
        if padding == Conv1dPadding::Valid && len < dilation * (k - 1) + 1 {
            let e = built.unwrap_err().to_string();
            prop_assert!(e.contains("conv1d") && e.contains("valid padding"), "{}", e);
            return Ok(());
        }
        built.unwrap();
        let x = normal(&[batch, len, c], 0.0, 1.0, &mut rng_from_seed(seed + 1));
        let mut inputs = vec![x];
        inputs.extend(conv.parameters().iter().map(|p| p.var.to_tensor()));
        let y = conv.forward(&Var::from_array(inputs[0].clone()), &mut ForwardContext::inference()).unwrap();
        prop_assert_eq!(y.shape()[1..].to_vec(), conv.output_shape(&[len, c]).unwrap());
        gradcheck(|v| {
            let mut layer = conv.clone();
            layer.set_weight_vars(v[1].clone(), v.get(2).cloned()).map_err(|e| AutogradError::Backward(e.to_string()))?;
            ag(layer.forward(&v[0], &mut ForwardContext::inference()))
        }, &inputs, &opts()).unwrap();
    }

    #[test]
    fn time_distributed_is_the_layer_on_every_step(batch in 1usize..3, steps in 1usize..5, d in 1usize..4,
                                                  units in 1usize..4, seed in 0u64..1000) {
        let mut td = TimeDistributed::new(Dense::new(units).activation(Activation::Tanh));
        td.build(&[steps, d], &mut rng_from_seed(seed)).unwrap();
        let x = Var::from_array(normal(&[batch, steps, d], 0.0, 1.0, &mut rng_from_seed(seed + 1)));
        let y = td.forward(&x, &mut ForwardContext::inference()).unwrap().to_tensor();
        let per_step: Vec<Var> = (0..steps).map(|t| {
            let xt = ops::squeeze(&ops::slice_axis(&x, 1, t, t + 1).unwrap(), 1).unwrap();
            td.inner().forward(&xt, &mut ForwardContext::inference()).unwrap()
        }).collect();
        let refs: Vec<&Var> = per_step.iter().collect();
        let want = ops::stack(&refs, 1).unwrap().to_tensor();
        prop_assert!(close(&y, &want));
        let mut inputs = vec![x.to_tensor()];
        inputs.extend(td.parameters().iter().map(|p| p.var.to_tensor()));
        gradcheck(|v| {
            let mut dense = Dense::new(units).activation(Activation::Tanh);
            dense.set_weight_vars(v[1].clone(), Some(v[2].clone())).map_err(|e| AutogradError::Backward(e.to_string()))?;
            ag(TimeDistributed::new(dense).forward(&v[0], &mut ForwardContext::inference()))
        }, &inputs, &opts()).unwrap();
    }

    #[test]
    fn bidirectional_is_forward_plus_reversed_backward(kind in 0usize..3, seqs in any::<bool>(), mode in 0usize..4,
                                                       batch in 1usize..3, steps in 1usize..5, feat in 1usize..4,
                                                       units in 1usize..4, seed in 0u64..1000) {
        let merge = [MergeMode::Concat, MergeMode::Sum, MergeMode::Mul, MergeMode::Ave][mode];
        let cfg = serde_json::json!({
            "name": "bi",
            "layer": {"class_name": rnn(kind, units, seqs).class_name(), "config": rnn(kind, units, seqs).config()},
            "merge_mode": merge.keras_name(),
        });
        let mut bi = Bidirectional::from_config(&cfg).unwrap();
        bi.build(&[steps, feat], &mut rng_from_seed(seed)).unwrap();
        let x = Var::from_array(normal(&[batch, steps, feat], 0.0, 1.0, &mut rng_from_seed(seed + 1)));
        let y = bi.forward(&x, &mut ForwardContext::inference()).unwrap();
        prop_assert_eq!(y.shape()[1..].to_vec(), bi.output_shape(&[steps, feat]).unwrap());
        // Reference: the backward layer's weights in a layer that runs forwards, on the reversed input.
        let fwd = bi.forward_layer().forward(&x, &mut ForwardContext::inference()).unwrap();
        let mut plain = rnn(kind, units, seqs);
        plain.build(&[steps, feat], &mut rng_from_seed(0)).unwrap();
        for (p, q) in plain.parameters().iter().zip(bi.backward_layer().parameters()) {
            p.var.set_value(q.var.to_tensor());
        }
        let mut bwd = plain.forward(&reversed(&x), &mut ForwardContext::inference()).unwrap();
        if seqs {
            bwd = reversed(&bwd);
        }
        let (f, b) = (fwd.to_tensor(), bwd.to_tensor());
        let want = match merge {
            MergeMode::Concat => ndarray::concatenate(ndarray::Axis(f.ndim() - 1), &[f.view(), b.view()]).unwrap(),
            MergeMode::Sum => &f + &b,
            MergeMode::Mul => &f * &b,
            MergeMode::Ave => (&f + &b) * 0.5,
        };
        prop_assert!(close(&y.to_tensor(), &want), "{:?} vs {:?}", y.to_tensor(), want);
        gradcheck(|v| ag(bi.forward(&v[0], &mut ForwardContext::inference())), &[x.to_tensor()], &opts()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn gru_reset_before_gradients(batch in 1usize..3, steps in 1usize..5, feat in 1usize..4, units in 1usize..4,
                                  seqs in any::<bool>(), backwards in any::<bool>(), bias in any::<bool>(),
                                  seed in 0u64..1000) {
        let make = || GRU::new(units).reset_after(false).return_sequences(seqs).go_backwards(backwards).use_bias(bias);
        let mut gru = make();
        gru.build(&[steps, feat], &mut rng_from_seed(seed)).unwrap();
        let mut inputs = vec![normal(&[batch, steps, feat], 0.0, 1.0, &mut rng_from_seed(seed + 1))];
        inputs.extend(gru.parameters().iter().map(|p| p.var.to_tensor()));
        prop_assert_eq!(inputs.len(), if bias { 4 } else { 3 });
        gradcheck(|v| {
            let mut layer = make();
            layer.set_weight_vars(v[1].clone(), v[2].clone(), v.get(3).cloned())
                .map_err(|e| AutogradError::Backward(e.to_string()))?;
            ag(layer.forward(&v[0], &mut ForwardContext::inference()))
        }, &inputs, &opts()).unwrap();
    }
}

#[test]
fn bidirectional_weight_gradients_match_finite_differences() {
    for kind in 0..3 {
        let mut bi = Bidirectional::from_boxed(rnn(kind, 2, true)).unwrap();
        bi.build(&[3, 2], &mut rng_from_seed(kind as u64)).unwrap();
        let x = normal(&[2, 3, 2], 0.0, 1.0, &mut rng_from_seed(9));
        let params = bi.parameters();
        for (i, p) in params.iter().enumerate() {
            let w0 = p.var.to_tensor();
            // The analytic gradient of the layer's own variable, against central differences of the loss.
            p.var.set_value(w0.clone());
            let proj = normal(
                &bi.forward(&Var::from_array(x.clone()), &mut ForwardContext::inference())
                    .unwrap()
                    .shape(),
                0.0,
                1.0,
                &mut rng_from_seed(3),
            );
            let loss = |bi: &Bidirectional| -> f64 {
                let y = bi
                    .forward(&Var::from_array(x.clone()), &mut ForwardContext::inference())
                    .unwrap()
                    .to_tensor();
                y.iter().zip(&proj).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
            };
            for q in &params {
                q.var.zero_grad();
            }
            let y = bi
                .forward(&Var::from_array(x.clone()), &mut ForwardContext::inference())
                .unwrap();
            y.backward_with(proj.clone()).unwrap();
            let analytic = p.var.grad().unwrap();
            let eps = 1e-2f32;
            for j in 0..w0.len() {
                let mut plus = w0.clone();
                plus.as_slice_mut().unwrap()[j] += eps;
                p.var.set_value(plus);
                let lp = loss(&bi);
                let mut minus = w0.clone();
                minus.as_slice_mut().unwrap()[j] -= eps;
                p.var.set_value(minus);
                let lm = loss(&bi);
                p.var.set_value(w0.clone());
                let numeric = (lp - lm) / (2.0 * eps as f64);
                let a = analytic.as_slice().unwrap()[j] as f64;
                assert!(
                    (a - numeric).abs() <= 2e-2 * (1.0 + numeric.abs()),
                    "kind {kind} param {i} ({}) [{j}]: {a} vs {numeric}",
                    p.name
                );
            }
        }
    }
}

#[test]
fn pooling1d_shapes_follow_keras() {
    assert_eq!(MaxPooling1D::new(2).output_shape(&[7, 3]).unwrap(), vec![3, 3]);
    assert_eq!(
        AveragePooling1D::new(3)
            .strides(2)
            .padding(Padding::Same)
            .output_shape(&[7, 3])
            .unwrap(),
        vec![4, 3]
    );
    assert_eq!(GlobalMaxPooling1D::new().output_shape(&[7, 3]).unwrap(), vec![3]);
    assert_eq!(
        GlobalAveragePooling1D::new()
            .keepdims(true)
            .output_shape(&[7, 3])
            .unwrap(),
        vec![1, 3]
    );
    let cfg: Pooling1DConfig = serde_json::from_value(serde_json::json!({"name": "p"})).unwrap();
    assert_eq!(cfg.pool_size, 2, "Keras' default pool_size");
}

#[test]
fn bad_configs_and_inputs_are_errors_naming_the_layer() {
    let msg = |r: neurite_nn::Result<Vec<usize>>| r.unwrap_err().to_string();
    // Conv1D.
    let c = Conv1D::new(2, 3).with_name("c1");
    assert!(msg(c.output_shape(&[8])).contains("c1"));
    assert!(msg(c.output_shape(&[2, 4])).contains("valid padding"));
    let mut built = c.clone();
    built.build(&[8, 4], &mut rng_from_seed(0)).unwrap();
    assert!(msg(built.output_shape(&[8, 5])).contains("(steps, 4)"));
    let e = built.forward(
        &Var::from_array(ndarray::Array2::<f32>::ones((8, 4))),
        &mut ForwardContext::inference(),
    );
    assert!(e.unwrap_err().to_string().contains("(batch, steps, 4)"));
    let unbuilt = Conv1D::new(2, 3).with_name("c2");
    let e = unbuilt.forward(
        &Var::from_array(ndarray::Array3::<f32>::ones((1, 8, 4))),
        &mut ForwardContext::inference(),
    );
    assert!(e.unwrap_err().to_string().contains("c2"));
    for (field, json) in [
        (
            "groups",
            serde_json::json!({"name": "c", "filters": 2, "kernel_size": 3, "groups": 2}),
        ),
        (
            "filters",
            serde_json::json!({"name": "c", "filters": 0, "kernel_size": 3}),
        ),
        (
            "strides",
            serde_json::json!({"name": "c", "filters": 2, "kernel_size": 3, "strides": [2], "dilation_rate": [2]}),
        ),
        (
            "padding",
            serde_json::json!({"name": "c", "filters": 2, "kernel_size": 3, "padding": "full"}),
        ),
        (
            "kernel_size",
            serde_json::json!({"name": "c", "filters": 2, "kernel_size": [3, 3]}),
        ),
    ] {
        let e = match serde_json::from_value::<Conv1DConfig>(json) {
            Ok(cfg) => cfg.validate().unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains(field) || e.contains("padding") || e.contains("one integer"),
            "{field}: {e}"
        );
    }
    // Pooling.
    assert!(msg(MaxPooling1D::new(4).with_name("p").output_shape(&[3, 2])).contains("p"));
    assert!(msg(MaxPooling1D::new(0).output_shape(&[3, 2])).contains("pool_size"));
    assert!(msg(GlobalMaxPooling1D::new().with_name("g").output_shape(&[3, 2, 1])).contains("g"));
    // TimeDistributed.
    let td = TimeDistributed::new(Dense::new(2)).with_name("td");
    assert!(msg(td.output_shape(&[4])).contains("td"));
    let e = TimeDistributed::from_config(
        &serde_json::json!({"name": "td", "layer": {"class_name": "Nope", "config": {}}}),
    );
    assert!(e.unwrap_err().to_string().contains("td"));
    // Bidirectional.
    let e = Bidirectional::new(Dense::new(2)).unwrap_err().to_string();
    assert!(e.contains("layer") && e.contains("Dense"), "{e}");
    let lstm = serde_json::json!({"class_name": "LSTM", "config": {"name": "l", "units": 2}});
    for bad in [serde_json::Value::Null, serde_json::json!("max")] {
        let e =
            Bidirectional::from_config(&serde_json::json!({"name": "bi", "layer": lstm, "merge_mode": bad}));
        let e = e.unwrap_err().to_string();
        assert!(e.contains("bi") && e.contains("merge_mode"), "{e}");
    }
    let same_direction = serde_json::json!({"class_name": "LSTM", "config": {"name": "b", "units": 2}});
    let e = Bidirectional::from_config(
        &serde_json::json!({"name": "bi", "layer": lstm, "backward_layer": same_direction}),
    );
    assert!(e.unwrap_err().to_string().contains("go_backwards"));
    let bi = Bidirectional::new(LSTM::new(2)).unwrap().with_name("bi");
    assert!(msg(bi.output_shape(&[4])).contains("lstm") || msg(bi.output_shape(&[4])).contains("bi"));
}

#[test]
fn recurrent_dropout_rates_outside_zero_one_are_refused() {
    for class in ["SimpleRNN", "LSTM", "GRU"] {
        for field in ["dropout", "recurrent_dropout"] {
            for bad in [1.0, 1.5, -0.25] {
                let mut cfg = serde_json::json!({"name": "r", "units": 2});
                cfg[field] = serde_json::json!(bad);
                let e = neurite_nn::layer_from_config(class, &cfg)
                    .err()
                    .expect("refused")
                    .to_string();
                assert!(
                    e.contains("r") && e.contains(&format!("\"{field}\"")),
                    "{class}: {e}"
                );
            }
            let mut cfg = serde_json::json!({"name": "r", "units": 2});
            cfg[field] = serde_json::json!(0.25);
            let l = neurite_nn::layer_from_config(class, &cfg).unwrap();
            assert_eq!(
                l.config()[field],
                serde_json::json!(0.25),
                "a rate is kept in the config"
            );
            cfg[field] = serde_json::json!(0.0);
            let l = neurite_nn::layer_from_config(class, &cfg).unwrap();
            assert!(l.config().get(field).is_none(), "a zero rate is not written");
        }
    }
}
