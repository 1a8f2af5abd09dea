//! Reads the real files in `../shared/data` (beside the repository) when they are there; each
//! test prints why it is skipped otherwise. `NEURITE_SHARED_DATA` overrides the folder.

use std::path::PathBuf;

use neurite_data::{cifar10, csv, mnist};

fn shared(sub: &str) -> Option<PathBuf> {
    let base = std::env::var_os("NEURITE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let p = base.join(sub);
    if p.exists() {
        Some(p)
    } else {
        println!("skipped: {} is absent", p.display());
        None
    }
}

#[test]
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

#[test]
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
