//! Quickstart: a small CNN on scikit-learn's 8x8 digits, embedded in
//! neurite-data (1,797 images, no download). Trains in seconds, prints the
//! model summary, a progress bar per epoch, the test accuracy, a confusion
//! matrix and, last, one JSON line with the results.
//!
//! ```text
//! cargo run --release --example quickstart [-- --epochs 15 --seed 42]
//! ```

mod common;

use common::{confusion_table, print_json, Args};
use neurite::prelude::*;
use std::time::Instant;

fn main() -> neurite::Result<()> {
    let args = Args::parse("quickstart [--epochs N] [--batch-size N] [--seed N]");
    let epochs: usize = args.number("epochs", 15);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 42);

    let digits = neurite::data::digits::load(); // x: (1797, 8, 8, 1) in [0, 1], y: (1797,)
    let (train, test) = digits.stratified_train_test_split(0.2, seed)?;
    println!(
        "digits: {} training and {} test images of 8x8",
        train.len(),
        test.len()
    );

    let mut model = Sequential::new()
        .seed(seed)
        .add(
            Conv2D::new(32, (3, 3))
                .padding(Padding::Same)
                .activation(Activation::Relu)
                .input_shape([8, 8, 1]),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(
            Conv2D::new(64, (3, 3))
                .padding(Padding::Same)
                .activation(Activation::Relu),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dense::new(64).activation(Activation::Relu))
        .add(Dense::new(10).activation(Activation::Softmax));
    model.compile(
        Adam::new(0.002),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    model.print_summary();

    let start = Instant::now();
    let history = model.fit(
        &train.x,
        &train.y,
        FitOptions::new()
            .epochs(epochs)
            .batch_size(batch_size)
            .validation_data(&test.x, &test.y),
    )?;
    let seconds = start.elapsed().as_secs_f64();

    let scores = model.evaluate(&test.x, &test.y)?;
    let pred = model.predict(&test.x)?;
    println!(
        "test loss {:.4}, test accuracy {:.4}",
        scores["loss"], scores["accuracy"]
    );
    println!("confusion matrix (rows: true digit, columns: predicted digit)");
    println!("{}", confusion_table(&test.y, &pred, 10, None)?);
    print_json(serde_json::json!({
        "example": "quickstart",
        "epochs": history.epochs.len(),
        "seconds": (seconds * 100.0).round() / 100.0,
        "train_samples_per_sec": ((train.len() * history.epochs.len()) as f64 / seconds).round(),
        "test_accuracy": (scores["accuracy"] * 10000.0).round() / 10000.0,
        "test_loss": (scores["loss"] * 10000.0).round() / 10000.0,
    }));
    Ok(())
}
