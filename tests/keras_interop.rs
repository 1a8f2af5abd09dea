//! Keras 3 `.keras` / `.weights.h5` import and export.
//!
//! The fixtures in `tests/fixtures/keras/` were written by Keras 3.15.1
//! (TensorFlow backend) with `benches/reference/keras_interop.py`: each
//! model's `.keras` file, its inputs and Keras' predictions. Import must
//! predict what Keras predicted (to 1e-5); export must give a file that
//! imports back to the same predictions (Keras itself loading neurite's
//! exports is checked by `benches/reference/keras_interop_check.py`, which
//! CI cannot run). Set `NEURITE_KERAS_EXPORT_DIR` to write the exports and
//! neurite's predictions there for that script.

use neurite::interop::keras::{self, KerasModel};
use neurite::prelude::*;
use neurite::{Arrays, LayerStack};
use std::path::{Path, PathBuf};

mod common;

const TOL: f32 = 1e-5;
const MODELS: &[&str] = &[
    "mlp",
    "cnn",
    "rnn",
    "seq1d",
    "residual",
    "two_inputs",
    "attention",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras")
        .join(name)
}

fn inputs(name: &str) -> Vec<Tensor> {
    (0..)
        .map(|i| fixture(&format!("{name}.input{i}.npy")))
        .take_while(|p| p.exists())
        .map(|p| neurite::data::npy::read(p).unwrap())
        .collect()
}

fn predict(model: &KerasModel, xs: &[Tensor]) -> Tensor {
    let refs: Vec<&Tensor> = xs.iter().collect();
    let arrays: Arrays = if refs.len() == 1 {
        refs[0].into()
    } else {
        refs.into()
    };
    model.predict(arrays).unwrap()
}

/// Every parameter's name and value.
fn values(m: &Sequential) -> Vec<(String, Tensor)> {
    m.parameters()
        .iter()
        .map(|p| (p.name.clone(), p.var.value().to_owned()))
        .collect()
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    common::assert_close_relative(what, got, want, TOL);
}

#[test]
fn every_fixture_predicts_what_keras_predicted() {
    for name in MODELS {
        let model =
            keras::load_model(fixture(&format!("{name}.keras"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = neurite::data::npy::read(fixture(&format!("{name}.output.npy"))).unwrap();
        assert_close(name, &predict(&model, &inputs(name)), &want);
    }
}

#[test]
fn sequential_and_functional_kinds_and_compile_settings_are_kept() {
    let mlp = keras::load_model(fixture("mlp.keras")).unwrap();
    let KerasModel::Sequential(m) = &mlp else {
        panic!("mlp is a Sequential")
    };
    let compiled = m.config_json()["compile"].clone();
    assert_eq!(compiled["loss"]["name"], "sparse_categorical_crossentropy");
    assert!(compiled["optimizer"]["name"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("adam"));
    assert!((compiled["optimizer"]["learning_rate"].as_f64().unwrap() - 0.002).abs() < 1e-7);
    assert_eq!(compiled["metrics"], serde_json::json!(["Accuracy"]));
    let residual = keras::load_model(fixture("residual.keras")).unwrap();
    assert!(matches!(residual, KerasModel::Functional(_)));
    assert!(residual.summary().contains("stem_bn"));
}

#[test]
fn keras_weights_h5_loads_into_the_same_architecture() {
    let KerasModel::Sequential(reference) = keras::load_model(fixture("mlp.keras")).unwrap() else {
        panic!("mlp is a Sequential")
    };
    // The same architecture from its neurite config, with fresh weights.
    let mut stack = LayerStack::new();
    for layer in reference.config_json()["config"]["layers"].as_array().unwrap() {
        stack.push(
            neurite::nn::layer_from_config(layer["class_name"].as_str().unwrap(), &layer["config"]).unwrap(),
        );
    }
    let mut fresh = Sequential::from_network(stack);
    fresh.build(&[8]).unwrap();
    let x = &inputs("mlp")[0];
    assert!(fresh.predict(x).unwrap() != reference.predict(x).unwrap());
    fresh.load_keras_weights(fixture("mlp.weights.h5")).unwrap();
    let want = neurite::data::npy::read(fixture("mlp.output.npy")).unwrap();
    assert_close("mlp from .weights.h5", &fresh.predict(x).unwrap(), &want);
}

#[test]
fn exports_import_back_to_the_same_predictions() {
    let out_dir = std::env::var_os("NEURITE_KERAS_EXPORT_DIR").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    for name in MODELS {
        let model = keras::load_model(fixture(&format!("{name}.keras"))).unwrap();
        let xs = inputs(name);
        let before = predict(&model, &xs);
        let dir = out_dir.as_deref().unwrap_or(tmp.path());
        let path = dir.join(format!("{name}.keras"));
        model.save_keras(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let weights = dir.join(format!("{name}.weights.h5"));
        model
            .save_keras_weights(&weights)
            .unwrap_or_else(|e| panic!("{name} weights: {e}"));
        let mut again = keras::load_model(&path).unwrap_or_else(|e| panic!("{name} again: {e}"));
        assert_eq!(predict(&again, &xs), before, "{name}: round trip");
        again
            .load_keras_weights(&weights)
            .unwrap_or_else(|e| panic!("{name} weights again: {e}"));
        assert_eq!(predict(&again, &xs), before, "{name}: weights file round trip");
        if out_dir.is_some() {
            for (i, x) in xs.iter().enumerate() {
                neurite::data::npy::write(dir.join(format!("{name}.input{i}.npy")), x).unwrap();
            }
            neurite::data::npy::write(dir.join(format!("{name}.neurite.npy")), &before).unwrap();
        }
    }
}

#[test]
fn neurite_made_models_round_trip_with_weights_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut model = Sequential::new()
        .seed(3)
        .add(
            Conv2D::new(3, (3, 3))
                .activation(Activation::Relu)
                .input_shape([6, 6, 2]),
        )
        .add(BatchNormalization::new())
        .add(Flatten::new())
        .add(Dense::new(2));
    model
        .compile(Sgd::new(0.1), Loss::MeanSquaredError, &[Metric::Mae])
        .unwrap();
    model.build(&[6, 6, 2]).unwrap();
    let x = ndarray::Array4::<f32>::from_shape_fn((2, 6, 6, 2), |(a, b, c, d)| {
        (a + 2 * b + 3 * c + d) as f32 / 10.0
    })
    .into_dyn();
    let path = tmp.path().join("m.keras");
    model.save_keras(&path).unwrap();
    let again = keras::load_model(&path).unwrap();
    assert_eq!(again.predict(&x).unwrap(), model.predict(&x).unwrap());
    let KerasModel::Sequential(m) = again else {
        panic!("a Sequential")
    };
    assert_eq!(m.config_json()["compile"]["loss"]["name"], "mean_squared_error");
    let wpath = tmp.path().join("m.weights.h5");
    model.save_keras_weights(&wpath).unwrap();
    let mut other = Sequential::new()
        .seed(4)
        .add(
            Conv2D::new(3, (3, 3))
                .activation(Activation::Relu)
                .input_shape([6, 6, 2]),
        )
        .add(BatchNormalization::new())
        .add(Flatten::new())
        .add(Dense::new(2));
    other.build(&[6, 6, 2]).unwrap();
    other.load_keras_weights(&wpath).unwrap();
    assert_eq!(other.predict(&x).unwrap(), model.predict(&x).unwrap());
}

/// The fixture `.keras` file with `config.json` edited by `edit`.
fn with_config(name: &str, mut edit: impl FnMut(&mut serde_json::Value)) -> Vec<u8> {
    use std::io::{Read, Write};
    let bytes = std::fs::read(fixture(&format!("{name}.keras"))).unwrap();
    let mut zin = zip_reader(&bytes);
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zout = zip::ZipWriter::new(&mut out);
        for i in 0..zin.len() {
            let mut f = zin.by_index(i).unwrap();
            let fname = f.name().to_string();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            if fname == "config.json" {
                let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
                edit(&mut v);
                data = serde_json::to_vec(&v).unwrap();
            }
            zout.start_file(fname, zip::write::SimpleFileOptions::default())
                .unwrap();
            zout.write_all(&data).unwrap();
        }
        zout.finish().unwrap();
    }
    out.into_inner()
}

fn zip_reader(bytes: &[u8]) -> zip::ZipArchive<std::io::Cursor<&[u8]>> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap()
}

fn load_err(bytes: &[u8]) -> String {
    keras::load_model_from_bytes(bytes, Path::new("bad.keras"))
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_class_is_refused_naming_the_class_and_what_neurite_has() {
    let bytes = with_config("mlp", |c| {
        c["config"]["layers"][1]["class_name"] = "GaussianNoise".into()
    });
    let e = load_err(&bytes);
    assert!(
        e.contains("bad.keras") && e.contains("GaussianNoise") && e.contains("Conv2D"),
        "{e}"
    );
}

#[test]
fn custom_object_is_refused() {
    let bytes = with_config("mlp", |c| {
        c["config"]["layers"][1]["registered_name"] = "my_package>MyDense".into()
    });
    let e = load_err(&bytes);
    assert!(
        e.contains("custom object") && e.contains("my_package>MyDense"),
        "{e}"
    );
    let bytes = with_config("mlp", |c| {
        c["config"]["layers"][1]["config"]["kernel_initializer"]["registered_name"] = "pkg>Init".into()
    });
    let e = load_err(&bytes);
    assert!(e.contains("kernel_initializer") && e.contains("pkg>Init"), "{e}");
}

#[test]
fn wrong_shape_or_missing_weight_names_the_layer_and_weight() {
    let bytes = with_config("mlp", |c| c["config"]["layers"][1]["config"]["units"] = 17.into());
    let e = load_err(&bytes);
    assert!(
        e.contains("model.weights.h5")
            && e.contains("dense_0.kernel")
            && e.contains("[8, 17]")
            && e.contains("[8, 16]"),
        "{e}"
    );
    let bytes = with_config("mlp", |c| {
        let layers = c["config"]["layers"].as_array_mut().unwrap();
        // A second BatchNormalization after the first: its weights are not in the file.
        let bn = layers[2].clone();
        let mut bn2 = bn.clone();
        bn2["config"]["name"] = "bn_extra".into();
        layers.insert(3, bn2);
    });
    let e = load_err(&bytes);
    assert!(e.contains("bn_extra") && e.contains("missing"), "{e}");
}

#[test]
fn corrupt_zip_and_corrupt_hdf5_are_errors() {
    let e = load_err(b"this is not a zip file");
    assert!(e.contains("bad.keras") && e.contains("zip"), "{e}");
    let bytes = std::fs::read(fixture("mlp.keras")).unwrap();
    let e = load_err(&bytes[..bytes.len() / 2]);
    assert!(e.contains("bad.keras"), "{e}");
    let tmp = tempfile::tempdir().unwrap();
    let h5 = std::fs::read(fixture("mlp.weights.h5")).unwrap();
    for cut in [10, 200, h5.len() / 2] {
        let path = tmp.path().join("cut.weights.h5");
        std::fs::write(&path, &h5[..cut]).unwrap();
        let KerasModel::Sequential(mut m) = keras::load_model(fixture("mlp.keras")).unwrap() else {
            unreachable!()
        };
        let before = values(&m);
        let e = m.load_keras_weights(&path).unwrap_err().to_string();
        assert!(e.contains("cut.weights.h5"), "{e}");
        assert_eq!(values(&m), before, "a failed load changes nothing");
    }
}

/// Fixture bytes with `flips` (offset, xor) applied and cut to `keep` of their length.
fn mutate(bytes: &[u8], flips: &[(usize, u8)], keep: f64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for &(at, x) in flips {
        let n = b.len();
        b[at % n] ^= x;
    }
    let keep = ((b.len() as f64) * keep).ceil() as usize;
    b.truncate(keep.max(1));
    b
}

/// The mlp fixture's zip with `weights` as its `model.weights.h5`.
fn zip_with_weights(weights: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let config = std::fs::read(fixture("mlp.config.json")).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let stored =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        z.start_file("config.json", stored).unwrap();
        z.write_all(&config).unwrap();
        z.start_file("model.weights.h5", stored).unwrap();
        z.write_all(weights).unwrap();
        z.finish().unwrap();
    }
    out.into_inner()
}

proptest::proptest! {
    // Hostile files: the fixtures with bytes flipped and cut, as a whole `.keras` file and as
    // the HDF5 weights of a valid archive. Ok or Err, never a panic. (The long run of this is
    // the `keras_model` fuzz target, see docs/interop.md.)
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("NEURITE_KERAS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    ))]
    #[test]
    fn hostile_bytes_give_errors_not_panics(
        which in 0..MODELS.len(),
        flips in proptest::collection::vec((0usize..1 << 20, 1u8..=255), 0..8),
        keep in 0.0f64..=1.0,
    ) {
        let keras_bytes = std::fs::read(fixture(&format!("{}.keras", MODELS[which]))).unwrap();
        let _ = keras::load_model_from_bytes(&mutate(&keras_bytes, &flips, keep), Path::new("fuzz.keras"));
        let h5 = std::fs::read(fixture("mlp.weights.h5")).unwrap();
        let _ = keras::load_model_from_bytes(&zip_with_weights(&mutate(&h5, &flips, keep)), Path::new("fuzz.keras"));
    }
}
