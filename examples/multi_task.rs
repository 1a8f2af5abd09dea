//! Multi-task learning with a two-input, two-output functional model on
//! scikit-learn's 8x8 digits (the real `digits.csv.gz`: 1,797 images, pixel
//! values 0..16, and the digit).
//!
//! Inputs:
//! - `image`: the 8x8 image (values / 16), through a small CNN;
//! - `profiles`: 16 hand-made features, the image's ink profiles — the mean
//!   ink of each of the 8 rows and of the 8 columns (projection histograms,
//!   a classic OCR feature: they say where the strokes are, as a 1-D summary).
//!
//! Outputs, from one shared trunk:
//! - `digit`: the class, softmax + sparse categorical cross-entropy, accuracy;
//! - `ink`: how much ink the digit uses — the mean pixel value (a proxy for
//!   stroke thickness and size), standardised with the training set's mean
//!   and standard deviation; mean squared error, MAE (in standard deviations).
//!
//! Seeded 80/20 split; prints the per-output metrics of every epoch (on
//! standard error) and of the test set, and ends with the examples' JSON line.
//!
//! ```text
//! cargo run --release --example multi_task -- [--data ../shared/data/sklearn] [--epochs 20] [--batch-size 32] [--seed 42]
//! ```

mod common;

use common::{data_dir, print_json, round_to, timing_fields, Args};
use neurite::data::csv::{self, Column, CsvOptions};
use neurite::data::rand::seq::SliceRandom;
use neurite::prelude::*;

/// Where the digits file comes from, for messages.
const HOW_TO_GET: &str =
    "It is scikit-learn's sklearn/datasets/data/digits.csv.gz (64 pixel values 0..16 and \
the label per line), in /work/shared/data/sklearn on the project machine.";

/// The model's arrays for some samples: the two inputs and the two targets.
struct Split {
    image: Tensor,
    profiles: Tensor,
    digit: Tensor,
    ink: Tensor,
}

/// Images `(n, 8, 8, 1)` in [0, 1], their 16 ink profiles, the digits and the mean ink.
fn arrays(pixels: &Tensor, labels: &Tensor, rows: &[usize]) -> Split {
    let n = rows.len();
    let image = Tensor::from_shape_fn(ndarray::IxDyn(&[n, 8, 8, 1]), |i| {
        pixels[[rows[i[0]], i[1] * 8 + i[2]]] / 16.0
    });
    let profiles = Tensor::from_shape_fn(ndarray::IxDyn(&[n, 16]), |i| {
        let (s, k) = (i[0], i[1]);
        let sum: f32 = (0..8)
            .map(|t| {
                if k < 8 {
                    image[[s, k, t, 0]]
                } else {
                    image[[s, t, k - 8, 0]]
                }
            })
            .sum();
        sum / 8.0
    });
    let digit = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| labels[[rows[i[0]]]]);
    let ink = Tensor::from_shape_fn(ndarray::IxDyn(&[n, 1]), |i| {
        image.index_axis(ndarray::Axis(0), i[0]).mean().unwrap_or(0.0)
    });
    Split {
        image,
        profiles,
        digit,
        ink,
    }
}

fn model(seed: u64) -> neurite::Result<Functional> {
    let image = Input::named("image", [8, 8, 1]);
    let profiles = Input::named("profiles", [16]);
    let x = Conv2D::new(16, (3, 3))
        .padding(Padding::Same)
        .activation(Activation::Relu)
        .call(&image)?;
    let x = MaxPooling2D::new((2, 2)).call(&x)?;
    let x = Conv2D::new(32, (3, 3))
        .padding(Padding::Same)
        .activation(Activation::Relu)
        .call(&x)?;
    let x = Flatten::new().call(&x)?;
    let p = Dense::new(16).activation(Activation::Relu).call(&profiles)?;
    let h = Concatenate::new().call_many(&[&x, &p])?;
    let h = Dense::new(64)
        .activation(Activation::Relu)
        .with_name("trunk")
        .call(&h)?;
    let digit = Dense::new(10)
        .activation(Activation::Softmax)
        .with_name("digit")
        .call(&h)?;
    let ink = Dense::new(1).with_name("ink").call(&h)?;
    Ok(Model::functional_many(&[&image, &profiles], &[&digit, &ink])?.seed(seed))
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "multi_task",
        &[
            ("data", "DIR"),
            ("epochs", "N"),
            ("batch-size", "N"),
            ("seed", "N"),
        ],
    );
    let dir = data_dir(
        "multi_task",
        &args.string("data", "../shared/data/sklearn"),
        &["digits.csv.gz"],
        HOW_TO_GET,
    );
    let epochs: usize = args.number("epochs", 20);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 42);

    let table = csv::load(
        dir.join("digits.csv.gz"),
        &CsvOptions::new().header(false).label(Column::Last),
    )?;
    let (pixels, labels) = (&table.dataset.x, &table.dataset.y);
    let n = pixels.shape()[0];
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut Generator::seed_from_u64(seed));
    let n_test = n / 5;
    let (test_rows, train_rows) = order.split_at(n_test);
    let (mut train, mut test) = (
        arrays(pixels, labels, train_rows),
        arrays(pixels, labels, test_rows),
    );
    // Standardise the ink target with the training set's statistics.
    let mean = train.ink.mean().unwrap_or(0.0);
    let std = train.ink.std(0.0).max(1e-6);
    train.ink.mapv_inplace(|v| (v - mean) / std);
    test.ink.mapv_inplace(|v| (v - mean) / std);
    println!(
        "digits: {} training and {} test samples; inputs image 8x8x1 and 16 ink profiles; outputs digit and ink",
        train_rows.len(),
        test_rows.len()
    );

    let mut model = model(seed)?;
    model.compile(
        Adam::new(0.002),
        Losses::from([
            ("digit", Loss::sparse_categorical_crossentropy()),
            ("ink", Loss::MeanSquaredError),
        ])
        .loss_weights([("digit", 1.0), ("ink", 0.5)]),
        [("digit", vec![Metric::Accuracy]), ("ink", vec![Metric::Mae])],
    )?;
    model.print_summary();

    let x_train = [("image", &train.image), ("profiles", &train.profiles)];
    let y_train = [("digit", &train.digit), ("ink", &train.ink)];
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(batch_size)
        .verbose(2)
        .validation_data([&test.image, &test.profiles], [&test.digit, &test.ink]);
    let start = std::time::Instant::now();
    let history = model.fit(x_train, y_train, options)?;
    let seconds = start.elapsed().as_secs_f64();

    let scores = model.evaluate([&test.image, &test.profiles], [&test.digit, &test.ink])?;
    // The standardised training mean is 0: predicting it gives this MAE.
    let baseline_mae = test.ink.iter().map(|v| v.abs() as f64).sum::<f64>() / test_rows.len() as f64;
    println!(
        "test: loss {:.4} | digit: loss {:.4}, accuracy {:.4} | ink: loss {:.5}, MAE {:.4} (predicting the training mean: {:.4})",
        scores["loss"],
        scores["digit_loss"],
        scores["digit_accuracy"],
        scores["ink_loss"],
        scores["ink_mae"],
        baseline_mae
    );
    let preds = model.predict_many([&test.image, &test.profiles])?;
    println!(
        "first test sample: digit {} predicted {}, ink {:.3} predicted {:.3} (standardised)",
        test.digit[[0]],
        common::classes(&preds[0])?[0],
        test.ink[[0, 0]],
        preds[1][[0, 0]]
    );

    let mut line = timing_fields("multi_task", history.epochs.len(), seconds, train_rows.len());
    for (key, digits) in [
        ("loss", 4),
        ("digit_loss", 4),
        ("digit_accuracy", 4),
        ("ink_loss", 6),
        ("ink_mae", 4),
    ] {
        line.insert(format!("test_{key}"), round_to(scores[key], digits).into());
    }
    line.insert(
        "test_accuracy".into(),
        round_to(scores["digit_accuracy"], 4).into(),
    );
    line.insert("ink_mae_baseline".into(), round_to(baseline_mae, 4).into());
    print_json(serde_json::Value::Object(line));
    Ok(())
}
