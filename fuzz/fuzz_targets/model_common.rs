//! Shared by the model-loading fuzz targets: a valid saved model whose files
//! the targets replace one at a time with fuzzed bytes, and the checks made on
//! whatever loads.

// Each target includes this file and uses only part of it.
#![allow(dead_code)]

use neurite::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Which file of the checkpoint the fuzzer writes.
pub enum Fuzzed {
    Config,
    Weights,
    Optimizer,
}

struct Scratch {
    dir: PathBuf,
    resave: PathBuf,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// Which valid model the fuzzed file is put beside.
#[derive(Clone, Copy)]
pub enum SeedModel {
    /// Dense, Dropout, Dense (the config, weights and optimizer targets).
    Small,
    /// Every built-in layer class in one model (the `model_config_layers`
    /// target): Embedding, LSTM, GRU, SimpleRNN, LayerNormalization, Reshape,
    /// Conv2D, BatchNormalization, MaxPooling2D, AveragePooling2D,
    /// GlobalAveragePooling2D, Flatten, Activation, Dropout, GlobalMaxPooling2D,
    /// Dense.
    EveryLayer,
}

fn small_model() -> (Sequential, Tensor, Tensor) {
    let model = Sequential::new()
        .seed(1)
        .add(Dense::new(4).activation(Activation::Relu).input_dim(3))
        .add(Dropout::new(0.25))
        .add(Dense::new(2).activation(Activation::Softmax));
    let x = ndarray::Array2::<f32>::ones((4, 3)).into_dyn();
    let y = ndarray::Array1::<f32>::from_vec(vec![0.0, 1.0, 0.0, 1.0]).into_dyn();
    (model, x, y)
}

fn every_layer_model() -> (Sequential, Tensor, Tensor) {
    let model = Sequential::new()
        .seed(2)
        .add(Embedding::new(10, 4).input_shape([6]))
        .add(LSTM::new(3).return_sequences(true))
        .add(GRU::new(2).return_sequences(true))
        .add(SimpleRNN::new(2).return_sequences(true))
        .add(LayerNormalization::new())
        .add(Reshape::new([6i64, 2, 1]))
        .add(
            Conv2D::new(2, (3, 1))
                .padding(Padding::Same)
                .activation(Activation::Relu),
        )
        .add(BatchNormalization::new())
        .add(MaxPooling2D::new((2, 1)))
        .add(AveragePooling2D::new((1, 1)))
        .add(GlobalAveragePooling2D::new().keepdims(true))
        .add(Flatten::new())
        .add(ActivationLayer::new(Activation::Tanh))
        .add(Dropout::new(0.1))
        .add(Reshape::new([1i64, 1, 2]))
        .add(GlobalMaxPooling2D::new())
        .add(Dense::new(2).activation(Activation::Softmax));
    let x = ndarray::Array2::<f32>::from_shape_fn((4, 6), |(i, j)| ((i * 6 + j) % 10) as f32).into_dyn();
    let y = ndarray::Array1::<f32>::from_vec(vec![0.0, 1.0, 0.0, 1.0]).into_dyn();
    (model, x, y)
}

fn scratch(seed: SeedModel) -> &'static Scratch {
    static S: [OnceLock<Scratch>; 2] = [OnceLock::new(), OnceLock::new()];
    S[seed as usize].get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!(
            "neurite-fuzz-model-{}-{}",
            std::process::id(),
            seed as usize
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let seed_dir = root.join("seed");
        let (mut model, x, y) = match seed {
            SeedModel::Small => small_model(),
            SeedModel::EveryLayer => every_layer_model(),
        };
        model
            .compile(
                Adam::default(),
                Loss::SparseCategoricalCrossentropy { from_logits: false },
                &[Metric::Accuracy],
            )
            .unwrap();
        // One step, so that the optimizer state has slots.
        model.train_on_batch(x, &y).unwrap();
        model.save(&seed_dir).unwrap();
        let files = ["config.json", "model.safetensors", "optimizer.safetensors"]
            .into_iter()
            .map(|n| (n, std::fs::read(seed_dir.join(n)).unwrap()))
            .collect();
        Scratch {
            dir: root.join("ckpt"),
            resave: root.join("resave"),
            files,
        }
    })
}

/// Writes the checkpoint with `which` replaced by `data` (the config without
/// its manifest, so fuzzed weight files reach the parsers) and loads it: any
/// bytes must give Ok or Err, never a panic or abort; what loads must predict
/// or refuse cleanly, and save and load again to the same weights.
pub fn run(which: Fuzzed, data: &[u8]) {
    run_beside(SeedModel::Small, which, data)
}

/// [`run`] with the fuzzed file put beside the files of `seed`.
pub fn run_beside(seed: SeedModel, which: Fuzzed, data: &[u8]) {
    let s = scratch(seed);
    std::fs::create_dir_all(&s.dir).unwrap();
    for (name, bytes) in &s.files {
        let bytes: Vec<u8> = match (name, &which) {
            (&"config.json", Fuzzed::Config) => data.to_vec(),
            (&"model.safetensors", Fuzzed::Weights) => data.to_vec(),
            (&"optimizer.safetensors", Fuzzed::Optimizer) => data.to_vec(),
            (&"config.json", _) => {
                let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                v.as_object_mut().unwrap().remove("files");
                serde_json::to_vec(&v).unwrap()
            }
            _ => bytes.clone(),
        };
        std::fs::write(s.dir.join(name), bytes).unwrap();
    }
    let Ok(model) = Sequential::load(&s.dir) else {
        return;
    };
    if let Some(shape) = model.input_shape() {
        let n: usize = shape.iter().product();
        if n <= 1 << 16 {
            let mut full = vec![2];
            full.extend(shape);
            let x = ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&full));
            let _ = model.predict(&x);
        }
    }
    let _ = std::fs::remove_dir_all(&s.resave);
    model.save(&s.resave).unwrap();
    let again = Sequential::load(&s.resave).unwrap();
    let (a, b) = (model.get_weights(), again.get_weights());
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ta.iter().zip(tb.iter()).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}
