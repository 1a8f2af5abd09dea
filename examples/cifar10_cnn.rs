//! A CNN on CIFAR-10 with random horizontal flips and padded random crops,
//! reporting test accuracy and a confusion matrix with class names.
//!
//! ```text
//! cargo run --release --example cifar10_cnn -- --data data/cifar-10-batches-bin --epochs 2
//! ```
//! `--data` is a folder of CIFAR-10 binary batches (`data_batch_*.bin`,
//! `test_batch.bin`; record counts are taken from the file sizes). When the
//! folder holds only `test_batch.bin`, it is split 75/25 into training and test images: a smoke run,
//! not a measurement of accuracy.

mod common;

use common::{confusion_table, data_dir, finish, timed_fit, Args, CIFAR10_HOW_TO_GET};
use neurite::data::augment::{RandomCrop, RandomFlip};
use neurite::data::Pipeline;
use neurite::prelude::*;

const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "cifar10_cnn",
        &[
            ("data", "DIR"),
            ("epochs", "N"),
            ("batch-size", "N"),
            ("seed", "N"),
        ],
    );
    let epochs: usize = args.number("epochs", 10);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 0);
    let dir = data_dir(
        "cifar10_cnn",
        &args.string("data", "data/cifar-10-batches-bin"),
        &["test_batch.bin"],
        CIFAR10_HOW_TO_GET,
    );
    let (train, test) = if dir.join("data_batch_1.bin").is_file() {
        neurite::data::cifar10::load(&dir)?
    } else {
        let all = neurite::data::cifar10::load_batch(dir.join("test_batch.bin"))?;
        eprintln!(
            "cifar10_cnn: only test_batch.bin found ({} images): splitting it 75/25 for a smoke run",
            all.len()
        );
        all.train_test_split(0.25, seed)?
    };
    println!(
        "CIFAR-10: {} training and {} test images",
        train.len(),
        test.len()
    );

    let augmentation = Pipeline::new()
        .then(RandomFlip::horizontal())
        .then(RandomCrop::new(4));
    let mut model = Sequential::new()
        .seed(seed)
        .add(
            Conv2D::new(32, (3, 3))
                .padding(Padding::Same)
                .activation(Activation::Relu)
                .input_shape([32, 32, 3]),
        )
        .add(Conv2D::new(32, (3, 3)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Dropout::new(0.25))
        .add(
            Conv2D::new(64, (3, 3))
                .padding(Padding::Same)
                .activation(Activation::Relu),
        )
        .add(Conv2D::new(64, (3, 3)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Dropout::new(0.25))
        .add(Flatten::new())
        .add(Dense::new(256).activation(Activation::Relu))
        .add(Dropout::new(0.5))
        .add(Dense::new(10).activation(Activation::Softmax));
    model.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    model.print_summary();

    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(batch_size)
        .augmentation(&augmentation);
    let (history, seconds) = timed_fit(&mut model, &train.x, &train.y, options)?;
    let scores = model.evaluate(&test.x, &test.y)?;
    let pred = model.predict(&test.x)?;
    println!("{}", confusion_table(&test.y, &pred, 10, Some(&CLASSES))?);
    finish(
        "cifar10_cnn",
        &history,
        seconds,
        train.len(),
        &scores,
        serde_json::json!({"train_samples": train.len()}),
    );
    Ok(())
}
