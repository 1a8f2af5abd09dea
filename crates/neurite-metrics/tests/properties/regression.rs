//! Regression metrics against the references on random targets.

use ndarray::Array2;
use neurite_metrics::*;
use proptest::prelude::*;

use crate::reference as r;
use crate::util::close;

/// `(y_true, y_pred)` of shape `(n, outputs)` with quarter-integer values, so
/// that constant columns have an exactly representable mean.
fn targets() -> impl Strategy<Value = (Array2<f32>, Array2<f32>)> {
    (1usize..30, 1usize..4).prop_flat_map(|(n, d)| {
        let v = || prop::collection::vec((-400i32..400).prop_map(|x| x as f32 / 4.0), n * d);
        (v(), v()).prop_map(move |(a, b)| {
            (
                Array2::from_shape_vec((n, d), a).unwrap(),
                Array2::from_shape_vec((n, d), b).unwrap(),
            )
        })
    })
}

proptest! {
    #[test]
    fn errors_match_reference((t, p) in targets()) {
        let tv: Vec<f64> = t.iter().map(|&v| v as f64).collect();
        let pv: Vec<f64> = p.iter().map(|&v| v as f64).collect();
        let n = tv.len() as f64;
        let mse: f64 = tv.iter().zip(&pv).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / n;
        let mae: f64 = tv.iter().zip(&pv).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
        let mape: f64 = tv.iter().zip(&pv).map(|(a, b)| (a - b).abs() / a.abs().max(f64::EPSILON)).sum::<f64>() / n;
        prop_assert!(close(mean_squared_error(t.view(), p.view())?, mse, 1e-12));
        prop_assert!(close(root_mean_squared_error(t.view(), p.view())?, mse.sqrt(), 1e-12));
        prop_assert!(close(mean_absolute_error(t.view(), p.view())?, mae, 1e-12));
        prop_assert!(close(mean_absolute_percentage_error(t.view(), p.view())?, mape, 1e-12));
    }

    #[test]
    fn r2_matches_reference((t, p) in targets()) {
        let d = t.ncols();
        let expected: f64 = (0..d)
            .map(|j| {
                let tc: Vec<f64> = t.column(j).iter().map(|&v| v as f64).collect();
                let pc: Vec<f64> = p.column(j).iter().map(|&v| v as f64).collect();
                r::r2(&tc, &pc)
            })
            .sum::<f64>() / d as f64;
        let got = r2_score(t.view(), p.view())?;
        prop_assert!(close(got, expected, 1e-9), "{} vs {}", got, expected);
        prop_assert!(got <= 1.0);
        prop_assert_eq!(r2_score(t.view(), t.view())?, 1.0);
    }

    #[test]
    fn r2_on_wide_range_values(
        v in prop::collection::vec((-1e4f32..1e4, -1e4f32..1e4), 3..40),
    ) {
        let (t, p): (Vec<f32>, Vec<f32>) = v.into_iter().unzip();
        let tv: Vec<f64> = t.iter().map(|&x| x as f64).collect();
        prop_assume!(tv.iter().any(|&x| (x - tv[0]).abs() > 1e-3));
        let pv: Vec<f64> = p.iter().map(|&x| x as f64).collect();
        let got = r2_score(ndarray::ArrayView1::from(&t), ndarray::ArrayView1::from(&p))?;
        prop_assert!(close(got, r::r2(&tv, &pv), 1e-9));
    }
}
