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

mod common;

use common::keras_fixture::{cases, check_against_keras, check_shapes, neurite_config, shape_of, tensor};
use neurite_autograd::Var;
use neurite_nn::layer_from_config;
use neurite_tensor::random::rng_from_seed;
use serde_json::Value;

#[test]
fn layers_match_keras() {
    let mut seen = std::collections::BTreeMap::new();
    for case in cases(include_str!("fixtures/keras_seq_layers.json"), 95) {
        let class = case["class_name"].as_str().unwrap();
        let cfg = neurite_config(case["config"].clone());
        let name = cfg["name"].as_str().unwrap().to_string();
        let mut layer = layer_from_config(class, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let in_shape = shape_of(&case["input"]);
        let specs = check_shapes(&name, layer.as_ref(), &case);
        layer.build(&in_shape[1..], &mut rng_from_seed(0)).unwrap();
        let params = layer.parameters();
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let spec_names: Vec<&str> = specs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, spec_names, "{name}: parameter names");
        for (p, w) in params.iter().zip(case["weights"].as_array().unwrap()) {
            p.var.set_value(tensor(&w["data"], &shape_of(w)));
        }
        let weights: Vec<Var> = params.iter().map(|p| p.var.clone()).collect();
        check_against_keras(&name, layer.as_ref(), &case, &weights);
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
