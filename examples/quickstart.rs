//! Quickstart: a small CNN on scikit-learn's 8x8 digits, embedded in
//! neurite-data (1,797 images, no download). Trains in seconds, prints the
//! model summary, a progress bar per epoch, the test accuracy, a confusion
//! matrix and, last, one JSON line with the results.
//!
//! ```text
//! cargo run --release --example quickstart [-- --epochs 15 --seed 42]
//! ```

mod common;

use common::{confusion_table, finish, timed_fit, Args};
use neurite::prelude::*;

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "quickstart",
        &[("epochs", "N"), ("batch-size", "N"), ("seed", "N")],
    );
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

    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(batch_size)
        .validation_data(&test.x, &test.y);
    let (history, seconds) = timed_fit(&mut model, &train.x, &train.y, options)?;
    let scores = model.evaluate(&test.x, &test.y)?;
    let pred = model.predict(&test.x)?;
    println!("confusion matrix (rows: true digit, columns: predicted digit)");
    println!("{}", confusion_table(&test.y, &pred, 10, None)?);
    finish(
        "quickstart",
        &history,
        seconds,
        train.len(),
        &scores,
        serde_json::json!({}),
    );
    Ok(())
}
