//! Shared by the model-loading fuzz targets: a valid saved model whose files
//! the targets replace one at a time with fuzzed bytes, and the checks made on
//! whatever loads.

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

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!("neurite-fuzz-model-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let seed_dir = root.join("seed");
        let mut model = Sequential::new()
            .seed(1)
            .add(Dense::new(4).activation(Activation::Relu).input_dim(3))
            .add(Dropout::new(0.25))
            .add(Dense::new(2).activation(Activation::Softmax));
        model
            .compile(
                Adam::default(),
                Loss::SparseCategoricalCrossentropy { from_logits: false },
                &[Metric::Accuracy],
            )
            .unwrap();
        // One step, so that the optimizer state has slots.
        let x = ndarray::Array2::<f32>::ones((4, 3)).into_dyn();
        let y = ndarray::Array1::<f32>::from_vec(vec![0.0, 1.0, 0.0, 1.0]).into_dyn();
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
    let s = scratch();
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
