//! Search spaces: errors name the parameter, the grid is exactly the
//! product, random and TPE samples stay in bounds (log scales included).

use neurite::tune::{Domain, Generator, Param, SearchSpace, Tpe, Value};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn err(p: Param) -> String {
    SearchSpace::new().add(p).unwrap_err().to_string()
}

#[test]
fn errors_name_the_parameter() {
    let e = err(Param::choice::<&str>("optimizer", []));
    assert!(e.contains("'optimizer'") && e.contains("no values"), "{e}");
    let e = err(Param::int("units", 128, 16));
    assert!(e.contains("'units'") && e.contains("low 128 > high 16"), "{e}");
    let e = err(Param::float("dropout", 0.5, 0.1));
    assert!(e.contains("'dropout'") && e.contains("low 0.5 > high 0.1"), "{e}");
    let e = err(Param::float("learning_rate", 0.0, 1e-2).log());
    assert!(e.contains("'learning_rate'") && e.contains("cross zero"), "{e}");
    let e = err(Param::float("learning_rate", -1e-3, 1e-2).log());
    assert!(e.contains("'learning_rate'") && e.contains("low -0.001"), "{e}");
    let e = err(Param::int("filters", -4, 64).log());
    assert!(e.contains("'filters'") && e.contains("log"), "{e}");
    let e = err(Param::float("x", 0.0, f64::NAN));
    assert!(e.contains("'x'") && e.contains("finite"), "{e}");
    let e = err(Param::int("units", 1, 9).step(0.0));
    assert!(e.contains("'units'") && e.contains("step"), "{e}");
    let e = err(Param::float("lr", 1e-4, 1e-1).log().step(0.5));
    assert!(e.contains("'lr'") && e.contains("factor > 1"), "{e}");
    let e = err(Param::choice("act", ["relu", "relu"]));
    assert!(e.contains("'act'") && e.contains("twice"), "{e}");
    let e = SearchSpace::new()
        .add(Param::int("a", 0, 1))
        .unwrap()
        .add(Param::int("a", 0, 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'a'") && e.contains("twice"), "{e}");
    let e = SearchSpace::new()
        .add(Param::float("rate", 0.0, 1.0))
        .unwrap()
        .grid()
        .unwrap_err()
        .to_string();
    assert!(e.contains("'rate'") && e.contains("no step"), "{e}");
}

#[test]
fn stepped_floats_reach_their_end_points() {
    let space = SearchSpace::new()
        .add(Param::float("dropout", 0.0, 0.5).step(0.1))
        .unwrap()
        .add(Param::float("lr", 1e-4, 1e-1).log().step(10.0))
        .unwrap();
    let grid = space.grid().unwrap();
    assert_eq!(grid.len(), 6 * 4);
    let lrs: BTreeSet<String> = grid.iter().map(|p| p["lr"].to_string()).collect();
    assert_eq!(lrs.len(), 4, "{lrs:?}");
}

/// A parameter drawn from a small family covering every domain and scale.
fn any_param(name: String) -> impl Strategy<Value = Param> {
    prop_oneof![
        (1usize..5).prop_map({
            let name = name.clone();
            move |n| Param::choice(&name, (0..n).map(|i| format!("c{i}")))
        }),
        (-50i64..50, 0i64..40, 1i64..7).prop_map({
            let name = name.clone();
            move |(low, span, step)| Param::int(&name, low, low + span).step(step as f64)
        }),
        (1i64..100, 0i64..5000).prop_map({
            let name = name.clone();
            move |(low, span)| Param::int(&name, low, low + span).log()
        }),
        (-10.0f64..10.0, 0.0f64..20.0).prop_map({
            let name = name.clone();
            move |(low, span)| Param::float(&name, low, low + span)
        }),
        (-12.0f64..2.0, 0.0f64..10.0).prop_map({
            let name = name.clone();
            move |(e, span)| Param::float(&name, 10f64.powf(e), 10f64.powf(e + span)).log()
        }),
        (-1.0f64..1.0, 0.01f64..3.0, 1usize..8).prop_map(move |(low, step, k)| {
            Param::float(&name, low, low + step * k as f64 + step * 0.3).step(step)
        }),
    ]
}

/// A parameter with a finite grid: a choice, an int range, a stepped float.
fn grid_param(name: String) -> impl Strategy<Value = Param> {
    prop_oneof![
        (1usize..5).prop_map({
            let name = name.clone();
            move |n| Param::choice(&name, (0..n).map(|i| format!("c{i}")))
        }),
        (-50i64..50, 0i64..30, 1i64..7).prop_map({
            let name = name.clone();
            move |(low, span, step)| Param::int(&name, low, low + span).step(step as f64)
        }),
        (-1.0f64..1.0, 0.01f64..3.0, 0usize..8).prop_map(move |(low, step, k)| {
            Param::float(&name, low, low + step * k as f64 + step * 0.3).step(step)
        }),
    ]
}

fn grid_space() -> impl Strategy<Value = SearchSpace> {
    (
        grid_param("a".into()),
        grid_param("b".into()),
        grid_param("c".into()),
    )
        .prop_map(|(a, b, c)| SearchSpace::new().add(a).unwrap().add(b).unwrap().add(c).unwrap())
}

fn any_space() -> impl Strategy<Value = SearchSpace> {
    (
        any_param("a".into()),
        any_param("b".into()),
        any_param("c".into()),
    )
        .prop_map(|(a, b, c)| SearchSpace::new().add(a).unwrap().add(b).unwrap().add(c).unwrap())
}

/// `v` within the parameter's bounds and of its type (checked by hand, not through `contains`).
fn in_bounds(p: &Param, v: &Value) -> bool {
    match (p.domain(), v) {
        (Domain::Choice(values), v) => values.contains(v),
        (Domain::Int { low, high, step, .. }, Value::Int(i)) => {
            low <= i && i <= high && (i - low) % step == 0
        }
        (Domain::Float { low, high, .. }, Value::Float(x)) => low <= x && x <= high && x.is_finite(),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_samples_stay_in_bounds(space in any_space(), seed in any::<u64>()) {
        let mut rng = Generator::seed_from_u64(seed);
        for _ in 0..50 {
            let v = space.sample(&mut rng);
            prop_assert_eq!(v.len(), 3);
            for p in space.params() {
                prop_assert!(in_bounds(p, &v[p.name()]), "{} = {:?} outside {:?}", p.name(), v[p.name()], p.domain());
                prop_assert!(p.contains(&v[p.name()]));
            }
        }
    }

    #[test]
    fn tpe_samples_stay_in_bounds(space in any_space(), seed in any::<u64>()) {
        let mut rng = Generator::seed_from_u64(seed);
        // A history of random points with arbitrary losses, then TPE proposals.
        let mut history: Vec<(BTreeMap<String, Value>, f64)> = Vec::new();
        for i in 0..20 {
            history.push((space.sample(&mut rng), ((i * 37) % 11) as f64));
        }
        let tpe = Tpe::new(100).startup_trials(5);
        for _ in 0..10 {
            let v = tpe.suggest(&space, &history, &mut rng);
            for p in space.params() {
                prop_assert!(in_bounds(p, &v[p.name()]), "{} = {:?} outside {:?}", p.name(), v[p.name()], p.domain());
            }
            history.push((v, 0.5));
        }
    }

    #[test]
    fn grid_is_exactly_the_product(space in grid_space()) {
        // Each parameter's number of values, counted by hand.
        let counts: Vec<usize> = space
            .params()
            .iter()
            .map(|p| match p.domain() {
                Domain::Choice(v) => v.len(),
                Domain::Int { low, high, step, .. } => (0..).map(|k| low + k * step).take_while(|v| v <= high).count(),
                Domain::Float { low, high, step: Some(s), .. } => ((high - low) / s + 1e-9).floor() as usize + 1,
                Domain::Float { step: None, .. } => unreachable!("assumed away"),
            })
            .collect();
        let expected: usize = counts.iter().product();
        let grid = space.grid().unwrap();
        prop_assert_eq!(grid.len(), expected);
        let distinct: BTreeSet<String> = grid.iter().map(|g| format!("{g:?}")).collect();
        prop_assert_eq!(distinct.len(), grid.len());
        for g in &grid {
            for p in space.params() {
                prop_assert!(in_bounds(p, &g[p.name()]));
            }
        }
    }
}
