//! Save -> restore -> continue equals uninterrupted training, to the bit,
//! for every optimizer, through the safetensors bytes; plus the errors a
//! restored state or a bad step can raise.

use ndarray::{ArrayD, IxDyn};
use neurite_autograd::Var;
use neurite_optim::*;
use proptest::prelude::*;

/// Fresh optimizers, one per configuration; the same index always builds
/// the same configuration.
fn make(i: usize) -> Box<dyn Optimizer> {
    let cosine = || Box::new(CosineDecay::new(0.05, 20).warmup(3, 0.1).alpha(0.1));
    match i {
        0 => Box::new(Sgd::new(0.05)),
        1 => Box::new(Sgd::new(0.05).momentum(0.9).nesterov(true).l2(0.01)),
        2 => Box::new(Adagrad::new(0.1).clipnorm(1.0)),
        3 => Box::new(Rmsprop::new(0.01).momentum(0.5).centered(true)),
        4 => Box::new(Adam::with_schedule(cosine()).amsgrad(true).global_clipnorm(2.0)),
        5 => Box::new(AdamW::new(0.05).l1(0.001)),
        6 => Box::new(Adamax::new(0.05).clipvalue(0.5)),
        7 => Box::new(Nadam::with_schedule(Box::new(OneCycle::new(0.1, 30)))),
        8 => Box::new(Adam::new(0.01).weight_decay(0.01)),
        _ => unreachable!(),
    }
}
const N_CONFIGS: usize = 9;

fn params() -> Vec<(String, Var)> {
    let k = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |ix| {
        (ix[0] as f32 - 1.0) * 0.3 + ix[1] as f32 * 0.1
    });
    let b = ArrayD::from_shape_fn(IxDyn(&[4]), |ix| 0.5 - ix[0] as f32 * 0.25);
    vec![
        ("dense_1/kernel".into(), Var::parameter(k)),
        ("dense_1/bias".into(), Var::parameter(b)),
    ]
}

/// Gradient of `sum(sin(w) * w)`-like smooth function, deterministic per step;
/// the bias gets no gradient on every third step (it must be skipped).
fn set_grads(ps: &[(String, Var)], step: u64) {
    for (i, (_, v)) in ps.iter().enumerate() {
        if i == 1 && step % 3 == 2 {
            v.set_grad(None);
            continue;
        }
        let g = v.value().mapv(|w| w.sin() + w * w.cos() + 0.01 * step as f32);
        v.set_grad(Some(g));
    }
}

fn step_all(opt: &mut dyn Optimizer, ps: &[(String, Var)], from: u64, to: u64) {
    for s in from..to {
        set_grads(ps, s);
        let refs: Vec<(&str, &Var)> = ps.iter().map(|(n, v)| (n.as_str(), v)).collect();
        opt.step(&refs).unwrap();
    }
}

fn bits(a: &ArrayD<f32>) -> Vec<u32> {
    a.iter().map(|x| x.to_bits()).collect()
}

fn check_resume(config: usize, total: u64, split: u64) {
    // Uninterrupted.
    let ps_a = params();
    let mut a = make(config);
    step_all(a.as_mut(), &ps_a, 0, total);

    // Interrupted at `split`: save state (and weights) as bytes, rebuild everything, continue.
    let ps_b = params();
    let mut b = make(config);
    step_all(b.as_mut(), &ps_b, 0, split);
    let bytes = b.state().to_safetensors().unwrap();
    let weights: Vec<ArrayD<f32>> = ps_b.iter().map(|(_, v)| v.to_tensor()).collect();
    drop(b);
    let ps_c = params();
    for ((_, v), w) in ps_c.iter().zip(weights) {
        v.set_value(w);
    }
    let mut c = make(config);
    let refs: Vec<(&str, &Var)> = ps_c.iter().map(|(n, v)| (n.as_str(), v)).collect();
    c.load_state_checked(OptimizerState::from_safetensors(&bytes).unwrap(), &refs)
        .unwrap();
    assert_eq!(c.iterations(), split);
    assert_eq!(c.learning_rate().to_bits(), {
        let mut fresh = make(config);
        fresh
            .load_state(OptimizerState::from_safetensors(&bytes).unwrap())
            .unwrap();
        fresh.learning_rate().to_bits()
    });
    step_all(c.as_mut(), &ps_c, split, total);

    let name = a.name().to_string();
    for ((n, va), (_, vc)) in ps_a.iter().zip(&ps_c) {
        assert_eq!(
            bits(&va.value()),
            bits(&vc.value()),
            "{name} (config {config}): weight {n} differs"
        );
    }
    let (sa, sc) = (a.state(), c.state());
    assert_eq!(sa.iterations, sc.iterations);
    assert_eq!(
        sa.slots.keys().collect::<Vec<_>>(),
        sc.slots.keys().collect::<Vec<_>>()
    );
    for (k, x) in &sa.slots {
        assert_eq!(bits(x), bits(&sc.slots[k]), "{name}: slot {k} differs");
    }
    assert_eq!(
        sa.globals
            .iter()
            .map(|(k, v)| (k.clone(), v.to_bits()))
            .collect::<Vec<_>>(),
        sc.globals
            .iter()
            .map(|(k, v)| (k.clone(), v.to_bits()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn resume_equals_uninterrupted_for_every_optimizer() {
    for config in 0..N_CONFIGS {
        check_resume(config, 12, 5);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn resume_at_any_step_is_bit_exact(config in 0..N_CONFIGS, split in 0u64..10) {
        check_resume(config, 10, split);
    }
}

#[test]
fn state_round_trips_through_serde_json() {
    let ps = params();
    let mut opt = make(7);
    step_all(opt.as_mut(), &ps, 0, 4);
    let s = opt.state();
    let json = serde_json::to_string(&s).unwrap();
    let back: OptimizerState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert!(s.slots.contains_key("dense_1/kernel/momentum"));
    assert!(s.slots.contains_key("dense_1/bias/velocity"));
}

#[test]
fn slot_names_follow_keras() {
    let w = Var::parameter(ArrayD::zeros(IxDyn(&[2])));
    w.set_grad(Some(ArrayD::ones(IxDyn(&[2]))));
    let cases: Vec<(Box<dyn Optimizer>, &[&str])> = vec![
        (Box::new(Sgd::new(0.1)), &[]),
        (Box::new(Sgd::new(0.1).momentum(0.9)), &["momentum"]),
        (Box::new(Adagrad::default()), &["accumulator"]),
        (
            Box::new(Rmsprop::default().momentum(0.1).centered(true)),
            &["average_gradient", "momentum", "velocity"],
        ),
        (
            Box::new(Adam::default().amsgrad(true)),
            &["momentum", "velocity", "velocity_hat"],
        ),
        (Box::new(Adamax::default()), &["momentum", "norm"]),
        (Box::new(Nadam::default()), &["momentum", "velocity"]),
    ];
    for (mut opt, want) in cases {
        opt.step(&[("w", &w)]).unwrap();
        let keys: Vec<String> = opt.state().slots.keys().cloned().collect();
        let want: Vec<String> = want.iter().map(|s| format!("w/{s}")).collect();
        assert_eq!(keys, want, "{}", opt.name());
    }
    // AdaGrad's accumulator starts at initial_accumulator_value.
    let mut opt = Adagrad::new(0.0).initial_accumulator_value(0.25);
    opt.step(&[("w", &w)]).unwrap();
    assert_eq!(
        opt.state().slots["w/accumulator"],
        ndarray::arr1(&[1.25f32, 1.25]).into_dyn()
    );
}

#[test]
fn restored_state_errors() {
    let w = Var::parameter(ArrayD::zeros(IxDyn(&[2])));
    w.set_grad(Some(ArrayD::ones(IxDyn(&[2]))));
    let mut adam = Adam::default();
    adam.step(&[("w", &w)]).unwrap();
    let state = adam.state();

    // Adam's slots are unknown to SGD with momentum.
    let err = Sgd::new(0.1).momentum(0.9).load_state(state.clone()).unwrap_err();
    assert!(matches!(err, OptimError::InvalidState { .. }), "{err}");
    assert!(err.to_string().contains("unknown slot"), "{err}");

    // A missing slot.
    let mut partial = state.clone();
    partial.slots.remove("w/velocity");
    let err = Adam::default().load_state(partial).unwrap_err();
    assert!(err.to_string().contains("no slot `velocity`"), "{err}");

    // Slots of one parameter with different shapes.
    let mut bad = state.clone();
    bad.slots.insert("w/velocity".into(), ArrayD::zeros(IxDyn(&[3])));
    assert!(matches!(
        Adam::default().load_state(bad),
        Err(OptimError::ShapeMismatch { .. })
    ));

    // Unknown parameter, and shape mismatch against the parameters.
    let v = Var::parameter(ArrayD::zeros(IxDyn(&[2])));
    let err = Adam::default()
        .load_state_checked(state.clone(), &[("v", &v)])
        .unwrap_err();
    assert_eq!(err, OptimError::UnknownParameter("w".into()));
    let w3 = Var::parameter(ArrayD::zeros(IxDyn(&[3])));
    let err = Adam::default()
        .load_state_checked(state.clone(), &[("w", &w3)])
        .unwrap_err();
    assert!(
        matches!(err, OptimError::ShapeMismatch { ref parameter, .. } if parameter == "w"),
        "{err}"
    );

    // The unchecked path finds the shape mismatch at the next step, before changing anything.
    let mut opt = Adam::default();
    opt.load_state(state.clone()).unwrap();
    w3.set_grad(Some(ArrayD::ones(IxDyn(&[3]))));
    let before = w3.to_tensor();
    assert!(matches!(
        opt.step(&[("w", &w3)]),
        Err(OptimError::ShapeMismatch { .. })
    ));
    assert_eq!(w3.to_tensor(), before);
    assert_eq!(opt.iterations(), 1);

    // Nadam needs its u_product after the first step; unknown globals are rejected.
    let mut nadam = Nadam::default();
    nadam.step(&[("w", &w)]).unwrap();
    let mut s = nadam.state();
    s.globals.clear();
    assert!(Nadam::default().load_state(s.clone()).is_err());
    s.globals.insert("bogus".into(), 1.0);
    assert!(Nadam::default().load_state(s).is_err());
    let mut s = state.clone();
    s.globals.insert("u_product".into(), 1.0);
    assert!(Adam::default().load_state(s).is_err());

    // Bytes.
    assert!(matches!(
        OptimizerState::from_safetensors(&[1, 2, 3]),
        Err(OptimError::Serialization(_))
    ));
}

#[test]
fn step_errors_leave_everything_unchanged() {
    let a = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
    let b = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
    a.set_grad(Some(ndarray::arr1(&[1.0f32, 1.0]).into_dyn()));
    b.set_grad(Some(ndarray::arr1(&[1.0f32, 1.0, 1.0]).into_dyn()));
    let mut opt = Sgd::new(0.1);
    let err = opt.step(&[("a", &a), ("b", &b)]).unwrap_err();
    assert_eq!(
        err,
        OptimError::ShapeMismatch {
            parameter: "b".into(),
            what: "gradient".into(),
            expected: vec![2],
            actual: vec![3]
        }
    );
    assert_eq!(a.to_tensor(), ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
    assert_eq!(opt.iterations(), 0);
    assert_eq!(
        opt.step(&[("a", &a), ("a", &b)]),
        Err(OptimError::DuplicateParameter("a".into()))
    );
}

#[test]
fn invalid_configs_are_errors() {
    let w = Var::parameter(ArrayD::zeros(IxDyn(&[1])));
    w.set_grad(Some(ArrayD::ones(IxDyn(&[1]))));
    let bad: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new(-0.1)),
        Box::new(Sgd::new(f32::NAN)),
        Box::new(Sgd::new(0.1).momentum(-0.5)),
        Box::new(Adagrad::default().epsilon(-1.0)),
        Box::new(Rmsprop::default().rho(1.0)),
        Box::new(Rmsprop::default().momentum(1.0)),
        Box::new(Adam::default().beta_1(1.5)),
        Box::new(Adam::default().beta_2(1.0)),
        Box::new(AdamW::default().weight_decay(-0.1)),
        Box::new(Adamax::default().beta_1(-0.1)),
        Box::new(Nadam::default().epsilon(f64::INFINITY)),
        Box::new(Adam::default().clipnorm(0.0)),
        Box::new(Adam::default().clipnorm(1.0).clipvalue(1.0)),
        Box::new(Adam::default().l2(-1.0)),
        Box::new(Adam::with_schedule(Box::new(ExponentialDecay::new(0.1, 0, 0.5)))),
        Box::new(Adam::with_schedule(Box::new(PiecewiseConstantDecay::new(
            vec![5, 3],
            vec![1.0, 0.5, 0.1],
        )))),
        Box::new(Adam::with_schedule(Box::new(
            CosineDecay::new(0.1, 10).alpha(2.0),
        ))),
        Box::new(Adam::with_schedule(Box::new(
            OneCycle::new(0.1, 100).pct_start(1.0),
        ))),
    ];
    for mut opt in bad {
        let err = opt.step(&[("w", &w)]).unwrap_err();
        assert!(
            matches!(err, OptimError::InvalidConfig { .. }),
            "{}: {err}",
            opt.name()
        );
        assert_eq!(w.value()[[0]], 0.0);
    }
    assert!(Adam::new(0.001).beta_1(1.5).build().is_err());
}

#[test]
fn learning_rate_schedule_and_override() {
    let w = Var::parameter(ArrayD::zeros(IxDyn(&[1])));
    let mut opt = Sgd::with_schedule(Box::new(PiecewiseConstantDecay::new(vec![1], vec![1.0, 0.5])));
    let rates: Vec<f32> = (0..3)
        .map(|_| {
            let r = opt.learning_rate();
            w.set_grad(Some(ArrayD::ones(IxDyn(&[1]))));
            opt.step(&[("w", &w)]).unwrap();
            r
        })
        .collect();
    assert_eq!(rates, vec![1.0, 1.0, 0.5]);
    assert_eq!(w.value()[[0]], -2.5);
    opt.set_learning_rate(0.25);
    assert_eq!(opt.learning_rate(), 0.25);
    assert_eq!(opt.config()["learning_rate"], 0.25);
    // A step without gradients still counts, and changes nothing.
    w.set_grad(None);
    opt.step(&[("w", &w)]).unwrap();
    assert_eq!((opt.iterations(), w.value()[[0]]), (4, -2.5));
}

#[test]
fn configs_round_trip() {
    let opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true).clipvalue(1.0)),
        Box::new(Adagrad::new(0.2).initial_accumulator_value(0.5).l1(0.01)),
        Box::new(Rmsprop::default().centered(true).global_clipnorm(3.0)),
        Box::new(Adam::with_schedule(Box::new(CosineDecay::new(0.1, 100).warmup(10, 0.5))).amsgrad(true)),
        Box::new(AdamW::default().weight_decay(0.1)),
        Box::new(Adamax::with_schedule(Box::new(
            OneCycle::new(0.1, 50).anneal(Anneal::Linear),
        ))),
        Box::new(Nadam::with_schedule(Box::new(
            InverseTimeDecay::new(0.1, 5, 0.5).staircase(true),
        ))),
        Box::new(Sgd::with_schedule(Box::new(PiecewiseConstantDecay::new(
            vec![3],
            vec![0.1, 0.01],
        )))),
        Box::new(Adam::with_schedule(Box::new(ExponentialDecay::new(0.1, 3, 0.5)))),
    ];
    for opt in opts {
        let config = opt.config();
        let back = optimizer_from_config(&config).unwrap();
        assert_eq!(back.config(), config);
        assert_eq!(back.name(), opt.name());
    }
    let keras_like = serde_json::json!({"name": "Adam", "learning_rate": 0.01, "beta_1": 0.8});
    let opt = optimizer_from_config(&keras_like).unwrap();
    assert_eq!(
        (opt.learning_rate(), opt.config()["beta_1"].as_f64()),
        (0.01, Some(0.8))
    );
    assert!(optimizer_from_config(&serde_json::json!({"name": "lion"})).is_err());
    assert!(optimizer_from_config(&serde_json::json!({"name": "adam", "beta_1": 2.0})).is_err());
}

#[test]
fn parallel_and_sequential_updates_are_identical() {
    let n = 50_000;
    let init = ArrayD::from_shape_fn(IxDyn(&[n]), |ix| ((ix[0] * 7919) % 1000) as f32 / 500.0 - 1.0);
    let run = |threshold: usize| {
        let w = Var::parameter(init.clone());
        let mut opt = Nadam::new(0.01)
            .l2(0.01)
            .clipvalue(0.5)
            .parallel_threshold(threshold);
        for _ in 0..3 {
            let g = w.value().mapv(|x| x * 3.0 - 0.5);
            w.set_grad(Some(g));
            opt.step(&[("w", &w)]).unwrap();
        }
        (w.to_tensor(), opt.state())
    };
    let (wa, sa) = run(0);
    let (wb, sb) = run(usize::MAX);
    assert_eq!(bits(&wa), bits(&wb));
    assert_eq!(sa, sb);
}

#[test]
fn zero_grad_clears_every_gradient() {
    let ps = params();
    set_grads(&ps, 0);
    let refs: Vec<(&str, &Var)> = ps.iter().map(|(n, v)| (n.as_str(), v)).collect();
    zero_grad(&refs);
    assert!(ps.iter().all(|(_, v)| v.grad().is_none()));
}
