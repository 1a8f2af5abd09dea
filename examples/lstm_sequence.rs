//! LSTM(64, return_sequences) on sequences of 100 features, stacked under a
//! second LSTM and a softmax classifier.
//!
//! Data (synthetic, described): 10 class templates drawn from N(0, 1) in 100
//! dimensions. A sequence of 20 steps belongs to one class; at each step
//! the input is N(0, 1) noise plus, with probability 0.3, its class
//! template — so the class is only visible by accumulating evidence over
//! time. 2,000 training and 500 test sequences. Expected result: test
//! accuracy above 0.9 after 10 epochs.
//!
//! ```text
//! cargo run --release --example lstm_sequence
//! ```

mod common;

use common::{finish, timed_fit, Args};
use neurite::prelude::*;
use neurite::tensor::random::{normal, rng_from_seed, uniform};

const STEPS: usize = 20;
const FEATURES: usize = 100;

fn make_data(n: usize, templates: &Tensor, seed: u64) -> (Tensor, Tensor) {
    let mut rng = rng_from_seed(seed);
    let noise = normal(&[n, STEPS, FEATURES], 0.0, 1.0, &mut rng);
    let shown = uniform(&[n, STEPS], 0.0, 1.0, &mut rng);
    let classes: Vec<usize> = (0..n).map(|i| (i * 3 + seed as usize) % 10).collect();
    let x = Tensor::from_shape_fn(ndarray::IxDyn(&[n, STEPS, FEATURES]), |i| {
        let signal = if shown[[i[0], i[1]]] < 0.3 {
            templates[[classes[i[0]], i[2]]]
        } else {
            0.0
        };
        noise[[i[0], i[1], i[2]]] + signal
    });
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| classes[i[0]] as f32);
    (x, y)
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "lstm_sequence",
        &[("epochs", "N"), ("batch-size", "N"), ("seed", "N")],
    );
    let epochs: usize = args.number("epochs", 10);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 0);
    let templates = normal(&[10, FEATURES], 0.0, 1.0, &mut rng_from_seed(seed + 100));
    let (x_train, y_train) = make_data(2000, &templates, seed);
    let (x_test, y_test) = make_data(500, &templates, seed + 1);

    let mut model = Sequential::new()
        .seed(seed)
        .add(
            LSTM::new(64)
                .return_sequences(true)
                .input_shape([STEPS, FEATURES]),
        )
        .add(LSTM::new(32))
        .add(Dense::new(10).activation(Activation::Softmax));
    model.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    model.print_summary();
    let options = FitOptions::new().epochs(epochs).batch_size(batch_size);
    let (history, seconds) = timed_fit(&mut model, &x_train, &y_train, options)?;
    let scores = model.evaluate(&x_test, &y_test)?;
    finish(
        "lstm_sequence",
        &history,
        seconds,
        2000,
        &scores,
        serde_json::json!({}),
    );
    Ok(())
}
