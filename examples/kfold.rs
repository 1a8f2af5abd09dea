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

use common::{print_json, round_to, timing_fields, Args};
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
    let args = Args::parse("kfold", &[("epochs", "N"), ("folds", "K"), ("seed", "N")]);
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
    // Samples trained per epoch, over both architectures and every fold.
    let trained_per_epoch = 2 * folds * (digits.len() - digits.len() / folds);
    let by_name = |pick: fn(&(&str, f64, f64)) -> f64| -> serde_json::Map<String, serde_json::Value> {
        results
            .iter()
            .map(|r| (r.0.to_string(), round_to(pick(r), 4).into()))
            .collect()
    };
    let mut line = timing_fields("kfold", epochs, seconds, trained_per_epoch);
    line.extend([
        ("folds".to_string(), folds.into()),
        ("test_accuracy".to_string(), round_to(best.1, 4).into()),
        ("selected".to_string(), best.0.into()),
        ("mean_accuracy".to_string(), by_name(|r| r.1).into()),
        ("std_accuracy".to_string(), by_name(|r| r.2).into()),
    ]);
    print_json(line.into());
    Ok(())
}
