//! Seeded random fills: reproducibility, moments on large draws, bounds.
//! Tolerances on moments of n = 200_000 draws: the standard error of the mean is
//! std/sqrt(n) ~ 0.0022 std; we allow 0.01 std (4.5 standard errors) for means
//! and 1% for standard deviations.

use neurite_tensor::random::{normal, rng_from_seed, truncated_normal, uniform};
use neurite_tensor::Tensor;

fn moments(t: &Tensor) -> (f64, f64) {
    let n = t.len() as f64;
    let m = t.iter().map(|&v| v as f64).sum::<f64>() / n;
    let v = t.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
    (m, v.sqrt())
}

const N: usize = 200_000;

#[test]
fn same_seed_same_numbers_other_seed_other_numbers() {
    for f in [
        |r: &mut _| uniform(&[3, 4, 5], -1.0, 2.0, r),
        |r: &mut _| normal(&[3, 4, 5], 0.5, 2.0, r),
        |r: &mut _| truncated_normal(&[3, 4, 5], 0.5, 2.0, r),
    ] {
        let a = f(&mut rng_from_seed(123));
        let b = f(&mut rng_from_seed(123));
        let c = f(&mut rng_from_seed(124));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.shape(), &[3, 4, 5]);
    }
    // Consecutive draws from one generator differ.
    let mut r = rng_from_seed(5);
    assert_ne!(normal(&[10], 0.0, 1.0, &mut r), normal(&[10], 0.0, 1.0, &mut r));
}

#[test]
fn uniform_bounds_and_moments() {
    let x = uniform(&[N], -3.0, 5.0, &mut rng_from_seed(1));
    assert!(x.iter().all(|&v| (-3.0..5.0).contains(&v)));
    let (m, s) = moments(&x);
    let (want_m, want_s) = (1.0, 8.0 / 12f64.sqrt());
    assert!((m - want_m).abs() < 0.01 * want_s, "mean {m}");
    assert!((s - want_s).abs() < 0.01 * want_s, "std {s}");
    // Degenerate and reversed ranges do not panic.
    assert!(uniform(&[10], 2.0, 2.0, &mut rng_from_seed(1))
        .iter()
        .all(|&v| v == 2.0));
    assert!(uniform(&[10], 2.0, 1.0, &mut rng_from_seed(1))
        .iter()
        .all(|&v| v > 1.0 && v <= 2.0));
}

#[test]
fn normal_moments() {
    let x = normal(&[N / 100, 100], -2.0, 3.0, &mut rng_from_seed(2));
    let (m, s) = moments(&x);
    assert!((m + 2.0).abs() < 0.01 * 3.0, "mean {m}");
    assert!((s - 3.0).abs() < 0.01 * 3.0, "std {s}");
}

#[test]
fn truncated_normal_bound_and_moments() {
    let (mean, std) = (1.0f32, 0.5f32);
    let x = truncated_normal(&[N], mean, std, &mut rng_from_seed(3));
    let eps = 1e-6;
    assert!(x.iter().all(|&v| (v - mean).abs() <= 2.0 * std + eps));
    let (m, s) = moments(&x);
    // Std of a standard normal truncated to [-2, 2]: 0.879_626.
    let want_s = 0.879_626 * std as f64;
    assert!((m - mean as f64).abs() < 0.01 * std as f64, "mean {m}");
    assert!((s - want_s).abs() < 0.01 * want_s, "std {s} want {want_s}");
    // The tail near the bound is populated (re-draw, not clipping to the bound).
    let near = x.iter().filter(|&&v| (v - mean).abs() > 1.9 * std).count();
    let at = x.iter().filter(|&&v| (v - mean).abs() == 2.0 * std).count();
    assert!(near > 100 && at < 10, "near {near} at {at}");
}

#[test]
fn empty_and_rank0_shapes() {
    assert_eq!(normal(&[0, 3], 0.0, 1.0, &mut rng_from_seed(0)).len(), 0);
    assert_eq!(uniform(&[], 0.0, 1.0, &mut rng_from_seed(0)).ndim(), 0);
}
