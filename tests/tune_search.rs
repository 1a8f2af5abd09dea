//! The search engine on synthetic objectives (no model): reproducibility,
//! resuming from the results log, parallel trials, failures, pruning,
//! Hyperband's promotions, and TPE against random search.

use neurite::callbacks::Logs;
use neurite::tune::{
    Grid, Hyperband, MedianPruner, Objective, Param, Random, Search, SearchSpace, Tpe, TrialContext,
    TrialStatus,
};
use std::path::Path;

fn logs(pairs: &[(&str, f64)]) -> Logs {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn space() -> SearchSpace {
    SearchSpace::new()
        .add(Param::float("x", 0.0, 1.0))
        .unwrap()
        .add(Param::float("lr", 1e-4, 1e-1).log())
        .unwrap()
        .add(Param::int("units", 8, 64).step(8.0))
        .unwrap()
        .add(Param::choice("optimizer", ["adam", "sgd", "rmsprop"]))
        .unwrap()
}

/// A smooth function of every parameter, best (lowest) near x = 0.3, lr = 1e-2, 32 units, adam.
fn loss(t: &TrialContext<'_>) -> neurite::Result<f64> {
    let hp = t.params();
    let opt = match hp.get_str("optimizer")? {
        "adam" => 0.0,
        "rmsprop" => 0.1,
        _ => 0.3,
    };
    Ok((hp.get_float("x")? - 0.3).powi(2)
        + 0.1 * (hp.get_float("lr")?.log10() + 2.0).powi(2)
        + ((hp.get_int("units")? - 32) as f64 / 64.0).powi(2)
        + opt)
}

fn synthetic(t: &TrialContext<'_>) -> neurite::Result<Logs> {
    Ok(logs(&[("val_loss", loss(t)?)]))
}

/// A loss curve over the trial's epochs, reported to the pruner.
fn with_epochs(t: &TrialContext<'_>) -> neurite::Result<Logs> {
    let target = loss(t)?;
    let mut last = 0.0;
    for e in 0..t.epochs() {
        last = target + 1.0 / (e as f64 + 1.0);
        if t.is_pruning() && t.report(&logs(&[("val_loss", last)]))? {
            break;
        }
    }
    Ok(logs(&[("val_loss", last)]))
}

fn search() -> Search {
    Search::new(space(), Objective::min("val_loss")).verbose(0)
}

#[test]
fn same_seed_gives_the_same_trials() {
    for strategy in 0..3 {
        let run = |seed| {
            let s = search().seed(seed).epochs(3);
            let s = match strategy {
                0 => s.strategy(Random::new(12)),
                1 => s.strategy(Tpe::new(16).startup_trials(4)),
                _ => s.strategy(Hyperband::new(9)),
            };
            s.run(with_epochs).unwrap()
        };
        let (a, b, c) = (run(7), run(7), run(8));
        assert_eq!(a.trials(), b.trials(), "strategy {strategy}");
        assert_eq!(a.summary(100), b.summary(100));
        assert_ne!(
            a.trials()[0].params,
            c.trials()[0].params,
            "another seed, other trials"
        );
        // Every trial has its own seed.
        let seeds: std::collections::BTreeSet<u64> = a.trials().iter().map(|t| t.seed).collect();
        assert!(seeds.len() > 1);
    }
}

#[test]
fn parallel_trials_plan_what_a_sequential_random_search_plans() {
    let seq = search().strategy(Random::new(9)).seed(3).run(synthetic).unwrap();
    let par = search()
        .strategy(Random::new(9))
        .seed(3)
        .max_parallel_trials(3)
        .threads(2)
        .run(synthetic)
        .unwrap();
    assert_eq!(seq.trials(), par.trials());
    // TPE in waves of 2 is reproducible too.
    let tpe = || {
        search()
            .strategy(Tpe::new(14).startup_trials(4))
            .max_parallel_trials(2)
            .run(synthetic)
            .unwrap()
    };
    assert_eq!(tpe().trials(), tpe().trials());
}

/// Runs `settings` to the end with a log; then keeps only the first `keep`
/// lines of the log plus half of the next one (a write cut short), resumes,
/// and checks the final table and trials equal the uninterrupted run's,
/// and that only the missing trials were run again.
fn check_resume(dir: &Path, name: &str, settings: impl Fn() -> Search, keep: usize) {
    let full_log = dir.join(format!("{name}-full.jsonl"));
    let full = settings().log_file(&full_log).run(with_epochs).unwrap();
    let text = std::fs::read_to_string(&full_log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), full.trials().len());
    let cut_log = dir.join(format!("{name}-cut.jsonl"));
    let mut cut: String = lines[..keep].iter().map(|l| format!("{l}\n")).collect();
    cut.push_str(&lines[keep][..lines[keep].len() / 2]);
    std::fs::write(&cut_log, cut).unwrap();
    let ran = std::sync::atomic::AtomicUsize::new(0);
    let resumed = settings()
        .log_file(&cut_log)
        .run(|t| {
            ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            with_epochs(t)
        })
        .unwrap();
    assert_eq!(
        ran.into_inner(),
        full.trials().len() - keep,
        "{name}: trials in the log are not run again"
    );
    assert_eq!(resumed.summary(1000), full.summary(1000), "{name}");
    let strip = |ts: &[neurite::tune::Trial]| -> Vec<neurite::tune::Trial> {
        ts.iter()
            .cloned()
            .map(|mut t| {
                t.seconds = 0.0;
                t
            })
            .collect()
    };
    assert_eq!(strip(resumed.trials()), strip(full.trials()), "{name}");
    // The resumed log holds every trial once.
    let n = std::fs::read_to_string(&cut_log).unwrap().lines().count();
    assert_eq!(n, full.trials().len());
    // A third run runs nothing.
    let again = settings()
        .log_file(&cut_log)
        .run(|_| panic!("nothing should run"))
        .unwrap();
    assert_eq!(again.summary(1000), full.summary(1000));
}

#[test]
fn resume_after_an_interruption_gives_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    check_resume(
        dir.path(),
        "random",
        || search().strategy(Random::new(10)).seed(1),
        4,
    );
    check_resume(
        dir.path(),
        "tpe",
        || search().strategy(Tpe::new(16).startup_trials(3)).seed(2),
        6,
    );
    check_resume(
        dir.path(),
        "tpe-parallel",
        || {
            search()
                .strategy(Tpe::new(12).startup_trials(3))
                .max_parallel_trials(3)
                .seed(2)
        },
        7,
    );
    check_resume(
        dir.path(),
        "hyperband",
        || search().strategy(Hyperband::new(9)).seed(4),
        11,
    );
    check_resume(
        dir.path(),
        "pruned",
        || {
            search()
                .strategy(Random::new(12))
                .epochs(5)
                .pruner(MedianPruner::new().startup_trials(2))
                .seed(5)
        },
        5,
    );
}

#[test]
fn a_log_from_other_settings_or_not_a_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    search()
        .strategy(Random::new(3))
        .seed(1)
        .log_file(&path)
        .run(synthetic)
        .unwrap();
    let e = search()
        .strategy(Random::new(3))
        .seed(2)
        .log_file(&path)
        .run(synthetic)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("log.jsonl") && e.contains("trial 0") && e.contains("other settings"),
        "{e}"
    );
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"trial\": 0}\nnot json\n").unwrap();
    let e = search().log_file(&bad).run(synthetic).unwrap_err().to_string();
    assert!(e.contains("bad.jsonl") && e.contains("line 1"), "{e}");
}

#[test]
fn grid_runs_every_combination_once() {
    let space = SearchSpace::new()
        .add(Param::choice("a", ["p", "q", "r"]))
        .unwrap()
        .add(Param::int("b", 1, 4))
        .unwrap()
        .add(Param::float("c", 0.0, 0.2).step(0.1))
        .unwrap();
    let r = Search::new(space, Objective::max("score"))
        .strategy(Grid::new())
        .max_parallel_trials(4)
        .verbose(0)
        .run(|t| {
            Ok(logs(&[(
                "score",
                t.params().get_int("b")? as f64 + t.params().get_float("c")?,
            )]))
        })
        .unwrap();
    assert_eq!(r.trials().len(), 3 * 4 * 3);
    let distinct: std::collections::BTreeSet<String> =
        r.trials().iter().map(|t| format!("{:?}", t.params)).collect();
    assert_eq!(distinct.len(), 36);
    let best = r.best_hyperparameters().unwrap();
    assert_eq!(
        (best.get_int("b").unwrap(), best.get_float("c").unwrap()),
        (4, 0.2)
    );
    assert_eq!(best.get_str("a").unwrap(), "p", "ties go to the first trial");
}

#[test]
fn failing_trials_are_recorded_and_the_search_goes_on() {
    let r = search()
        .strategy(Random::new(9))
        .max_parallel_trials(2)
        .run(|t| match t.index() % 3 {
            0 => Err(neurite::Error::Input("my model refused units".into())),
            1 => panic!("boom in trial {}", t.index()),
            _ => synthetic(t),
        })
        .unwrap();
    assert_eq!(r.trials().len(), 9);
    assert_eq!(r.failures().len(), 6);
    let errors: Vec<&str> = r.failures().iter().map(|t| t.error.as_deref().unwrap()).collect();
    assert!(
        errors.iter().any(|e| e.contains("my model refused units")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("panicked: boom in trial 4")),
        "{errors:?}"
    );
    assert!(r.best_trial().unwrap().index % 3 == 2);
    let table = r.summary(20);
    assert!(
        table.contains("trial 1 failed: panicked: boom in trial 1"),
        "{table}"
    );
    assert!(table.contains("3 complete, 0 pruned, 6 failed"), "{table}");
    // All failed: best_hyperparameters says why.
    let r = search()
        .strategy(Random::new(2))
        .run(|_| Err(neurite::Error::Input("nope".into())))
        .unwrap();
    let e = r.best_hyperparameters().unwrap_err().to_string();
    assert!(e.contains("no trial of 2 completed") && e.contains("nope"), "{e}");
}

#[test]
fn an_objective_that_is_not_logged_stops_the_search_naming_it() {
    let e = search()
        .run(|t| Ok(logs(&[("loss", loss(t)?), ("val_los", 0.0)])))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'val_loss'") && e.contains("loss, val_los"), "{e}");
    // Also when reported per epoch.
    let e = search()
        .epochs(2)
        .pruner(MedianPruner::new())
        .run(|t| {
            t.report(&logs(&[("accuracy", 0.5)]))?;
            Ok(logs(&[("val_loss", 0.0)]))
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("'val_loss'") && e.contains("accuracy"), "{e}");
}

#[test]
fn the_median_pruner_stops_bad_trials_early() {
    let r = search()
        .strategy(Random::new(30))
        .epochs(8)
        .pruner(MedianPruner::new().startup_trials(3))
        .run(with_epochs)
        .unwrap();
    let pruned: Vec<_> = r
        .trials()
        .iter()
        .filter(|t| t.status == TrialStatus::Pruned)
        .collect();
    assert!(pruned.len() >= 5, "{} pruned", pruned.len());
    for t in &pruned {
        assert!(
            t.intermediate.len() < 8,
            "a pruned trial stops before its last epoch"
        );
    }
    // No trial is pruned before there are 3 complete ones.
    assert!(r.trials()[..3].iter().all(|t| t.status == TrialStatus::Complete));
    // The best trial is at least as good as every pruned trial's best value.
    let best = r.best_trial().unwrap().objective.unwrap();
    assert!(pruned.iter().all(|t| t.objective.unwrap() >= best));
}

#[test]
fn hyperband_promotes_the_best_configurations() {
    let r = search()
        .strategy(Hyperband::new(9))
        .seed(11)
        .run(with_epochs)
        .unwrap();
    // Brackets 9+3+1, 5+1, 3 trials.
    assert_eq!(r.trials().len(), 22);
    let rung = |b, i| {
        r.trials()
            .iter()
            .filter(move |t| t.bracket == Some(b) && t.rung == Some(i))
    };
    assert!(
        rung(0, 0).all(|t| t.epochs == 1)
            && rung(0, 1).all(|t| t.epochs == 3)
            && rung(0, 2).all(|t| t.epochs == 9)
    );
    // Rung 1 of bracket 0 holds the three best configurations of rung 0, with their seeds.
    let mut first: Vec<_> = rung(0, 0).collect();
    first.sort_by(|a, b| a.objective.unwrap().total_cmp(&b.objective.unwrap()));
    let promoted: Vec<_> = rung(0, 1).map(|t| (t.params.clone(), t.seed)).collect();
    let expected: Vec<_> = first[..3].iter().map(|t| (t.params.clone(), t.seed)).collect();
    assert_eq!(promoted, expected);
    let table = r.summary(5);
    assert!(
        table.contains("bracket") && table.contains("hyperband"),
        "{table}"
    );
    let sh = search()
        .strategy(Hyperband::successive_halving(9))
        .run(with_epochs)
        .unwrap();
    assert_eq!(sh.trials().len(), 13);
}

/// The best objective found by each strategy, averaged over seeds.
fn mean_best(strategy: impl Fn() -> Search, seeds: u64) -> f64 {
    (0..seeds)
        .map(|seed| {
            strategy()
                .seed(seed)
                .run(synthetic)
                .unwrap()
                .best_trial()
                .unwrap()
                .objective
                .unwrap()
        })
        .sum::<f64>()
        / seeds as f64
}

#[test]
fn tpe_beats_random_search_on_average() {
    let random = mean_best(|| search().strategy(Random::new(40)), 12);
    let tpe = mean_best(|| search().strategy(Tpe::new(40)), 12);
    assert!(tpe < random * 0.8, "TPE {tpe} vs random {random}");
}
