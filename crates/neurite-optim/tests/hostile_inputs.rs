//! Hostile inputs (issue #15): restored states that cannot be right, step
//! counters at their limit, updates that overflow, bad hyper-parameters and
//! configs. Each must be an error naming what is wrong, never a panic and
//! never `Ok` with broken weights.

use ndarray::{ArrayD, IxDyn};
use neurite_autograd::Var;
use neurite_optim::*;
use proptest::prelude::*;
use serde_json::json;

/// One optimizer per kind (and slot layout), the same index always
/// building the same configuration.
fn make(i: usize) -> Box<dyn Optimizer> {
    match i {
        0 => Box::new(Sgd::new(0.05)),
        1 => Box::new(Sgd::new(0.05).momentum(0.9).nesterov(true)),
        2 => Box::new(Adagrad::new(0.1)),
        3 => Box::new(Rmsprop::new(0.01).momentum(0.5).centered(true)),
        4 => Box::new(Adam::new(0.01).amsgrad(true)),
        5 => Box::new(AdamW::new(0.05)),
        6 => Box::new(Adamax::new(0.05)),
        7 => Box::new(Nadam::new(0.01)),
        8 => Box::new(Rmsprop::new(0.01)),
        _ => unreachable!(),
    }
}
const N_CONFIGS: usize = 9;

fn param(values: &[f32]) -> Var {
    let w = Var::parameter(ndarray::Array1::from(values.to_vec()).into_dyn());
    w.set_grad(Some(ArrayD::from_elem(IxDyn(&[values.len()]), 0.5)));
    w
}

/// A real state after two steps on `w` (shape [3]) and `b` (shape [2]).
fn trained_state(config: usize) -> OptimizerState {
    let (w, b) = (param(&[1.0, -1.0, 0.5]), param(&[0.1, 0.2]));
    let mut opt = make(config);
    for _ in 0..2 {
        opt.step(&[("w", &w), ("b", &b)]).unwrap();
    }
    opt.state()
}

const SHAPES: &[(&str, &[usize])] = &[("w", &[3]), ("b", &[2])];

/// `state` as safetensors bytes written without any check (what a foreign
/// or hand-edited file may hold; `to_safetensors` refuses such states).
fn unchecked_bytes(state: &OptimizerState) -> Vec<u8> {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = state
        .slots
        .iter()
        .map(|(k, a)| {
            (
                k.clone(),
                a.iter().flat_map(|x| x.to_le_bytes()).collect(),
                a.shape().to_vec(),
            )
        })
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(k, b, s)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap();
            (k.as_str(), v)
        })
        .collect();
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), SAFETENSORS_FORMAT.to_string());
    meta.insert("iterations".to_string(), state.iterations.to_string());
    for (name, value) in &state.globals {
        meta.insert(format!("global.{name}"), value.to_bits().to_string());
    }
    safetensors::serialize(views, Some(meta)).unwrap()
}

// ---- 1. State checked against the model -------------------------------

#[test]
fn a_real_state_passes_every_check() {
    for config in 0..N_CONFIGS {
        let state = trained_state(config);
        state.validate().unwrap();
        state.check_against(SHAPES).unwrap();
        make(config).check_state(&state, SHAPES).unwrap();
        make(config).load_state(state).unwrap();
    }
}

#[test]
fn wrong_shape_slot_is_refused_naming_parameter_and_slot() {
    for config in (0..N_CONFIGS).filter(|&c| c != 0) {
        let state = trained_state(config);
        // Every slot of `w` has shape [3]; the model says [4].
        let err = make(config)
            .check_state(&state, &[("w", &[4]), ("b", &[2])])
            .unwrap_err();
        match err {
            OptimError::ShapeMismatch {
                parameter,
                what,
                expected,
                actual,
            } => {
                assert_eq!(parameter, "w");
                assert!(what.starts_with("slot `"), "{what}");
                assert_eq!((expected, actual), (vec![4], vec![3]));
            }
            other => panic!("config {config}: {other}"),
        }
        // One slot of `w` resized: refused by load_state itself (slots of one
        // parameter disagree) and by check_against (against the model).
        let mut bad = state.clone();
        let key = bad.slots.keys().find(|k| k.starts_with("w/")).unwrap().clone();
        bad.slots.insert(key.clone(), ArrayD::zeros(IxDyn(&[3, 1])));
        let err = bad.check_against(SHAPES).unwrap_err();
        assert!(
            matches!(err, OptimError::ShapeMismatch { ref parameter, .. } if parameter == "w"),
            "{err}"
        );
        let siblings = bad.slots.keys().filter(|k| k.starts_with("w/")).count();
        let mut opt = make(config);
        if siblings > 1 {
            let err = opt.load_state(bad.clone()).unwrap_err();
            assert!(
                matches!(err, OptimError::ShapeMismatch { ref parameter, .. } if parameter == "w"),
                "{err}"
            );
            // The refused load changed nothing.
            assert_eq!(opt.iterations(), 0);
            assert!(opt.state().slots.is_empty());
        }
        let w = param(&[1.0, 2.0, 3.0]);
        let err = make(config).load_state_checked(bad, &[("w", &w)]).unwrap_err();
        assert!(err.to_string().contains('w'), "{err}");
    }
}

#[test]
fn slots_for_a_parameter_the_model_lacks_are_refused() {
    for config in (0..N_CONFIGS).filter(|&c| c != 0) {
        let state = trained_state(config);
        let err = make(config).check_state(&state, &[("w", &[3])]).unwrap_err();
        assert_eq!(err, OptimError::UnknownParameter("b".into()));
        assert!(err.to_string().contains("`b`"));
        let w = param(&[0.0; 3]);
        let err = make(config).load_state_checked(state, &[("w", &w)]).unwrap_err();
        assert_eq!(err, OptimError::UnknownParameter("b".into()));
    }
}

#[test]
fn slot_names_this_optimizer_does_not_use_are_refused() {
    // Adam with AMSGrad has `velocity_hat`; Adam without does not.
    let state = trained_state(4);
    let err = Adam::new(0.01).check_state(&state, SHAPES).unwrap_err();
    assert!(matches!(err, OptimError::InvalidState { .. }), "{err}");
    assert!(err.to_string().contains("velocity_hat"), "{err}");
    assert!(Adam::new(0.01).load_state(state.clone()).is_err());
    // An invented slot name beside real ones.
    let mut bogus = trained_state(1);
    bogus
        .slots
        .insert("w/velocityy".into(), ArrayD::zeros(IxDyn(&[3])));
    let opt = Sgd::new(0.05).momentum(0.9);
    let err = opt.check_state(&bogus, SHAPES).unwrap_err();
    assert!(
        err.to_string().contains("velocityy") && err.to_string().contains("`w`"),
        "{err}"
    );
    // A missing slot.
    let mut partial = trained_state(3);
    partial.slots.remove("b/momentum");
    let err = make(3).check_state(&partial, SHAPES).unwrap_err();
    assert!(err.to_string().contains("no slot `momentum`"), "{err}");
    // A key without a slot part.
    let mut keyless = OptimizerState::default();
    keyless.slots.insert("w".into(), ArrayD::zeros(IxDyn(&[3])));
    assert!(keyless.check_against(SHAPES).is_err());
    assert!(Sgd::new(0.1).load_state(keyless).is_err());
    // Duplicate parameter names in the model description.
    let err = OptimizerState::default()
        .check_against(&[("w", &[1]), ("w", &[1])])
        .unwrap_err();
    assert_eq!(err, OptimError::DuplicateParameter("w".into()));
}

#[test]
fn unknown_or_impossible_globals_are_refused() {
    let good = trained_state(7);
    for (name, value) in [("u_product", 1.5f32), ("u_product", -0.1), ("u_product", 1.0)] {
        let mut s = good.clone();
        s.globals.insert(name.into(), value);
        let err = Nadam::new(0.01).load_state(s.clone()).unwrap_err();
        assert!(err.to_string().contains("u_product"), "{value}: {err}");
        assert!(Nadam::new(0.01).check_state(&s, SHAPES).is_err());
    }
    let mut s = good.clone();
    s.globals.insert("u_product".into(), f32::NAN);
    assert!(matches!(
        Nadam::new(0.01).load_state(s),
        Err(OptimError::NonFiniteState { ref key, .. }) if key == "global.u_product"
    ));
    let mut s = trained_state(4);
    s.globals.insert("u_product".into(), 0.5);
    assert!(make(4).check_state(&s, SHAPES).is_err());
}

fn non_finite() -> impl Strategy<Value = f32> {
    prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A NaN or infinity anywhere in any slot is refused by load_state,
    /// check_against and check_state, naming the slot and the index, and
    /// the optimizer is left as it was. The same holds after a trip
    /// through safetensors bytes.
    #[test]
    fn non_finite_slot_values_are_refused(
        config in 1..N_CONFIGS,
        slot_pick in any::<prop::sample::Index>(),
        elem_pick in any::<prop::sample::Index>(),
        value in non_finite(),
    ) {
        let mut state = trained_state(config);
        let keys: Vec<String> = state.slots.keys().cloned().collect();
        let key = slot_pick.get(&keys).clone();
        let slot = state.slots.get_mut(&key).unwrap();
        let i = elem_pick.index(slot.len());
        slot.as_slice_mut().unwrap()[i] = value;
        let expect = |r: Result<()>| match r {
            Err(OptimError::NonFiniteState { key: k, index, value: v }) => {
                prop_assert_eq!(&k, &key);
                prop_assert_eq!(index, vec![i]);
                prop_assert!(v.is_nan() == value.is_nan() && (v.is_nan() || v == value));
                Ok(())
            }
            other => Err(TestCaseError::fail(format!("{other:?}"))),
        };
        // Never written: a save must not produce a file a load refuses.
        expect(state.to_safetensors().map(|_| ()))?;
        let state = OptimizerState::from_safetensors(&unchecked_bytes(&state)).unwrap();
        expect(state.validate())?;
        expect(state.check_against(SHAPES))?;
        expect(make(config).check_state(&state, SHAPES))?;
        let mut opt = make(config);
        expect(opt.load_state(state))?;
        prop_assert_eq!(opt.iterations(), 0);
        prop_assert!(opt.state().slots.is_empty());
    }

    /// Any iteration count beyond MAX_ITERATIONS is refused, at or below
    /// it accepted.
    #[test]
    fn iteration_counts_beyond_the_limit_are_refused(
        config in 0..N_CONFIGS,
        excess in 1u64..=(u64::MAX - MAX_ITERATIONS),
        below in 0u64..=MAX_ITERATIONS,
    ) {
        let mut state = trained_state(config);
        state.iterations = MAX_ITERATIONS + excess;
        let err = make(config).load_state(state.clone()).unwrap_err();
        prop_assert_eq!(err, OptimError::IterationLimit {
            context: "optimizer state".into(),
            iterations: MAX_ITERATIONS + excess,
            limit: MAX_ITERATIONS,
        });
        prop_assert!(state.check_against(SHAPES).is_err());
        state.iterations = below;
        prop_assert!(make(config).check_state(&state, SHAPES).is_ok());
    }
}

#[test]
fn iterations_u64_max_is_refused() {
    for config in 0..N_CONFIGS {
        let mut state = trained_state(config);
        state.iterations = u64::MAX;
        assert!(matches!(
            state.to_safetensors(),
            Err(OptimError::IterationLimit {
                iterations: u64::MAX,
                ..
            })
        ));
        let state = OptimizerState::from_safetensors(&unchecked_bytes(&state)).unwrap();
        let mut opt = make(config);
        let err = opt.load_state(state).unwrap_err();
        assert!(
            matches!(
                err,
                OptimError::IterationLimit {
                    iterations: u64::MAX,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(&u64::MAX.to_string()), "{err}");
        assert_eq!(opt.iterations(), 0);
    }
}

// ---- 2. Counters cannot wrap ------------------------------------------

/// Steps up to the limit work (with bias corrections exact), the step past
/// it is an error that changes nothing.
#[test]
fn steps_near_the_counter_limit() {
    for config in 0..N_CONFIGS {
        let mut state = trained_state(config);
        state.iterations = MAX_ITERATIONS - 2;
        let mut opt = make(config);
        opt.load_state(state).unwrap();
        let (w, b) = (param(&[1.0, -1.0, 0.5]), param(&[0.1, 0.2]));
        for expected in [MAX_ITERATIONS - 1, MAX_ITERATIONS] {
            opt.step(&[("w", &w), ("b", &b)]).unwrap();
            assert_eq!(opt.iterations(), expected);
            assert!(w.value().iter().all(|x| x.is_finite()), "{}", opt.name());
        }
        let before = (w.to_tensor(), b.to_tensor(), opt.state());
        let err = opt.step(&[("w", &w), ("b", &b)]).unwrap_err();
        assert_eq!(
            err,
            OptimError::IterationLimit {
                context: opt.name().to_string(),
                iterations: MAX_ITERATIONS + 1,
                limit: MAX_ITERATIONS,
            }
        );
        assert_eq!((w.to_tensor(), b.to_tensor(), opt.state()), before);
        // A step without parameters is counted too, so it is refused as well.
        assert!(opt.step(&[]).is_err());
        assert_eq!(opt.iterations(), MAX_ITERATIONS);
    }
}

/// Near the limit Adam's bias corrections are 1 and its update is exactly
/// the one of a long-trained Adam: the count converts without loss.
#[test]
fn bias_corrections_stay_exact_near_the_limit() {
    let run = |iterations: u64| {
        let w = param(&[1.0, -1.0, 0.5]);
        let mut opt = Adam::new(0.01);
        opt.load_state(OptimizerState {
            iterations,
            ..Default::default()
        })
        .unwrap();
        opt.step(&[("w", &w)]).unwrap();
        w.to_tensor()
    };
    assert_eq!(run(MAX_ITERATIONS - 1), run(1_000_000));
}

// ---- 3. No Ok with broken weights ---------------------------------------

#[test]
fn an_overflowing_update_is_an_error_naming_parameter_and_step() {
    for config in 0..N_CONFIGS {
        // Every rule moves a weight against its gradient by about the rate
        // or more: 3e38 + 1e38 overflows f32.
        let mut opt = make(config);
        opt.set_learning_rate(1e38);
        let (w, b) = (param(&[1.0, -1.0, 0.5]), param(&[3e38, 3e38]));
        b.set_grad(Some(ArrayD::from_elem(IxDyn(&[2]), -30.0)));
        w.set_grad(None); // w is skipped; b breaks
        let err = opt
            .step(&[("w", &w), ("b", &b)])
            .expect_err(&format!("config {config}: b overflows at step 1"));
        assert!(
            matches!(err, OptimError::NonFiniteUpdate { ref parameter, step: 1, .. } if parameter == "b")
        );
        // A sane step 1 on fresh weights, then the overflowing step 2.
        let b = param(&[3e38, 3e38]);
        b.set_grad(Some(ArrayD::from_elem(IxDyn(&[2]), -30.0)));
        let mut opt = make(config);
        opt.step(&[("w", &w), ("b", &b)]).unwrap();
        opt.set_learning_rate(1e38);
        let err = opt.step(&[("w", &w), ("b", &b)]).unwrap_err();
        match &err {
            OptimError::NonFiniteUpdate {
                parameter,
                what,
                step,
            } => {
                assert_eq!((parameter.as_str(), *step), ("b", 2), "{}", opt.name());
                assert_eq!(what, "weight");
            }
            other => panic!("{}: {other}", opt.name()),
        }
        let msg = err.to_string();
        assert!(msg.contains("`b`") && msg.contains("step 2"), "{msg}");
        // The step was applied and counted.
        assert_eq!(opt.iterations(), 2);
    }
}

#[test]
fn a_non_finite_slot_with_finite_weights_is_an_error() {
    // g^2 overflows Adam's velocity to infinity while m / sqrt(v) = 0 leaves
    // the weight finite: the slot is reported.
    let w = param(&[1.0]);
    w.set_grad(Some(ndarray::arr1(&[3e20f32]).into_dyn()));
    let mut opt = Adam::new(0.001);
    let err = opt.step(&[("w", &w)]).unwrap_err();
    assert!(w.value()[[0]].is_finite());
    assert_eq!(
        err,
        OptimError::NonFiniteUpdate {
            parameter: "w".into(),
            what: "slot `velocity`".into(),
            step: 1
        }
    );
}

#[test]
fn a_schedule_that_overflows_is_an_error_before_any_change() {
    // 1 * 1e30^step: 1 at iteration 0, 1e30 at 1, infinite (as f32) from 2.
    let mut opt = Sgd::with_schedule(Box::new(ExponentialDecay::new(1.0, 1, 1e30)));
    let w = param(&[1.0]);
    w.set_grad(Some(ndarray::arr1(&[0.0f32]).into_dyn()));
    opt.step(&[("w", &w)]).unwrap();
    opt.step(&[("w", &w)]).unwrap();
    let err = opt.step(&[("w", &w)]).unwrap_err();
    assert!(
        matches!(err, OptimError::InvalidConfig { ref key, ref message, .. }
            if key == "learning_rate" && message.contains("iteration 2")),
        "{err}"
    );
    assert_eq!((w.value()[[0]], opt.iterations()), (1.0, 2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the learning rate and gradients, a step either returns Ok
    /// with every weight and slot finite, or NonFiniteUpdate.
    #[test]
    fn ok_means_finite_weights_and_slots(
        config in 0..N_CONFIGS,
        lr_exp in -3i32..39,
        grads in prop::collection::vec(prop_oneof![-1e30f32..1e30, -10f32..10.0], 3),
        steps in 1usize..4,
    ) {
        let mut opt = make(config);
        opt.set_learning_rate(10f32.powi(lr_exp));
        let w = param(&[1.0, -1.0, 0.5]);
        for _ in 0..steps {
            w.set_grad(Some(ndarray::Array1::from(grads.clone()).into_dyn()));
            match opt.step(&[("w", &w)]) {
                Ok(()) => {
                    prop_assert!(w.value().iter().all(|x| x.is_finite()));
                    prop_assert!(opt.state().validate().is_ok());
                }
                Err(OptimError::NonFiniteUpdate { parameter, step, .. }) => {
                    prop_assert_eq!(parameter, "w");
                    prop_assert_eq!(step, opt.iterations());
                    let finite = w.value().iter().all(|x| x.is_finite())
                        && opt.state().validate().is_ok();
                    prop_assert!(!finite);
                    break;
                }
                Err(other) => return Err(TestCaseError::fail(other.to_string())),
            }
        }
    }
}

// ---- 4. Send + Sync ------------------------------------------------------

#[test]
fn optimizers_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn Optimizer>();
    assert_send_sync::<Box<dyn Optimizer>>();
    assert_send_sync::<Box<dyn LearningRateSchedule>>();
    assert_send_sync::<Sgd>();
    assert_send_sync::<Adagrad>();
    assert_send_sync::<Rmsprop>();
    assert_send_sync::<Adam>();
    assert_send_sync::<AdamW>();
    assert_send_sync::<Adamax>();
    assert_send_sync::<Nadam>();
    assert_send_sync::<OptimizerState>();
    // And it is usable from several threads at once.
    let opt: Box<dyn Optimizer> = Box::new(Adam::default());
    let rates: Vec<f32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| opt.learning_rate())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(rates, vec![0.001, 0.001]);
}

// ---- 5. Hyper-parameters and configs --------------------------------------

/// Every constructor/setter given a bad value: refused at build and at
/// step, with an InvalidConfig naming the field, nothing changed.
#[test]
fn bad_hyper_parameters_name_their_field() {
    let nan = f64::NAN;
    let cases: Vec<(Box<dyn Optimizer>, &str)> = vec![
        (Box::new(Sgd::new(f32::NAN)), "learning_rate"),
        (Box::new(Sgd::new(-1.0)), "learning_rate"),
        (Box::new(Sgd::new(f32::INFINITY)), "learning_rate"),
        (Box::new(Sgd::new(0.1).momentum(1.5)), "momentum"),
        (Box::new(Sgd::new(0.1).momentum(-1e-50)), "momentum"),
        (Box::new(Sgd::new(0.1).momentum(nan)), "momentum"),
        (Box::new(Adagrad::default().epsilon(0.0)), "epsilon"),
        (Box::new(Adagrad::default().epsilon(1e-50)), "epsilon"),
        // Denormal as f32: flushed to 0 in training, so 0 / 0 on a zero gradient.
        (Box::new(Adagrad::default().epsilon(1e-40)), "epsilon"),
        (Box::new(Adam::default().epsilon(1e-40)), "epsilon"),
        (Box::new(Rmsprop::default().epsilon(1e-39)), "epsilon"),
        (Box::new(Nadam::default().epsilon(1e-45)), "epsilon"),
        (Box::new(Adamax::default().epsilon(1.1e-38)), "epsilon"),
        (
            Box::new(Adagrad::default().initial_accumulator_value(-1.0)),
            "initial_accumulator_value",
        ),
        (
            Box::new(Adagrad::default().initial_accumulator_value(1e300)),
            "initial_accumulator_value",
        ),
        (Box::new(Rmsprop::default().rho(1.0)), "rho"),
        (Box::new(Rmsprop::default().momentum(1.0)), "momentum"),
        (Box::new(Rmsprop::default().epsilon(0.0)), "epsilon"),
        (Box::new(Adam::default().beta_1(1.0)), "beta_1"),
        (Box::new(Adam::default().beta_1(-1e-300)), "beta_1"),
        (Box::new(Adam::default().beta_2(nan)), "beta_2"),
        (Box::new(Adam::default().epsilon(0.0)), "epsilon"),
        (Box::new(Adam::default().epsilon(-1e-8)), "epsilon"),
        (Box::new(AdamW::default().weight_decay(f32::NAN)), "weight_decay"),
        (Box::new(Adamax::default().beta_2(1.0)), "beta_2"),
        (Box::new(Adamax::default().epsilon(0.0)), "epsilon"),
        (Box::new(Nadam::default().beta_1(2.0)), "beta_1"),
        (Box::new(Nadam::default().epsilon(f64::INFINITY)), "epsilon"),
        (Box::new(Adam::default().clipnorm(0.0)), "clipnorm"),
        (Box::new(Adam::default().clipnorm(f32::INFINITY)), "clipnorm"),
        (Box::new(Adam::default().global_clipnorm(-1.0)), "global_clipnorm"),
        (Box::new(Adam::default().clipvalue(f32::NAN)), "clipvalue"),
        (Box::new(Adam::default().l1(-1.0)), "l1"),
        (Box::new(Adam::default().l2(f32::INFINITY)), "l2"),
        (
            Box::new(Sgd::with_schedule(Box::new(ExponentialDecay::new(0.1, 0, 0.5)))),
            "decay_steps",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(ExponentialDecay::new(0.1, 10, -0.5)))),
            "decay_rate",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(InverseTimeDecay::new(0.1, 0, 0.5)))),
            "decay_steps",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(InverseTimeDecay::new(
                f32::NAN,
                1,
                0.5,
            )))),
            "initial_learning_rate",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(CosineDecay::new(0.1, 0)))),
            "decay_steps",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(
                CosineDecay::new(0.1, 10).alpha(-0.1),
            ))),
            "alpha",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(
                CosineDecay::new(0.1, 10).warmup(5, f32::INFINITY),
            ))),
            "warmup_target",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(PiecewiseConstantDecay::new(
                vec![],
                vec![],
            )))),
            "values",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(PiecewiseConstantDecay::new(
                vec![3, 3],
                vec![1.0, 0.5, 0.1],
            )))),
            "boundaries",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(PiecewiseConstantDecay::new(
                vec![3],
                vec![1.0, -0.5],
            )))),
            "values",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(OneCycle::new(0.1, 0)))),
            "total_steps",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(
                OneCycle::new(0.1, 100).pct_start(0.0),
            ))),
            "pct_start",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(
                OneCycle::new(0.1, 100).div_factor(0.0),
            ))),
            "div_factor",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(
                OneCycle::new(1.0, 100).div_factor(1e-40),
            ))),
            "div_factor",
        ),
        (
            Box::new(Sgd::with_schedule(Box::new(
                OneCycle::new(1.0, 100).final_div_factor(1e-45),
            ))),
            "final_div_factor",
        ),
    ];
    let w = param(&[1.0]);
    for (mut opt, key) in cases {
        let err = opt.step(&[("w", &w)]).unwrap_err();
        match &err {
            OptimError::InvalidConfig { key: k, .. } => assert_eq!(k, key, "{err}"),
            other => panic!("expected InvalidConfig for `{key}`, got {other}"),
        }
        assert!(err.to_string().contains(key), "{err}");
        assert_eq!((w.value()[[0]], opt.iterations()), (1.0, 0));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any non-finite or negative learning rate, on any optimizer, through
    /// set_learning_rate or a config: an error naming `learning_rate`.
    #[test]
    fn bad_learning_rates_are_refused(
        config in 0..N_CONFIGS,
        lr in prop_oneof![non_finite(), -1e30f32..-1e-30],
    ) {
        let mut opt = make(config);
        opt.set_learning_rate(lr);
        let w = param(&[1.0]);
        let err = opt.step(&[("w", &w)]).unwrap_err();
        prop_assert!(matches!(err, OptimError::InvalidConfig { ref key, .. } if key == "learning_rate"), "{}", err);
        prop_assert_eq!(w.value()[[0]], 1.0);
        if lr.is_finite() {
            let mut c = make(config).config();
            c["learning_rate"] = json!(lr);
            let err = optimizer_from_config(&c).err().unwrap();
            prop_assert!(matches!(err, OptimError::InvalidConfig { ref key, .. } if key == "learning_rate"), "{}", err);
        }
    }

    /// Replacing any key of a real config by a value of the wrong type is
    /// an error naming that key.
    #[test]
    fn wrongly_typed_config_values_name_the_key(
        config in 0..N_CONFIGS,
        key_pick in any::<prop::sample::Index>(),
        bad in prop_oneof![
            Just(json!("0.5")), Just(json!([1])), Just(json!({"x": 1})), Just(json!(true)), Just(json!(7)),
        ],
    ) {
        let good = make(config).config();
        let keys: Vec<String> = good.as_object().unwrap().keys().cloned().collect();
        let key = key_pick.get(&keys).clone();
        let original = good[&key].clone();
        let mut c = good.clone();
        c[&key] = bad.clone();
        // Some replacements are right-typed (a number for a number key, an
        // object for learning_rate...); skip those that are not type errors.
        let same_type = std::mem::discriminant(&original) == std::mem::discriminant(&bad)
            || (original.is_null() && bad.is_number())
            || (key == "learning_rate" && bad.is_object());
        prop_assume!(!same_type);
        match optimizer_from_config(&c) {
            Err(OptimError::InvalidConfig { key: k, owner, .. }) => {
                // A bad learning-rate object is reported by the schedule.
                if key == "learning_rate" && bad.is_object() {
                    prop_assert_eq!(owner, "schedule");
                } else {
                    prop_assert_eq!(k, key);
                }
            }
            other => {
                let got = other.map(|o| o.name().to_string());
                return Err(TestCaseError::fail(format!("{key} = {bad}: {got:?}")));
            }
        }
    }
}

#[test]
fn hostile_config_shapes_are_refused() {
    let bad: Vec<(serde_json::Value, &str)> = vec![
        (json!(null), "name"),
        (json!([1, 2]), "name"),
        (json!("adam"), "name"),
        (json!({}), "name"),
        (json!({"name": 7}), "name"),
        (json!({"name": "lion"}), "name"),
        (json!({"name": "SGD", "momentun": 0.9}), "momentun"),
        (json!({"name": "adam", "momentum": 0.9}), "momentum"),
        (json!({"name": "adam", "use_ema": true}), "use_ema"),
        (
            json!({"name": "adam", "loss_scale_factor": 128.0}),
            "loss_scale_factor",
        ),
        (json!({"name": "adam", "learning_rate": "0.01"}), "learning_rate"),
        (json!({"name": "adam", "learning_rate": [0.01]}), "learning_rate"),
        (json!({"name": "adam", "learning_rate": 1e300}), "learning_rate"),
        (json!({"name": "adam", "epsilon": 1e-50}), "epsilon"),
        (json!({"name": "adam", "epsilon": 1e-40}), "epsilon"),
        (json!({"name": "adamw", "epsilon": 5e-39}), "epsilon"),
        (json!({"name": "adam", "amsgrad": 1}), "amsgrad"),
        (json!({"name": "SGD", "nesterov": "yes"}), "nesterov"),
        (json!({"name": "SGD", "clipnorm": 1e300}), "clipnorm"),
        (
            json!({"name": "adam", "learning_rate": {"class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": 0.1, "decay_steps": 1e30, "decay_rate": 0.5}}}),
            "decay_steps",
        ),
        (
            json!({"name": "adam", "learning_rate": {"class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": "true"}}}),
            "staircase",
        ),
        (
            json!({"name": "adam", "learning_rate": {"class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": "0.1", "decay_steps": 10, "decay_rate": 0.5}}}),
            "initial_learning_rate",
        ),
        (
            json!({"name": "adam", "learning_rate": {"class_name": "OneCycle",
            "config": {"max_lr": 0.1, "total_steps": 100, "anneal_strategy": 3}}}),
            "anneal_strategy",
        ),
        (
            json!({"name": "adam", "learning_rate": {"class_name": "OneCycle",
            "config": {"max_lr": 0.1, "total_steps": 100, "three_phase": 1}}}),
            "three_phase",
        ),
        (
            json!({"name": "adam", "learning_rate": {"class_name": "CosineDecay", "config": [1]}}),
            "config",
        ),
        (
            json!({"name": "adam", "learning_rate": {"class_name": "PiecewiseConstantDecay",
            "config": {"boundaries": [1.5], "values": [1.0, 0.5]}}}),
            "boundaries",
        ),
        (
            json!({"name": "adam", "learning_rate": {"class_name": 5}}),
            "class_name",
        ),
    ];
    for (c, key) in bad {
        match optimizer_from_config(&c) {
            Err(OptimError::InvalidConfig { key: k, .. }) => assert_eq!(k, key, "{c}"),
            Err(other) => panic!("{c}: expected InvalidConfig for `{key}`, got {other}"),
            Ok(o) => panic!("{c}: accepted as {}", o.name()),
        }
    }
    // Keras' own config keys for features that are off are accepted.
    let keras = json!({"name": "Adam", "learning_rate": 0.001, "use_ema": false, "ema_momentum": 0.99,
        "ema_overwrite_frequency": null, "loss_scale_factor": null, "gradient_accumulation_steps": null,
        "jit_compile": true});
    assert!(optimizer_from_config(&keras).is_ok());
}
