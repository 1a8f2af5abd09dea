//! Masked `BatchNormalization` and masked element-wise merges (Keras 3,
//! issue #17) against plainly written references: BN in training takes its
//! moments over the unmasked steps only (and updates the moving statistics
//! from them), an all-ones mask gives the unmasked layer, gradients through
//! the masked moments agree with finite differences; Multiply / Maximum /
//! Minimum substitute masked steps as Keras' `_merge_function`s, Add /
//! Subtract / Average ignore the masks.

use neurite_autograd::{gradcheck, AutogradError, GradcheckOptions, Tensor, Var};
use neurite_nn::layers::{Add, Average, BatchNormalization, Maximum, Minimum, Multiply, Subtract};
use neurite_nn::mask::Mask;
use neurite_nn::{ForwardContext, Layer, NnError};
use neurite_tensor::random::{normal, rng_from_seed, uniform};
use proptest::prelude::*;

fn ag(r: neurite_nn::Result<Var>) -> neurite_autograd::Result<Var> {
    r.map_err(|e| match e {
        NnError::Autograd(a) => a,
        other => AutogradError::Backward(other.to_string()),
    })
}

/// A random 0/1 `(b, t)` mask with about `keep` of the steps valid.
fn random_mask(b: usize, t: usize, keep: f32, seed: u64) -> Mask {
    uniform(&[b, t], 0.0, 1.0, &mut rng_from_seed(seed)).mapv(|u| if u < keep { 1.0 } else { 0.0 })
}

/// A built layer over `(t, f)` samples with random gamma, beta and moving statistics.
fn bn_layer(t: usize, f: usize, axis: isize, momentum: f32, seed: u64) -> BatchNormalization {
    let mut bn = BatchNormalization::new().axis(axis).momentum(momentum);
    bn.build(&[t, f], &mut rng_from_seed(seed)).unwrap();
    let c = if axis == 1 { t } else { f };
    bn.set_weight_vars(
        Some(Var::parameter(normal(
            &[c],
            1.0,
            0.5,
            &mut rng_from_seed(seed + 1),
        ))),
        Some(Var::parameter(normal(
            &[c],
            0.0,
            0.5,
            &mut rng_from_seed(seed + 2),
        ))),
    )
    .unwrap();
    bn.parameters()[2]
        .var
        .set_value(normal(&[c], 0.0, 0.5, &mut rng_from_seed(seed + 3)));
    bn.parameters()[3]
        .var
        .set_value(normal(&[c], 0.0, 0.3, &mut rng_from_seed(seed + 4)).mapv(|v| 1.0 + v.abs()));
    bn
}

/// The reference: Keras 3's masked `_moments` written out with loops in f64
/// for a `(b, t, f)` input whose channel axis is `axis` (1 or 2); returns the
/// output and the updated moving mean and variance.
#[allow(clippy::too_many_arguments)]
fn reference_bn(
    x: &Tensor,
    mask: &Mask,
    axis: usize,
    gamma: &Tensor,
    beta: &Tensor,
    moving: (&Tensor, &Tensor),
    momentum: f64,
    eps: f64,
) -> (Tensor, Vec<f64>, Vec<f64>) {
    let (b, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let c = if axis == 1 { t } else { f };
    let chan = |ti: usize, fi: usize| if axis == 1 { ti } else { fi };
    let (mut sum, mut count) = (vec![0.0f64; c], vec![0.0f64; c]);
    for bi in 0..b {
        for ti in 0..t {
            for fi in 0..f {
                if mask[[bi, ti]] != 0.0 {
                    sum[chan(ti, fi)] += f64::from(x[[bi, ti, fi]]);
                    count[chan(ti, fi)] += 1.0;
                }
            }
        }
    }
    let mean: Vec<f64> = (0..c).map(|j| sum[j] / (count[j] + 1e-7)).collect();
    let mut sq = vec![0.0f64; c];
    for bi in 0..b {
        for ti in 0..t {
            for fi in 0..f {
                if mask[[bi, ti]] != 0.0 {
                    let j = chan(ti, fi);
                    sq[j] += (f64::from(x[[bi, ti, fi]]) - mean[j]).powi(2);
                }
            }
        }
    }
    let var: Vec<f64> = (0..c).map(|j| sq[j] / (count[j] + 1e-7)).collect();
    let mut y = x.clone();
    for ((_, ti, fi), v) in y
        .view_mut()
        .into_dimensionality::<ndarray::Ix3>()
        .unwrap()
        .indexed_iter_mut()
    {
        let j = chan(ti, fi);
        let xhat = (f64::from(*v) - mean[j]) / (var[j] + eps).sqrt();
        *v = (f64::from(gamma[[j]]) * xhat + f64::from(beta[[j]])) as f32;
    }
    let blend = |old: &Tensor, new: &[f64]| -> Vec<f64> {
        (0..c)
            .map(|j| f64::from(old[[j]]) * momentum + new[j] * (1.0 - momentum))
            .collect()
    };
    let (mm, mv) = (blend(moving.0, &mean), blend(moving.1, &var));
    (y, mm, mv)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0.0, f32::max)
}

/// The smallest variance, over the channels, of the valid values of `x`
/// `(b, t, f)` (channels: the steps with `time_axis`, else the features).
fn min_masked_variance(x: &Tensor, mask: &Mask, time_axis: bool) -> f64 {
    let (b, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let channels = if time_axis { t } else { f };
    (0..channels)
        .map(|c| {
            let mut values = Vec::new();
            for bi in 0..b {
                for ti in 0..t {
                    for fi in 0..f {
                        if mask[[bi, ti]] != 0.0 && (if time_axis { ti } else { fi }) == c {
                            values.push(f64::from(x[[bi, ti, fi]]));
                        }
                    }
                }
            }
            let n = values.len().max(1) as f64;
            let mean = values.iter().sum::<f64>() / n;
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n
        })
        .fold(f64::INFINITY, f64::min)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Training output and moving statistics with a random mask equal the
    /// reference; the output mask is the input's.
    #[test]
    fn masked_bn_training_matches_the_reference(b in 1usize..5, t in 1usize..6, f in 1usize..5,
                                                time_axis in any::<bool>(), keep in 0.2f32..1.0,
                                                seed in 0u64..1000) {
        let axis = if time_axis { 1 } else { 2 };
        let bn = bn_layer(t, f, axis as isize, 0.7, seed);
        let x = normal(&[b, t, f], 0.5, 2.0, &mut rng_from_seed(seed + 5));
        let mask = random_mask(b, t, keep, seed + 6);
        let before: Vec<Tensor> = bn.get_weights();
        let (y, out_mask) = bn
            .forward_masked(&Var::constant(x.clone()), Some(&mask), &mut ForwardContext::training(0))
            .unwrap();
        prop_assert_eq!(out_mask, Some(mask.clone()));
        let (want, mm, mv) = reference_bn(&x, &mask, axis, &before[0], &before[1], (&before[2], &before[3]), 0.7, 1e-3);
        let d = max_diff(&y.to_tensor(), &want);
        prop_assert!(d < 1e-4, "output differs by {}", d);
        let after = bn.get_weights();
        for j in 0..mm.len() {
            prop_assert!((f64::from(after[2][[j]]) - mm[j]).abs() < 1e-4 * (1.0 + mm[j].abs()), "moving mean {}", j);
            prop_assert!((f64::from(after[3][[j]]) - mv[j]).abs() < 1e-4 * (1.0 + mv[j].abs()), "moving variance {}", j);
        }
        // Inference with the updated statistics ignores the mask.
        let inf = bn.forward(&Var::constant(x.clone()), &mut ForwardContext::inference()).unwrap();
        let (inf_masked, _) = bn
            .forward_masked(&Var::constant(x.clone()), Some(&mask), &mut ForwardContext::inference())
            .unwrap();
        prop_assert_eq!(inf.to_tensor(), inf_masked.to_tensor());
    }

    /// An all-ones mask gives the unmasked layer (output and moving statistics).
    #[test]
    fn all_ones_mask_is_the_unmasked_layer(b in 1usize..5, t in 1usize..6, f in 1usize..5,
                                           time_axis in any::<bool>(), seed in 0u64..1000) {
        let axis = if time_axis { 1 } else { -1 };
        let (masked, plain) = (bn_layer(t, f, axis, 0.9, seed), bn_layer(t, f, axis, 0.9, seed));
        let x = normal(&[b, t, f], 0.5, 2.0, &mut rng_from_seed(seed + 5));
        let ones = Tensor::ones(ndarray::IxDyn(&[b, t]));
        let (y, _) = masked
            .forward_masked(&Var::constant(x.clone()), Some(&ones), &mut ForwardContext::training(0))
            .unwrap();
        let want = plain.forward(&Var::constant(x.clone()), &mut ForwardContext::training(0)).unwrap();
        let d = max_diff(&y.to_tensor(), &want.to_tensor());
        // Keras divides the masked sums by (valid count + 1e-7): an all-ones
        // mask moves a channel's mean by about 1e-7 of its values, which the
        // division by sqrt(variance + 1e-3) turns into up to ~3.2e-6 |x gamma|
        // (a channel of one value: variance 0).
        let largest = |t: &Tensor| t.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let bound = 2e-5 + 4e-6 * largest(&x) * largest(&masked.get_weights()[0]);
        prop_assert!(d < bound, "output differs by {} (bound {})", d, bound);
        for (a, p) in masked.get_weights().iter().zip(plain.get_weights().iter()) {
            prop_assert!(max_diff(a, p) < 1e-5);
        }
    }

    /// Gradients through the masked moments (w.r.t. the input, gamma and
    /// beta) agree with finite differences.
    #[test]
    fn masked_bn_gradients_match_finite_differences(b in 2usize..4, t in 2usize..5, f in 1usize..4,
                                                    time_axis in any::<bool>(), seed in 0u64..1000) {
        let axis = if time_axis { 1 } else { -1 };
        let bn = bn_layer(t, f, axis, 0.9, seed);
        let x = normal(&[b, t, f], 0.5, 2.0, &mut rng_from_seed(seed + 5));
        // At least two valid values per channel: the first two steps of the
        // first sample (features as channels), or the first two samples (steps as channels).
        let mut mask = random_mask(b, t, 0.6, seed + 6);
        for ti in 0..t {
            for bi in 0..2 {
                if time_axis || (bi == 0 && ti < 2) {
                    mask[[bi, ti]] = 1.0;
                }
            }
        }
        // A channel whose valid values nearly coincide has a variance near
        // BatchNormalization's epsilon: its outputs are then so large that f32
        // finite differences lose the gradient to rounding (not the layer's
        // gradient failing), so such draws are skipped.
        prop_assume!(min_masked_variance(&x, &mask, time_axis) > 0.05);
        let w = bn.get_weights();
        let inputs = vec![x, w[0].clone(), w[1].clone()];
        let opts = GradcheckOptions { eps: 5e-3, atol: 1e-2, rtol: 1e-2, seed: 3 };
        let r = gradcheck(|v| {
            let mut layer = bn.clone();
            layer.set_weight_vars(Some(v[1].clone()), Some(v[2].clone()))
                .map_err(|e| AutogradError::Backward(e.to_string()))?;
            ag(layer.forward_masked(&v[0], Some(&mask), &mut ForwardContext::training(0)).map(|(y, _)| y))
        }, &inputs, &opts);
        prop_assert!(r.is_ok(), "{:?}", r);
    }
}

#[test]
fn masked_steps_do_not_move_the_statistics() {
    // Changing the values at masked steps changes neither the valid steps'
    // outputs nor the moving statistics.
    let (a, b) = (bn_layer(4, 3, -1, 0.5, 1), bn_layer(4, 3, -1, 0.5, 1));
    let x = normal(&[2, 4, 3], 0.0, 1.0, &mut rng_from_seed(9));
    let mask = ndarray::arr2(&[[1.0f32, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]]).into_dyn();
    let mut x2 = x.clone();
    for (bi, ti) in [(0, 2), (0, 3), (1, 1), (1, 3)] {
        for fi in 0..3 {
            x2[[bi, ti, fi]] += 50.0;
        }
    }
    let mut ctx = ForwardContext::training(0);
    let (ya, _) = a
        .forward_masked(&Var::constant(x), Some(&mask), &mut ctx)
        .unwrap();
    let (yb, _) = b
        .forward_masked(&Var::constant(x2), Some(&mask), &mut ctx)
        .unwrap();
    let (ya, yb) = (ya.to_tensor(), yb.to_tensor());
    for (bi, ti) in [(0, 0), (0, 1), (1, 0), (1, 2)] {
        for fi in 0..3 {
            assert!((ya[[bi, ti, fi]] - yb[[bi, ti, fi]]).abs() < 1e-5);
        }
    }
    assert_eq!(a.get_weights(), b.get_weights());
    // The unmasked layer's statistics do move.
    let c = bn_layer(4, 3, -1, 0.5, 1);
    c.forward(
        &Var::constant(normal(&[2, 4, 3], 0.0, 1.0, &mut rng_from_seed(9))),
        &mut ctx,
    )
    .unwrap();
    assert_ne!(a.get_weights()[2], c.get_weights()[2]);
}

#[test]
fn a_mask_of_the_wrong_shape_is_an_error_naming_the_layer() {
    let bn = bn_layer(4, 3, -1, 0.9, 0).with_name("bn_7");
    let x = Var::constant(Tensor::zeros(ndarray::IxDyn(&[2, 4, 3])));
    for (m, training) in [
        (Tensor::ones(ndarray::IxDyn(&[2, 5])), true),
        (Tensor::ones(ndarray::IxDyn(&[2, 5])), false),
        (Tensor::ones(ndarray::IxDyn(&[2, 4, 3])), true),
    ] {
        let mut ctx = if training {
            ForwardContext::training(0)
        } else {
            ForwardContext::inference()
        };
        let e = bn.forward_masked(&x, Some(&m), &mut ctx).unwrap_err().to_string();
        assert!(e.contains("bn_7") && e.contains("[2, 4, 3]"), "{e}");
    }
    // A rank-2 input cannot take a (batch, timesteps) mask (Keras: one axis less than the input).
    let mut flat = BatchNormalization::new().with_name("bn_8");
    flat.build(&[4], &mut rng_from_seed(0)).unwrap();
    let e = flat
        .forward_masked(
            &Var::constant(Tensor::zeros(ndarray::IxDyn(&[2, 4]))),
            Some(&Tensor::ones(ndarray::IxDyn(&[2, 4]))),
            &mut ForwardContext::training(0),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("bn_8") && e.contains("[2, 4]"), "{e}");
    assert!(bn.supports_masking());
}

// ---- merges ----

#[derive(Debug, Clone, Copy)]
enum Op {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

fn merge_layer(op: Op) -> Box<dyn Layer> {
    match op {
        Op::Add => Box::new(Add::new()),
        Op::Subtract => Box::new(Subtract::new()),
        Op::Multiply => Box::new(Multiply::new()),
        Op::Average => Box::new(Average::new()),
        Op::Maximum => Box::new(Maximum::new()),
        Op::Minimum => Box::new(Minimum::new()),
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Add),
        Just(Op::Subtract),
        Just(Op::Multiply),
        Just(Op::Average),
        Just(Op::Maximum),
        Just(Op::Minimum),
    ]
}

/// The reference merge of one element: `vals[i]` of input `i`, `valid[i]`
/// its mask there (`None`: the input has no mask), following Keras 3's
/// `_merge_function`s step by step on scalars.
fn reference_element(op: Op, vals: &[f32], valid: &[Option<bool>]) -> f32 {
    match op {
        Op::Add => vals.iter().skip(1).fold(vals[0], |a, &v| a + v),
        Op::Average => vals.iter().skip(1).fold(vals[0], |a, &v| a + v) * (1.0 / vals.len() as f32),
        Op::Subtract => vals[0] - vals[1],
        Op::Multiply => {
            let mut out = 1.0f32;
            for (&v, m) in vals.iter().zip(valid) {
                out *= if *m == Some(false) { 1.0 } else { v };
            }
            let every = valid.iter().all(Option::is_some);
            if every && valid.iter().all(|m| *m == Some(false)) {
                0.0
            } else {
                out
            }
        }
        Op::Maximum | Op::Minimum => {
            let pick = |a: f32, b: f32| {
                if matches!(op, Op::Maximum) {
                    a.max(b)
                } else {
                    a.min(b)
                }
            };
            let mut out = vals[0];
            let mut out_valid = valid[0];
            for (&v, &m) in vals.iter().zip(valid).skip(1) {
                let x = if m == Some(false) { out } else { v };
                if out_valid == Some(false) {
                    out = x;
                }
                out_valid = match (m, out_valid) {
                    (Some(a), Some(b)) => Some(a || b),
                    _ => None,
                };
                out = pick(out, x);
            }
            out
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every element-wise merge with random masks (some inputs without one)
    /// equals the reference, with the OR of the masks as output mask (`None`
    /// unless every input has one).
    #[test]
    fn masked_merges_match_the_reference(op in op_strategy(), n in 2usize..4, b in 1usize..4, t in 1usize..5,
                                         f in 1usize..4, has_mask in proptest::collection::vec(any::<bool>(), 3),
                                         seed in 0u64..1000) {
        let n = if matches!(op, Op::Subtract) { 2 } else { n };
        let xs: Vec<Tensor> = (0..n).map(|i| normal(&[b, t, f], 0.0, 1.0, &mut rng_from_seed(seed * 7 + i as u64))).collect();
        let masks: Vec<Option<Mask>> = (0..n)
            .map(|i| has_mask[i].then(|| random_mask(b, t, 0.5, seed * 13 + i as u64)))
            .collect();
        let vars: Vec<Var> = xs.iter().map(|x| Var::constant(x.clone())).collect();
        let (y, out_mask) = merge_layer(op)
            .forward_multi_masked(&vars, &masks, &mut ForwardContext::inference())
            .unwrap();
        let y = y.to_tensor();
        prop_assert_eq!(y.shape(), &[b, t, f]);
        for bi in 0..b {
            for ti in 0..t {
                let valid: Vec<Option<bool>> = masks.iter().map(|m| m.as_ref().map(|m| m[[bi, ti]] != 0.0)).collect();
                for fi in 0..f {
                    let vals: Vec<f32> = xs.iter().map(|x| x[[bi, ti, fi]]).collect();
                    let want = reference_element(op, &vals, &valid);
                    prop_assert!((y[[bi, ti, fi]] - want).abs() <= 1e-6 * (1.0 + want.abs()),
                        "{:?} at {:?}: {} vs {}", op, (bi, ti, fi), y[[bi, ti, fi]], want);
                }
            }
        }
        let want_mask = if masks.iter().all(Option::is_some) {
            let mut acc = Tensor::zeros(ndarray::IxDyn(&[b, t]));
            for m in masks.iter().flatten() {
                acc.zip_mut_with(m, |a, &v| if v != 0.0 { *a = 1.0 });
            }
            Some(acc)
        } else {
            None
        };
        prop_assert_eq!(out_mask, want_mask);
    }

    /// Gradients of the masked merges agree with finite differences.
    #[test]
    fn masked_merge_gradients_match_finite_differences(op in op_strategy(), n in 2usize..4, t in 1usize..4,
                                                       has_mask in proptest::collection::vec(any::<bool>(), 3),
                                                       seed in 0u64..1000) {
        let n = if matches!(op, Op::Subtract) { 2 } else { n };
        let (b, f) = (2, 3);
        // Values k * 0.1 + 0.013 * i: two inputs never come closer than 0.013
        // (no near-tie of Maximum / Minimum inside the finite-difference step).
        let xs: Vec<Tensor> = (0..n)
            .map(|i| normal(&[b, t, f], 0.0, 1.0, &mut rng_from_seed(seed * 7 + i as u64))
                .mapv(|v| (v * 10.0).round() * 0.1 + 0.013 * i as f32))
            .collect();
        let masks: Vec<Option<Mask>> = (0..n)
            .map(|i| has_mask[i].then(|| random_mask(b, t, 0.5, seed * 13 + i as u64)))
            .collect();
        let layer = merge_layer(op);
        let opts = GradcheckOptions { eps: 1e-3, atol: 1e-2, rtol: 1e-2, seed: 5 };
        let r = gradcheck(|v| {
            ag(layer.forward_multi_masked(v, &masks, &mut ForwardContext::inference()).map(|(y, _)| y))
        }, &xs, &opts);
        prop_assert!(r.is_ok(), "{:?}: {:?}", op, r);
    }
}

#[test]
fn a_merge_mask_of_the_wrong_shape_is_an_error_naming_the_layer() {
    let x = Var::constant(Tensor::zeros(ndarray::IxDyn(&[2, 4, 3])));
    let bad = Some(Tensor::ones(ndarray::IxDyn(&[2, 5])));
    let e = Multiply::new()
        .with_name("mul_3")
        .forward_multi_masked(
            &[x.clone(), x.clone()],
            &[None, bad],
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("mul_3") && e.contains("[2, 5]"), "{e}");
    let e = Maximum::new()
        .with_name("max_3")
        .forward_multi_masked(&[x.clone(), x], &[None], &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_3"), "{e}");
}

#[test]
fn unmasked_merges_are_unchanged() {
    // No masks: exactly the plain forward_multi (bit for bit).
    let xs: Vec<Var> = (0..3)
        .map(|i| Var::constant(normal(&[2, 3, 4], 0.0, 1.0, &mut rng_from_seed(i))))
        .collect();
    for op in [Op::Add, Op::Multiply, Op::Average, Op::Maximum, Op::Minimum] {
        let l = merge_layer(op);
        let plain = l.forward_multi(&xs, &mut ForwardContext::inference()).unwrap();
        let (masked, m) = l
            .forward_multi_masked(&xs, &[None, None, None], &mut ForwardContext::inference())
            .unwrap();
        assert_eq!(plain.to_tensor(), masked.to_tensor(), "{op:?}");
        assert!(m.is_none());
    }
}
