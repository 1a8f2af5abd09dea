//! Reads the real files in `../shared/data` (beside the repository).
//!
//! `NEURITE_SHARED_DATA` names the folder. When it is set, the data must be there: a missing
//! folder is a failure (CI sets it, so CI cannot pass without reading the real files). When it
//! is unset, the default `../shared/data` beside the repository is used if present; otherwise
//! each test prints why it is skipped and passes (a checkout without the shared data).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use neurite_data::cifar10;
#[cfg(all(feature = "csv", feature = "gzip"))]
use neurite_data::csv;
#[cfg(feature = "gzip")]
use neurite_data::mnist;

/// The environment variable that names the shared data folder.
const DATA_VAR: &str = "NEURITE_SHARED_DATA";

/// Where `sub` is: `Ok(Some(path))` when it exists, `Ok(None)` (skip) only when `var` is unset
/// and the default folder lacks it, `Err` when `var` is set and the folder lacks it.
fn resolve(var: Option<OsString>, default_base: &Path, sub: &str) -> Result<Option<PathBuf>, String> {
    match var {
        Some(base) => {
            let p = PathBuf::from(base).join(sub);
            if p.exists() {
                Ok(Some(p))
            } else {
                Err(format!(
                    "{DATA_VAR} is set but {} is absent: the real-data tests cannot run",
                    p.display()
                ))
            }
        }
        None => {
            let p = default_base.join(sub);
            Ok(p.exists().then_some(p))
        }
    }
}

fn shared(sub: &str) -> Option<PathBuf> {
    let default_base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    match resolve(std::env::var_os(DATA_VAR), &default_base, sub) {
        Ok(Some(p)) => Some(p),
        Ok(None) => {
            println!(
                "skipped: {} is absent and {DATA_VAR} is unset",
                default_base.join(sub).display()
            );
            None
        }
        Err(message) => panic!("{message}"),
    }
}

#[test]
fn a_set_data_variable_without_the_data_is_an_error_not_a_skip() {
    let empty = tempfile::tempdir().unwrap();
    let err = resolve(Some(empty.path().into()), Path::new("/nonexistent"), "mnist").unwrap_err();
    assert!(err.contains(DATA_VAR) && err.contains("mnist"), "{err}");
    // Unset variable and no default folder: skipped.
    assert_eq!(resolve(None, empty.path(), "mnist"), Ok(None));
    // The variable wins over the default folder, in both directions.
    std::fs::create_dir(empty.path().join("mnist")).unwrap();
    assert_eq!(
        resolve(Some(empty.path().into()), Path::new("/nonexistent"), "mnist"),
        Ok(Some(empty.path().join("mnist")))
    );
    let other = tempfile::tempdir().unwrap();
    assert!(resolve(Some(other.path().into()), empty.path(), "mnist").is_err());
    assert_eq!(
        resolve(None, empty.path(), "mnist"),
        Ok(Some(empty.path().join("mnist")))
    );
}

/// The shared MNIST files are gzip-compressed.
#[test]
#[cfg(feature = "gzip")]
fn mnist_known_label_counts() {
    let Some(dir) = shared("mnist") else { return };
    let (train, test) = mnist::load(&dir).unwrap();
    assert_eq!(train.x.shape(), &[60000, 28, 28, 1]);
    assert_eq!(test.x.shape(), &[10000, 28, 28, 1]);
    let counts = train.class_counts().unwrap();
    assert_eq!(counts[1], 6742);
    assert_eq!(
        counts,
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        test.class_counts().unwrap(),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let first: Vec<f32> = train.y.iter().take(10).copied().collect();
    assert_eq!(first, vec![5.0, 0.0, 4.0, 1.0, 9.0, 2.0, 1.0, 3.0, 1.0, 4.0]);
    let mean = train.x.iter().map(|&v| v as f64 * 255.0).sum::<f64>() / train.x.len() as f64;
    assert!((mean - 33.32).abs() < 0.01, "train pixel mean {mean}");
}

#[test]
fn cifar10_partial_test_batch() {
    let Some(dir) = shared("cifar-10") else { return };
    let ds = cifar10::load_batch(dir.join("test_batch.bin")).unwrap();
    assert_eq!(ds.x.shape(), &[20, 32, 32, 3]); // record count from the file size
    let labels: Vec<usize> = ds.class_indices().unwrap();
    assert_eq!(
        labels,
        vec![3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
    );
    let names = std::fs::read_to_string(dir.join("batches.meta.txt")).unwrap();
    let names: Vec<&str> = names.split_whitespace().collect();
    assert_eq!(names, cifar10::CLASS_NAMES);
}

/// Some of the shared CSV files are gzip-compressed, and the digits are compared with the
/// embedded copy.
#[test]
#[cfg(all(feature = "csv", feature = "gzip"))]
fn sklearn_csv_files() {
    let Some(dir) = shared("sklearn") else { return };
    let iris = csv::load(
        dir.join("iris.csv"),
        &csv::CsvOptions::new().header(false).skip_rows(1),
    )
    .unwrap();
    assert_eq!(iris.dataset.x.shape(), &[150, 4]);
    assert_eq!(iris.dataset.class_counts().unwrap(), vec![50, 50, 50]);
    let wine = csv::load(
        dir.join("wine_data.csv"),
        &csv::CsvOptions::new().header(false).skip_rows(1),
    )
    .unwrap();
    assert_eq!(wine.dataset.class_counts().unwrap(), vec![59, 71, 48]);
    let diabetes = csv::load(
        dir.join("diabetes_data_raw.csv.gz"),
        &csv::CsvOptions::new().header(false).whitespace().no_label(),
    )
    .unwrap();
    assert_eq!(diabetes.dataset.x.shape(), &[442, 10]);
    let lin = csv::load(
        dir.join("linnerud_exercise.csv"),
        &csv::CsvOptions::new().whitespace().label("Jumps"),
    )
    .unwrap();
    assert_eq!(lin.feature_names, vec!["Chins", "Situps"]);
    assert_eq!(lin.dataset.x.shape(), &[20, 2]);
    let digits = csv::load(dir.join("digits.csv.gz"), &csv::CsvOptions::new().header(false)).unwrap();
    assert_eq!(digits.dataset, neurite_data::digits::load_raw());
}

/// The vectorizer a fixture case describes (its Keras keyword arguments).
#[cfg(feature = "text")]
fn vectorizer_for(kwargs: &serde_json::Value) -> neurite_data::text::TextVectorization {
    use neurite_data::text::{Standardize, TextVectorization, TokenSplit};
    let mut tv = TextVectorization::new();
    if let Some(n) = kwargs.get("max_tokens").and_then(|v| v.as_u64()) {
        tv = tv.max_tokens(n as usize);
    }
    if let Some(n) = kwargs.get("output_sequence_length").and_then(|v| v.as_u64()) {
        tv = tv.output_sequence_length(n as usize);
    }
    if let Some(s) = kwargs.get("standardize").and_then(|v| v.as_str()) {
        tv = tv.standardize(Standardize::from_name(s).expect("a built-in mode"));
    }
    if let Some(s) = kwargs.get("split").and_then(|v| v.as_str()) {
        tv = tv.split(TokenSplit::from_name(s).expect("a built-in mode"));
    }
    tv
}

#[cfg(feature = "text")]
#[test]
fn text_vectorization_learns_what_keras_learns_on_the_real_texts() {
    use neurite_data::text::TextFolder;
    let Some(base) = shared("text") else { return };
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/keras_text_vectorization.json")).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let folder = if name.starts_with("tang300") {
            "tang300"
        } else {
            "fortunes"
        };
        let data = TextFolder::new(base.join(folder)).load().unwrap();
        let mut tv = vectorizer_for(&case["kwargs"]);
        tv.adapt(&data.texts).unwrap();
        let vocab = tv.vocabulary();
        assert_eq!(
            vocab.len() as u64,
            case["vocabulary_size"].as_u64().unwrap(),
            "{name}: vocabulary size"
        );
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            &vocab[..vocab.len().min(400)],
            &strings(&case["vocabulary_head"])[..],
            "{name}: head"
        );
        let every: Vec<String> = vocab.iter().step_by(23).cloned().collect();
        assert_eq!(
            every,
            strings(&case["vocabulary_every_23rd"]),
            "{name}: every 23rd token"
        );
        assert_eq!(
            &vocab[vocab.len().saturating_sub(100)..],
            &strings(&case["vocabulary_tail"])[..],
            "{name}: tail"
        );
        let ids = tv.call(&data.texts[..12]).unwrap();
        let expected: Vec<Vec<f32>> = case["first_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect();
        let got: Vec<Vec<f32>> = ids.outer_iter().map(|r| r.to_vec()).collect();
        assert_eq!(got, expected, "{name}: id sequences");
    }
}

#[cfg(feature = "text")]
#[test]
fn text_folders_load_with_their_classes() {
    use neurite_data::text::TextFolder;
    let Some(base) = shared("text") else { return };
    let fortunes = TextFolder::new(base.join("fortunes")).load().unwrap();
    assert_eq!(
        fortunes.classes,
        [
            "computers",
            "men-women",
            "politics",
            "science",
            "songs-poems",
            "work"
        ]
    );
    assert_eq!(fortunes.len(), 4311); // the data README's count
    let tang = TextFolder::new(base.join("tang300")).load().unwrap();
    assert_eq!((tang.classes.len(), tang.len()), (1, 313));
    assert!(tang.texts[0].starts_with("兰叶春葳蕤"));
    let (train, test) = fortunes.train_test_split(0.2, 42).unwrap();
    assert_eq!(train.len() + test.len(), 4311);
    for class in 0..6 {
        let all = fortunes.labels.iter().filter(|&&l| l == class).count() as f64;
        let in_test = test.labels.iter().filter(|&&l| l == class).count() as f64;
        assert!(
            (in_test - 0.2 * all).abs() <= 1.0,
            "class {class}: {in_test} of {all} in test"
        );
    }
}
