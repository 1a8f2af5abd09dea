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

mod dropout {
    use neurite_tensor::random::{dropout_mask, dropout_multipliers, rng_from_seed};
    use proptest::prelude::*;
    use rand::Rng;

    /// The plainly written mask: one `random::<f32>()` per element, in order.
    fn reference(len: usize, rate: f32, rng: &mut neurite_tensor::random::Generator) -> Vec<f32> {
        let keep = 1.0 / (1.0 - rate);
        (0..len)
            .map(|_| if rng.random::<f32>() >= rate { keep } else { 0.0 })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// Bulk, parallel multipliers equal the element-by-element loop on
        /// every length (across the parallel chunk boundary too), and leave
        /// the generator where the loop leaves it.
        #[test]
        fn multipliers_equal_the_sequential_loop(
            seed in any::<u64>(),
            skip in 0usize..3,
            len in prop_oneof![0usize..200, 32_700usize..33_000, 70_000usize..100_000],
            rate in 0.0f32..0.95,
        ) {
            let mut a = rng_from_seed(seed);
            let mut b = rng_from_seed(seed);
            for _ in 0..skip {
                a.random::<u32>();
                b.random::<u32>();
            }
            let fast = dropout_multipliers(len, rate, &mut a);
            let slow = reference(len, rate, &mut b);
            prop_assert_eq!(fast, slow);
            prop_assert_eq!(a.random::<u64>(), b.random::<u64>());
        }
    }

    #[test]
    fn same_mask_on_one_thread_and_many() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let one = pool.install(|| dropout_mask(&[300, 500], 0.3, &mut rng_from_seed(4)));
        let many = dropout_mask(&[300, 500], 0.3, &mut rng_from_seed(4));
        assert_eq!(one, many);
        let kept = many.iter().filter(|&&v| v != 0.0).count() as f64 / many.len() as f64;
        assert!((kept - 0.7).abs() < 0.01, "kept fraction {kept}");
    }
}
