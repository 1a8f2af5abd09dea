//! Property tests: optimizers lower convex quadratics, clipping respects its
//! bound, schedules follow their formulas.

use neurite_autograd::Var;
use neurite_optim::*;
use proptest::prelude::*;

/// Every optimizer configuration under test, with a learning rate suited to
/// curvatures in [0.1, 10].
fn all_optimizers() -> Vec<(&'static str, Box<dyn Optimizer>)> {
    vec![
        ("sgd", Box::new(Sgd::new(0.05))),
        ("sgd_momentum", Box::new(Sgd::new(0.05).momentum(0.9))),
        (
            "sgd_nesterov",
            Box::new(Sgd::new(0.05).momentum(0.9).nesterov(true)),
        ),
        ("adagrad", Box::new(Adagrad::new(0.3))),
        ("rmsprop", Box::new(Rmsprop::new(0.01))),
        (
            "rmsprop_centered_momentum",
            Box::new(Rmsprop::new(0.01).momentum(0.5).centered(true)),
        ),
        ("adam", Box::new(Adam::new(0.1))),
        ("adam_amsgrad", Box::new(Adam::new(0.1).amsgrad(true))),
        ("adamw", Box::new(AdamW::new(0.1))),
        ("adamax", Box::new(Adamax::new(0.1))),
        ("nadam", Box::new(Nadam::new(0.1))),
        ("sgd_clipnorm", Box::new(Sgd::new(0.05).clipnorm(1.0))),
        ("adam_clipvalue", Box::new(Adam::new(0.1).clipvalue(0.5))),
        (
            "rmsprop_global_clipnorm",
            Box::new(Rmsprop::new(0.01).global_clipnorm(1.0)),
        ),
    ]
}

fn loss(w: &Var, a: &[f32], c: &[f32]) -> f64 {
    let v = w.value();
    v.iter()
        .zip(a)
        .zip(c)
        .map(|((&w, &a), &c)| 0.5 * a as f64 * ((w - c) as f64).powi(2))
        .sum()
}

fn set_quadratic_grad(w: &Var, a: &[f32], c: &[f32]) {
    let g = {
        let v = w.value();
        ndarray::Zip::from(&*v)
            .map_collect(|&x| x)
            .into_shape_with_order(v.len())
            .unwrap()
            .to_vec()
    };
    let g: Vec<f32> = g.iter().zip(a).zip(c).map(|((&w, &a), &c)| a * (w - c)).collect();
    w.set_grad(Some(ndarray::Array1::from(g).into_dyn()));
}

fn quadratic() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>)> {
    (1usize..6).prop_flat_map(|n| {
        (
            prop::collection::vec(0.1f32..10.0, n),
            prop::collection::vec(-5.0f32..5.0, n),
            prop::collection::vec((0.5f32..5.0, any::<bool>()), n),
        )
            .prop_map(|(a, c, d)| {
                let w0 = c
                    .iter()
                    .zip(&d)
                    .map(|(c, (d, neg))| if *neg { c - d } else { c + d })
                    .collect();
                (a, c, w0)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_optimizer_lowers_a_convex_quadratic((a, c, w0) in quadratic()) {
        for (name, mut opt) in all_optimizers() {
            let w = Var::parameter(ndarray::Array1::from(w0.clone()).into_dyn());
            let start = loss(&w, &a, &c);
            for _ in 0..200 {
                set_quadratic_grad(&w, &a, &c);
                opt.step(&[("w", &w)]).unwrap();
            }
            let end = loss(&w, &a, &c);
            prop_assert!(end < start, "{}: loss {} -> {}", name, start, end);
        }
    }

    #[test]
    fn clipping_never_exceeds_its_bound(
        grads in prop::collection::vec(prop::collection::vec(-100.0f32..100.0, 1..20), 1..5),
        bound in 0.01f32..10.0,
    ) {
        let make = || grads.iter().map(|g| {
            let v = Var::parameter(ndarray::ArrayD::zeros(ndarray::IxDyn(&[g.len()])));
            v.set_grad(Some(ndarray::Array1::from(g.clone()).into_dyn()));
            v
        }).collect::<Vec<_>>();
        let norm_of = |v: &Var| v.with_grad(|g| g.unwrap().iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt());
        let slack = 1.0 + 1e-5;

        // Per-tensor norm.
        let vars = make();
        let params: Vec<(&str, &Var)> = vars.iter().map(|v| ("p", v)).collect();
        let before_global = global_grad_norm(&params) as f64;
        let before: Vec<f64> = vars.iter().map(norm_of).collect();
        let reported = clip_grad_norm(&params, bound).unwrap() as f64;
        prop_assert!((reported - before_global).abs() <= 1e-5 * before_global.max(1.0));
        for (v, b) in vars.iter().zip(&before) {
            let n = norm_of(v);
            prop_assert!(n <= bound as f64 * slack, "norm {} above bound {}", n, bound);
            if *b <= bound as f64 {
                prop_assert!((n - b).abs() <= 1e-6 * b.max(1.0), "unclipped tensor changed");
            } else {
                prop_assert!((n - bound as f64).abs() <= 1e-5 * bound as f64, "clipped tensor norm {} != {}", n, bound);
            }
        }

        // Global norm.
        let vars = make();
        let params: Vec<(&str, &Var)> = vars.iter().map(|v| ("p", v)).collect();
        clip_grad_global_norm(&params, bound).unwrap();
        let after = global_grad_norm(&params) as f64;
        prop_assert!(after <= bound as f64 * slack, "global norm {} above bound {}", after, bound);
        prop_assert!(after >= (before_global.min(bound as f64)) * (1.0 - 1e-5));

        // By value.
        let vars = make();
        let params: Vec<(&str, &Var)> = vars.iter().map(|v| ("p", v)).collect();
        clip_grad_value(&params, bound).unwrap();
        for v in &vars {
            v.with_grad(|g| assert!(g.unwrap().iter().all(|x| x.abs() <= bound)));
        }
    }

    /// The optimizer options clip the gradient the rule sees: with SGD and
    /// lr = 1 the weight moves by exactly the clipped gradient.
    #[test]
    fn optimizer_clip_options_bound_the_update(
        g in prop::collection::vec(-100.0f32..100.0, 1..20),
        bound in 0.01f32..10.0,
    ) {
        for which in 0..3 {
            let w = Var::parameter(ndarray::ArrayD::zeros(ndarray::IxDyn(&[g.len()])));
            w.set_grad(Some(ndarray::Array1::from(g.clone()).into_dyn()));
            let mut opt = match which {
                0 => Sgd::new(1.0).clipnorm(bound),
                1 => Sgd::new(1.0).global_clipnorm(bound),
                _ => Sgd::new(1.0).clipvalue(bound),
            };
            opt.step(&[("w", &w)]).unwrap();
            let v = w.value();
            if which < 2 {
                let n = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
                prop_assert!(n <= bound as f64 * (1.0 + 1e-5), "option {}: step norm {} > {}", which, n, bound);
            } else {
                prop_assert!(v.iter().all(|x| x.abs() <= bound));
            }
        }
    }

    #[test]
    fn schedules_follow_their_formulas(
        step in 0u64..5000,
        lr in 0.0001f32..1.0,
        decay_steps in 1u64..1000,
        rate in 0.01f32..1.0,
        alpha in 0.0f32..1.0,
        warmup in 0u64..200,
    ) {
        let close = |got: f32, want: f64| (got as f64 - want).abs() <= 1e-6 * want.abs().max(1e-6);
        let (l, r, s, d) = (lr as f64, rate as f64, step as f64, decay_steps as f64);

        let got = ExponentialDecay::new(lr, decay_steps, rate).rate(step);
        prop_assert!(close(got, l * r.powf(s / d)));
        let got = ExponentialDecay::new(lr, decay_steps, rate).staircase(true).rate(step);
        prop_assert!(close(got, l * r.powf((s / d).floor())));
        let got = InverseTimeDecay::new(lr, decay_steps, rate).rate(step);
        prop_assert!(close(got, l / (1.0 + r * s / d)));
        let got = InverseTimeDecay::new(lr, decay_steps, rate).staircase(true).rate(step);
        prop_assert!(close(got, l / (1.0 + r * (s / d).floor())));

        let a = alpha as f64;
        let cosine = |x: f64, from: f64| from * ((1.0 - a) * 0.5 * (1.0 + (std::f64::consts::PI * x / d).cos()) + a);
        let got = CosineDecay::new(lr, decay_steps).alpha(alpha).rate(step);
        prop_assert!(close(got, cosine(s.min(d), l)));
        // Warmup from lr/10 to lr.
        let got = CosineDecay::new(lr / 10.0, decay_steps).alpha(alpha).warmup(warmup, lr).rate(step);
        let (start, wu) = ((lr / 10.0) as f64, warmup as f64);
        let want = if s < wu { start + (l - start) * s / wu } else { cosine((s - wu).min(d), l) };
        prop_assert!(close(got, want), "warmup cosine at {}: {} vs {}", step, got, want);

        let boundaries = vec![decay_steps, decay_steps + 100, decay_steps + 1000];
        let values = vec![lr, lr / 2.0, lr / 4.0, lr / 8.0];
        let got = PiecewiseConstantDecay::new(boundaries.clone(), values.clone()).rate(step);
        let idx = boundaries.iter().filter(|&&b| step > b).count();
        prop_assert_eq!(got, values[idx]);

        // OneCycle: peaks at max_lr, starts at max_lr/25, ends at max_lr/25/1e4, within [min, max].
        let total = decay_steps + 10;
        let oc = OneCycle::new(lr, total);
        let peak = (0.3 * total as f64 - 1.0).ceil() as u64;
        prop_assert!(close(oc.rate(0), l / 25.0));
        prop_assert!(close(oc.rate(total - 1), l / 25.0 / 1e4));
        let x = oc.rate(step % total) as f64;
        prop_assert!(x <= l * (1.0 + 1e-6) && x >= l / 25.0 / 1e4 * (1.0 - 1e-6));
        // Monotone up to the peak, down after.
        let (r0, r1) = (oc.rate(step % total), oc.rate(step % total + 1));
        if step % total < peak.saturating_sub(1) {
            prop_assert!(r1 >= r0);
        } else if step % total > peak {
            prop_assert!(r1 <= r0);
        }
    }
}
