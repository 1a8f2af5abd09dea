//! Conv1D, MaxPooling1D, AveragePooling1D, GlobalMax/AveragePooling1D,
//! TimeDistributed and Bidirectional (SimpleRNN, LSTM, GRU) against Keras 3
//! itself: outputs and the gradients of `sum(output * proj)` with respect to
//! the input and every weight, recorded by `fixtures/keras_seq_layers.py`
//! (Keras 3.15.1, JAX backend; the script is next to its JSON). Each layer is
//! rebuilt from the config Keras wrote (`get_config()`, nested layers
//! included) through `layer_from_config`, built, and given Keras' weights in
//! `parameters()` order, so config keys, defaults, weight names/order/layouts
//! and output sizes (every padding × stride × dilation in the script, every
//! merge mode, `return_sequences` both ways, GRU with `reset_after=false`
//! alone and inside Bidirectional) are all checked.

use neurite_autograd::{Tensor, Var};
use neurite_nn::{layer_from_config, ForwardContext};
use neurite_tensor::random::rng_from_seed;
use serde_json::{json, Value};

fn tensor(v: &Value, shape: &[usize]) -> Tensor {
    let data: Vec<f32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_shape_vec(ndarray::IxDyn(shape), data).unwrap()
}

fn shape_of(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tol,
        "{what}: largest relative difference {worst} > {tol}"
    );
}

/// Keras' serialized initializers (`{"class_name": "GlorotUniform", ...}`) in
/// neurite's snake-case form, in this config and in every nested layer's.
fn neurite_config(mut cfg: Value) -> Value {
    for (key, v) in cfg.as_object_mut().unwrap() {
        if key.ends_with("_initializer") {
            let class = v["class_name"].as_str().unwrap().to_string();
            let mut snake = String::new();
            for (i, ch) in class.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(ch.to_ascii_lowercase());
            }
            *v = if snake == "orthogonal" {
                json!({"orthogonal": {"gain": v["config"]["gain"]}})
            } else {
                Value::String(snake)
            };
        } else if (key == "layer" || key == "backward_layer") && v.is_object() {
            let inner = neurite_config(v["config"].clone());
            v["config"] = inner;
        }
    }
    cfg
}

#[test]
fn layers_match_keras() {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/keras_seq_layers.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 95);
    let mut seen = std::collections::BTreeMap::new();
    for case in cases {
        let class = case["class_name"].as_str().unwrap();
        let cfg = neurite_config(case["config"].clone());
        let name = cfg["name"].as_str().unwrap().to_string();
        let mut layer = layer_from_config(class, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let in_shape = shape_of(&case["input"]);
        let out_shape = shape_of(&case["output"]);
        let keras_shapes: Vec<Vec<usize>> =
            case["weights"].as_array().unwrap().iter().map(shape_of).collect();
        let specs = layer.parameter_shapes(&in_shape[1..]).unwrap().unwrap();
        let ours: Vec<Vec<usize>> = specs.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(ours, keras_shapes, "{name}: weight shapes");
        assert_eq!(
            layer.output_shape(&in_shape[1..]).unwrap(),
            out_shape[1..].to_vec(),
            "{name}"
        );
        layer.build(&in_shape[1..], &mut rng_from_seed(0)).unwrap();
        let params = layer.parameters();
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let spec_names: Vec<&str> = specs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, spec_names, "{name}: parameter names");
        for (p, w) in params.iter().zip(case["weights"].as_array().unwrap()) {
            p.var.set_value(tensor(&w["data"], &shape_of(w)));
        }
        let x = Var::parameter(tensor(&case["input"]["data"], &in_shape));
        let y = layer
            .forward(&x, &mut ForwardContext::training(0))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_close(
            &format!("{name} output"),
            &y.to_tensor(),
            &tensor(&case["output"]["data"], &out_shape),
            1e-5,
        );
        y.backward_with(tensor(&case["proj"], &out_shape)).unwrap();
        assert_close(
            &format!("{name} input gradient"),
            &x.grad().unwrap(),
            &tensor(&case["grad_input"], &in_shape),
            1e-4,
        );
        for (i, (p, g)) in params
            .iter()
            .zip(case["grad_weights"].as_array().unwrap())
            .enumerate()
        {
            let want = tensor(g, &keras_shapes[i]);
            assert_close(
                &format!("{name} weight {i} gradient"),
                &p.var.grad().unwrap(),
                &want,
                1e-4,
            );
        }
        // The config neurite writes rebuilds the same layer.
        let again = layer_from_config(class, &layer.config()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again.config(), layer.config(), "{name}: config round trip");
        *seen.entry(class.to_string()).or_insert(0) += 1;
    }
    let classes: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(
        classes,
        [
            "AveragePooling1D",
            "Bidirectional",
            "Conv1D",
            "GRU",
            "GlobalAveragePooling1D",
            "GlobalMaxPooling1D",
            "MaxPooling1D",
            "TimeDistributed"
        ]
    );
}

#[test]
fn bidirectional_names_follow_keras() {
    let case = serde_json::from_str::<Value>(include_str!("fixtures/keras_seq_layers.json")).unwrap()
        ["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class_name"] == "Bidirectional")
        .unwrap()
        .clone();
    let cfg = neurite_config(case["config"].clone());
    let mut layer = layer_from_config("Bidirectional", &cfg).unwrap();
    layer
        .build(&shape_of(&case["input"])[1..], &mut rng_from_seed(0))
        .unwrap();
    let bi = cfg["name"].as_str().unwrap();
    let inner = cfg["layer"]["config"]["name"]
        .as_str()
        .unwrap()
        .trim_start_matches("forward_");
    let names: Vec<String> = layer.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names[0], format!("{bi}/forward_{inner}.kernel"));
    assert_eq!(names[names.len() / 2], format!("{bi}/backward_{inner}.kernel"));
    // Keras' config names the layers forward_/backward_ once, not twice after a round trip.
    assert_eq!(
        layer.config()["layer"]["config"]["name"],
        cfg["layer"]["config"]["name"]
    );
    assert_eq!(layer.config()["backward_layer"]["config"]["go_backwards"], true);
}
