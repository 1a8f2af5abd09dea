//! Linear regression: one Dense unit, mean squared error, L2 regularization
//! on the kernel.
//!
//! Data (synthetic, described): x ~ N(0, 1) in 3 dimensions and
//! `y = 3 x0 - 2 x1 + 0.5 x2 + 1 + N(0, 0.1²)`. 2,000 training and 500 test
//! samples. Expected result: learned weights within 0.05 of (3, -2, 0.5),
//! bias within 0.05 of 1, test MSE close to the noise variance 0.01.
//!
//! ```text
//! cargo run --release --example linear_regression
//! ```

mod common;

use common::{print_json, round_to, timed_fit, timing_fields, Args};
use neurite::prelude::*;
use neurite::tensor::random::{normal, rng_from_seed};

const TRUE_W: [f32; 3] = [3.0, -2.0, 0.5];
const TRUE_B: f32 = 1.0;

fn make_data(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut rng = rng_from_seed(seed);
    let x = normal(&[n, 3], 0.0, 1.0, &mut rng);
    let noise = normal(&[n, 1], 0.0, 0.1, &mut rng);
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n, 1]), |i| {
        (0..3).map(|j| TRUE_W[j] * x[[i[0], j]]).sum::<f32>() + TRUE_B + noise[[i[0], 0]]
    });
    (x, y)
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "linear_regression",
        &[("epochs", "N"), ("batch-size", "N"), ("seed", "N")],
    );
    let epochs: usize = args.number("epochs", 20);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 0);
    let (x_train, y_train) = make_data(2000, seed);
    let (x_test, y_test) = make_data(500, seed + 1);

    let mut model = Sequential::new().seed(seed).add(
        Dense::new(1)
            .input_dim(3)
            .kernel_regularizer(Regularizer::l2(1e-4)),
    );
    model.compile(Sgd::new(0.05), Loss::MeanSquaredError, &[Metric::Mae])?;
    let options = FitOptions::new().epochs(epochs).batch_size(batch_size).verbose(2);
    let (history, seconds) = timed_fit(&mut model, &x_train, &y_train, options)?;
    let scores = model.evaluate(&x_test, &y_test)?;
    let pred = model.predict(&x_test)?;
    let mse = neurite::metrics::mean_squared_error(y_test.view(), pred.view())?;
    let weights = model.get_weights();
    let kernel: Vec<f32> = weights[0].iter().copied().collect();
    let bias = weights[1].iter().copied().next().unwrap_or(f32::NAN);
    println!("learned kernel {kernel:?} (true {TRUE_W:?}), bias {bias:.4} (true {TRUE_B})");
    println!("test mse {mse:.5}, test mae {:.5}", scores["mae"]);
    let mut line = timing_fields("linear_regression", history.epochs.len(), seconds, 2000);
    line.extend([
        ("test_mse".to_string(), round_to(mse, 6).into()),
        ("kernel".to_string(), kernel.into()),
        ("bias".to_string(), bias.into()),
    ]);
    print_json(line.into());
    Ok(())
}
