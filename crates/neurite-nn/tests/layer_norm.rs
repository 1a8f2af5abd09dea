//! LayerNormalization: per-sample mean 0 / variance 1 before gamma/beta,
//! multi-axis and non-trailing axes, gradient checks, errors.

use ndarray::{Array2, Array3, Axis};
use neurite_autograd::{gradcheck, AutogradError, GradcheckOptions, Var};
use neurite_nn::layers::LayerNormalization;
use neurite_nn::{layer_from_config, ForwardContext, Layer, NnError};
use neurite_tensor::random::{normal, rng_from_seed};
use proptest::prelude::*;

fn ag(r: neurite_nn::Result<Var>) -> neurite_autograd::Result<Var> {
    r.map_err(|e| match e {
        NnError::Autograd(a) => a,
        other => AutogradError::Backward(other.to_string()),
    })
}

#[test]
fn rows_have_mean_zero_variance_one_before_gamma_beta() {
    let x = normal(&[5, 16], 3.0, 4.0, &mut rng_from_seed(1));
    let mut ln = LayerNormalization::new();
    ln.build(&[16], &mut rng_from_seed(0)).unwrap();
    let y = ln
        .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
        .unwrap()
        .to_tensor();
    for (row, xr) in y.outer_iter().zip(x.outer_iter()) {
        let v = xr.var(0.0);
        assert!(row.mean().unwrap().abs() < 1e-5);
        // variance v / (v + eps), ~1 for v ~ 16
        assert!((row.var(0.0) - v / (v + 1e-3)).abs() < 1e-4 && (row.var(0.0) - 1.0).abs() < 1e-3);
    }
    // gamma = 2, beta = 1: mean 1, standard deviation ~2.
    ln.set_weight_vars(
        Some(Var::parameter(ndarray::ArrayD::from_elem(vec![16], 2.0))),
        Some(Var::parameter(ndarray::ArrayD::from_elem(vec![16], 1.0))),
    )
    .unwrap();
    let y = ln
        .forward(&Var::constant(x), &mut ForwardContext::training(0))
        .unwrap()
        .to_tensor();
    for row in y.outer_iter() {
        assert!((row.mean().unwrap() - 1.0).abs() < 1e-5);
        assert!((row.std(0.0) - 2.0).abs() < 1e-3);
    }
}

/// x = [1, 2, 3, 4]: mean 2.5, variance 1.25, y = (x - 2.5) / sqrt(1.251)
/// = [-1.341105, -0.447035, 0.447035, 1.341105].
#[test]
fn one_row_by_hand() {
    let mut ln = LayerNormalization::new();
    ln.build(&[4], &mut rng_from_seed(0)).unwrap();
    let y = ln
        .forward(
            &Var::from_array(ndarray::arr2(&[[1.0f32, 2.0, 3.0, 4.0]])),
            &mut ForwardContext::inference(),
        )
        .unwrap()
        .to_tensor();
    for (a, b) in y.iter().zip([-1.341105f32, -0.447035, 0.447035, 1.341105]) {
        assert!((a - b).abs() < 1e-5, "{y:?}");
    }
}

#[test]
fn multiple_and_non_trailing_axes() {
    let x = normal(&[2, 3, 4], 1.0, 2.0, &mut rng_from_seed(2));
    // Over the last two axes: each sample's 12 values.
    let mut ln = LayerNormalization::new().axis([-2, -1]);
    ln.build(&[3, 4], &mut rng_from_seed(0)).unwrap();
    assert_eq!(ln.parameters()[0].var.shape(), vec![3, 4]);
    let y = ln
        .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
        .unwrap()
        .to_tensor();
    for (ys, xs) in y.outer_iter().zip(x.outer_iter()) {
        let (m, v) = (xs.mean().unwrap(), xs.var(0.0));
        for (a, b) in ys.iter().zip(xs.iter()) {
            assert!((a - (b - m) / (v + 1e-3).sqrt()).abs() < 1e-4);
        }
    }
    // Over axis 1 only: each (sample, last-index) column of 3 values.
    let mut ln = LayerNormalization::new().axis([1]);
    ln.build(&[3, 4], &mut rng_from_seed(0)).unwrap();
    assert_eq!(ln.parameters()[0].var.shape(), vec![3]);
    let y = ln
        .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
        .unwrap()
        .to_tensor();
    let x3: Array3<f32> = x.into_dimensionality().unwrap();
    for b in 0..2 {
        for k in 0..4 {
            let col = x3.index_axis(Axis(0), b).index_axis(Axis(1), k).to_owned();
            let (m, v) = (col.mean().unwrap(), col.var(0.0));
            for j in 0..3 {
                assert!((y[[b, j, k]] - (col[j] - m) / (v + 1e-3).sqrt()).abs() < 1e-4);
            }
        }
    }
}

#[test]
fn errors_and_config() {
    let mut ln = LayerNormalization::new().with_name("ln_1");
    ln.build(&[10, 8], &mut rng_from_seed(0)).unwrap();
    let msg = ln
        .forward(
            &Var::from_array(Array3::<f32>::zeros((2, 10, 7))),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("ln_1") && msg.contains("(batch, *, 8)") && msg.contains("[2, 10, 7]"),
        "{msg}"
    );
    let msg = ln
        .forward(
            &Var::from_array(Array2::<f32>::zeros((2, 8))),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(msg.contains("[2, 8]"), "{msg}");
    let mut bad = LayerNormalization::new().axis([0]);
    assert!(matches!(
        bad.build(&[3], &mut rng_from_seed(0)),
        Err(NnError::Config { .. })
    ));
    let mut bad = LayerNormalization::new().axis([5]);
    assert!(matches!(
        bad.build(&[3], &mut rng_from_seed(0)),
        Err(NnError::Config { .. })
    ));
    let ln2 = LayerNormalization::new()
        .axis([-2, -1])
        .epsilon(1e-6)
        .with_name("n");
    let again = layer_from_config("LayerNormalization", &ln2.config()).unwrap();
    assert_eq!(again.config(), ln2.config());
    let keras = serde_json::json!({"name": "layer_normalization", "axis": -1, "epsilon": 0.001});
    assert!(layer_from_config("LayerNormalization", &keras).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn gradients(n in 1usize..4, a in 2usize..4, b in 2usize..4, which in 0usize..3, seed in 0u64..1000) {
        let axes: Vec<isize> = [vec![-1], vec![-2, -1], vec![1]][which].clone();
        let mut ln = LayerNormalization::new().axis(&axes);
        ln.build(&[a, b], &mut rng_from_seed(seed)).unwrap();
        let pshape = ln.parameters()[0].var.shape();
        let x = normal(&[n, a, b], 0.5, 2.0, &mut rng_from_seed(seed + 1));
        let gamma = normal(&pshape, 1.0, 0.5, &mut rng_from_seed(seed + 2));
        let beta = normal(&pshape, 0.0, 0.5, &mut rng_from_seed(seed + 3));
        let opts = GradcheckOptions { eps: 5e-3, atol: 1e-2, rtol: 1e-2, seed: 1 };
        gradcheck(|v| {
            let mut layer = ln.clone();
            layer.set_weight_vars(Some(v[1].clone()), Some(v[2].clone())).map_err(|e| AutogradError::Backward(e.to_string()))?;
            ag(layer.forward(&v[0], &mut ForwardContext::training(0)))
        }, &[x, gamma, beta], &opts).unwrap();
    }
}

mod gc_util;

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The backward with EVERY option: axes (last, last two, 1) × center ×
    /// scale, norm-checked (see `gc_util`). Groups of at least 3 values: a
    /// group of 2 normalizes to about ±1 whatever the input, a function whose
    /// gradient f32 finite differences cannot follow when the two are close
    /// (failed at n=2 a=2 b=3 seed=844 on axis 1; the input gradient's
    /// arithmetic is the same as before the row kernels were parallelized).
    /// 600 cases pass with groups of 3 or more.
    #[test]
    fn gradients_with_every_option(n in 1usize..4, a in 3usize..5, b in 3usize..5, seed in 0u64..1000) {
        let mut cases = 0;
        for axes in [vec![-1isize], vec![-2, -1], vec![1]] {
            for center in [false, true] {
                for scale in [false, true] {
                    let mut ln = LayerNormalization::new().axis(&axes).center(center).scale(scale);
                    ln.build(&[a, b], &mut rng_from_seed(seed)).unwrap();
                    let pshape = if axes.len() == 2 { vec![a, b] } else if axes[0] == 1 { vec![a] } else { vec![b] };
                    let mut inputs = vec![normal(&[n, a, b], 0.5, 2.0, &mut rng_from_seed(seed + 1))];
                    if scale {
                        inputs.push(normal(&pshape, 1.0, 0.5, &mut rng_from_seed(seed + 2)));
                    }
                    if center {
                        inputs.push(normal(&pshape, 0.0, 0.5, &mut rng_from_seed(seed + 3)));
                    }
                    let r = gc_util::norm_gradcheck(|v| {
                        let mut layer = ln.clone();
                        let g = if scale { Some(v[1].clone()) } else { None };
                        let be = if center { Some(v[v.len() - 1].clone()) } else { None };
                        layer.set_weight_vars(g, be).map_err(|e| AutogradError::Backward(e.to_string()))?;
                        ag(layer.forward(&v[0], &mut ForwardContext::training(0)))
                    }, &inputs, &gc_util::NormCheck::default());
                    prop_assert!(r.is_ok(), "axes {:?} center {} scale {}: {:?}", axes, center, scale, r);
                    cases += 1;
                }
            }
        }
        prop_assert_eq!(cases, 12);
    }
}

/// Many rows (several parallel blocks of the row kernels): values and the
/// gamma/beta/input gradients against plainly written f64 formulas, and the
/// same results on one thread and on many.
#[test]
fn many_rows_match_the_f64_reference_on_any_thread_count() {
    let (rows, d) = (300usize, 12usize);
    let x = normal(&[rows, d], 0.5, 2.0, &mut rng_from_seed(7));
    let upstream = normal(&[rows, d], 0.0, 1.0, &mut rng_from_seed(8));
    let run = || {
        let mut ln = LayerNormalization::new();
        ln.build(&[d], &mut rng_from_seed(0)).unwrap();
        let p = ln.parameters();
        p[0].var.set_value(normal(&[d], 1.0, 0.3, &mut rng_from_seed(9)));
        let xv = Var::parameter(x.clone());
        let y = ln.forward(&xv, &mut ForwardContext::training(0)).unwrap();
        let loss = neurite_autograd::ops::sum_all(
            &neurite_autograd::ops::mul(&y, &Var::from_array(upstream.clone())).unwrap(),
        )
        .unwrap();
        loss.backward().unwrap();
        let value = y.value().clone();
        let gamma = p[0].var.value().clone();
        (
            value,
            xv.grad().unwrap(),
            p[0].var.grad().unwrap(),
            p[1].var.grad().unwrap(),
            gamma,
        )
    };
    let many = run();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(run);
    assert_eq!(many.0, one.0);
    assert_eq!(many.1, one.1);
    assert_eq!(many.2, one.2);
    assert_eq!(many.3, one.3);
    let (y, dx, dgamma, dbeta, gamma) = many;
    let eps = 1e-3f64;
    let mut want_dgamma = vec![0.0f64; d];
    let mut want_dbeta = vec![0.0f64; d];
    for r in 0..rows {
        let xr: Vec<f64> = (0..d).map(|j| x[[r, j]] as f64).collect();
        let gr: Vec<f64> = (0..d).map(|j| upstream[[r, j]] as f64).collect();
        let mean = xr.iter().sum::<f64>() / d as f64;
        let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (var + eps).sqrt();
        let h: Vec<f64> = xr.iter().map(|v| (v - mean) * inv).collect();
        let g: Vec<f64> = (0..d).map(|j| gr[j] * gamma[[j]] as f64).collect();
        let mg = g.iter().sum::<f64>() / d as f64;
        let mgh = g.iter().zip(&h).map(|(a, b)| a * b).sum::<f64>() / d as f64;
        for j in 0..d {
            assert!(
                (y[[r, j]] as f64 - (gamma[[j]] as f64 * h[j])).abs() < 1e-4,
                "y[{r}, {j}]"
            );
            let want = inv * (g[j] - mg - h[j] * mgh);
            assert!(
                (dx[[r, j]] as f64 - want).abs() < 1e-4,
                "dx[{r}, {j}]: {} vs {want}",
                dx[[r, j]]
            );
            want_dgamma[j] += gr[j] * h[j];
            want_dbeta[j] += gr[j];
        }
    }
    for j in 0..d {
        assert!((dgamma[[j]] as f64 - want_dgamma[j]).abs() < 1e-3, "dgamma[{j}]");
        assert!((dbeta[[j]] as f64 - want_dbeta[j]).abs() < 1e-3, "dbeta[{j}]");
    }
}
