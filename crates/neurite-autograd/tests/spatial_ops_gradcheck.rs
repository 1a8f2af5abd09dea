//! The ops of `ops/spatial.rs`, `ops/rectifier.rs` and `ops/normalize.rs`
//! against finite differences (`gradcheck`: central differences in f64 from
//! f32 forwards), on random shapes, with inputs kept away from the kinks of
//! the rectifiers and from the norm floor of `l2_normalize`; plus the
//! forward of `l2_normalize` against a loop and its capped lanes.

use ndarray::IxDyn;
use neurite_autograd::{gradcheck, ops, GradcheckOptions, Tensor, Var};
use neurite_tensor::rectifier::ReluParams;
use neurite_tensor::resize::Interpolation;
use neurite_tensor::spatial::Margins2d;
use proptest::prelude::*;

fn tensor(shape: Vec<usize>, lo: f32, hi: f32) -> impl Strategy<Value = Tensor> {
    let n = shape.iter().product::<usize>();
    prop::collection::vec(lo..hi, n).prop_map(move |v| Tensor::from_shape_vec(IxDyn(&shape), v).unwrap())
}

fn nhwc() -> impl Strategy<Value = Vec<usize>> {
    (1usize..=2, 1usize..=4, 1usize..=4, 1usize..=3).prop_map(|(n, h, w, c)| vec![n, h, w, c])
}

/// Values at least `gap` away from every point of `kinks`.
fn away_from(x: Tensor, kinks: &[f32], gap: f32) -> Tensor {
    x.mapv(|v| {
        let mut v = v;
        for &k in kinks {
            if (v - k).abs() < gap {
                v = if v >= k { k + gap } else { k - gap };
            }
        }
        v
    })
}

fn opts() -> GradcheckOptions {
    GradcheckOptions::default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn pad_and_crop_gradients(x in nhwc().prop_flat_map(|s| tensor(s, -2.0, 2.0)),
                              (t, b, l, r) in (0usize..3, 0usize..3, 0usize..3, 0usize..3)) {
        let m = Margins2d { top: t, bottom: b, left: l, right: r };
        gradcheck(|v| ops::zero_pad2d(&v[0], m), std::slice::from_ref(&x), &opts()).unwrap();
        let s = x.shape();
        let c = Margins2d { top: t.min(s[1] - 1), bottom: 0, left: 0, right: r.min(s[2] - 1) };
        gradcheck(|v| ops::crop2d(&v[0], c), &[x], &opts()).unwrap();
    }

    #[test]
    fn upsample_gradients(x in nhwc().prop_flat_map(|s| tensor(s, -2.0, 2.0)),
                          factors in (1usize..=3, 1usize..=3), bilinear in any::<bool>()) {
        let mode = if bilinear { Interpolation::Bilinear } else { Interpolation::Nearest };
        gradcheck(|v| ops::upsample2d(&v[0], factors, mode), &[x], &opts()).unwrap();
    }

    #[test]
    fn relu_ext_gradients(x in prop::collection::vec(1usize..=4, 1..=3).prop_flat_map(|s| tensor(s, -3.0, 3.0)),
                          max_value in prop::option::of(0.5f32..2.0),
                          negative_slope in 0.0f32..0.8, threshold in 0.0f32..1.0) {
        let p = ReluParams { max_value, negative_slope, threshold };
        let kinks: Vec<f32> = [Some(threshold), max_value].into_iter().flatten().collect();
        let x = away_from(x, &kinks, 0.05);
        gradcheck(|v| ops::relu_ext(&v[0], &p), &[x], &opts()).unwrap();
    }

    #[test]
    fn prelu_gradients((x, alpha) in (nhwc(), prop::collection::vec(any::<bool>(), 3)).prop_flat_map(|(s, shared)| {
        let a: Vec<usize> = (0..3).map(|i| if shared[i] { 1 } else { s[i + 1] }).collect();
        (tensor(s, -2.0, 2.0), tensor(a, -0.5, 1.0))
    })) {
        let x = away_from(x, &[0.0], 0.05);
        gradcheck(|v| ops::prelu(&v[0], &v[1]), &[x, alpha], &opts()).unwrap();
    }

    #[test]
    fn l2_normalize_matches_loops_and_gradients(
        (x, axis) in prop::collection::vec(1usize..=4, 1..=3)
            .prop_flat_map(|s| { let r = s.len(); (tensor(s, -2.0, 2.0), 0..r) })
    ) {
        // Lanes with norm >= 0.1 (far above the 1e-7 floor): push a tiny lane's first element up.
        let mut x = x;
        for mut lane in x.lanes_mut(ndarray::Axis(axis)) {
            if lane.iter().map(|v| v * v).sum::<f32>() < 0.01 {
                lane[0] = 0.5;
            }
        }
        let y = ops::l2_normalize(&Var::constant(x.clone()), axis, 1e-7).unwrap().to_tensor();
        for (lane, ylane) in x.lanes(ndarray::Axis(axis)).into_iter().zip(y.lanes(ndarray::Axis(axis))) {
            let norm = lane.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            for (&v, &w) in lane.iter().zip(ylane) {
                prop_assert!(((v as f64 / norm) - w as f64).abs() < 1e-6, "{} / {} vs {}", v, norm, w);
            }
        }
        gradcheck(|v| ops::l2_normalize(&v[0], axis, 1e-7), &[x], &opts()).unwrap();
    }
}

/// A lane whose norm is under epsilon is scaled by 1/epsilon (Keras'
/// `min(rsqrt, 1/eps)`), and its gradient is `g / epsilon`.
#[test]
fn l2_normalize_caps_tiny_lanes() {
    let eps = 0.5f32;
    let x = Var::parameter(ndarray::arr2(&[[0.1f32, 0.2], [3.0, 4.0]]).into_dyn());
    let y = ops::l2_normalize(&x, 1, eps).unwrap();
    let yt = y.to_tensor();
    assert!(
        (yt[[0, 0]] - 0.2).abs() < 1e-6 && (yt[[0, 1]] - 0.4).abs() < 1e-6,
        "{yt}"
    );
    assert!(
        (yt[[1, 0]] - 0.6).abs() < 1e-6 && (yt[[1, 1]] - 0.8).abs() < 1e-6,
        "{yt}"
    );
    ops::sum_all(&y).unwrap().backward().unwrap();
    let g = x.grad().unwrap();
    assert_eq!((g[[0, 0]], g[[0, 1]]), (2.0, 2.0));
    // Finite differences on both kinds of lanes.
    let x0 = ndarray::arr2(&[[0.1f32, 0.2], [3.0, 4.0]]).into_dyn();
    gradcheck(|v| ops::l2_normalize(&v[0], 1, eps), &[x0], &opts()).unwrap();
    // All-zero lanes stay zero (rsqrt(0) = inf is capped).
    let z = ops::l2_normalize(&Var::constant(Tensor::zeros(IxDyn(&[2, 3]))), 1, 1e-7).unwrap();
    assert!(z.to_tensor().iter().all(|&v| v == 0.0));
    assert!(ops::l2_normalize(&x, 2, 1e-7).is_err());
    assert!(ops::l2_normalize(&x, 1, 0.0).is_err());
}

/// A wrong backward fails these checks: the upsampling gradient of the
/// bilinear mode is not the nearest one.
#[test]
fn gradcheck_catches_a_swapped_mode() {
    let x = neurite_tensor::random::uniform(
        &[1, 3, 3, 1],
        -1.0,
        1.0,
        &mut neurite_tensor::random::rng_from_seed(3),
    );
    let wrong = |v: &[Var]| {
        let value = neurite_tensor::resize::upsample2d(&v[0].value(), (2, 2), Interpolation::Bilinear)?;
        let shape = v[0].shape();
        Ok(Var::from_op(
            value,
            "wrong_upsample",
            &[&v[0]],
            Box::new(move |g| {
                Ok(vec![Some(neurite_tensor::resize::upsample2d_backward(
                    g,
                    &shape,
                    (2, 2),
                    Interpolation::Nearest,
                )?)])
            }),
        ))
    };
    assert!(gradcheck(wrong, &[x], &opts()).is_err());
}
