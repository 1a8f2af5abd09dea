//! Reading the Keras fixtures (`fixtures/keras_*.json`, written by the
//! scripts next to them) and comparing a neurite layer with what Keras
//! recorded: weight shapes, output shape, output, and the gradients of
//! `sum(output * proj)` with respect to the input and every weight.

use neurite_autograd::{Tensor, Var};
use neurite_nn::layer::ParameterShapes;
use neurite_nn::{ForwardContext, Layer};
use serde_json::{json, Value};

/// The `cases` of a fixture file's JSON text, checked to be `count` long.
pub fn cases(fixture_json: &str, count: usize) -> Vec<Value> {
    let fixture: Value = serde_json::from_str(fixture_json).unwrap();
    let cases = fixture["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), count);
    cases
}

/// A flat JSON list of numbers as a tensor of `shape`.
pub fn tensor(v: &Value, shape: &[usize]) -> Tensor {
    let data: Vec<f32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_shape_vec(ndarray::IxDyn(shape), data).unwrap()
}

/// The `shape` of a recorded array.
pub fn shape_of(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// Asserts equal shapes and `|got - want| / (1 + |want|) <= tol` everywhere.
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
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
/// neurite's snake-case form (`"glorot_uniform"`, orthogonal with its gain),
/// in this config and in every nested layer's (`layer`, `backward_layer`);
/// every other key is Keras' own.
pub fn neurite_config(mut cfg: Value) -> Value {
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

/// Checks the shapes before any weight exists: `parameter_shapes` lists
/// Keras' weight shapes (in Keras' order) and `output_shape` is Keras'
/// output shape. Returns the parameter shapes.
pub fn check_shapes(name: &str, layer: &dyn Layer, case: &Value) -> ParameterShapes {
    let in_shape = shape_of(&case["input"]);
    let out_shape = shape_of(&case["output"]);
    let specs = layer
        .parameter_shapes(&in_shape[1..])
        .unwrap()
        .unwrap_or_default();
    let keras_shapes: Vec<Vec<usize>> = case["weights"].as_array().unwrap().iter().map(shape_of).collect();
    let ours: Vec<Vec<usize>> = specs.iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(ours, keras_shapes, "{name}: weight shapes");
    assert_eq!(
        layer.output_shape(&in_shape[1..]).unwrap(),
        out_shape[1..].to_vec(),
        "{name}"
    );
    specs
}

/// Runs a training pass of `layer` (holding Keras' weights as `weights`, in
/// Keras' order) on the case's input and compares the output (1e-5) and the
/// gradients of `sum(output * proj)` with respect to the input and each
/// weight (1e-4) with Keras'.
pub fn check_against_keras(name: &str, layer: &dyn Layer, case: &Value, weights: &[Var]) {
    let in_shape = shape_of(&case["input"]);
    let out_shape = shape_of(&case["output"]);
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
    let grads = case["grad_weights"].as_array().unwrap();
    assert_eq!(grads.len(), weights.len(), "{name}: weight count");
    for (k, (w, g)) in weights.iter().zip(grads).enumerate() {
        assert_close(
            &format!("{name} weight {k} gradient"),
            &w.grad().unwrap(),
            &tensor(g, &w.shape()),
            1e-4,
        );
    }
}
