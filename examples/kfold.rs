//! Model selection by 5-fold stratified cross-validation: two architectures
//! compared on scikit-learn's digits (1,797 8x8 images embedded in
//! neurite-data, flattened to 64 features).
//!
//! ```text
//! cargo run --release --example kfold
//! ```
//! Expected result: both architectures above 0.9 mean accuracy; the wider
//! one usually wins by a little. The JSON line's `test_accuracy` is the
//! winner's mean held-out accuracy.

mod common;

use common::{print_json, Args};
use neurite::data::StratifiedKFold;
use neurite::prelude::*;
use std::time::Instant;

fn small(seed: u64) -> neurite::Result<Sequential> {
    let mut m = Sequential::new()
        .seed(seed)
        .add(Dense::new(32).activation(Activation::Relu).input_dim(64))
        .add(Dense::new(10).activation(Activation::Softmax));
    m.compile(
        Adam::new(0.003),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    Ok(m)
}

fn wide(seed: u64) -> neurite::Result<Sequential> {
    let mut m = Sequential::new()
        .seed(seed)
        .add(Dense::new(128).activation(Activation::Relu).input_dim(64))
        .add(Dropout::new(0.2))
        .add(Dense::new(64).activation(Activation::Relu))
        .add(Dense::new(10).activation(Activation::Softmax));
    m.compile(
        Adam::new(0.003),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    Ok(m)
}

fn main() -> neurite::Result<()> {
    let args = Args::parse("kfold [--epochs N] [--folds K] [--seed N]");
    let epochs: usize = args.number("epochs", 20);
    let folds: usize = args.number("folds", 5);
    let seed: u64 = args.number("seed", 0);
    let digits = neurite::data::digits::load_flat(); // x: (1797, 64) in [0, 1]
    let labels = neurite::data::digits::labels().to_vec();
    let splits = StratifiedKFold::new(folds).shuffle(seed).split(&labels)?;

    let start = Instant::now();
    let mut results = Vec::new();
    for (name, build) in [
        ("dense32", small as fn(u64) -> neurite::Result<Sequential>),
        ("dense128-64", wide),
    ] {
        let cv = neurite::cross_validate(
            |fold| build(seed + fold as u64),
            &digits.x,
            &digits.y,
            &splits,
            |_| FitOptions::new().epochs(epochs).batch_size(32).verbose(0),
        )?;
        let accs: Vec<String> = cv.folds.iter().map(|f| format!("{:.4}", f["accuracy"])).collect();
        println!(
            "{name:>12}: accuracy per fold [{}], mean {:.4} ± {:.4}",
            accs.join(", "),
            cv.mean["accuracy"],
            cv.std["accuracy"]
        );
        results.push((name, cv.mean["accuracy"], cv.std["accuracy"]));
    }
    let seconds = start.elapsed().as_secs_f64();
    let best = results
        .iter()
        .cloned()
        .fold(results[0], |b, r| if r.1 > b.1 { r } else { b });
    println!("selected: {} (mean accuracy {:.4})", best.0, best.1);
    let trained = 2 * folds * epochs * (digits.len() - digits.len() / folds);
    print_json(serde_json::json!({
        "example": "kfold",
        "epochs": epochs,
        "folds": folds,
        "seconds": (seconds * 100.0).round() / 100.0,
        "train_samples_per_sec": (trained as f64 / seconds).round(),
        "test_accuracy": (best.1 * 10000.0).round() / 10000.0,
        "selected": best.0,
        "mean_accuracy": results.iter().map(|r| (r.0, (r.1 * 10000.0).round() / 10000.0)).collect::<std::collections::BTreeMap<_, _>>(),
        "std_accuracy": results.iter().map(|r| (r.0, (r.2 * 10000.0).round() / 10000.0)).collect::<std::collections::BTreeMap<_, _>>(),
    }));
    Ok(())
}
