//! Unary functions against plainly written f64 references.
//! Tolerances: `erf` 2e-7 absolute (Numerical Recipes' erfcc bound 1.2e-7 relative on
//! erfc <= 0.48, plus f32 rounding; measured 1.52e-7) and
//! 1e-6 relative for |x| < 0.5; activations 1e-6 absolute + 1e-5 relative (one f32
//! transcendental plus a few roundings); piecewise-linear ones exact.

mod ops_common;

use neurite_tensor::unary::{self, erf, SELU_ALPHA, SELU_SCALE};
use neurite_tensor::Tensor;
use ops_common::*;
use proptest::prelude::*;

/// erf in f64: Maclaurin series for |x| <= 2.5 (terms stay below e^6.25, so f64 keeps
/// ~1e-14), else `1 - erfc` with erfc by its continued fraction (Abramowitz & Stegun
/// 7.1.14), evaluated backwards with 200 terms.
fn erf_ref(x: f64) -> f64 {
    if x.abs() > 2.5 {
        let ax = x.abs();
        let mut k = ax;
        for n in (1..=200).rev() {
            k = ax + (n as f64 / 2.0) / k;
        }
        let erfc = (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * k);
        return (1.0 - erfc).copysign(x);
    }
    let mut term = x; // (-1)^n x^(2n+1) / n!
    let mut sum = x;
    for n in 1..200 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

fn check_unary(x: &Tensor, got: Tensor, f: impl Fn(f64) -> f64, atol: f32, rtol: f32) {
    let want = x.mapv(|v| f(v as f64) as f32);
    assert_close(&got, &want, atol, rtol);
}

#[test]
fn erf_matches_series_on_a_fine_grid() {
    let mut worst = 0.0f64;
    for i in -35_000..=35_000 {
        let x = i as f32 * 1e-4;
        let want = erf_ref(x as f64);
        let got = erf(x) as f64;
        let err = (got - want).abs();
        worst = worst.max(err);
        assert!(err <= 2e-7, "erf({x}) = {got}, want {want}");
        if x.abs() < 0.5 && x != 0.0 {
            assert!(err <= 1e-6 * want.abs(), "relative error at {x}: {got} vs {want}");
        }
    }
    eprintln!("erf: worst absolute error {worst:e}");
    assert!(worst > 0.0, "reference and implementation must be independent");
    // Tails: erf(3.5) = 1 - 7.4e-7.
    for x in [3.5f32, 4.0, 6.0, 10.0, 1e30, f32::INFINITY] {
        assert!(
            (erf(x) - 1.0).abs() <= 1e-6 && (erf(-x) + 1.0).abs() <= 1e-6,
            "{x}"
        );
    }
    assert!(erf(f32::NAN).is_nan());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn smooth_functions_match_f64(x in tensor_strategy(5, 20.0)) {
        check_unary(&x, unary::exp(&x), f64::exp, 1e-6, 1e-5);
        check_unary(&x, unary::tanh(&x), f64::tanh, 1e-6, 1e-5);
        check_unary(&x, unary::sigmoid(&x), |v| 1.0 / (1.0 + (-v).exp()), 1e-6, 1e-5);
        check_unary(&x, unary::swish(&x), |v| v / (1.0 + (-v).exp()), 1e-6, 1e-5);
        check_unary(&x, unary::softplus(&x), |v| (1.0 + v.exp()).ln(), 1e-6, 1e-5);
        check_unary(&x, unary::gelu(&x), |v| 0.5 * v * (1.0 + erf_ref(v / 2f64.sqrt())), 1e-6, 1e-5);
        check_unary(&x, unary::selu(&x), |v| {
            SELU_SCALE as f64 * if v > 0.0 { v } else { SELU_ALPHA as f64 * (v.exp() - 1.0) }
        }, 1e-6, 1e-5);
        check_unary(&x, unary::elu(&x, 0.7), |v| if v > 0.0 { v } else { 0.7f32 as f64 * (v.exp() - 1.0) }, 1e-6, 1e-5);
        let ax = x.mapv(f32::abs);
        check_unary(&ax, unary::ln(&ax), f64::ln, 1e-6, 1e-5);
        check_unary(&ax, unary::sqrt(&ax), f64::sqrt, 1e-6, 1e-6);
    }

    #[test]
    fn piecewise_functions_are_exact(x in tensor_strategy(5, 20.0), alpha in 0.0f32..1.0, lo in -10.0f32..0.0, hi in 0.0f32..10.0) {
        assert_close(&unary::abs(&x), &x.mapv(|v| if v < 0.0 { -v } else { v }), 0.0, 0.0);
        assert_close(&unary::neg(&x), &x.mapv(|v| 0.0 - v), 0.0, 0.0);
        assert_close(&unary::square(&x), &x.mapv(|v| v * v), 0.0, 0.0);
        assert_close(&unary::relu(&x), &x.mapv(|v| if v > 0.0 { v } else { 0.0 }), 0.0, 0.0);
        assert_close(&unary::leaky_relu(&x, alpha), &x.mapv(|v| if v > 0.0 { v } else { alpha * v }), 0.0, 0.0);
        assert_close(&unary::clip(&x, lo, hi), &x.mapv(|v| v.max(lo).min(hi)), 0.0, 0.0);
    }
}

#[test]
fn extreme_inputs_do_not_overflow() {
    let x = Tensor::from_shape_vec(vec![6], vec![-1e30, -1000.0, -90.0, 90.0, 1000.0, 1e30]).unwrap();
    for (name, y) in [
        ("sigmoid", unary::sigmoid(&x)),
        ("softplus", unary::softplus(&x)),
        ("swish", unary::swish(&x)),
        ("gelu", unary::gelu(&x)),
        ("tanh", unary::tanh(&x)),
        ("elu", unary::elu(&x, 1.0)),
        ("selu", unary::selu(&x)),
    ] {
        assert!(y.iter().all(|v| v.is_finite()), "{name}: {y:?}");
    }
    let s = unary::sigmoid(&x);
    assert_eq!((s[[0]], s[[5]]), (0.0, 1.0));
    assert!(
        s[[2]] > 0.0,
        "sigmoid(-90) = e^-90 is tiny but positive, got {}",
        s[[2]]
    );
    let sp = unary::softplus(&x);
    assert_eq!((sp[[4]], sp[[5]]), (1000.0, 1e30));
}

#[test]
fn large_tensor_takes_parallel_path_correctly() {
    let n = neurite_tensor::elementwise::PAR_THRESHOLD * 2 + 3;
    let x = Tensor::from_shape_fn(vec![n], |i| (i[0] as f32 * 1e-4).sin() * 8.0);
    check_unary(&x, unary::sigmoid(&x), |v| 1.0 / (1.0 + (-v).exp()), 1e-6, 1e-5);
    check_unary(
        &x,
        unary::gelu(&x),
        |v| 0.5 * v * (1.0 + erf_ref(v / 2f64.sqrt())),
        1e-6,
        1e-5,
    );
}

#[test]
fn nan_passes_through_relu_and_clip() {
    let x = Tensor::from_elem(vec![1], f32::NAN);
    assert!(unary::relu(&x)[[0]].is_nan());
    assert!(unary::clip(&x, 0.0, 1.0)[[0]].is_nan());
    assert!(unary::sigmoid(&x)[[0]].is_nan());
}
