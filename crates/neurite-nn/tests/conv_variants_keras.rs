//! Conv2DTranspose, DepthwiseConv2D, SeparableConv2D (and Conv2D without
//! bias, MaxPooling2D/AveragePooling2D with `same` padding) against Keras 3
//! itself: outputs and the gradients of `sum(output * proj)` with respect to
//! the input and every weight, recorded by `fixtures/keras_conv_variants.py`
//! (Keras 3.15.1, JAX backend; the script is next to its JSON). Each layer is
//! rebuilt from the config Keras wrote (`get_config()`) through
//! `layer_from_config` and given Keras' weights in Keras' layouts, so the
//! config keys, defaults, weight layouts and output sizes (every padding ×
//! stride × dilation × output_padding × depth_multiplier in the script) are
//! all checked.

use neurite_autograd::{Tensor, Var};
use neurite_nn::layers::{Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D};
use neurite_nn::{layer_from_config, ForwardContext, Layer};
use serde_json::Value;

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
/// neurite's snake-case form (`"glorot_uniform"`); every other key is Keras' own.
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
            *v = Value::String(snake);
        }
    }
    cfg
}

/// Installs Keras' weights (in `get_weights()` order) into a layer rebuilt
/// from its config; returns them as the parameters the gradients flow into.
fn install(class: &str, layer: &mut Box<dyn Layer>, cfg: &Value, weights: Vec<Var>) -> Vec<Var> {
    let w = |i: usize| weights[i].clone();
    let bias = |i: usize| weights.get(i).cloned();
    let typed: Box<dyn Layer> = match class {
        "Conv2DTranspose" => {
            let mut l = Conv2DTranspose::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weights(w(0), bias(1)).unwrap();
            Box::new(l)
        }
        "DepthwiseConv2D" => {
            let mut l = DepthwiseConv2D::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weights(w(0), bias(1)).unwrap();
            Box::new(l)
        }
        "SeparableConv2D" => {
            let mut l = SeparableConv2D::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weights(w(0), w(1), bias(2)).unwrap();
            Box::new(l)
        }
        "Conv2D" => {
            let mut l = Conv2D::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weights(w(0), bias(1)).unwrap();
            Box::new(l)
        }
        _ => {
            assert!(weights.is_empty());
            return weights;
        }
    };
    // The registry's layer and the typed one agree on the config.
    assert_eq!(typed.config(), layer.config(), "{class}");
    *layer = typed;
    weights
}

#[test]
fn layers_match_keras() {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/keras_conv_variants.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 62);
    let mut seen = std::collections::BTreeMap::new();
    for case in cases {
        let class = case["class_name"].as_str().unwrap();
        let cfg = neurite_config(case["config"].clone());
        let name = cfg["name"].as_str().unwrap().to_string();
        let mut layer = layer_from_config(class, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let in_shape = shape_of(&case["input"]);
        let out_shape = shape_of(&case["output"]);
        // Shapes first: parameter_shapes must list Keras' weights, output_shape Keras' output.
        let specs = layer
            .parameter_shapes(&in_shape[1..])
            .unwrap()
            .unwrap_or_default();
        let keras_shapes: Vec<Vec<usize>> =
            case["weights"].as_array().unwrap().iter().map(shape_of).collect();
        let ours: Vec<Vec<usize>> = specs.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(ours, keras_shapes, "{name}: weight shapes");
        assert_eq!(
            layer.output_shape(&in_shape[1..]).unwrap(),
            out_shape[1..].to_vec(),
            "{name}"
        );
        let weights: Vec<Var> = case["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| Var::parameter(tensor(&w["data"], &shape_of(w))))
            .collect();
        let weights = install(class, &mut layer, &cfg, weights);
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
        for (k, (w, g)) in weights
            .iter()
            .zip(case["grad_weights"].as_array().unwrap())
            .enumerate()
        {
            assert_close(
                &format!("{name} weight {k} gradient"),
                &w.grad().unwrap(),
                &tensor(g, &w.shape()),
                1e-4,
            );
        }
        *seen.entry(class.to_string()).or_insert(0) += 1;
    }
    let counts: Vec<(String, i32)> = seen.into_iter().collect();
    let want = [
        ("AveragePooling2D", 2),
        ("Conv2D", 2),
        ("Conv2DTranspose", 24),
        ("DepthwiseConv2D", 16),
        ("MaxPooling2D", 2),
        ("SeparableConv2D", 16),
    ];
    assert_eq!(counts, want.map(|(c, n)| (c.to_string(), n)).to_vec());
}
