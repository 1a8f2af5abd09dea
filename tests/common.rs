//! Shared helpers of the umbrella's integration tests (included with `mod common;`).
#![allow(dead_code)]

use ndarray::{Array1, Array2};
use neurite::prelude::*;

/// Two Gaussian-free, linearly separable classes in 2-d: y = 1 when x0 + x1 > 1.
pub fn separable(n: usize) -> (Tensor, Tensor) {
    let x = Array2::<f32>::from_shape_fn((n, 2), |(i, j)| (((i * 37 + j * 101) % 97) as f32) / 97.0);
    let y = Array1::<f32>::from_shape_fn(n, |i| if x[[i, 0]] + x[[i, 1]] > 1.0 { 1.0 } else { 0.0 });
    (x.into_dyn(), y.into_dyn())
}

/// Three classes in 2-d, by angle sector: sparse labels 0, 1, 2.
pub fn three_classes(n: usize) -> (Tensor, Tensor) {
    let x = Array2::<f32>::from_shape_fn((n, 2), |(i, j)| {
        let t = i as f32 * 0.618_034 * std::f32::consts::TAU;
        let r = 0.5 + ((i * 13) % 7) as f32 / 14.0;
        if j == 0 {
            r * t.cos()
        } else {
            r * t.sin()
        }
    });
    let y = Array1::<f32>::from_shape_fn(n, |i| {
        let a = x[[i, 1]].atan2(x[[i, 0]]) + std::f32::consts::PI;
        ((a / std::f32::consts::TAU * 3.0) as usize).min(2) as f32
    });
    (x.into_dyn(), y.into_dyn())
}

/// `model` compiled with Adam(0.01), sparse categorical cross-entropy and accuracy.
pub fn compiled_adam<N: Layer>(mut model: Model<N>) -> Model<N> {
    model
        .compile(
            Adam::new(0.01),
            Loss::sparse_categorical_crossentropy(),
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

/// A small classifier with dropout, compiled with Adam.
pub fn classifier(seed: u64) -> Sequential {
    compiled_adam(
        Sequential::new()
            .seed(seed)
            .add(Dense::new(16).activation(Activation::Relu).input_dim(2))
            .add(Dropout::new(0.1))
            .add(Dense::new(3).activation(Activation::Softmax)),
    )
}

/// Every file under `dir` (relative path -> bytes), hidden ones included.
pub fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), b"<dir>".to_vec());
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// A tensor of a Keras fixture: `{"shape": [...], "data": [...]}` (the JSON
/// written by the `tests/fixtures/keras_*.py` scripts).
pub fn fixture_tensor(v: &serde_json::Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("a fixture tensor has a shape")
        .iter()
        .map(|d| d.as_u64().expect("an axis length") as usize)
        .collect();
    let data: Vec<f32> = v["data"]
        .as_array()
        .expect("a fixture tensor has data")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect();
    Tensor::from_shape_vec(ndarray::IxDyn(&shape), data).expect("data fits the shape")
}

/// The case named `name` of a fixture's `"cases"` list (`fixture` is the JSON text).
pub fn fixture_case(fixture: &str, name: &str) -> serde_json::Value {
    let fixture: serde_json::Value = serde_json::from_str(fixture).expect("the fixture is JSON");
    fixture["cases"]
        .as_array()
        .expect("the fixture has a cases list")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone()
}

/// The largest `|got - want| / (1 + |want|)` (the shapes must be equal).
pub fn worst_relative(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0f32, f32::max)
}

/// Asserts equal shapes and `|got - want| / (1 + |want|) <= tol` everywhere.
pub fn assert_close_relative(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let worst = worst_relative(got, want);
    assert!(
        worst <= tol,
        "{what}: largest relative difference {worst} > {tol}"
    );
}

/// Keras' weights (in `model.weights` order, neurite's parameter order too) set on `model`.
pub fn set_keras_weights<N: Layer>(model: &mut Model<N>, weights: &serde_json::Value) {
    let names: Vec<String> = model.parameters().into_iter().map(|p| p.name).collect();
    let ws = weights.as_array().expect("a list of weights");
    assert_eq!(names.len(), ws.len(), "{names:?}");
    let pairs: Vec<(String, Tensor)> = names.into_iter().zip(ws.iter().map(fixture_tensor)).collect();
    model
        .set_weights_by_name(&pairs)
        .expect("Keras' weights fit the model");
}
