//! `Tuner` on small models: validation split, validation data and
//! cross-validation (stratified, group), reproducibility, resuming,
//! failures, pruning and the best model.

use neurite::data::{GroupKFold, StratifiedKFold};
use neurite::prelude::*;
use neurite::tune::{
    Evaluation, HyperParameters, MedianPruner, Objective, Param, Random, Search, SearchSpace, TrialStatus,
    Tuner,
};

/// 90 samples of 4 features, 3 classes that depend on the features.
fn data() -> (Tensor, Tensor, Vec<usize>) {
    let x = ndarray::Array2::<f32>::from_shape_fn((90, 4), |(i, j)| ((i * 7 + j * 13) % 17) as f32 / 17.0)
        .into_dyn();
    let labels: Vec<usize> = (0..90)
        .map(|i| {
            if x[[i, 0]] + x[[i, 1]] > 1.1 {
                2
            } else if x[[i, 2]] > 0.5 {
                1
            } else {
                0
            }
        })
        .collect();
    let y = ndarray::Array1::from_iter(labels.iter().map(|&c| c as f32)).into_dyn();
    (x, y, labels)
}

fn space() -> SearchSpace {
    SearchSpace::new()
        .add(Param::int("units", 4, 16).step(4.0))
        .unwrap()
        .add(Param::float("learning_rate", 1e-3, 1e-1).log())
        .unwrap()
        .add(Param::choice("optimizer", ["adam", "sgd"]))
        .unwrap()
}

fn build(hp: &HyperParameters) -> neurite::Result<Sequential> {
    let mut m = Sequential::new()
        .seed(hp.seed())
        .add(
            Dense::new(hp.get_usize("units")?)
                .activation(Activation::Relu)
                .input_dim(4),
        )
        .add(Dense::new(3).activation(Activation::Softmax));
    let lr = hp.get_f32("learning_rate")?;
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    if hp.get_str("optimizer")? == "adam" {
        m.compile(Adam::new(lr), loss, &[Metric::Accuracy])?;
    } else {
        m.compile(Sgd::new(lr), loss, &[Metric::Accuracy])?;
    }
    Ok(m)
}

fn search(trials: usize) -> Search {
    search_for(Objective::max("val_accuracy"), trials)
}

fn search_for(objective: Objective, trials: usize) -> Search {
    Search::new(space(), objective)
        .strategy(Random::new(trials))
        .epochs(3)
        .seed(5)
        .verbose(0)
}

#[test]
fn a_validation_split_search_is_reproducible_and_gives_the_best_model() {
    let (x, y, _) = data();
    let run = || {
        Tuner::new(search(4), build)
            .evaluation(Evaluation::ValidationSplit(0.25))
            .search(&x, &y)
            .unwrap()
    };
    let (a, b) = (run(), run());
    let strip = |r: &neurite::tune::TuneResults| -> Vec<_> {
        r.trials()
            .iter()
            .cloned()
            .map(|mut t| {
                t.seconds = 0.0;
                t
            })
            .collect()
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a.summary(10), b.summary(10));
    assert!(a.trials().iter().all(|t| t.status == TrialStatus::Complete));
    let t = &a.trials()[0];
    for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        assert!(t.metrics.contains_key(key), "{:?}", t.metrics);
    }
    // The best model, rebuilt: untrained, or trained on all the data for the best trial's epochs.
    let tuner = Tuner::new(search(4), build);
    let fresh = tuner.build_best(&a).unwrap();
    assert_eq!(fresh.get_seed(), a.best_trial().unwrap().seed);
    let (model, history) = tuner.fit_best(&a, &x, &y).unwrap();
    assert_eq!(history.epochs.len(), 3);
    assert!(history.get("val_loss").is_none(), "trained on all data");
    assert_eq!(model.predict(&x).unwrap().shape(), &[90, 3]);
}

#[test]
fn cross_validation_with_stratified_and_group_splits() {
    let (x, y, labels) = data();
    for splits in [
        StratifiedKFold::new(3).shuffle(1).split(&labels).unwrap(),
        GroupKFold::new(3)
            .split(&(0..90).map(|i| i / 10).collect::<Vec<_>>())
            .unwrap(),
    ] {
        let tuner = Tuner::new(search(2), build).evaluation(Evaluation::CrossValidation(splits.clone()));
        let r = tuner.search(&x, &y).unwrap();
        let t = &r.trials()[0];
        assert_eq!(t.status, TrialStatus::Complete, "{:?}", t.error);
        // Each fold's held-out values, averaged, named val_*; the fold count is the splitter's.
        assert_eq!(splits.len(), 3);
        assert!(t.metrics.contains_key("val_accuracy_std"));
        assert!((0.0..=1.0).contains(&t.objective.unwrap()));
        assert_eq!(Some(t.metrics["val_accuracy"]), t.objective);
    }
}

#[test]
fn parallel_trials_and_resuming_give_the_same_results() {
    let (x, y, labels) = data();
    let splits = StratifiedKFold::new(2).shuffle(0).split(&labels).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuner = |log: &std::path::Path, parallel| {
        Tuner::new(
            search(4).max_parallel_trials(parallel).threads(2).log_file(log),
            build,
        )
        .evaluation(Evaluation::CrossValidation(splits.clone()))
    };
    let full_log = dir.path().join("full.jsonl");
    let full = tuner(&full_log, 2).search(&x, &y).unwrap();
    let sequential = tuner(&dir.path().join("seq.jsonl"), 1).search(&x, &y).unwrap();
    assert_eq!(
        full.summary(10),
        sequential.summary(10),
        "parallel trials give the same numbers"
    );
    // Interrupted after 2 trials: resume.
    let text = std::fs::read_to_string(&full_log).unwrap();
    let cut_log = dir.path().join("cut.jsonl");
    std::fs::write(
        &cut_log,
        text.lines().take(2).map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let resumed = tuner(&cut_log, 2).search(&x, &y).unwrap();
    assert_eq!(resumed.summary(10), full.summary(10));
}

#[test]
fn errors_and_failures() {
    let (x, y, labels) = data();
    // An objective that is not logged: an error naming it and listing the logs.
    let e = Tuner::new(search_for(Objective::max("val_acc"), 2), build)
        .search(&x, &y)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'val_acc'") && e.contains("val_accuracy") && e.contains("val_loss"),
        "{e}"
    );
    let splits = StratifiedKFold::new(2).split(&labels).unwrap();
    let e = Tuner::new(search_for(Objective::max("accuracy"), 2), build)
        .evaluation(Evaluation::CrossValidation(splits))
        .search(&x, &y)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'accuracy'") && e.contains("val_accuracy"), "{e}");
    // A closure that fails on some configurations: failed trials, the search goes on.
    let r = Tuner::new(search(6), |hp| {
        if hp.get_str("optimizer")? == "sgd" {
            panic!("sgd is not supported here");
        }
        // A typo: the error names the parameter.
        if hp.get_int("units")? == 8 {
            hp.get_int("unit")?;
        }
        build(hp)
    })
    .search(&x, &y)
    .unwrap();
    assert_eq!(r.trials().len(), 6);
    assert!(!r.failures().is_empty());
    for t in r.failures() {
        let e = t.error.as_deref().unwrap();
        assert!(e.contains("sgd is not supported") || e.contains("'unit'"), "{e}");
    }
    assert!(r.trials().iter().any(|t| t.status == TrialStatus::Complete));
    // Bad settings.
    let e = Tuner::new(search(1), build)
        .evaluation(Evaluation::ValidationSplit(1.5))
        .search(&x, &y)
        .unwrap_err();
    assert!(e.to_string().contains("1.5"), "{e}");
}

#[test]
fn median_pruning_stops_trials_on_validation_data() {
    let (x, y, _) = data();
    let (xv, yv) = (x.clone(), y.clone());
    let r = Tuner::new(
        search(10).epochs(6).pruner(MedianPruner::new().startup_trials(2)),
        build,
    )
    .evaluation(Evaluation::ValidationData(xv, yv))
    .search(&x, &y)
    .unwrap();
    for t in r.trials() {
        assert!(!t.intermediate.is_empty());
        if t.status == TrialStatus::Pruned {
            assert!(t.intermediate.len() < 6, "stopped early");
        } else {
            assert_eq!(t.intermediate.len(), 6);
        }
    }
    assert!(
        r.trials().iter().any(|t| t.status == TrialStatus::Pruned),
        "{}",
        r.summary(10)
    );
}
