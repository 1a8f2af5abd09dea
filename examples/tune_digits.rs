//! Hyperparameter search with cross-validation: units, dropout, learning
//! rate and optimizer of a digits classifier (scikit-learn's 1,797 8x8
//! digits embedded in neurite-data, flattened to 64 features), each
//! configuration scored by 5-fold stratified cross-validation on 80% of the
//! digits, TPE as the strategy. Prints the results table and the best
//! configuration, writes the results log and two SVG pictures to `--out`,
//! then trains the best configuration on the 80% and reports its accuracy on
//! the held-out 20% (`test_accuracy`; `cv_accuracy` is the search's score).
//!
//! ```text
//! cargo run --release --example tune_digits -- --trials 12 --epochs 10
//! ```
//! Run it again with the same `--out` and it resumes: trials already in
//! `tune_digits.jsonl` are not run again.

mod common;

use common::{print_json, round_to, timing_fields, Args};
use neurite::data::StratifiedKFold;
use neurite::prelude::*;
use neurite::tune::{Evaluation, HyperParameters, Objective, Param, Search, SearchSpace, Tpe, Tuner};
use std::time::Instant;

/// The model of one trial: Dense(units, relu) -> Dropout -> Dense(10, softmax).
fn build(hp: &HyperParameters) -> neurite::Result<Sequential> {
    let mut model = Sequential::new()
        .seed(hp.seed())
        .add(
            Dense::new(hp.get_usize("units")?)
                .activation(Activation::Relu)
                .input_dim(64),
        )
        .add(Dropout::new(hp.get_f32("dropout")?))
        .add(Dense::new(10).activation(Activation::Softmax));
    let lr = hp.get_f32("learning_rate")?;
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    match hp.get_str("optimizer")? {
        "adam" => model.compile(Adam::new(lr), loss, &[Metric::Accuracy])?,
        "rmsprop" => model.compile(Rmsprop::new(lr), loss, &[Metric::Accuracy])?,
        _ => model.compile(Sgd::new(lr), loss, &[Metric::Accuracy])?,
    }
    Ok(model)
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "tune_digits",
        &[
            ("trials", "N"),
            ("epochs", "N"),
            ("folds", "K"),
            ("parallel", "N"),
            ("seed", "N"),
            ("out", "DIR"),
        ],
    );
    let trials: usize = args.number("trials", 8);
    let epochs: usize = args.number("epochs", 5);
    let folds: usize = args.number("folds", 5);
    let parallel: usize = args.number("parallel", 1);
    let seed: u64 = args.number("seed", 0);
    let out = std::path::PathBuf::from(args.string("out", "tune_digits_out"));

    let digits = neurite::data::digits::load_flat(); // x: (1797, 64) in [0, 1]
                                                     // The search sees 80%; the best configuration is scored once on the other 20%.
    let (train, test) = digits.stratified_train_test_split(0.2, seed)?;
    let splits = StratifiedKFold::new(folds)
        .shuffle(seed)
        .split(&train.class_indices()?)?;

    let space = SearchSpace::new()
        .add(Param::int("units", 16, 128).step(16.0))?
        .add(Param::float("dropout", 0.0, 0.5))?
        .add(Param::float("learning_rate", 1e-4, 3e-2).log())?
        .add(Param::choice("optimizer", ["adam", "rmsprop", "sgd"]))?;
    let search = Search::new(space, Objective::max("val_accuracy"))
        .strategy(Tpe::new(trials).startup_trials(4.min(trials.max(1))))
        .epochs(epochs)
        .seed(seed)
        .max_parallel_trials(parallel)
        .log_file(out.join("tune_digits.jsonl"));
    let tuner = Tuner::new(search, build).evaluation(Evaluation::CrossValidation(splits));

    // Trials already in the log (a resumed search) are not trained again.
    let logged_before = std::fs::read_to_string(out.join("tune_digits.jsonl"))
        .map(|log| log.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0);
    let start = Instant::now();
    let results = tuner.search(&train.x, &train.y)?;
    println!("{}", results.summary(10));
    results.plot_objective(out.join("objective.svg"))?;
    results.plot_parameters(out.join("parameters.svg"))?;
    let best = results.best_trial().expect("at least one complete trial");
    println!("best configuration: {}", results.best_hyperparameters()?);
    println!("pictures and log in {}", out.display());
    let (best_model, _) = tuner.fit_best(&results, &train.x, &train.y)?;
    let seconds = start.elapsed().as_secs_f64(); // the search and the final training
    let test_scores = best_model.evaluate(&test.x, &test.y)?;
    let test_accuracy = test_scores.get("accuracy").copied().unwrap_or(f64::NAN);
    println!(
        "best configuration trained on {} digits: test accuracy {test_accuracy:.4} on {} held out",
        train.len(),
        test.len()
    );

    // Samples trained per epoch: every fold of every trial run now (not those resumed from the
    // log), and the best configuration's final training on the whole 80%.
    let run_now = results.trials().len().saturating_sub(logged_before);
    let trained_per_epoch = run_now * folds * (train.len() - train.len() / folds) + train.len();
    let mut line = timing_fields("tune_digits", epochs, seconds, trained_per_epoch);
    let params: serde_json::Map<String, serde_json::Value> = best
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
        .collect();
    line.extend([
        ("folds".to_string(), folds.into()),
        ("trials".to_string(), results.trials().len().into()),
        ("failed".to_string(), results.failures().len().into()),
        (
            "cv_accuracy".to_string(),
            round_to(best.objective.unwrap_or(f64::NAN), 4).into(),
        ),
        ("test_accuracy".to_string(), round_to(test_accuracy, 4).into()),
        ("best_trial".to_string(), best.index.into()),
        ("best".to_string(), params.into()),
    ]);
    print_json(line.into());
    Ok(())
}
