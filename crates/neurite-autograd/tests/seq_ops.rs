//! The 1-d convolution and pooling ops (`conv1d`, `conv1d_relu`,
//! `max_pool1d`, `avg_pool1d`, `global_max_pool1d`, `global_avg_pool1d`)
//! against plainly written loops (forward) and finite differences
//! (gradients), on odd sizes and every padding (valid/same/causal) × stride ×
//! dilation × bias combination drawn; plus the errors for bad operands.

use ndarray::{Array3, IxDyn};
use neurite_autograd::ops::{self, Conv1dPadding, Conv1dParams, Pool1dParams};
use neurite_autograd::{gradcheck, GradcheckOptions, Tensor, Var};
use neurite_tensor::Padding;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    }
}

fn tensor(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Output length and left padding of TensorFlow's 1-d window arithmetic.
fn geometry(len: usize, k: usize, s: usize, d: usize, padding: Conv1dPadding) -> Option<(usize, usize)> {
    let span = d * (k - 1) + 1;
    match padding {
        Conv1dPadding::Valid => (len >= span).then(|| ((len - span) / s + 1, 0)),
        Conv1dPadding::Causal => Some(((len - 1) / s + 1, d * (k - 1))),
        Conv1dPadding::Same => {
            let out = len.div_ceil(s);
            let total = ((out - 1) * s + span).saturating_sub(len);
            Some((out, total / 2))
        }
    }
}

/// The convolution as its definition: `y[b, t, f] = bias[f] + Σ_{j, c} x[b, t*s + j*d - pad, c] k[j, c, f]`,
/// out-of-range steps reading 0.
fn conv1d_reference(
    x: &Array3<f32>,
    k: &Array3<f32>,
    bias: Option<&[f32]>,
    p: &Conv1dParams,
) -> Option<Array3<f32>> {
    let (n, len, c) = x.dim();
    let (kk, _, f) = k.dim();
    let (out, pad) = geometry(len, kk, p.stride, p.dilation, p.padding)?;
    let mut y = Array3::<f32>::zeros((n, out, f));
    for b in 0..n {
        for t in 0..out {
            for o in 0..f {
                let mut acc = bias.map_or(0.0, |bb| bb[o]);
                for j in 0..kk {
                    let pos = (t * p.stride + j * p.dilation) as isize - pad as isize;
                    if pos < 0 || pos as usize >= len {
                        continue;
                    }
                    for ch in 0..c {
                        acc += x[[b, pos as usize, ch]] * k[[j, ch, o]];
                    }
                }
                y[[b, t, o]] = acc;
            }
        }
    }
    Some(y)
}

fn padding_of(i: usize) -> Conv1dPadding {
    [Conv1dPadding::Valid, Conv1dPadding::Same, Conv1dPadding::Causal][i]
}

/// (n, L, c, k, f, stride, dilation, padding, use_bias, data) with stride or dilation 1.
fn conv_case() -> impl Strategy<
    Value = (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        bool,
        Vec<f32>,
    ),
> {
    (
        1usize..=3,
        1usize..=11,
        1usize..=4,
        1usize..=4,
        1usize..=5,
        1usize..=3,
        1usize..=3,
        0usize..3,
        any::<bool>(),
    )
        .prop_flat_map(|(n, l, c, k, f, s, d, pad, bias)| {
            let d = if s > 1 { 1 } else { d };
            let total = n * l * c + k * c * f + f;
            (
                Just((n, l, c, k, f, s, d, pad, bias)),
                prop::collection::vec(-1.0f32..1.0, total),
            )
        })
        .prop_map(|((n, l, c, k, f, s, d, pad, bias), v)| (n, l, c, k, f, s, d, pad, bias, v))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn conv1d_matches_reference_and_finite_differences(
        (n, l, c, k, f, s, d, pad, use_bias, v) in conv_case()
    ) {
        let p = Conv1dParams { stride: s, padding: padding_of(pad), dilation: d };
        let x = Array3::from_shape_vec((n, l, c), v[..n * l * c].to_vec()).unwrap();
        let kern = Array3::from_shape_vec((k, c, f), v[n * l * c..n * l * c + k * c * f].to_vec()).unwrap();
        let b: Vec<f32> = v[n * l * c + k * c * f..].to_vec();
        let reference = conv1d_reference(&x, &kern, use_bias.then_some(&b[..]), &p);
        let (xv, kv, bv) = (Var::from_array(x.clone()), Var::from_array(kern.clone()), Var::from_array(ndarray::arr1(&b)));
        let got = ops::conv1d(&xv, &kv, use_bias.then_some(&bv), &p);
        match reference {
            None => prop_assert!(got.is_err(), "kernel too long for valid padding must be an error"),
            Some(want) => {
                let got = got.unwrap().to_tensor();
                prop_assert_eq!(got.shape(), want.shape());
                for (a, b) in got.iter().zip(want.iter()) {
                    prop_assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{} vs {}", a, b);
                }
                // ReLU fused: the same values clamped at 0.
                let relu = ops::conv1d_relu(&xv, &kv, use_bias.then_some(&bv), &p).unwrap().to_tensor();
                for (a, b) in relu.iter().zip(want.iter()) {
                    prop_assert!((a - b.max(0.0)).abs() <= 1e-4 * (1.0 + b.abs()));
                }
                let mut inputs = vec![x.into_dyn(), kern.into_dyn()];
                if use_bias {
                    inputs.push(ndarray::arr1(&b).into_dyn());
                }
                gradcheck(
                    |vs| ops::conv1d(&vs[0], &vs[1], vs.get(2), &p),
                    &inputs,
                    &GradcheckOptions::default(),
                ).unwrap();
            }
        }
    }

    #[test]
    fn pool1d_matches_reference_and_finite_differences(
        n in 1usize..=2, l in 1usize..=9, c in 1usize..=3, pool in 1usize..=4, s in 1usize..=3,
        same in any::<bool>(), seed in 0u64..1000,
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        let p = Pool1dParams { pool_size: pool, stride: s, padding };
        // Distinct values (a permutation scaled) so maxima have no ties.
        let total = n * l * c;
        let mut vals: Vec<f32> = (0..total).map(|i| i as f32 * 0.37 - 1.0).collect();
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for i in (1..total).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            vals.swap(i, (state >> 33) as usize % (i + 1));
        }
        let x = Array3::from_shape_vec((n, l, c), vals).unwrap();
        let geo = geometry(l, pool, s, 1, if same { Conv1dPadding::Same } else { Conv1dPadding::Valid });
        let xv = Var::from_array(x.clone());
        let (gmax, gavg) = (ops::max_pool1d(&xv, &p), ops::avg_pool1d(&xv, &p));
        let Some((out, pad)) = geo else {
            prop_assert!(gmax.is_err() && gavg.is_err());
            return Ok(());
        };
        let (gmax, gavg) = (gmax.unwrap().to_tensor(), gavg.unwrap().to_tensor());
        prop_assert_eq!(gmax.shape(), &[n, out, c]);
        for b in 0..n {
            for t in 0..out {
                for ch in 0..c {
                    let window: Vec<f32> = (0..pool)
                        .map(|j| (t * s + j) as isize - pad as isize)
                        .filter(|&q| q >= 0 && (q as usize) < l)
                        .map(|q| x[[b, q as usize, ch]])
                        .collect();
                    let m = window.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let a = window.iter().sum::<f32>() / window.len() as f32;
                    prop_assert_eq!(gmax[[b, t, ch]], m);
                    prop_assert!((gavg[[b, t, ch]] - a).abs() < 1e-5);
                }
            }
        }
        let opts = GradcheckOptions::default();
        gradcheck(|v| ops::max_pool1d(&v[0], &p), &[x.clone().into_dyn()], &opts).unwrap();
        gradcheck(|v| ops::avg_pool1d(&v[0], &p), &[x.clone().into_dyn()], &opts).unwrap();
        for keep in [false, true] {
            let gm = ops::global_max_pool1d(&xv, keep).unwrap().to_tensor();
            let ga = ops::global_avg_pool1d(&xv, keep).unwrap().to_tensor();
            let want_shape: Vec<usize> = if keep { vec![n, 1, c] } else { vec![n, c] };
            prop_assert_eq!(gm.shape(), &want_shape[..]);
            let gm = gm.into_shape_with_order((n, c)).unwrap();
            let ga = ga.into_shape_with_order((n, c)).unwrap();
            for b in 0..n {
                for ch in 0..c {
                    let col: Vec<f32> = (0..l).map(|t| x[[b, t, ch]]).collect();
                    prop_assert_eq!(gm[[b, ch]], col.iter().copied().fold(f32::NEG_INFINITY, f32::max));
                    prop_assert!((ga[[b, ch]] - col.iter().sum::<f32>() / l as f32).abs() < 1e-5);
                }
            }
            gradcheck(|v| ops::global_max_pool1d(&v[0], keep), &[x.clone().into_dyn()], &opts).unwrap();
            gradcheck(|v| ops::global_avg_pool1d(&v[0], keep), &[x.clone().into_dyn()], &opts).unwrap();
        }
    }
}

#[test]
fn causal_output_never_sees_the_future() {
    // Changing input step 5 changes no output before step 5.
    let p = Conv1dParams {
        padding: Conv1dPadding::Causal,
        dilation: 2,
        ..Default::default()
    };
    let k = Var::from_array(Array3::from_shape_fn((3, 2, 2), |(a, b, c)| {
        (a + 2 * b + 3 * c) as f32 * 0.1 + 0.05
    }));
    let x1 = Array3::from_shape_fn((1, 9, 2), |(_, t, c)| (t * 2 + c) as f32 * 0.1);
    let mut x2 = x1.clone();
    x2[[0, 5, 0]] += 1.0;
    let y1 = ops::conv1d(&Var::from_array(x1), &k, None, &p)
        .unwrap()
        .to_tensor();
    let y2 = ops::conv1d(&Var::from_array(x2), &k, None, &p)
        .unwrap()
        .to_tensor();
    assert_eq!(y1.shape(), &[1, 9, 2]);
    for t in 0..9 {
        let same = (0..2).all(|f| y1[[0, t, f]] == y2[[0, t, f]]);
        // Step t sees inputs t, t-2, t-4 (dilation 2): 5 changes outputs 5 and 7 only.
        assert_eq!(same, ![5, 7].contains(&t), "step {t}");
    }
}

#[test]
fn bad_operands_are_errors_naming_the_op() {
    let x = Var::from_array(Array3::<f32>::ones((1, 4, 2)));
    let k_wrong_in = Var::from_array(Array3::<f32>::ones((2, 3, 1)));
    let e = ops::conv1d(&x, &k_wrong_in, None, &Conv1dParams::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv"), "{e}");
    let x2 = Var::from_array(ndarray::Array2::<f32>::ones((4, 2)));
    let k = Var::from_array(Array3::<f32>::ones((2, 2, 1)));
    let e = ops::conv1d(&x2, &k, None, &Conv1dParams::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv1d") && e.contains("3-d"), "{e}");
    let zero = Conv1dParams {
        stride: 0,
        ..Default::default()
    };
    assert!(ops::conv1d(&x, &k, None, &zero)
        .unwrap_err()
        .to_string()
        .contains("stride"));
    let e = ops::max_pool1d(&x2, &Pool1dParams::new(2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_pool1d"), "{e}");
    assert!(ops::max_pool1d(&x, &Pool1dParams::new(5)).is_err());
    assert!(ops::global_avg_pool1d(&x2, false)
        .unwrap_err()
        .to_string()
        .contains("global_avg_pool1d"));
    let _ = tensor(&[1], vec![0.0]);
}
