//! Dense(10)-Dense(10)-Dense(1, sigmoid) on 5 features: binary classification.
//!
//! Data (synthetic, described): features are drawn from N(0, 1); the label is
//! 1 when `x0 + 0.5 x1 - x2 + 0.8 x3 x4 > 0`, a rule with an interaction term
//! that a linear model cannot fit exactly. 4,000 training and 1,000 test
//! samples. Expected result: test accuracy around 0.95 after 30 epochs.
//!
//! ```text
//! cargo run --release --example dense_binary
//! ```

mod common;

use common::{finish, timed_fit, Args};
use neurite::prelude::*;
use neurite::tensor::random::{normal, rng_from_seed};

fn make_data(n: usize, seed: u64) -> (Tensor, Tensor) {
    let x = normal(&[n, 5], 0.0, 1.0, &mut rng_from_seed(seed));
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n, 1]), |i| {
        let r = |j: usize| x[[i[0], j]];
        if r(0) + 0.5 * r(1) - r(2) + 0.8 * r(3) * r(4) > 0.0 {
            1.0
        } else {
            0.0
        }
    });
    (x, y)
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "dense_binary",
        &[("epochs", "N"), ("batch-size", "N"), ("seed", "N")],
    );
    let epochs: usize = args.number("epochs", 30);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 0);
    let (x_train, y_train) = make_data(4000, seed);
    let (x_test, y_test) = make_data(1000, seed + 1);

    let mut model = Sequential::new()
        .seed(seed)
        .add(Dense::new(10).activation(Activation::Relu).input_dim(5))
        .add(Dense::new(10).activation(Activation::Relu))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    model.compile(
        Adam::new(0.003),
        Loss::BinaryCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    model.print_summary();
    let options = FitOptions::new().epochs(epochs).batch_size(batch_size).verbose(2);
    let (history, seconds) = timed_fit(&mut model, &x_train, &y_train, options)?;
    let scores = model.evaluate(&x_test, &y_test)?;
    finish(
        "dense_binary",
        &history,
        seconds,
        4000,
        &scores,
        serde_json::json!({}),
    );
    Ok(())
}
