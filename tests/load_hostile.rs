//! Loading validates everything before anything large is allocated: hostile
//! or careless `config.json`, weights and optimizer files give errors naming
//! the file and the layer/field/parameter — never an abort, a panic or a model
//! that fails later.

mod common;

use neurite::prelude::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

fn saved(dir: &Path) -> Sequential {
    let mut m = Sequential::new()
        .seed(3)
        .add(Dense::new(4).activation(Activation::Relu).input_dim(3))
        .add(Dropout::new(0.25))
        .add(Dense::new(2));
    m.compile(Adam::default(), Loss::MeanSquaredError, &[Metric::Mae])
        .unwrap();
    let x = ndarray::Array2::<f32>::ones((8, 3)).into_dyn();
    let y = ndarray::Array2::<f32>::zeros((8, 2)).into_dyn();
    m.fit(&x, &y, FitOptions::new().epochs(1).verbose(0)).unwrap();
    m.save(dir).unwrap();
    m
}

fn config(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap()
}

/// Writes `v` as the config (keeping the manifest, so only the edit is wrong).
fn write_config(dir: &Path, v: &Value) {
    fs::write(dir.join("config.json"), serde_json::to_vec(v).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> String {
    match Sequential::load(dir) {
        Ok(_) => panic!("the hostile checkpoint loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn absurd_sizes_in_config_are_refused_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    saved(&dir);
    let original = config(&dir);
    let edits: Vec<(&str, Value)> = vec![
        ("/config/layers/0/config/units", json!(4_000_000_000u64)),
        ("/config/layers/2/config/units", json!(u64::MAX)),
        ("/input_shape", json!([1_000_000_000_000u64])),
        (
            "/input_shape",
            json!([4_000_000_000u64, 4_000_000_000u64, 4_000_000_000u64]),
        ),
        ("/input_shape", json!([0])),
        ("/input_shape", json!([-3])),
        ("/input_shape", json!("big")),
        (
            "/config/layers/0/config/input_shape",
            json!([1_000_000_000_000u64]),
        ),
    ];
    for (pointer, value) in edits {
        let mut v = original.clone();
        *v.pointer_mut(pointer).unwrap() = value.clone();
        write_config(&dir, &v);
        let start = std::time::Instant::now();
        let err = load_err(&dir);
        assert!(
            err.contains("config.json") || err.contains("model.safetensors"),
            "{pointer}={value}: {err}"
        );
        // Refused up front, not after filling gigabytes.
        assert!(
            start.elapsed().as_secs() < 5,
            "{pointer}={value}: took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn config_values_that_can_never_work_name_the_layer_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    saved(&dir);
    let original = config(&dir);
    let edits: Vec<(&str, Value, &str)> = vec![
        ("/config/layers/1/config/rate", json!(2.5), "rate"),
        ("/config/layers/1/config/rate", json!(-0.1), "rate"),
        ("/config/layers/0/config/units", json!("eight"), "units"),
        ("/config/layers/0/config/units", json!(0), "units"),
        (
            "/config/layers/0/config/activation",
            json!("sparkle"),
            "activation",
        ),
        ("/config/layers/0/class_name", json!("Transformer"), "Transformer"),
        ("/seed", json!("abc"), "seed"),
        ("/epochs_done", json!(-1), "epochs_done"),
        ("/compile/loss", json!("no_such_loss"), "loss"),
        ("/compile/metrics", json!([{"TopKAccuracy": 0}]), "metrics"),
        ("/compile/optimizer/learning_rate", json!(-1.0), "learning_rate"),
        // Denormal as f32: 0 once training flushes denormals (0 / 0 on a zero gradient).
        ("/compile/optimizer/epsilon", json!(1e-40), "epsilon"),
        ("/compile/optimizer/name", json!("Sparkle"), "optimizer"),
    ];
    for (pointer, value, field) in edits {
        let mut v = original.clone();
        let slot = v
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer} not in config"));
        *slot = value.clone();
        write_config(&dir, &v);
        let err = load_err(&dir);
        assert!(err.contains("config.json"), "{pointer}={value}: {err}");
        assert!(
            err.contains(field),
            "{pointer}={value}: the error does not name {field}: {err}"
        );
    }
}

#[test]
fn two_layers_with_one_name_are_refused_on_save_and_on_load() {
    let (mut a, mut b) = (Dense::new(2).input_dim(3), Dense::new(2));
    a.set_name("twin".into());
    b.set_name("twin".into());
    let m = Sequential::new().add(a).add(b);
    let tmp = tempfile::tempdir().unwrap();
    let err = m.save(tmp.path().join("m")).unwrap_err().to_string();
    assert!(err.contains("twin"), "{err}");
    assert!(!tmp.path().join("m").join("config.json").exists());

    let dir = tmp.path().join("ok");
    saved(&dir);
    let mut v = config(&dir);
    let first = v.pointer("/config/layers/0/config/name").unwrap().clone();
    *v.pointer_mut("/config/layers/2/config/name").unwrap() = first;
    write_config(&dir, &v);
    let err = load_err(&dir);
    assert!(err.contains("dense_1"), "{err}");
}

#[test]
fn malformed_config_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    saved(&dir);
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{not json".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{\"format\": \"neurite-model\"}".to_vec(),
        b"{\"format\": \"neurite-model\", \"class_name\": \"Sequential\", \"config\": {\"layers\": 7}}".to_vec(),
        b"{\"format\": \"neurite-model\", \"class_name\": \"Sequential\", \"config\": {\"layers\": []}, \"input_shape\": [3]}".to_vec(),
        vec![0xff; 100],
        "{\"format\": \"neurite-model\", \"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": 3}]}}"
            .as_bytes()
            .to_vec(),
    ];
    for bytes in cases {
        fs::write(dir.join("config.json"), &bytes).unwrap();
        let err = load_err(&dir);
        assert!(
            err.contains("config.json"),
            "{}: {err}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

/// Replaces `name` and rewrites the manifest so that only the content is hostile.
fn replace_file(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap();
    let mut v = config(dir);
    v["files"][name] = json!({"bytes": bytes.len(), "crc32": crc32(bytes)});
    write_config(dir, &v);
}

fn crc32(bytes: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), independent of the library's implementation.
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn safetensors_bytes(tensors: &[(&str, Vec<usize>)], meta: &[(&str, &str)]) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, s)| vec![0u8; s.iter().product::<usize>() * 4])
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .zip(&data)
        .map(|((n, s), d)| {
            (
                *n,
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d).unwrap(),
            )
        })
        .collect();
    let meta = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

#[test]
fn weights_that_do_not_fit_the_architecture_name_the_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    saved(&dir);
    let fmt = [("format", "neurite-model")];
    let good = [
        ("dense_1.kernel", vec![3, 4]),
        ("dense_1.bias", vec![4]),
        ("dense_2.kernel", vec![4, 2]),
        ("dense_2.bias", vec![2]),
    ];
    type Tensors<'a> = Vec<(&'a str, Vec<usize>)>;
    let cases: Vec<(Tensors, &str)> = vec![
        (good[..3].to_vec(), "dense_2.bias"),
        ([&good[..], &[("stowaway", vec![1])]].concat(), "stowaway"),
        (
            vec![
                good[0].clone(),
                ("dense_1.bias", vec![5]),
                good[2].clone(),
                good[3].clone(),
            ],
            "dense_1.bias",
        ),
        (
            vec![
                ("dense_1.kernel", vec![4, 3]),
                good[1].clone(),
                good[2].clone(),
                good[3].clone(),
            ],
            "dense_1.kernel",
        ),
    ];
    for (tensors, name) in cases {
        replace_file(&dir, "model.safetensors", &safetensors_bytes(&tensors, &fmt));
        let err = load_err(&dir);
        assert!(
            err.contains("model.safetensors") && err.contains(name),
            "{name}: {err}"
        );
    }
    for junk in [
        &b""[..],
        b"\x08\x00\x00\x00\x00\x00\x00\x00{}",
        &[0xffu8; 64],
        b"\xff\xff\xff\xff\xff\xff\xff\x7f",
    ] {
        replace_file(&dir, "model.safetensors", junk);
        let err = load_err(&dir);
        assert!(err.contains("model.safetensors"), "{err}");
    }
}

#[test]
fn non_finite_weights_are_refused_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let model = saved(&dir);
    for (bad, shown) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "inf"),
        (f32::NEG_INFINITY, "-inf"),
    ] {
        let mut weights = model.get_weights_by_name();
        weights[2].1[[1, 0]] = bad;
        let data: Vec<(String, Vec<u8>, Vec<usize>)> = weights
            .iter()
            .map(|(n, t)| {
                (
                    n.clone(),
                    t.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    t.shape().to_vec(),
                )
            })
            .collect();
        let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = data
            .iter()
            .map(|(n, b, s)| {
                let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap();
                (n.as_str(), v)
            })
            .collect();
        let meta = [("format".to_string(), "neurite-model".to_string())]
            .into_iter()
            .collect();
        replace_file(
            &dir,
            "model.safetensors",
            &safetensors::serialize(views, Some(meta)).unwrap(),
        );
        let err = load_err(&dir);
        assert!(
            err.contains("model.safetensors") && err.contains("dense_2.kernel") && err.contains(shown),
            "{err}"
        );
        let mut other = Sequential::new()
            .add(Dense::new(4).activation(Activation::Relu).input_dim(3))
            .add(Dropout::new(0.25))
            .add(Dense::new(2));
        let err = other.load_weights(&dir).unwrap_err().to_string();
        assert!(err.contains("dense_2.kernel"), "{err}");
    }
}

#[test]
fn optimizer_state_is_checked_against_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    saved(&dir);
    let original = fs::read(dir.join("optimizer.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&original).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&original).unwrap();
    let meta = meta.metadata().clone().unwrap();
    let names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
    let shapes: Vec<(String, Vec<usize>)> = names
        .iter()
        .map(|n| (n.clone(), st.tensor(n).unwrap().shape().to_vec()))
        .collect();
    let meta_pairs = |overrides: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut m: Vec<(String, String)> = meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (k, v) in overrides {
            m.retain(|(mk, _)| mk != k);
            m.push((k.to_string(), v.to_string()));
        }
        m
    };
    let build = |tensors: &[(String, Vec<usize>)], meta: &[(String, String)]| {
        let t: Vec<(&str, Vec<usize>)> = tensors.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
        let m: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        safetensors_bytes(&t, &m)
    };
    // A slot of the wrong shape.
    let mut wrong = shapes.clone();
    wrong[0].1 = vec![7, 7];
    replace_file(&dir, "optimizer.safetensors", &build(&wrong, &meta_pairs(&[])));
    let err = load_err(&dir);
    assert!(
        err.contains("optimizer.safetensors")
            && err.contains(&shapes[0].0.split('/').next().unwrap().to_string()),
        "{err}"
    );
    // A slot for a parameter the model does not have.
    let mut extra = shapes.clone();
    extra.push(("ghost.kernel/m".into(), vec![2]));
    replace_file(&dir, "optimizer.safetensors", &build(&extra, &meta_pairs(&[])));
    let err = load_err(&dir);
    assert!(
        err.contains("optimizer.safetensors") && err.contains("ghost"),
        "{err}"
    );
    // A step counter at its limit.
    replace_file(
        &dir,
        "optimizer.safetensors",
        &build(&shapes, &meta_pairs(&[("iterations", &u64::MAX.to_string())])),
    );
    let err = load_err(&dir);
    assert!(
        err.contains("optimizer.safetensors") && err.contains("iteration"),
        "{err}"
    );
    // The original still loads.
    replace_file(&dir, "optimizer.safetensors", &original);
    Sequential::load(&dir).unwrap();
}

#[test]
fn loading_a_file_or_a_missing_path_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("weights.bin");
    fs::write(&file, b"data").unwrap();
    assert!(load_err(&file).contains("weights.bin"));
    assert!(load_err(&tmp.path().join("missing")).contains("missing"));
    assert!(Sequential::load(tmp.path()).is_err());
}
