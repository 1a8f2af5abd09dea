//! `ops::scaled_dot_product_attention` against a plainly written f64
//! reference (forward), finite differences (gradients), and the mask
//! invariants: masked keys get zero weight and zero gradient, and with the
//! causal mask the output at t does not depend on inputs after t.

use ndarray::{Array4, Dimension, IxDyn};
use neurite_autograd::ops::AttentionOptions;
use neurite_autograd::{gradcheck, ops, GradcheckOptions, Tensor, Var};
use neurite_rand::Generator;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    }
}

/// `(batch, tq, tk, heads, key_dim, value_dim)`.
fn dims() -> impl Strategy<Value = [usize; 6]> {
    (
        1usize..=3,
        1usize..=4,
        1usize..=4,
        1usize..=3,
        1usize..=3,
        1usize..=3,
    )
        .prop_map(|(b, tq, tk, h, dk, dv)| [b, tq, tk, h, dk, dv])
}

fn tensor(shape: &[usize], values: &[f32]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_shape_vec(IxDyn(shape), values[..n].to_vec()).unwrap()
}

/// The plain reference: loops in f64, masked scores replaced by -1e9.
fn reference(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    causal: bool,
    mask: Option<&Tensor>,
) -> Array4<f64> {
    let (b, tq, h, dk) = (q.shape()[0], q.shape()[1], q.shape()[2], q.shape()[3]);
    let (tk, dv) = (k.shape()[1], v.shape()[3]);
    let mut out = Array4::<f64>::zeros((b, tq, h, dv));
    for bi in 0..b {
        for hi in 0..h {
            for i in 0..tq {
                let mut s: Vec<f64> = (0..tk)
                    .map(|j| {
                        let dot: f64 = (0..dk)
                            .map(|c| q[[bi, i, hi, c]] as f64 * k[[bi, j, hi, c]] as f64)
                            .sum();
                        let hidden = (causal && j > i) || mask.is_some_and(|m| m[[bi, i, j]] == 0.0);
                        if hidden {
                            -1e9
                        } else {
                            dot * scale
                        }
                    })
                    .collect();
                let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = s.iter().map(|x| (x - max).exp()).sum();
                for x in s.iter_mut() {
                    *x = (*x - max).exp() / total;
                }
                for c in 0..dv {
                    out[[bi, i, hi, c]] = (0..tk).map(|j| s[j] * v[[bi, j, hi, c]] as f64).sum();
                }
            }
        }
    }
    out
}

/// Dimensions, queries, keys, values, a mask and the causal flag.
type Case = ([usize; 6], Vec<f32>, Vec<f32>, Vec<f32>, Vec<bool>, bool);

fn case() -> impl Strategy<Value = Case> {
    dims().prop_flat_map(|d| {
        let [b, tq, tk, h, dk, dv] = d;
        (
            Just(d),
            prop::collection::vec(-1.5f32..1.5, b * tq * h * dk),
            prop::collection::vec(-1.5f32..1.5, b * tk * h * dk),
            prop::collection::vec(-1.5f32..1.5, b * tk * h * dv),
            prop::collection::vec(prop::bool::weighted(0.7), b * tq * tk),
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn forward_matches_the_reference(
        (d, qv, kv, vv, m, causal) in case(),
        use_mask in any::<bool>(),
    ) {
        let [b, tq, tk, h, dk, dv] = d;
        let q = tensor(&[b, tq, h, dk], &qv);
        let k = tensor(&[b, tk, h, dk], &kv);
        let v = tensor(&[b, tk, h, dv], &vv);
        let mask = Tensor::from_shape_vec(IxDyn(&[b, tq, tk]), m.iter().map(|&x| x as u8 as f32).collect()).unwrap();
        let mask = use_mask.then_some(&mask);
        let scale = 1.0 / (dk as f32).sqrt();
        let opts = AttentionOptions::new(scale).causal(causal).mask(mask).return_scores(true);
        let (out, probs) = ops::scaled_dot_product_attention(
            &Var::constant(q.clone()), &Var::constant(k.clone()), &Var::constant(v.clone()), opts, None).unwrap();
        let want = reference(&q, &k, &v, scale as f64, causal, mask);
        for (a, w) in out.to_tensor().iter().zip(want.iter()) {
            prop_assert!((*a as f64 - w).abs() < 1e-4, "{a} vs {w}");
        }
        // Masked keys get zero weight (unless the whole row is masked: uniform, as Keras).
        let probs = probs.unwrap();
        for bi in 0..b { for hi in 0..h { for i in 0..tq {
            let hidden = |j: usize| (causal && j > i) || mask.is_some_and(|m| m[[bi, i, j]] == 0.0);
            let all_hidden = (0..tk).all(hidden);
            let row_sum: f32 = (0..tk).map(|j| probs[[bi, hi, i, j]]).sum();
            prop_assert!((row_sum - 1.0).abs() < 1e-5);
            for j in 0..tk {
                if hidden(j) && !all_hidden {
                    prop_assert_eq!(probs[[bi, hi, i, j]], 0.0);
                }
            }
        }}}
    }

    #[test]
    fn gradients_match_finite_differences(
        (d, qv, kv, vv, m, causal) in case(),
        use_mask in any::<bool>(),
    ) {
        let [b, tq, tk, h, dk, dv] = d;
        let q = tensor(&[b, tq, h, dk], &qv);
        let k = tensor(&[b, tk, h, dk], &kv);
        let v = tensor(&[b, tk, h, dv], &vv);
        let mask = Tensor::from_shape_vec(IxDyn(&[b, tq, tk]), m.iter().map(|&x| x as u8 as f32).collect()).unwrap();
        let scale = 1.0 / (dk as f32).sqrt();
        let r = gradcheck(
            |x| {
                let opts = AttentionOptions::new(scale).causal(causal).mask(use_mask.then_some(&mask));
                Ok(ops::scaled_dot_product_attention(&x[0], &x[1], &x[2], opts, None)?.0)
            },
            &[q, k, v],
            &GradcheckOptions::default(),
        );
        prop_assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn masked_keys_get_no_gradient_and_causal_outputs_ignore_the_future(
        (d, qv, kv, vv, m, _causal) in case(),
    ) {
        let [b, tq, tk, h, dk, dv] = d;
        // Hide the last key from every query of every sample (through a broadcast (1, 1, tk) mask)
        // and keep at least one key visible.
        prop_assume!(tk >= 2);
        let _ = m;
        let mut mask = Tensor::ones(IxDyn(&[1, 1, tk]));
        mask[[0, 0, tk - 1]] = 0.0;
        let k = Var::parameter(tensor(&[b, tk, h, dk], &kv));
        let v = Var::parameter(tensor(&[b, tk, h, dv], &vv));
        let q = Var::parameter(tensor(&[b, tq, h, dk], &qv));
        let (out, _) = ops::scaled_dot_product_attention(&q, &k, &v, AttentionOptions::new(0.7).mask(Some(&mask)), None).unwrap();
        let weights = Tensor::from_shape_fn(IxDyn(&out.shape()), |ix: IxDyn| 1.0 + (0..ix.ndim()).map(|a| ix[a]).sum::<usize>() as f32);
        ops::sum_all(&ops::mul(&out, &Var::constant(weights)).unwrap()).unwrap().backward().unwrap();
        let (gk, gv) = (k.grad().unwrap(), v.grad().unwrap());
        for bi in 0..b { for hi in 0..h {
            for c in 0..dk { prop_assert_eq!(gk[[bi, tk - 1, hi, c]], 0.0); }
            for c in 0..dv { prop_assert_eq!(gv[[bi, tk - 1, hi, c]], 0.0); }
        }}

        // Causal self-attention: changing step t changes no output before t.
        let x = tensor(&[b, tk, h, dk], &kv);
        let mut later = x.clone();
        let t = tk - 1;
        later.slice_mut(ndarray::s![.., t, .., ..]).mapv_inplace(|a| a * -2.0 + 0.5);
        let run = |x: &Tensor| ops::scaled_dot_product_attention(
            &Var::constant(x.clone()), &Var::constant(x.clone()), &Var::constant(x.clone()),
            AttentionOptions::new(0.5).causal(true), None).unwrap().0.to_tensor();
        let (a, c) = (run(&x), run(&later));
        prop_assert_eq!(a.slice(ndarray::s![.., ..t, .., ..]), c.slice(ndarray::s![.., ..t, .., ..]));
    }
}

#[test]
fn dropout_keeps_expected_value_and_gradients_follow_the_same_mask() {
    let q = Var::parameter(Tensor::from_shape_fn(IxDyn(&[2, 6, 2, 3]), |ix| {
        (ix[1] as f32 * 0.3).sin() + ix[3] as f32 * 0.1
    }));
    let v = Var::parameter(Tensor::from_shape_fn(IxDyn(&[2, 6, 2, 3]), |ix| {
        ix[1] as f32 - ix[3] as f32
    }));
    let opts = AttentionOptions::new(0.5).dropout(0.5).return_scores(true);
    let mut rng = Generator::seed_from_u64(3);
    let (out, probs) = ops::scaled_dot_product_attention(&q, &q, &v, opts, Some(&mut rng)).unwrap();
    // Dropped weights: the output differs from the no-dropout output but each row of
    // the returned (pre-dropout) probabilities still sums to one.
    let (plain, _) = ops::scaled_dot_product_attention(&q, &q, &v, opts, None).unwrap();
    assert_ne!(out.to_tensor(), plain.to_tensor());
    let probs = probs.unwrap();
    for row in probs.lanes(ndarray::Axis(3)) {
        assert!((row.sum() - 1.0).abs() < 1e-5);
    }
    // Gradient through the same dropout draw, against finite differences of v (the output is linear in v).
    ops::sum_all(&out).unwrap().backward().unwrap();
    let gv = v.grad().unwrap();
    let eps = 1e-2f32;
    let mut bumped = v.to_tensor();
    bumped[[1, 2, 1, 0]] += eps;
    let mut rng = Generator::seed_from_u64(3);
    let (out2, _) =
        ops::scaled_dot_product_attention(&q, &q, &Var::constant(bumped), opts, Some(&mut rng)).unwrap();
    let fd = (out2.to_tensor().sum() - out.to_tensor().sum()) / eps;
    assert!(
        (fd - gv[[1, 2, 1, 0]]).abs() < 2e-2,
        "{fd} vs {}",
        gv[[1, 2, 1, 0]]
    );
    assert!(
        ops::scaled_dot_product_attention(&q, &q, &v, AttentionOptions::new(1.0).dropout(1.0), None).is_err()
    );
}

#[test]
fn bad_shapes_and_masks_are_errors() {
    let q = Var::constant(Tensor::zeros(IxDyn(&[2, 3, 2, 4])));
    let k = Var::constant(Tensor::zeros(IxDyn(&[2, 5, 2, 4])));
    let bad_heads = Var::constant(Tensor::zeros(IxDyn(&[2, 5, 3, 4])));
    assert!(
        ops::scaled_dot_product_attention(&q, &bad_heads, &bad_heads, AttentionOptions::new(1.0), None)
            .is_err()
    );
    let mask = Tensor::ones(IxDyn(&[2, 3, 4]));
    let e = ops::scaled_dot_product_attention(&q, &k, &k, AttentionOptions::new(1.0).mask(Some(&mask)), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("attention") && e.contains("[2, 3, 4]"), "{e}");
    let ok = Tensor::ones(IxDyn(&[1, 3, 5]));
    assert!(
        ops::scaled_dot_product_attention(&q, &k, &k, AttentionOptions::new(1.0).mask(Some(&ok)), None)
            .is_ok()
    );
}
