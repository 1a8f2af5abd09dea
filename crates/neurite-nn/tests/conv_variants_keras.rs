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

mod common;

use common::keras_fixture::{cases, check_against_keras, check_shapes, neurite_config, shape_of, tensor};
use neurite_autograd::Var;
use neurite_nn::layers::{Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D};
use neurite_nn::{layer_from_config, Layer};
use serde_json::Value;

/// Installs Keras' weights (in `get_weights()` order) into a layer rebuilt
/// from its config; returns them as the parameters the gradients flow into.
fn install(class: &str, layer: &mut Box<dyn Layer>, cfg: &Value, weights: Vec<Var>) -> Vec<Var> {
    let w = |i: usize| weights[i].clone();
    let bias = |i: usize| weights.get(i).cloned();
    let typed: Box<dyn Layer> = match class {
        "Conv2DTranspose" => {
            let mut l = Conv2DTranspose::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weight_vars(w(0), bias(1)).unwrap();
            Box::new(l)
        }
        "DepthwiseConv2D" => {
            let mut l = DepthwiseConv2D::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weight_vars(w(0), bias(1)).unwrap();
            Box::new(l)
        }
        "SeparableConv2D" => {
            let mut l = SeparableConv2D::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weight_vars(w(0), w(1), bias(2)).unwrap();
            Box::new(l)
        }
        "Conv2D" => {
            let mut l = Conv2D::from_config(serde_json::from_value(cfg.clone()).unwrap());
            l.set_weight_vars(w(0), bias(1)).unwrap();
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
    let mut seen = std::collections::BTreeMap::new();
    for case in cases(include_str!("fixtures/keras_conv_variants.json"), 62) {
        let class = case["class_name"].as_str().unwrap();
        let cfg = neurite_config(case["config"].clone());
        let name = cfg["name"].as_str().unwrap().to_string();
        let mut layer = layer_from_config(class, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Shapes first: parameter_shapes must list Keras' weights, output_shape Keras' output.
        check_shapes(&name, layer.as_ref(), &case);
        let weights: Vec<Var> = case["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| Var::parameter(tensor(&w["data"], &shape_of(w))))
            .collect();
        let weights = install(class, &mut layer, &cfg, weights);
        check_against_keras(&name, layer.as_ref(), &case, &weights);
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
