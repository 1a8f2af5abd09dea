//! Runs every example in `examples/` briefly (one epoch, its smallest setting, small generated
//! data files where it needs `--data`) and checks the README's contract: the program succeeds
//! and its last line on standard output is one JSON object with `example`, `epochs`, `seconds`,
//! `train_samples_per_sec` and `test_accuracy` (classifiers) or `test_mse` (regressors).
//!
//! The example binaries are the ones `cargo test` builds into `target/<profile>/examples/`;
//! when one is missing or older than the sources (e.g. `cargo test --test examples` alone
//! after an edit), the first test to need them runs `cargo build --examples` once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Every example, so that a new file in `examples/` without a test here is noticed.
const EXAMPLES: [&str; 18] = [
    "cifar10_cnn",
    "dense_binary",
    "explain_mnist",
    "keras_import",
    "kfold",
    "linear_regression",
    "lstm_sequence",
    "mlp",
    "mnist_cnn",
    "mnist_distributed",
    "multi_task",
    "onnx_export",
    "quickstart",
    "resnet",
    "streaming_mnist",
    "text_classification",
    "text_generation",
    "tune_digits",
];

/// `target/<profile>/examples`, from this test binary's own path (`target/<profile>/deps/`).
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .join("examples")
}

/// The newest modification time of the files the examples are built from (the examples, the
/// library sources, the manifests).
fn newest_source() -> std::time::SystemTime {
    fn walk(path: &Path, newest: &mut std::time::SystemTime) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                walk(&entry.path(), newest);
            }
        } else if let Ok(t) = meta.modified() {
            *newest = (*newest).max(t);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for sub in ["examples", "src", "crates", "Cargo.toml", "Cargo.lock"] {
        walk(&root.join(sub), &mut newest);
    }
    newest
}

/// Builds the examples (once per test run, with this binary's profile) when a binary is
/// missing or older than the sources: `cargo test` builds them before running this file, so
/// then nothing is built; `cargo test --test examples` alone after an edit rebuilds them.
fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let newest = newest_source();
        let stale = EXAMPLES.iter().any(|name| {
            std::fs::metadata(examples_dir().join(name))
                .and_then(|m| m.modified())
                .map_or(true, |built| built < newest)
        });
        if !stale {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "-p", "neurite", "--examples"]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build --examples");
        assert!(status.success(), "cargo build --examples failed: {status}");
    });
}

/// Runs example `name` with `args` and returns its last stdout line parsed as JSON.
fn run(name: &str, args: &[&str]) -> serde_json::Map<String, Value> {
    ensure_built();
    let bin = examples_dir().join(name);
    assert!(bin.is_file(), "no example binary at {}", bin.display());
    let out = Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("{name} printed nothing on stdout"));
    match serde_json::from_str::<Value>(last) {
        Ok(Value::Object(map)) => map,
        other => panic!("{name}: last stdout line is not one JSON object ({other:?}): {last:?}"),
    }
}

fn number(json: &serde_json::Map<String, Value>, key: &str) -> f64 {
    json.get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("field {key:?} missing or not a number in {json:?}"))
}

/// The README's fields, with `epochs` equal to what was asked; `score` is `test_accuracy`
/// (a fraction), `test_mse` (non-negative) or `val_loss` (a language model's loss per
/// character, positive).
fn check_contract(name: &str, json: &serde_json::Map<String, Value>, epochs: u64, score: &str) {
    assert_eq!(json.get("example"), Some(&Value::from(name)), "{json:?}");
    assert_eq!(
        json.get("epochs").and_then(Value::as_u64),
        Some(epochs),
        "{json:?}"
    );
    let seconds = number(json, "seconds");
    assert!(seconds.is_finite() && seconds >= 0.0, "seconds {seconds}");
    let speed = number(json, "train_samples_per_sec");
    assert!(speed.is_finite() && speed > 0.0, "train_samples_per_sec {speed}");
    let value = number(json, score);
    match score {
        "test_accuracy" => assert!((0.0..=1.0).contains(&value), "{score} {value}"),
        "test_mse" => assert!(value.is_finite() && value >= 0.0, "{score} {value}"),
        "val_loss" => assert!(value.is_finite() && value > 0.0, "{score} {value}"),
        _ => unreachable!("unknown score {score}"),
    }
}

#[test]
fn every_example_has_a_test_here() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    found.sort();
    assert_eq!(found, EXAMPLES, "examples in {}", dir.display());
}

#[test]
fn multi_task_runs_one_epoch_on_the_digits_csv() {
    // The same file as /work/shared/data/sklearn/digits.csv.gz, embedded in neurite-data.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/neurite-data/data");
    let json = run("multi_task", &["--epochs", "1", "--data", data.to_str().unwrap()]);
    check_contract("multi_task", &json, 1, "test_accuracy");
    assert!(number(&json, "test_ink_mae").is_finite(), "{json:?}");
}

#[test]
fn text_classification_runs_one_epoch_on_a_small_text_folder() {
    let dir = tempfile::tempdir().unwrap();
    for (class, words) in [
        ("sports", "ball goal team win"),
        ("science", "atom cell star gene"),
    ] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for i in 0..10 {
            let text = format!("{words} {i} and the {}", words.split(' ').nth(i % 4).unwrap());
            std::fs::write(dir.path().join(class).join(format!("{i:02}.txt")), text).unwrap();
        }
    }
    let split = dir.path().join("split.json");
    for model in ["conv", "lstm", "transformer"] {
        let json = run(
            "text_classification",
            &[
                "--data",
                dir.path().to_str().unwrap(),
                "--epochs",
                "1",
                "--model",
                model,
                "--save-split",
                split.to_str().unwrap(),
            ],
        );
        check_contract("text_classification", &json, 1, "test_accuracy");
    }
    let written: Value = serde_json::from_slice(&std::fs::read(&split).unwrap()).unwrap();
    assert_eq!(written["test"].as_array().unwrap().len(), 4); // 20% of 20, two per class
}

/// Verses of Tang poems (public domain), one short poem per file: Chinese text for the
/// character-level language model.
const POEMS: [&str; 12] = [
    "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。",
    "春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。",
    "千山鸟飞绝，万径人踪灭。\n孤舟蓑笠翁，独钓寒江雪。",
    "红豆生南国，春来发几枝。\n愿君多采撷，此物最相思。",
    "空山不见人，但闻人语响。\n返景入深林，复照青苔上。",
    "移舟泊烟渚，日暮客愁新。\n野旷天低树，江清月近人。",
    "君自故乡来，应知故乡事。\n来日绮窗前，寒梅著花未。",
    "松下问童子，言师采药去。\n只在此山中，云深不知处。",
    "向晚意不适，驱车登古原。\n夕阳无限好，只是近黄昏。",
    "功盖三分国，名成八阵图。\n江流石不转，遗恨失吞吴。",
    "独坐幽篁里，弹琴复长啸。\n深林人不知，明月来相照。",
];

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Runs text_generation for one epoch on `data` and checks its JSON line: the contract,
/// `val_loss`, and four samples that start with the seed text and add `chars` characters.
fn text_generation_json(data: &Path, model: &str, extra: &[&str]) -> serde_json::Map<String, Value> {
    let chars = 20;
    let mut args = vec![
        "--data",
        data.to_str().unwrap(),
        "--model",
        model,
        "--epochs",
        "1",
        "--sample-chars",
        "20",
    ];
    args.extend_from_slice(extra);
    let json = run("text_generation", &args);
    check_contract("text_generation", &json, 1, "val_loss");
    assert_eq!(json.get("model"), Some(&Value::from(model)), "{json:?}");
    assert!(number(&json, "val_perplexity") > 1.0, "{json:?}");
    let seed = json["seed_text"].as_str().expect("seed_text");
    let samples = json["samples"].as_object().expect("samples");
    assert_eq!(samples.len(), 4, "{json:?}");
    for (name, text) in samples {
        let text = text.as_str().expect("a sample is a string");
        let written = text
            .strip_prefix(seed)
            .unwrap_or_else(|| panic!("{name}: {text:?} does not start with {seed:?}"));
        assert_eq!(written.chars().count(), chars, "{name}: {written:?}");
        assert!(!written.contains("[UNK]"), "{name}: {written:?}");
    }
    json
}

#[test]
fn text_generation_writes_chinese_character_by_character() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tang")).unwrap();
    for (i, poem) in POEMS.iter().enumerate() {
        std::fs::write(dir.path().join("tang").join(format!("{i:02}.txt")), poem).unwrap();
    }
    for model in ["lstm", "transformer"] {
        let json = text_generation_json(dir.path(), model, &["--seq-len", "16"]);
        // 12 poems of 24 characters, 2 line ends, a closing blank line: 11 train, 1 validation.
        assert_eq!(json["train_chars"], 11 * 27, "{json:?}");
        assert_eq!(json["val_chars"], 27, "{json:?}");
        let samples = json["samples"].as_object().unwrap();
        let written: String = samples.values().filter_map(Value::as_str).collect();
        assert!(written.chars().filter(|&c| is_cjk(c)).count() > 20, "{json:?}");
    }
}

#[test]
fn text_generation_runs_on_the_real_text_sets() {
    // The real corpora beside the repository (../shared/data/text), when present.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/text");
    for set in ["tang300", "fortunes"] {
        let data = base.join(set);
        if !data.is_dir() {
            eprintln!("skipped: no {}", data.display());
            continue;
        }
        let json = text_generation_json(&data, "lstm", &["--limit-chars", "4000", "--seq-len", "50"]);
        let seed = json["seed_text"].as_str().unwrap();
        assert_eq!(seed.chars().any(is_cjk), set == "tang300", "{json:?}");
    }
}

#[test]
fn text_generation_names_a_file_that_is_not_utf8() {
    ensure_built();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "fine text").unwrap();
    std::fs::write(dir.path().join("b.txt"), [b'o', b'k', 0xff, 0xfe]).unwrap();
    let out = Command::new(examples_dir().join("text_generation"))
        .args(["--data", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("b.txt") && stderr.contains("UTF-8"), "{stderr}");
}

#[test]
fn quickstart_runs_one_epoch() {
    let json = run("quickstart", &["--epochs", "1"]);
    check_contract("quickstart", &json, 1, "test_accuracy");
}

#[test]
fn dense_binary_runs_one_epoch() {
    let json = run("dense_binary", &["--epochs", "1"]);
    check_contract("dense_binary", &json, 1, "test_accuracy");
}

#[test]
fn mlp_runs_one_epoch() {
    let json = run("mlp", &["--epochs", "1"]);
    check_contract("mlp", &json, 1, "test_accuracy");
}

#[test]
fn lstm_sequence_runs_one_epoch() {
    let json = run("lstm_sequence", &["--epochs", "1"]);
    check_contract("lstm_sequence", &json, 1, "test_accuracy");
}

#[test]
fn linear_regression_runs_one_epoch() {
    let json = run("linear_regression", &["--epochs", "1"]);
    check_contract("linear_regression", &json, 1, "test_mse");
    let kernel = json["kernel"].as_array().expect("kernel array");
    assert_eq!(kernel.len(), 3, "{json:?}");
    assert!(json["bias"].as_f64().is_some(), "{json:?}");
}

#[test]
fn kfold_runs_two_folds_of_one_epoch() {
    let json = run("kfold", &["--epochs", "1", "--folds", "2"]);
    check_contract("kfold", &json, 1, "test_accuracy");
    assert_eq!(json.get("folds").and_then(Value::as_u64), Some(2), "{json:?}");
    let selected = json["selected"].as_str().expect("selected");
    let means = json["mean_accuracy"].as_object().expect("mean_accuracy");
    assert_eq!(means.len(), 2, "{json:?}");
    // The selected architecture is the one with the best mean, which is test_accuracy.
    assert_eq!(means[selected].as_f64(), Some(number(&json, "test_accuracy")));
}

/// Writes an IDX file of unsigned bytes (magic `0x08`, big-endian dimensions).
fn write_idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    assert_eq!(data.len(), dims.iter().product::<u32>() as usize);
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

/// Images whose pixels depend on the label, so the files are not pure noise.
fn images(n: usize, pixels: usize, label: impl Fn(usize) -> u8) -> Vec<u8> {
    (0..n * pixels)
        .map(|i| {
            let (s, p) = (i / pixels, i % pixels);
            ((p * 7 + s * 13 + label(s) as usize * 25) % 256) as u8
        })
        .collect()
}

/// Small MNIST-format IDX files (64 train, 20 test images) in a new folder.
fn small_mnist() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let label = |i: usize| (i % 10) as u8;
    for (prefix, n) in [("train", 64u32), ("t10k", 20)] {
        let labels: Vec<u8> = (0..n as usize).map(label).collect();
        write_idx(
            &dir.path().join(format!("{prefix}-images-idx3-ubyte")),
            &[n, 28, 28],
            &images(n as usize, 28 * 28, label),
        );
        write_idx(
            &dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
            &[n],
            &labels,
        );
    }
    dir
}

#[test]
fn resnet_runs_one_epoch_on_small_idx_files() {
    let dir = small_mnist();
    let json = run(
        "resnet",
        &[
            "--data",
            dir.path().to_str().unwrap(),
            "--epochs",
            "1",
            "--limit",
            "48",
        ],
    );
    check_contract("resnet", &json, 1, "test_accuracy");
}

#[test]
fn mnist_cnn_runs_one_epoch_on_small_idx_files() {
    let dir = small_mnist();
    let data = dir.path().to_str().unwrap();
    let json = run("mnist_cnn", &["--data", data, "--epochs", "1", "--limit", "48"]);
    check_contract("mnist_cnn", &json, 1, "test_accuracy");
    // The test set is evaluated after every epoch (the README's promise for this example).
    let per_epoch = json["test_accuracy_per_epoch"]
        .as_array()
        .expect("test_accuracy_per_epoch");
    assert_eq!(per_epoch.len(), 1, "{json:?}");
}

#[test]
fn mnist_distributed_runs_one_epoch_as_one_process() {
    // Without mpirun (and with or without the `mpi` feature) the example trains as a world of one.
    let dir = small_mnist();
    let data = dir.path().to_str().unwrap();
    let args = [
        "--data",
        data,
        "--epochs",
        "1",
        "--limit",
        "48",
        "--batch-size",
        "16",
    ];
    let json = run("mnist_distributed", &args);
    check_contract("mnist_distributed", &json, 1, "test_accuracy");
    assert_eq!(json["world_size"], 1, "{json:?}");
}

#[test]
fn cifar10_cnn_runs_one_epoch_on_a_small_test_batch() {
    let dir = tempfile::tempdir().unwrap();
    // The binary format: per record one label byte then 3072 pixel bytes (R, G, B planes).
    let n = 24;
    let pixels = images(n, 3072, |i| (i % 10) as u8);
    let mut bytes = Vec::with_capacity(n * 3073);
    for (i, record) in pixels.chunks(3072).enumerate() {
        bytes.push((i % 10) as u8);
        bytes.extend_from_slice(record);
    }
    std::fs::write(dir.path().join("test_batch.bin"), bytes).unwrap();
    let data = dir.path().to_str().unwrap();
    let json = run("cifar10_cnn", &["--data", data, "--epochs", "1"]);
    check_contract("cifar10_cnn", &json, 1, "test_accuracy");
    // Only test_batch.bin: the example trains on 75% of its records.
    assert_eq!(
        json.get("train_samples").and_then(Value::as_u64),
        Some(18),
        "{json:?}"
    );
}

#[test]
fn keras_import_predicts_what_keras_predicted_on_a_fixture() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cnn.neurite.npy");
    let json = run(
        "keras_import",
        &[
            fixtures.join("cnn.keras").to_str().unwrap(),
            fixtures.join("cnn.input0.npy").to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(
        json.get("example"),
        Some(&Value::from("keras_import")),
        "{json:?}"
    );
    assert_eq!(
        json.get("class_name"),
        Some(&Value::from("Sequential")),
        "{json:?}"
    );
    assert!(
        number(&json, "params") > 0.0 && number(&json, "seconds") >= 0.0,
        "{json:?}"
    );
    let got = neurite::data::npy::read(&out).unwrap();
    let want = neurite::data::npy::read(fixtures.join("cnn.output.npy")).unwrap();
    assert_eq!(got.shape(), want.shape());
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "largest difference to Keras {worst}");
}

#[test]
fn tune_digits_searches_two_trials_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tune");
    let args = [
        "--trials",
        "2",
        "--epochs",
        "1",
        "--folds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let json = run("tune_digits", &args);
    check_contract("tune_digits", &json, 1, "test_accuracy");
    assert_eq!(json.get("trials").and_then(Value::as_u64), Some(2), "{json:?}");
    let best = json["best"].as_object().expect("best");
    for key in ["units", "dropout", "learning_rate", "optimizer"] {
        assert!(best.contains_key(key), "{json:?}");
    }
    let log = std::fs::read_to_string(out.join("tune_digits.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    for svg in ["objective.svg", "parameters.svg"] {
        assert!(std::fs::read_to_string(out.join(svg))
            .unwrap()
            .starts_with("<svg"));
    }
    // Run again: both trials come from the log, nothing is trained, the same best.
    let again = run("tune_digits", &args);
    check_contract("tune_digits", &again, 1, "test_accuracy");
    assert_eq!(again.get("test_accuracy"), json.get("test_accuracy"));
    assert_eq!(
        std::fs::read_to_string(out.join("tune_digits.jsonl")).unwrap(),
        log
    );
}

#[test]
fn onnx_export_trains_one_epoch_and_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits.onnx");
    let json = run("onnx_export", &["--epochs", "1", "--out", out.to_str().unwrap()]);
    check_contract("onnx_export", &json, 1, "test_accuracy");
    let size = std::fs::metadata(&out).unwrap().len();
    assert_eq!(
        json.get("onnx_bytes").and_then(Value::as_u64),
        Some(size),
        "{json:?}"
    );
    assert!(number(&json, "onnx_nodes") > 0.0, "{json:?}");
}

#[test]
fn streaming_mnist_trains_one_epoch_from_generated_shards() {
    let dir = small_mnist();
    let scratch = tempfile::tempdir().unwrap();
    let json = run(
        "streaming_mnist",
        &[
            "--data",
            dir.path().to_str().unwrap(),
            "--dir",
            scratch.path().to_str().unwrap(),
            "--gib",
            "0.0005",
            "--shard-mib",
            "0",
            "--compare-samples",
            "32",
        ],
    );
    check_contract("streaming_mnist", &json, 1, "test_accuracy");
    // 0.0005 GiB of 3,136-byte samples, one shard per sample (shard-mib 0), all trained on.
    assert_eq!(number(&json, "samples_on_disk"), 172.0);
    assert_eq!(number(&json, "shards"), 172.0);
    assert_eq!(number(&json, "streamed_samples"), 172.0);
    assert!(number(&json, "streamed_samples_per_sec") > 0.0);
    // The generated files are deleted.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

#[test]
fn explain_mnist_trains_explains_and_reloads_on_small_idx_files() {
    let dir = small_mnist();
    let out = tempfile::tempdir().unwrap();
    let (data, out_dir) = (dir.path().to_str().unwrap(), out.path().to_str().unwrap());
    let flags = ["--data", data, "--out", out_dir, "--images", "3", "--steps", "8"];
    let json = run(
        "explain_mnist",
        &[&flags[..], &["--epochs", "1", "--limit", "48"]].concat(),
    );
    check_contract("explain_mnist", &json, 1, "test_accuracy");
    assert_eq!(json["explained_images"], 3, "{json:?}");
    assert!(number(&json, "ig_completeness_gap_max") < 0.05, "{json:?}");
    let png = image::open(out.path().join("explain_mnist.png")).expect("a PNG");
    assert!(
        png.width() > 4 * 28 * 4 && png.height() > 3 * 28 * 4,
        "{}x{}",
        png.width(),
        png.height()
    );
    let svg = std::fs::read_to_string(out.path().join("explain_mnist.svg")).unwrap();
    assert_eq!(svg.matches("<image ").count(), 3 * 4);
    assert!(svg.contains("pred ") && svg.contains(" true "));
    let model = out.path().join("model");
    let again = run(
        "explain_mnist",
        &[&flags[..], &["--model", model.to_str().unwrap()]].concat(),
    );
    assert_eq!(again["test_accuracy"], json["test_accuracy"], "{again:?}");
}
