//! `MultiHeadAttention` against a plainly written f64 reference (forward),
//! finite differences (gradients of inputs and of every weight), the mask
//! invariants, config round trips and errors naming the layer.

mod gc_util;

use gc_util::{ag, norm_gradcheck, NormCheck};
use ndarray::IxDyn;
use neurite_autograd::{no_grad, Tensor, Var};
use neurite_nn::layers::{AttentionCall, MultiHeadAttention};
use neurite_nn::{layer_from_config, ForwardContext, Layer};
use neurite_tensor::random::{normal, rng_from_seed};
use proptest::prelude::*;

/// `(batch, tq, tk, dq, dv_in, heads, key_dim, value_dim, out, use_bias)`.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    tq: usize,
    tk: usize,
    dq: usize,
    dv_in: usize,
    h: usize,
    kd: usize,
    vd: usize,
    out: Option<usize>,
    bias: bool,
}

fn dims() -> impl Strategy<Value = Dims> {
    (
        (1usize..=2, 1usize..=4, 1usize..=4, 1usize..=4, 1usize..=4),
        (
            1usize..=3,
            1usize..=3,
            1usize..=3,
            prop::option::of(1usize..=3),
            any::<bool>(),
        ),
    )
        .prop_map(|((b, tq, tk, dq, dv_in), (h, kd, vd, out, bias))| Dims {
            b,
            tq,
            tk,
            dq,
            dv_in,
            h,
            kd,
            vd,
            out,
            bias,
        })
}

fn layer_for(d: &Dims, seed: u64) -> MultiHeadAttention {
    let mut m = MultiHeadAttention::new(d.h, d.kd)
        .value_dim(d.vd)
        .use_bias(d.bias);
    if let Some(o) = d.out {
        m = m.output_shape([o]);
    }
    m.build_multi(&[vec![d.tq, d.dq], vec![d.tk, d.dv_in]], &mut rng_from_seed(seed))
        .unwrap();
    // Non-zero biases so that their use is tested.
    for (i, p) in m.parameters().iter().enumerate() {
        if p.name.ends_with(".bias") {
            p.var.set_value(normal(
                &p.var.shape(),
                0.0,
                0.5,
                &mut rng_from_seed(seed + i as u64),
            ));
        }
    }
    m
}

/// `x (b, t, din) · w (din, h, d) + bias (h, d)` in f64.
fn project(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Vec<f64> {
    let (b, t, din) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let (h, d) = (w.shape()[1], w.shape()[2]);
    let mut out = vec![0.0f64; b * t * h * d];
    for bi in 0..b {
        for ti in 0..t {
            for hi in 0..h {
                for di in 0..d {
                    let mut s: f64 = bias.map_or(0.0, |bb| bb[[hi, di]] as f64);
                    for c in 0..din {
                        s += x[[bi, ti, c]] as f64 * w[[c, hi, di]] as f64;
                    }
                    out[((bi * t + ti) * h + hi) * d + di] = s;
                }
            }
        }
    }
    out
}

/// The whole layer in f64 loops, from its weights (Keras' layouts).
fn reference(m: &MultiHeadAttention, q: &Tensor, v: &Tensor, causal: bool, mask: Option<&Tensor>) -> Tensor {
    let ps = m.parameters();
    let get = |suffix: &str| {
        ps.iter()
            .find(|p| p.name.ends_with(suffix))
            .map(|p| p.var.to_tensor())
    };
    let (wq, wk, wv, wo) = (
        get("query.kernel").unwrap(),
        get("key.kernel").unwrap(),
        get("value.kernel").unwrap(),
        get("attention_output.kernel").unwrap(),
    );
    let (bq, bk, bv, bo) = (
        get("query.bias"),
        get("key.bias"),
        get("value.bias"),
        get("attention_output.bias"),
    );
    let (b, tq, tk) = (q.shape()[0], q.shape()[1], v.shape()[1]);
    let (h, kd, vd) = (wq.shape()[1], wq.shape()[2], wv.shape()[2]);
    let out_dim = wo.shape()[2];
    let pq = project(q, &wq, bq.as_ref());
    let pk = project(v, &wk, bk.as_ref());
    let pv = project(v, &wv, bv.as_ref());
    let scale = 1.0 / (kd as f64).sqrt();
    let mut y = Tensor::zeros(IxDyn(&[b, tq, out_dim]));
    for bi in 0..b {
        for i in 0..tq {
            let mut heads = vec![0.0f64; h * vd];
            for hi in 0..h {
                let mut s: Vec<f64> = (0..tk)
                    .map(|j| {
                        let hidden = (causal && j > i) || mask.is_some_and(|mm| mm[[bi, i, j]] == 0.0);
                        if hidden {
                            return -1e9;
                        }
                        (0..kd)
                            .map(|c| {
                                pq[((bi * tq + i) * h + hi) * kd + c] * pk[((bi * tk + j) * h + hi) * kd + c]
                            })
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = s.iter().map(|x| (x - max).exp()).sum();
                s.iter_mut().for_each(|x| *x = (*x - max).exp() / total);
                // Keras 3.15 zeroes the softmax of masked pairs: a query that
                // may see no key attends to nothing.
                let hidden = |j: usize| (causal && j > i) || mask.is_some_and(|mm| mm[[bi, i, j]] == 0.0);
                if (0..tk).all(hidden) {
                    s.iter_mut().for_each(|x| *x = 0.0);
                }
                for c in 0..vd {
                    heads[hi * vd + c] = (0..tk)
                        .map(|j| s[j] * pv[((bi * tk + j) * h + hi) * vd + c])
                        .sum();
                }
            }
            for o in 0..out_dim {
                let mut acc = bo.as_ref().map_or(0.0, |bb| bb[[o]] as f64);
                for hi in 0..h {
                    for c in 0..vd {
                        acc += heads[hi * vd + c] * wo[[hi, c, o]] as f64;
                    }
                }
                y[[bi, i, o]] = acc as f32;
            }
        }
    }
    y
}

/// Finite differences of `sum(f() * r)` for every weight of `layer`, by
/// perturbing the weights in place; norm-based comparison as `gc_util`.
fn check_weight_gradients(layer: &dyn Layer, f: &dyn Fn() -> Var) -> Result<(), String> {
    for p in layer.parameters() {
        p.var.zero_grad();
    }
    let out = f();
    let r = normal(&out.shape(), 0.0, 1.0, &mut rng_from_seed(5));
    out.backward_with(r.clone()).map_err(|e| e.to_string())?;
    let loss = || -> f64 {
        let y = no_grad(f).to_tensor();
        y.iter().zip(r.iter()).map(|(&a, &b)| a as f64 * b as f64).sum()
    };
    for p in layer.parameters() {
        let analytic = p.var.grad().ok_or(format!("{}: no gradient", p.name))?;
        let (mut d2, mut n2) = (0.0f64, 0.0f64);
        for j in 0..analytic.len() {
            let orig = p.var.value().iter().nth(j).copied().unwrap();
            let eps = 3e-3f32;
            let at = |x: f32| {
                *p.var.value_mut().iter_mut().nth(j).unwrap() = x;
                loss()
            };
            let num = (at(orig + eps) - at(orig - eps)) / (2.0 * eps as f64);
            at(orig);
            let a = *analytic.iter().nth(j).unwrap() as f64;
            d2 += (a - num) * (a - num);
            n2 += num * num;
        }
        if d2.sqrt() > 2e-2 * n2.sqrt() + 2e-3 {
            return Err(format!(
                "{}: |analytic - numeric| = {}, |numeric| = {}",
                p.name,
                d2.sqrt(),
                n2.sqrt()
            ));
        }
    }
    Ok(())
}

fn random(shape: &[usize], seed: u64) -> Tensor {
    normal(shape, 0.0, 1.0, &mut rng_from_seed(seed))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn forward_and_gradients_match_the_reference(d in dims(), seed in 0u64..1000, causal: bool, use_mask: bool) {
        let m = layer_for(&d, seed);
        let q = random(&[d.b, d.tq, d.dq], seed + 1);
        let v = random(&[d.b, d.tk, d.dv_in], seed + 2);
        let mask = Tensor::from_shape_fn(IxDyn(&[d.b, d.tq, d.tk]), |ix| !(ix[0] + 2 * ix[1] + 3 * ix[2] + seed as usize).is_multiple_of(3) as u8 as f32);
        let mask = use_mask.then_some(&mask);
        let call = AttentionCall { attention_mask: mask, use_causal_mask: causal, ..Default::default() };
        let (y, _) = m.attend(&Var::constant(q.clone()), &Var::constant(v.clone()), None, call, &mut ForwardContext::inference()).unwrap();
        let want = reference(&m, &q, &v, causal, mask);
        prop_assert_eq!(y.shape(), want.shape().to_vec());
        for (a, w) in y.to_tensor().iter().zip(want.iter()) {
            prop_assert!((a - w).abs() <= 1e-4 * (1.0 + w.abs()), "{} vs {}", a, w);
        }
        let samples = vec![vec![d.tq, d.dq], vec![d.tk, d.dv_in]];
        prop_assert_eq!(m.output_shape_multi(&samples).unwrap(), want.shape()[1..].to_vec());
        let shapes: Vec<Vec<usize>> = m.parameters().iter().map(|p| p.var.shape()).collect();
        let said: Vec<Vec<usize>> = m.parameter_shapes_multi(&samples).unwrap().unwrap().into_iter().map(|(_, s)| s).collect();
        prop_assert_eq!(shapes, said);
        // Gradients of the query and the value (also used as the key).
        norm_gradcheck(
            |x| ag(m.attend(&x[0], &x[1], None, call, &mut ForwardContext::inference()).map(|r| r.0)),
            &[q.clone(), v.clone()],
            &NormCheck::default(),
        ).map_err(TestCaseError::fail)?;
        // Gradients of every weight.
        let (qc, vc) = (Var::constant(q), Var::constant(v));
        check_weight_gradients(&m, &|| m.attend(&qc, &vc, None, call, &mut ForwardContext::inference()).unwrap().0)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn masked_keys_and_future_steps_do_not_matter(d in dims(), seed in 0u64..1000) {
        prop_assume!(d.tk >= 2);
        let m = layer_for(&d, seed);
        let q = random(&[d.b, d.tq, d.dq], seed + 1);
        let v = Var::parameter(random(&[d.b, d.tk, d.dv_in], seed + 2));
        // Hide the last key everywhere: it gets no gradient, and changing it changes nothing.
        let mut mask = Tensor::ones(IxDyn(&[1, 1, d.tk]));
        mask[[0, 0, d.tk - 1]] = 0.0;
        let call = AttentionCall { attention_mask: Some(&mask), ..Default::default() };
        let (y, _) = m.attend(&Var::constant(q.clone()), &v, None, call, &mut ForwardContext::inference()).unwrap();
        y.backward_with(random(&y.shape(), 9)).unwrap();
        let g = v.grad().unwrap();
        prop_assert!(g.slice(ndarray::s![.., d.tk - 1, ..]).iter().all(|&x| x == 0.0));
        let mut other = v.to_tensor();
        other.slice_mut(ndarray::s![.., d.tk - 1, ..]).fill(7.0);
        let (y2, _) = m.attend(&Var::constant(q), &Var::constant(other), None, call, &mut ForwardContext::inference()).unwrap();
        prop_assert_eq!(y.to_tensor(), y2.to_tensor());

        // Causal self-attention: the output at t does not depend on inputs after t.
        let sq = Dims { tk: d.tq, dv_in: d.dq, ..d };
        prop_assume!(sq.tq >= 2);
        let m = layer_for(&sq, seed);
        let x = random(&[d.b, d.tq, d.dq], seed + 3);
        let mut later = x.clone();
        later.slice_mut(ndarray::s![.., d.tq - 1, ..]).mapv_inplace(|a| a * 3.0 - 1.0);
        let call = AttentionCall { use_causal_mask: true, ..Default::default() };
        let run = |x: &Tensor| m.attend(&Var::constant(x.clone()), &Var::constant(x.clone()), None, call, &mut ForwardContext::inference()).unwrap().0.to_tensor();
        let (a, b) = (run(&x), run(&later));
        prop_assert_eq!(a.slice(ndarray::s![.., ..d.tq - 1, ..]), b.slice(ndarray::s![.., ..d.tq - 1, ..]));
    }
}

#[test]
fn list_calls_key_and_mask_inputs() {
    let mut m = MultiHeadAttention::new(2, 3).with_name("att");
    m.build_multi(&[vec![4, 5], vec![6, 7], vec![6, 2]], &mut rng_from_seed(0))
        .unwrap();
    let names: Vec<String> = m.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "att/query.kernel",
            "att/query.bias",
            "att/key.kernel",
            "att/key.bias",
            "att/value.kernel",
            "att/value.bias",
            "att/attention_output.kernel",
            "att/attention_output.bias"
        ]
    );
    assert_eq!(m.parameters()[2].var.shape(), vec![2, 2, 3]);
    assert_eq!(m.parameters()[6].var.shape(), vec![2, 3, 5]);
    let q = Var::constant(random(&[2, 4, 5], 1));
    let v = Var::constant(random(&[2, 6, 7], 2));
    let k = Var::constant(random(&[2, 6, 2], 3));
    let mask = Var::constant(Tensor::ones(IxDyn(&[2, 4, 6])));
    let a = m
        .forward_multi(
            &[q.clone(), v.clone(), k.clone()],
            &mut ForwardContext::inference(),
        )
        .unwrap();
    let b = m
        .forward_multi(
            &[q.clone(), v.clone(), k.clone(), mask],
            &mut ForwardContext::inference(),
        )
        .unwrap();
    assert_eq!(a.to_tensor(), b.to_tensor());
    let e = m
        .forward_multi(std::slice::from_ref(&q), &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(e.contains("att"), "{e}");
    let e = m
        .forward_multi(
            &[q.clone(), v.clone(), k.clone(), k.clone(), k.clone()],
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("att") && e.contains("5 inputs"), "{e}");
    // Without a key the value (7 features) is the key, but the key kernel was built for 2.
    let e = m
        .forward_multi(&[q.clone(), v.clone()], &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(e.contains("att") && e.contains("as built"), "{e}");
    let bad_mask = Var::constant(Tensor::ones(IxDyn(&[2, 4, 5])));
    let e = m
        .forward_multi(
            &[q.clone(), v.clone(), k.clone(), bad_mask],
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("att") && e.contains("attention_mask"), "{e}");
    assert!(m
        .output_shape_multi(&[vec![4, 5], vec![6, 7], vec![5, 2]])
        .is_err());
    assert!(m.output_shape_multi(&[vec![4, 5, 1], vec![6, 7]]).is_err());
    assert!(Layer::output_shape(&m, &[4, 5]).is_err());
}

#[test]
fn dropout_only_in_training_and_seeded() {
    let mut m = MultiHeadAttention::new(2, 4).dropout(0.5);
    m.build_multi(&[vec![5, 8], vec![5, 8]], &mut rng_from_seed(0))
        .unwrap();
    let x = Var::constant(random(&[3, 5, 8], 4));
    let run = |ctx: &mut ForwardContext| m.forward_multi(&[x.clone(), x.clone()], ctx).unwrap().to_tensor();
    let inf = run(&mut ForwardContext::inference());
    let no_drop = {
        let mut plain = MultiHeadAttention::from_config(m.config_struct().clone());
        plain
            .build_multi(&[vec![5, 8], vec![5, 8]], &mut rng_from_seed(0))
            .unwrap();
        plain
            .forward_multi(&[x.clone(), x.clone()], &mut ForwardContext::inference())
            .unwrap()
            .to_tensor()
    };
    assert_eq!(inf, no_drop);
    let (t1, t2) = (
        run(&mut ForwardContext::training(1)),
        run(&mut ForwardContext::training(1)),
    );
    assert_eq!(t1, t2);
    assert_ne!(t1, inf);
}

#[test]
fn configs_round_trip_and_bad_fields_are_refused() {
    let m = MultiHeadAttention::new(2, 16)
        .value_dim(8)
        .dropout(0.1)
        .output_shape([12])
        .with_name("mha_1");
    let again = layer_from_config("MultiHeadAttention", &m.config()).unwrap();
    assert_eq!(again.config(), m.config());
    // Keras 3's own config (initializers in neurite's form), including keys neurite keeps only for round trips.
    let keras = serde_json::json!({
        "name": "multi_head_attention", "trainable": true, "dtype": "float32",
        "num_heads": 2, "key_dim": 32, "value_dim": 32, "dropout": 0.0, "use_bias": true,
        "output_shape": null, "attention_axes": [1], "flash_attention": null,
        "kernel_initializer": "glorot_uniform",
        "bias_initializer": "zeros",
        "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
        "kernel_constraint": null, "bias_constraint": null, "seed": null
    });
    let l = layer_from_config("MultiHeadAttention", &keras);
    assert!(l.is_ok(), "{:?}", l.err());
    for (field, value) in [
        ("num_heads", serde_json::json!(0)),
        ("key_dim", serde_json::json!(0)),
        ("value_dim", serde_json::json!(0)),
        ("dropout", serde_json::json!(1.0)),
        ("output_shape", serde_json::json!([])),
        ("attention_axes", serde_json::json!([1, 2])),
        ("sliding_window", serde_json::json!(4)),
        ("use_gate", serde_json::json!(true)),
    ] {
        let mut c = m.config();
        c[field] = value;
        let e = layer_from_config("MultiHeadAttention", &c)
            .err()
            .expect(field)
            .to_string();
        assert!(e.contains("mha_1") && e.contains(field), "{field}: {e}");
    }
}
