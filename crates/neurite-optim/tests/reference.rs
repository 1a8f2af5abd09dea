//! Three steps of every optimizer on a fixed problem, compared with
//! reference values.
//!
//! Problem: `w0 = [1, -2]`, loss `0.5 * sum(a_i (w_i - c_i)^2)` with
//! `a = [1, 3]`, `c = [0.5, 1]`, so the gradient is `g = a * (w - c)`.
//!
//! Reference numbers: Keras 3.15.1 (backend JAX 0.10.2, CPU, float32),
//! produced by `optimizer.apply_gradients([(a * (w - c), w)])` three times
//! and printing `w` after each step (script kept in `docs/optim.md`).
//! Where Keras has no equivalent (L1/L2 gradient penalties), the published
//! update rule is written out below in f64.

use neurite_autograd::Var;
use neurite_optim::*;

const A: [f32; 2] = [1.0, 3.0];
const C: [f32; 2] = [0.5, 1.0];

fn run(opt: &mut dyn Optimizer) -> Vec<[f32; 2]> {
    let w = Var::parameter(ndarray::arr1(&[1.0f32, -2.0]).into_dyn());
    let mut out = vec![];
    for _ in 0..3 {
        let g = {
            let v = w.value();
            ndarray::arr1(&[A[0] * (v[[0]] - C[0]), A[1] * (v[[1]] - C[1])]).into_dyn()
        };
        w.set_grad(Some(g));
        opt.step(&[("w", &w)]).unwrap();
        let v = w.value();
        out.push([v[[0]], v[[1]]]);
    }
    out
}

fn assert_close(name: &str, got: &[[f32; 2]], want: &[[f64; 2]], tol: f64) {
    for (step, (g, w)) in got.iter().zip(want).enumerate() {
        for i in 0..2 {
            let (g, w) = (g[i] as f64, w[i]);
            assert!(
                (g - w).abs() <= tol * w.abs().max(1.0),
                "{name}: step {} element {i}: got {g}, reference {w} (diff {})",
                step + 1,
                (g - w).abs()
            );
        }
    }
}

/// (name, optimizer, Keras 3.15.1 values of w after steps 1, 2, 3)
type Case = (&'static str, Box<dyn Optimizer>, [[f64; 2]; 3]);

fn keras_cases() -> Vec<Case> {
    vec![
        (
            "sgd",
            Box::new(Sgd::new(0.1)),
            [
                [0.949999988079071, -1.0999999046325684],
                [0.9049999713897705, -0.46999990940093994],
                [0.8644999861717224, -0.028999924659729004],
            ],
        ),
        (
            "sgd_momentum",
            Box::new(Sgd::new(0.1).momentum(0.9)),
            [
                [0.949999988079071, -1.0999999046325684],
                [0.8600000143051147, 0.3400001525878906],
                [0.7430000305175781, 1.8340001106262207],
            ],
        ),
        (
            "sgd_nesterov",
            Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true)),
            [
                [0.9049999713897705, -0.28999996185302734],
                [0.7875499725341797, 1.174299955368042],
                [0.66366046667099, 2.0445189476013184],
            ],
        ),
        (
            "adagrad",
            Box::new(Adagrad::new(0.1)),
            [
                [0.915484607219696, -1.9000617265701294],
                [0.8580122590065002, -1.8305809497833252],
                [0.8136336207389832, -1.7744539976119995],
            ],
        ),
        (
            "rmsprop",
            Box::new(Rmsprop::new(0.01)),
            [
                [0.9683772921562195, -1.9683772325515747],
                [0.9461585283279419, -1.9455511569976807],
                [0.9279289841651917, -1.9264965057373047],
            ],
        ),
        (
            "rmsprop_momentum",
            Box::new(Rmsprop::new(0.01).momentum(0.5)),
            [
                [0.9683772921562195, -1.9683772325515747],
                [0.930347204208374, -1.9297398328781128],
                [0.8935415744781494, -1.8914318084716797],
            ],
        ),
        (
            "rmsprop_centered",
            Box::new(Rmsprop::new(0.01).centered(true)),
            [
                [0.9666667580604553, -1.9666666984558105],
                [0.9420284628868103, -1.9413114786148071],
                [0.9207946062088013, -1.919010877609253],
            ],
        ),
        (
            "rmsprop_centered_momentum",
            Box::new(Rmsprop::new(0.01).momentum(0.9).centered(true)),
            [
                [0.9666667580604553, -1.9666666984558105],
                [0.9120285511016846, -1.9113115072250366],
                [0.8426344394683838, -1.8393374681472778],
            ],
        ),
        (
            "adam",
            Box::new(Adam::new(0.1)),
            [
                [0.9000012874603271, -1.9000006914138794],
                [0.8011901378631592, -1.8001043796539307],
                [0.7048746347427368, -1.7003835439682007],
            ],
        ),
        (
            "adam_b2",
            Box::new(Adam::new(0.1).beta_2(0.5)),
            [
                [0.9000000357627869, -1.899999976158142],
                [0.797366738319397, -1.799534559249878],
                [0.6894505620002747, -1.6983096599578857],
            ],
        ),
        (
            "adam_amsgrad_b2",
            Box::new(Adam::new(0.1).beta_2(0.5).amsgrad(true)),
            [
                [0.9000000357627869, -1.899999976158142],
                [0.797366738319397, -1.799534559249878],
                [0.7002259492874146, -1.6983096599578857],
            ],
        ),
        (
            "adamw",
            Box::new(AdamW::new(0.1).weight_decay(0.1)),
            [
                [0.8900012969970703, -1.8800007104873657],
                [0.7824975252151489, -1.761328935623169],
                [0.6790436506271362, -1.644060730934143],
            ],
        ),
        (
            "adamax",
            Box::new(Adamax::new(0.1)),
            [
                [0.9000000357627869, -1.899999976158142],
                [0.8104368448257446, -1.8016560077667236],
                [0.7309098839759827, -1.7050094604492188],
            ],
        ),
        (
            "nadam",
            Box::new(Nadam::new(0.1)),
            [
                [0.8937212228775024, -1.8937212228775024],
                [0.8248305916786194, -1.8175852298736572],
                [0.766090452671051, -1.7481744289398193],
            ],
        ),
        (
            "sgd_clipnorm",
            Box::new(Sgd::new(0.1).clipnorm(1.0)),
            [
                [0.9944530129432678, -1.9001539945602417],
                [0.9887791275978088, -1.8003151416778564],
                [0.9829708337783813, -1.7004839181900024],
            ],
        ),
        (
            "adam_global_clipnorm",
            Box::new(Adam::new(0.1).global_clipnorm(0.5)),
            [
                [0.9000120759010315, -1.9000012874603271],
                [0.8009498119354248, -1.8000015020370483],
                [0.7039362788200378, -1.6999990940093994],
            ],
        ),
        (
            "sgd_clipvalue",
            Box::new(Sgd::new(0.1).clipvalue(0.3)),
            [
                [0.9700000286102295, -1.9700000286102295],
                [0.940000057220459, -1.940000057220459],
                [0.9100000858306885, -1.9100000858306885],
            ],
        ),
        (
            "sgd_weight_decay",
            Box::new(Sgd::new(0.1).weight_decay(0.5)),
            [
                [0.8999999761581421, -0.9999999403953552],
                [0.8149999380111694, -0.34999990463256836],
                [0.7427499294281006, 0.07250005006790161],
            ],
        ),
        // keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5): the rate of step t is evaluated at iterations = t - 1.
        (
            "adam_exponential_decay",
            Box::new(Adam::with_schedule(Box::new(ExponentialDecay::new(0.1, 1, 0.5)))),
            [
                [0.9000012874603271, -1.9000006914138794],
                [0.8505957126617432, -1.8500525951385498],
                [0.8261750936508179, -1.8251028060913086],
            ],
        ),
    ]
}

#[test]
fn every_optimizer_matches_keras_3_for_three_steps() {
    for (name, mut opt, want) in keras_cases() {
        let got = run(opt.as_mut());
        // SGD, AdaGrad and RMSprop reproduce Keras to the bit. Adam-family
        // per-step constants are computed here in f64 (as PyTorch does);
        // Keras computes `1 - beta_2^t` in float32 from beta_2 rounded to
        // float32 (0.999 -> 0.99900001), which moves its alpha by ~6e-6
        // relative: up to 2e-6 on these weights with beta_2 = 0.999.
        let tol = if ["sgd", "adagrad", "rmsprop"].iter().any(|p| name.starts_with(p)) {
            0.0
        } else if ["adam", "adamw", "adam_global_clipnorm", "adam_exponential_decay"].contains(&name) {
            2.5e-6
        } else {
            3e-7
        };
        assert_close(name, &got, &want, tol);
        assert_eq!(opt.iterations(), 3, "{name}");
    }
}

/// Written-out update rules (f64) for the options Keras does not have, and
/// a second, independent check of the Adam formula.
#[test]
fn penalties_and_adam_match_their_written_out_rules() {
    let grad = |w: [f64; 2]| {
        [
            A[0] as f64 * (w[0] - C[0] as f64),
            A[1] as f64 * (w[1] - C[1] as f64),
        ]
    };
    // SGD with l2 = 0.2 and l1 = 0.05: g' = g + 0.2 w + 0.05 sign(w); w -= 0.1 g'.
    let mut w = [1.0f64, -2.0];
    let mut want = vec![];
    for _ in 0..3 {
        let g = grad(w);
        for i in 0..2 {
            let gp = g[i] + 0.2 * w[i] + 0.05 * w[i].signum();
            w[i] -= 0.1 * gp;
        }
        want.push(w);
    }
    assert_close(
        "sgd_l1_l2",
        &run(&mut Sgd::new(0.1).l2(0.2).l1(0.05)),
        &want,
        1e-7,
    );

    // Adam (Kingma & Ba, with Keras' epsilon placement), lr 0.1.
    let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-7f64, 0.1f64);
    let (mut w, mut m, mut v) = ([1.0f64, -2.0], [0.0f64; 2], [0.0f64; 2]);
    let mut want = vec![];
    for t in 1..=3 {
        let g = grad(w);
        let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        for i in 0..2 {
            m[i] += (g[i] - m[i]) * (1.0 - b1);
            v[i] += (g[i] * g[i] - v[i]) * (1.0 - b2);
            w[i] -= alpha * m[i] / (v[i].sqrt() + eps);
        }
        want.push(w);
    }
    assert_close("adam_formula", &run(&mut Adam::new(0.1)), &want, 1e-7);

    // Adam as PyTorch writes it (torch.optim.Adam, eps = 1e-8 added to the
    // bias-corrected sqrt(v_hat)) versus `.pytorch_epsilon(true).epsilon(1e-8)`.
    // A tiny gradient scale makes epsilon matter.
    let (mut w, mut m, mut v) = ([1.0f64, -2.0], [0.0f64; 2], [0.0f64; 2]);
    let mut want = vec![];
    let torch_eps = 1e-8;
    for t in 1..=3 {
        let g = grad(w);
        let g = [g[0] * 1e-7, g[1] * 1e-7];
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            w[i] -= lr * m_hat / (v_hat.sqrt() + torch_eps);
        }
        want.push(w);
    }
    let run_tiny = |mut opt: Adam| {
        let wv = Var::parameter(ndarray::arr1(&[1.0f32, -2.0]).into_dyn());
        let mut got = vec![];
        for _ in 0..3 {
            let g = {
                let x = wv.value();
                ndarray::arr1(&[A[0] * (x[[0]] - C[0]) * 1e-7, A[1] * (x[[1]] - C[1]) * 1e-7]).into_dyn()
            };
            wv.set_grad(Some(g));
            opt.step(&[("w", &wv)]).unwrap();
            got.push([wv.value()[[0]], wv.value()[[1]]]);
        }
        got
    };
    let got = run_tiny(Adam::new(0.1).pytorch_epsilon(true).epsilon(1e-8));
    assert_close("adam_pytorch_epsilon", &got, &want, 1e-6);
    // Keras' placement (epsilon on the uncorrected sqrt(v)) is far from it here.
    let keras = run_tiny(Adam::new(0.1).epsilon(1e-8));
    assert!((keras[2][0] as f64 - want[2][0]).abs() > 0.01);

    // Adam with l2 = 0.5 and global_clipnorm = 1: the penalty is part of the clipped gradient.
    let (mut w, mut m, mut v) = ([1.0f64, -2.0], [0.0f64; 2], [0.0f64; 2]);
    let mut want = vec![];
    for t in 1..=3 {
        let g0 = grad(w);
        let mut g = [g0[0] + 0.5 * w[0], g0[1] + 0.5 * w[1]];
        let norm = (g[0] * g[0] + g[1] * g[1]).sqrt();
        let scale = (1.0 / norm).min(1.0);
        g = [g[0] * scale, g[1] * scale];
        let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        for i in 0..2 {
            m[i] += (g[i] - m[i]) * (1.0 - b1);
            v[i] += (g[i] * g[i] - v[i]) * (1.0 - b2);
            w[i] -= alpha * m[i] / (v[i].sqrt() + eps);
        }
        want.push(w);
    }
    assert_close(
        "adam_l2_global_clipnorm",
        &run(&mut Adam::new(0.1).l2(0.5).global_clipnorm(1.0)),
        &want,
        1e-7,
    );
}

/// Keras 3.15.1 `keras.optimizers.schedules.*` evaluated at the given steps
/// (float32), same script as above.
#[test]
fn schedules_match_keras_3() {
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Box<dyn LearningRateSchedule>, Vec<(u64, f64)>)> = vec![
        (
            "exp",
            Box::new(ExponentialDecay::new(0.1, 10, 0.5)),
            vec![
                (0, 0.10000000149011612),
                (1, 0.09330330044031143),
                (5, 0.0707106813788414),
                (9, 0.05358867719769478),
                (10, 0.05000000074505806),
                (11, 0.046651650220155716),
                (15, 0.0353553406894207),
                (19, 0.02679433859884739),
                (20, 0.02500000037252903),
                (21, 0.023325826972723007),
                (50, 0.0031250000465661287),
                (99, 0.00010466540697962046),
                (100, 9.765625145519152e-05),
                (119, 2.6166351744905114e-05),
                (120, 2.441406286379788e-05),
                (200, 9.536743306171047e-08),
            ],
        ),
        (
            "exp_stair",
            Box::new(ExponentialDecay::new(0.1, 10, 0.5).staircase(true)),
            vec![
                (0, 0.10000000149011612),
                (1, 0.10000000149011612),
                (5, 0.10000000149011612),
                (9, 0.10000000149011612),
                (10, 0.05000000074505806),
                (11, 0.05000000074505806),
                (15, 0.05000000074505806),
                (19, 0.05000000074505806),
                (20, 0.02500000037252903),
                (21, 0.02500000037252903),
                (50, 0.0031250000465661287),
                (99, 0.00019531250291038305),
                (100, 9.765625145519152e-05),
                (119, 4.882812572759576e-05),
                (120, 2.441406286379788e-05),
                (200, 9.536743306171047e-08),
            ],
        ),
        (
            "inv",
            Box::new(InverseTimeDecay::new(0.1, 10, 0.5)),
            vec![
                (0, 0.10000000149011612),
                (1, 0.0952381044626236),
                (5, 0.07999999821186066),
                (9, 0.06896551698446274),
                (10, 0.06666667014360428),
                (11, 0.06451613456010818),
                (15, 0.05714285746216774),
                (19, 0.05128205195069313),
                (20, 0.05000000074505806),
                (21, 0.04878048971295357),
                (50, 0.02857142873108387),
                (99, 0.016806723549962044),
                (100, 0.01666666753590107),
                (119, 0.014388489536941051),
                (120, 0.014285714365541935),
                (200, 0.00909090880304575),
            ],
        ),
        (
            "inv_stair",
            Box::new(InverseTimeDecay::new(0.1, 10, 0.5).staircase(true)),
            vec![
                (0, 0.10000000149011612),
                (1, 0.10000000149011612),
                (5, 0.10000000149011612),
                (9, 0.10000000149011612),
                (10, 0.06666667014360428),
                (11, 0.06666667014360428),
                (15, 0.06666667014360428),
                (19, 0.06666667014360428),
                (20, 0.05000000074505806),
                (21, 0.05000000074505806),
                (50, 0.02857142873108387),
                (99, 0.0181818176060915),
                (100, 0.01666666753590107),
                (119, 0.015384615398943424),
                (120, 0.014285714365541935),
                (200, 0.00909090880304575),
            ],
        ),
        (
            "pw",
            Box::new(PiecewiseConstantDecay::new(vec![10, 20], vec![0.1, 0.05, 0.01])),
            vec![
                (0, 0.10000000149011612),
                (1, 0.10000000149011612),
                (5, 0.10000000149011612),
                (9, 0.10000000149011612),
                (10, 0.10000000149011612),
                (11, 0.05000000074505806),
                (15, 0.05000000074505806),
                (19, 0.05000000074505806),
                (20, 0.05000000074505806),
                (21, 0.009999999776482582),
                (50, 0.009999999776482582),
                (99, 0.009999999776482582),
                (100, 0.009999999776482582),
                (119, 0.009999999776482582),
                (120, 0.009999999776482582),
                (200, 0.009999999776482582),
            ],
        ),
        (
            "cos",
            Box::new(CosineDecay::new(0.1, 100).alpha(0.1)),
            vec![
                (0, 0.10000000149011612),
                (1, 0.09997779130935669),
                (5, 0.09944597631692886),
                (9, 0.09821321815252304),
                (10, 0.09779754281044006),
                (11, 0.09733963757753372),
                (15, 0.09509529173374176),
                (19, 0.09221862256526947),
                (20, 0.09140576422214508),
                (21, 0.09055697917938232),
                (50, 0.05499999597668648),
                (99, 0.010022206231951714),
                (100, 0.010000000707805157),
                (119, 0.010000000707805157),
                (120, 0.010000000707805157),
                (200, 0.010000000707805157),
            ],
        ),
        (
            "cos_warm",
            Box::new(CosineDecay::new(0.0, 100).alpha(0.1).warmup(20, 0.2)),
            vec![
                (0, 0.0),
                (1, 0.010000000707805157),
                (5, 0.05000000074505806),
                (9, 0.08999999612569809),
                (10, 0.10000000149011612),
                (11, 0.11000000685453415),
                (15, 0.15000000596046448),
                (19, 0.1899999976158142),
                (20, 0.20000000298023224),
                (21, 0.19995558261871338),
                (50, 0.1629006713628769),
                (99, 0.03888604789972305),
                (100, 0.037188466638326645),
                (119, 0.020044412463903427),
                (120, 0.020000001415610313),
                (200, 0.020000001415610313),
            ],
        ),
    ];
    for (name, s, points) in cases {
        s.validate().unwrap();
        for (step, want) in points {
            let got = s.rate(step) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1e-3),
                "{name} at step {step}: got {got}, Keras {want}"
            );
        }
    }
}

/// PyTorch `OneCycleLR` semantics (torch/optim/lr_scheduler.py, two-phase
/// cosine): phase ends at `pct_start * total - 1` and `total - 1`;
/// `cos_anneal(start, end, pct) = end + (start - end) / 2 * (cos(pi pct) + 1)`.
/// Hand-computed for max_lr 1, total 10, pct_start 0.3, div 25, final_div 1e4:
/// initial 0.04, min 4e-6, phase 1 ends at step 2, phase 2 at step 9.
#[test]
fn one_cycle_matches_pytorch_semantics() {
    let s = OneCycle::new(1.0, 10);
    let cos = |start: f64, end: f64, pct: f64| {
        end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
    };
    let want = [
        0.04,
        cos(0.04, 1.0, 0.5), // = 0.52
        1.0,
        cos(1.0, 4e-6, 1.0 / 7.0),
        cos(1.0, 4e-6, 2.0 / 7.0),
        cos(1.0, 4e-6, 3.0 / 7.0),
        cos(1.0, 4e-6, 4.0 / 7.0),
        cos(1.0, 4e-6, 5.0 / 7.0),
        cos(1.0, 4e-6, 6.0 / 7.0),
        4e-6,
    ];
    assert!((want[1] - 0.52).abs() < 1e-12);
    for (step, w) in want.iter().enumerate() {
        let got = s.rate(step as u64) as f64;
        assert!(
            (got - w).abs() <= 1e-6 * w.max(1e-3),
            "step {step}: got {got}, want {w}"
        );
    }
    // Past the end: the final rate (PyTorch would raise).
    assert_eq!(s.rate(10), s.rate(9));
    // Linear three-phase: 0.04 -> 1 over steps 0..=2, back to 0.04 at step 4, then to 4e-6 at 9.
    let s = OneCycle::new(1.0, 10).three_phase(true).anneal(Anneal::Linear);
    for (step, w) in [(0u64, 0.04), (1, 0.52), (2, 1.0), (3, 0.52), (4, 0.04), (9, 4e-6)] {
        assert!((s.rate(step) as f64 - w).abs() < 1e-6, "three-phase step {step}");
    }
}
