//! Models, data and comparisons shared by the data-parallel tests
//! (tests/distributed.rs without MPI, tests/distributed_mpi.rs with it).
#![allow(dead_code)]

use ndarray::{Array1, Array2};
use neurite::prelude::*;

/// `n` samples of 4 features in 3 classes (by the sign pattern of two sums).
pub fn data(n: usize) -> (Tensor, Tensor) {
    let x = Array2::<f32>::from_shape_fn((n, 4), |(i, j)| ((((i * 37 + j * 101) % 97) as f32) / 48.5) - 1.0);
    let y = Array1::<f32>::from_shape_fn(n, |i| {
        let (a, b) = (x[[i, 0]] + x[[i, 1]], x[[i, 2]] - x[[i, 3]]);
        if a > 0.0 {
            0.0
        } else if b > 0.0 {
            1.0
        } else {
            2.0
        }
    });
    (x.into_dyn(), y.into_dyn())
}

fn compiled(model: Sequential) -> Sequential {
    let mut model = model;
    model
        .compile(
            Adam::new(0.01),
            Loss::SparseCategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

/// Dense layers with Adam: data-parallel training follows single-process training.
pub fn dense_adam(seed: u64) -> Sequential {
    compiled(
        Sequential::new()
            .seed(seed)
            .add(Dense::new(16).activation(Activation::Relu).input_dim(4))
            .add(Dense::new(3).activation(Activation::Softmax)),
    )
}

/// Adam + Dropout + BatchNormalization: each rank normalizes its shard with
/// its own batch statistics and draws its own dropout masks.
pub fn bn_dropout_adam(seed: u64) -> Sequential {
    compiled(
        Sequential::new()
            .seed(seed)
            .add(Dense::new(16).input_dim(4))
            .add(BatchNormalization::new())
            .add(ReLU::new())
            .add(Dropout::new(0.2))
            .add(Dense::new(3).activation(Activation::Softmax)),
    )
}

/// A weight as `get_weights` lists it (a tensor, or a named tensor).
pub trait WeightTensor {
    fn tensor(&self) -> &Tensor;
}

impl WeightTensor for Tensor {
    fn tensor(&self) -> &Tensor {
        self
    }
}

impl WeightTensor for (String, Tensor) {
    fn tensor(&self) -> &Tensor {
        &self.1
    }
}

/// Every weight of the model, flattened in order.
pub fn flat(model: &Sequential) -> Vec<f32> {
    model
        .get_weights()
        .iter()
        .flat_map(|t| t.iter().copied())
        .collect()
}

/// The largest difference between `a` and `b`, relative to the largest magnitude in `b`.
pub fn relative_difference(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "different numbers of weights");
    let scale = b.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64)).max(1e-12);
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
    diff / scale
}

/// Bit patterns, to compare ranks exactly (NaN-safe).
pub fn bits(w: &[f32]) -> Vec<u32> {
    w.iter().map(|v| v.to_bits()).collect()
}

/// `n` token sequences of length 6 (ids 1..10, then zero padding of 0 to 5
/// steps, so that shards hold different numbers of valid steps) with a
/// label per step (the id's parity).
pub fn padded_sequences(n: usize) -> (Tensor, Tensor) {
    let x = Array2::<f32>::from_shape_fn((n, 6), |(i, t)| {
        let len = 1 + (i * 7) % 6;
        if t < len {
            (1 + (i * 3 + t * 5) % 9) as f32
        } else {
            0.0
        }
    });
    let y = x.mapv(|id| (id as usize % 2) as f32);
    (x.into_dyn(), y.into_dyn())
}

/// Embedding(mask_zero) -> LSTM(return_sequences) -> Dense per step: a
/// masked output whose loss is the mean over the valid steps.
pub fn masked_sequence_model(seed: u64) -> Sequential {
    compiled(
        Sequential::new()
            .seed(seed)
            .add(Embedding::new(10, 4).mask_zero(true).input_shape([6]))
            .add(LSTM::new(5).return_sequences(true))
            .add(Dense::new(2).activation(Activation::Softmax)),
    )
}
