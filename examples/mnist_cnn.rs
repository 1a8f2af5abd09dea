//! The classic Keras MNIST CNN: Conv32-Pool-Conv64-Pool-Conv64-Flatten-
//! Dense64-Dense10, Adam, sparse categorical cross-entropy, batch 32.
//!
//! ```text
//! cargo run --release --example mnist_cnn -- --data data/mnist --epochs 5
//! ```
//! `--data` is a folder holding the four MNIST IDX files (raw or .gz; how to
//! download them: `docs/data.md`, "Getting MNIST");
//! `--limit N` trains on the first N training images (for a quick run);
//! `--dtype-policy mixed_bfloat16` trains with bf16 products (Keras'
//! `mixed_bfloat16`, see `neurite::DtypePolicy`). The
//! test set is evaluated after every epoch, as in the Keras tutorial; the JSON
//! line lists those accuracies (`test_accuracy_per_epoch`).

mod common;

use common::{confusion_table, data_dir, finish, round_to, timed_fit, Args, MNIST_HOW_TO_GET};
use neurite::prelude::*;

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "mnist_cnn",
        &[
            ("data", "DIR"),
            ("epochs", "N"),
            ("batch-size", "N"),
            ("limit", "N"),
            ("seed", "N"),
            ("dtype-policy", "float32|mixed_bfloat16"),
        ],
    );
    let epochs: usize = args.number("epochs", 5);
    let batch_size: usize = args.number("batch-size", 32);
    let limit: usize = args.number("limit", usize::MAX);
    let seed: u64 = args.number("seed", 0);
    let policy: DtypePolicy = args.string("dtype-policy", "float32").parse()?;

    let dir = data_dir(
        "mnist_cnn",
        &args.string("data", "data/mnist"),
        &[
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-images.idx3-ubyte",
        ],
        MNIST_HOW_TO_GET,
    );
    let (mut train, test) = neurite::data::mnist::load(&dir)?; // x: (n, 28, 28, 1) in [0, 1]
    if limit < train.len() {
        train = train.subset(&(0..limit).collect::<Vec<_>>())?;
    }
    println!("MNIST: {} training and {} test images", train.len(), test.len());

    let mut model = common::mnist_cnn(seed, policy)?;
    model.print_summary();

    // As the Keras tutorial: the test set is evaluated after every epoch (logged as val_*).
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(batch_size)
        .validation_data(&test.x, &test.y);
    let (history, seconds) = timed_fit(&mut model, &train.x, &train.y, options)?;
    let scores = model.evaluate(&test.x, &test.y)?;
    let pred = model.predict(&test.x)?;
    println!("{}", confusion_table(&test.y, &pred, 10, None)?);
    let per_epoch: Vec<f64> = history
        .get("val_accuracy")
        .unwrap_or(&[])
        .iter()
        .map(|&a| round_to(a, 4))
        .collect();
    let extra = serde_json::json!({
        "seed": seed,
        "dtype_policy": policy.name(),
        "test_accuracy_per_epoch": per_epoch,
    });
    finish("mnist_cnn", &history, seconds, train.len(), &scores, extra);
    Ok(())
}
