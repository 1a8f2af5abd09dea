//! The vectorizable `exp` against `f64::exp`, and the row softmax built on it
//! against a plainly written f64 softmax, at every SIMD level of this CPU.

use neurite_tensor::exp::{exp_approx, softmax_row_in_place_at};
use neurite_tensor::simd::SimdLevel;
use proptest::prelude::*;

/// Distance in units in the last place between `a` and the f32 nearest `exact`.
fn ulps(a: f32, exact: f64) -> i64 {
    let b = exact as f32;
    (a.to_bits() as i64 - b.to_bits() as i64).abs()
}

#[test]
fn exp_is_within_two_ulp_on_a_dense_grid() {
    let mut worst = (0i64, 0.0f32);
    let steps = 2_000_000;
    for i in 0..=steps {
        let x = -87.33f32 + (88.37 + 87.33) * (i as f32 / steps as f32);
        let d = ulps(exp_approx(x), (x as f64).exp());
        if d > worst.0 {
            worst = (d, x);
        }
    }
    assert!(worst.0 <= 2, "{} ulp at x = {}", worst.0, worst.1);
}

#[test]
fn exp_edges() {
    assert_eq!(exp_approx(0.0), 1.0);
    assert_eq!(exp_approx(-87.5), 0.0);
    assert_eq!(exp_approx(f32::NEG_INFINITY), 0.0);
    assert_eq!(exp_approx(-1e9), 0.0);
    assert_eq!(exp_approx(89.0), f32::INFINITY);
    assert_eq!(exp_approx(f32::INFINITY), f32::INFINITY);
    assert!(exp_approx(f32::NAN).is_nan());
}

fn reference(row: &[f32]) -> Vec<f64> {
    let m = row.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
    let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

proptest! {
    #[test]
    fn exp_matches_f64(x in -87.33f32..88.37) {
        prop_assert!(ulps(exp_approx(x), (x as f64).exp()) <= 2);
    }

    /// Every level gives the softmax within 1e-6 (absolute) of the f64 one,
    /// rows sum to 1, and masked (-1e9) entries are exactly 0.
    #[test]
    fn softmax_rows_match_the_f64_reference(
        row in proptest::collection::vec(-30.0f32..30.0, 1..80),
        masked in proptest::collection::vec(any::<bool>(), 80),
    ) {
        let mut row = row;
        let n = row.len();
        for (v, &m) in row.iter_mut().zip(&masked) {
            if m && n > 1 {
                *v = -1e9;
            }
        }
        let expected = reference(&row);
        for level in SimdLevel::available() {
            let mut got = row.clone();
            softmax_row_in_place_at(level, &mut got);
            for (i, (&g, &e)) in got.iter().zip(&expected).enumerate() {
                prop_assert!((g as f64 - e).abs() < 1e-6, "{level:?} [{i}]: {g} vs {e}");
                if row[i] == -1e9 && row.iter().any(|&v| v > -1e8) {
                    prop_assert_eq!(g, 0.0);
                }
            }
            let sum: f64 = got.iter().map(|&v| v as f64).sum();
            prop_assert!((sum - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn degenerate_rows() {
    for level in SimdLevel::available() {
        let mut all_masked = [-1e9f32; 5];
        softmax_row_in_place_at(level, &mut all_masked);
        assert!(
            all_masked.iter().all(|&v| (v - 0.2).abs() < 1e-7),
            "{all_masked:?}"
        );
        let mut with_nan = [0.0f32, f32::NAN, 1.0];
        softmax_row_in_place_at(level, &mut with_nan);
        assert!(with_nan.iter().all(|v| v.is_nan()));
        let mut neg_inf = [f32::NEG_INFINITY; 3];
        softmax_row_in_place_at(level, &mut neg_inf);
        assert!(neg_inf.iter().all(|v| v.is_nan()));
        let mut empty: [f32; 0] = [];
        softmax_row_in_place_at(level, &mut empty);
    }
}
