//! The merge and CNN layers of issue #16 against Keras 3 itself: outputs and
//! input gradients recorded by `fixtures/keras_merge_cnn.py` (Keras 3.15.1,
//! JAX backend; the script is next to its JSON). Each layer is rebuilt from
//! the config Keras wrote (`get_config()`), through `layer_from_config`, so
//! the configs' keys and defaults are checked too. The subtle cases are
//! there: bilinear upsampling (half-pixel centers, clamped borders, 1-pixel
//! images), `Dot(normalize=True)` including an all-zero lane (Keras' norm
//! floor), `Dot` with pairs of axes and rank 2/4 inputs, Keras' broadcasting
//! of merge inputs of different ranks, `ReLU` with all three parameters and
//! `PReLU` with shared axes.

use neurite_autograd::{Tensor, Var};
use neurite_nn::{layer_from_config, ForwardContext};
use serde_json::Value;

fn tensor(v: &Value, shape: &[usize]) -> Tensor {
    // null: Keras gave NaN (JSON has none).
    let data: Vec<f32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().map_or(f32::NAN, |f| f as f32))
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

/// Every element within `tol` (relative to `1 + |want|`); where Keras gave
/// NaN, neurite's value must be finite. Returns how many NaNs Keras gave.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) -> usize {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let mut nans = 0;
    let mut worst = 0.0f32;
    for (a, b) in got.iter().zip(want) {
        if b.is_nan() {
            assert!(a.is_finite(), "{what}: {a} where Keras has NaN");
            nans += 1;
        } else {
            worst = worst.max((a - b).abs() / (1.0 + b.abs()));
        }
    }
    assert!(
        worst <= tol,
        "{what}: largest relative difference {worst} > {tol}\n got {got}\nwant {want}"
    );
    nans
}

/// Keras' serialized initializer `{"class_name": "Constant", "config": {"value": v}}`
/// in neurite's form `{"constant": {"value": v}}` (the one config key whose
/// format differs).
fn neurite_config(class: &str, mut cfg: Value) -> Value {
    if class == "PReLU" {
        let init = &cfg["alpha_initializer"];
        assert_eq!(init["class_name"], "Constant");
        let value = init["config"]["value"].clone();
        cfg["alpha_initializer"] = serde_json::json!({"constant": {"value": value}});
    }
    cfg
}

#[test]
fn layers_match_keras() {
    let text = include_str!("fixtures/keras_merge_cnn.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 26);
    let mut keras_nans = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let class = case["class_name"].as_str().unwrap();
        let cfg = neurite_config(class, case["config"].clone());
        let mut layer = layer_from_config(class, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shapes: Vec<Vec<usize>> = case["inputs"].as_array().unwrap().iter().map(shape_of).collect();
        let xs: Vec<Var> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&shapes)
            .map(|(i, s)| Var::parameter(tensor(&i["data"], s)))
            .collect();
        let samples: Vec<Vec<usize>> = shapes.iter().map(|s| s[1..].to_vec()).collect();
        layer
            .build_multi(&samples, &mut neurite_tensor::random::rng_from_seed(0))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let out_shape = shape_of(&case["output"]);
        assert_eq!(
            layer.output_shape_multi(&samples).unwrap(),
            out_shape[1..].to_vec(),
            "{name}"
        );
        let y = layer
            .forward_multi(&xs, &mut ForwardContext::training(0))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = tensor(&case["output"]["data"], &out_shape);
        assert_close(&format!("{name} output"), &y.to_tensor(), &want, 2e-6);
        y.backward_with(tensor(&case["proj"], &out_shape)).unwrap();
        for (k, (x, g)) in xs.iter().zip(case["grads"].as_array().unwrap()).enumerate() {
            let want = tensor(g, &shapes[k]);
            let nans = assert_close(
                &format!("{name} gradient of input {k}"),
                &x.grad().unwrap(),
                &want,
                2e-5,
            );
            if nans > 0 {
                keras_nans.push((name.to_string(), k, nans));
            }
        }
    }
    // Keras/JAX's only NaNs: the all-zero lane (4 elements) of the first
    // input of Dot(normalize=True), where neurite's gradient is g / 1e-7.
    assert_eq!(keras_nans, vec![("dot_normalize_zero_lane".to_string(), 0, 4)]);
}
