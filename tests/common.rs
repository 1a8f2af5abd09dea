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

/// A small classifier with dropout, compiled with Adam.
pub fn classifier(seed: u64) -> Sequential {
    let mut model = Sequential::new()
        .seed(seed)
        .add(Dense::new(16).activation(Activation::Relu).input_dim(2))
        .add(Dropout::new(0.1))
        .add(Dense::new(3).activation(Activation::Softmax));
    model
        .compile(
            Adam::new(0.01),
            Loss::SparseCategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
        )
        .unwrap();
    model
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
