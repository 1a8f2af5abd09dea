//! Masking of padded sequences (Keras 3 semantics): a padded batch with its
//! mask gives, at every valid step, what each sequence gives alone without
//! padding; padded steps get no gradient; masks of the wrong shape are errors.

mod rnn_util;

use ndarray::{s, Array2, Axis};
use neurite_autograd::{gradcheck, no_grad, ops, Tensor, Var};
use neurite_nn::layers::{Bidirectional, MergeMode, SimpleRNN, GRU, LSTM};
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::random::rng_from_seed;
use proptest::prelude::*;
use rnn_util::{ag, gc_opts, rand};

#[allow(clippy::too_many_arguments)]
/// A recurrent layer of kind `kind` (LSTM, GRU, GRU reset_before, SimpleRNN,
/// Bidirectional LSTM / GRU / SimpleRNN with merge mode `merge`), built for `(t, f)`.
fn recurrent(
    kind: usize,
    u: usize,
    rs: bool,
    back: bool,
    merge: usize,
    t: usize,
    f: usize,
    seed: u64,
) -> Box<dyn Layer> {
    let mut l: Box<dyn Layer> = match kind {
        0 => Box::new(LSTM::new(u).return_sequences(rs).go_backwards(back)),
        1 => Box::new(GRU::new(u).return_sequences(rs).go_backwards(back)),
        2 => Box::new(
            GRU::new(u)
                .reset_after(false)
                .return_sequences(rs)
                .go_backwards(back),
        ),
        3 => Box::new(SimpleRNN::new(u).return_sequences(rs).go_backwards(back)),
        k => {
            let inner: Box<dyn Layer> = match k {
                4 => Box::new(LSTM::new(u).return_sequences(rs)),
                5 => Box::new(GRU::new(u).return_sequences(rs)),
                _ => Box::new(SimpleRNN::new(u).return_sequences(rs)),
            };
            let mode = [MergeMode::Concat, MergeMode::Sum, MergeMode::Mul, MergeMode::Ave][merge];
            Box::new(Bidirectional::from_boxed(inner).unwrap().merge_mode(mode))
        }
    };
    l.build(&[t, f], &mut rng_from_seed(seed)).unwrap();
    l
}

/// A `(b, t)` mask of the lengths, valid steps first (post-padding) or last (pre-padding).
fn mask_of(lengths: &[usize], t: usize, pre: bool) -> Tensor {
    Array2::from_shape_fn((lengths.len(), t), |(i, j)| {
        let valid = if pre { j >= t - lengths[i] } else { j < lengths[i] };
        if valid {
            1.0
        } else {
            0.0
        }
    })
    .into_dyn()
}

/// Sample `i`'s valid steps alone, `(1, l, f)`.
fn unpadded(x: &Tensor, i: usize, l: usize, pre: bool) -> Tensor {
    let t = x.shape()[1];
    let start = if pre { t - l } else { 0 };
    x.slice(s![i..i + 1, start..start + l, ..]).to_owned().into_dyn()
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Checks output `y` (row `i`) of the padded run against `yi` of the
/// unpadded run: the last output, or every step of a sequence output (in the
/// layer's output order) with masked steps holding the previous output, or
/// zero for a layer that zeroes them.
#[allow(clippy::too_many_arguments)]
fn check_row(
    y: &Tensor,
    yi: &Tensor,
    i: usize,
    l: usize,
    t: usize,
    pre: bool,
    reversed: bool,
    zero_output: bool,
) -> Result<(), String> {
    if y.ndim() == 2 {
        for (k, (&a, &b)) in y.index_axis(Axis(0), i).iter().zip(yi.iter()).enumerate() {
            if !close(a, b, 1e-5) {
                return Err(format!("last output {k}: padded {a} vs alone {b}"));
            }
        }
        return Ok(());
    }
    let offset = if pre { t - l } else { 0 };
    // Output position of the unpadded run's output k.
    let pos = |k: usize| {
        if reversed {
            t - 1 - (offset + l - 1 - k)
        } else {
            offset + k
        }
    };
    let width = y.shape()[2];
    let mut last = vec![0.0f32; width];
    for p in 0..t {
        let want: Vec<f32> = match (0..l).find(|&k| pos(k) == p) {
            Some(k) => {
                last = yi.slice(s![0, k, ..]).to_vec();
                last.clone()
            }
            None if zero_output => vec![0.0; width],
            None => last.clone(),
        };
        for (c, w) in want.iter().enumerate() {
            let got = y[[i, p, c]];
            if !close(got, *w, 1e-5) {
                return Err(format!("step {p} feature {c}: padded {got} vs want {w}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// SimpleRNN, LSTM, GRU (both reset_after modes) and Bidirectional over a
    /// post- or pre-padded batch with its mask give every sequence's own
    /// result, and the padded steps get exactly zero gradient while the weight
    /// gradients equal the sum of the sequences' own.
    #[test]
    fn padded_recurrent_batch_equals_each_sequence_alone(
        kind in 0usize..7, u in 1usize..4, f in 1usize..3, t in 1usize..6,
        lengths in proptest::collection::vec(1usize..6, 1..20),
        rs: bool, back: bool, pre: bool, merge in 0usize..4, seed in 0u64..1000,
    ) {
        let lengths: Vec<usize> = lengths.iter().map(|&l| l.min(t)).collect();
        let b = lengths.len();
        let back = back && kind < 4;
        let layer = recurrent(kind, u, rs, back, merge, t, f, seed);
        let x = rand(&[b, t, f], 1.0, seed + 1);
        let mask = mask_of(&lengths, t, pre);
        let xv = Var::parameter(x.clone());
        let (y, out_mask) = layer.forward_masked(&xv, Some(&mask), &mut ForwardContext::inference()).unwrap();
        prop_assert_eq!(out_mask.as_ref(), if rs { Some(&mask) } else { None });
        let yt = y.to_tensor();
        // A fixed random read-out of every output value (masked ones too).
        let r = rand(yt.shape(), 1.0, seed + 2);
        ops::sum_all(&ops::mul(&y, &Var::constant(r.clone())).unwrap()).unwrap().backward().unwrap();
        let dx = xv.grad().unwrap();
        for i in 0..b {
            for j in 0..t {
                if mask[[i, j]] == 0.0 {
                    prop_assert!(dx.slice(s![i, j, ..]).iter().all(|&g| g == 0.0), "padded step ({}, {}) has a gradient", i, j);
                }
            }
        }
        // Each sequence alone: same outputs at its steps, and its share of the weight gradient.
        let params = layer.parameters();
        let padded_grads: Vec<Tensor> = params.iter().map(|p| p.var.take_grad().unwrap()).collect();
        let zero_output = kind >= 4;
        for (i, &l) in lengths.iter().enumerate() {
            let xi = Var::constant(unpadded(&x, i, l, pre));
            let yi = layer.forward(&xi, &mut ForwardContext::inference()).unwrap();
            let yit = yi.to_tensor();
            check_row(&yt, &yit, i, l, t, pre, back, zero_output).map_err(|e| TestCaseError::fail(format!("sample {i} (length {l}): {e}")))?;
            // The same read-out restricted to this sequence's valid outputs.
            let ri = if rs {
                let offset = if pre { t - l } else { 0 };
                let pos = |k: usize| if back { t - 1 - (offset + l - 1 - k) } else { offset + k };
                let mut ri = Tensor::zeros(yit.shape().to_vec());
                for k in 0..l {
                    ri.slice_mut(s![0, k, ..]).assign(&r.slice(s![i, pos(k), ..]));
                }
                ri
            } else {
                r.slice(s![i..i + 1, ..]).to_owned().into_dyn()
            };
            ops::sum_all(&ops::mul(&yi, &Var::constant(ri)).unwrap()).unwrap().backward().unwrap();
        }
        if zero_output || !rs {
            // Masked outputs are zero or absent: the read-out of the padded
            // batch only sees valid outputs, so the weight gradients match.
            for (p, g) in params.iter().zip(&padded_grads) {
                let alone = p.var.take_grad().unwrap();
                for (a, w) in g.iter().zip(alone.iter()) {
                    prop_assert!(close(*a, *w, 1e-4), "{}: padded {} vs sum alone {}", p.name, a, w);
                }
            }
        } else {
            for p in &params {
                p.var.zero_grad();
            }
        }
    }

    /// Finite differences through the masked recurrent layers (inputs and,
    /// through the loss, every step kind: valid, post- and pre-padded).
    #[test]
    fn masked_recurrent_layers_gradcheck(kind in 0usize..7, rs: bool, back: bool, pre: bool, seed in 0u64..1000) {
        let (b, t, f, u) = (3, 4, 2, 2);
        let back = back && kind < 4;
        let layer = recurrent(kind, u, rs, back, 0, t, f, seed);
        let mask = mask_of(&[4, 2, 1], t, pre);
        let x = rand(&[b, t, f], 1.0, seed + 1);
        gradcheck(
            |v| ag(layer.forward_masked(&v[0], Some(&mask), &mut ForwardContext::inference()).map(|r| r.0)),
            &[x],
            &gc_opts(),
        ).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn a_mask_of_the_wrong_shape_is_an_error_naming_the_layer() {
    let layer = recurrent(0, 2, true, false, 0, 4, 3, 1);
    let x = Var::constant(rand(&[2, 4, 3], 1.0, 2));
    for bad in [
        Tensor::ones(vec![2, 3]),
        Tensor::ones(vec![3, 4]),
        Tensor::ones(vec![2, 4, 1]),
    ] {
        let e = layer
            .forward_masked(&x, Some(&bad), &mut ForwardContext::inference())
            .unwrap_err()
            .to_string();
        assert!(e.contains("lstm") && e.contains("(2, 4)"), "{e}");
    }
    let bi = recurrent(4, 2, true, false, 0, 4, 3, 1);
    let e = bi
        .forward_masked(
            &x,
            Some(&Tensor::ones(vec![2, 5])),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("bidirectional") && e.contains("[2, 5]"), "{e}");
}

/// An all-ones mask changes nothing (bit for bit), and a fully masked
/// sequence keeps the zero initial state.
#[test]
fn all_valid_mask_is_the_identity_and_all_masked_gives_zeros() {
    for kind in 0..7 {
        let layer = recurrent(kind, 3, true, false, 0, 5, 2, 9);
        let x = Var::constant(rand(&[4, 5, 2], 1.0, 3));
        let plain = no_grad(|| layer.forward(&x, &mut ForwardContext::inference()))
            .unwrap()
            .to_tensor();
        let ones = Tensor::ones(vec![4, 5]);
        let (y, _) =
            no_grad(|| layer.forward_masked(&x, Some(&ones), &mut ForwardContext::inference())).unwrap();
        assert_eq!(y.to_tensor(), plain, "kind {kind}");
        let mut m = ones.clone();
        m.index_axis_mut(Axis(0), 1).fill(0.0);
        let (y, _) =
            no_grad(|| layer.forward_masked(&x, Some(&m), &mut ForwardContext::inference())).unwrap();
        assert!(
            y.to_tensor().index_axis(Axis(0), 1).iter().all(|&v| v == 0.0),
            "kind {kind}"
        );
    }
}

/// A read-out `sum(y * r)` of the valid rows of `y` `(b, t, d)` only.
fn valid_readout(y: &Var, mask: &Tensor, seed: u64) -> Var {
    let shape = y.shape();
    let mut r = rand(&shape, 1.0, seed);
    for i in 0..shape[0] {
        for j in 0..shape[1] {
            if mask[[i, j]] == 0.0 {
                r.slice_mut(s![i, j, ..]).fill(0.0);
            }
        }
    }
    ops::sum_all(&ops::mul(y, &Var::constant(r)).unwrap()).unwrap()
}

fn assert_padded_steps_have_no_gradient(dx: &Tensor, mask: &Tensor) -> Result<(), TestCaseError> {
    for i in 0..mask.shape()[0] {
        for j in 0..mask.shape()[1] {
            if mask[[i, j]] == 0.0 {
                prop_assert!(
                    dx.slice(s![i, j, ..]).iter().all(|&g| g == 0.0),
                    "padded step ({}, {}) has a gradient",
                    i,
                    j
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// GlobalAveragePooling1D over a padded batch with its mask is the mean
    /// of each sequence's valid steps (its pooling alone), and padded steps
    /// get no gradient.
    #[test]
    fn masked_average_pooling_is_each_sequence_alone(
        f in 1usize..4, t in 1usize..7, lengths in proptest::collection::vec(1usize..7, 1..6),
        pre: bool, keepdims: bool, seed in 0u64..1000,
    ) {
        use neurite_nn::layers::GlobalAveragePooling1D;
        let lengths: Vec<usize> = lengths.iter().map(|&l| l.min(t)).collect();
        let b = lengths.len();
        let pool = GlobalAveragePooling1D::new().keepdims(keepdims);
        let x = rand(&[b, t, f], 1.0, seed);
        let mask = mask_of(&lengths, t, pre);
        let xv = Var::parameter(x.clone());
        let (y, out_mask) = pool.forward_masked(&xv, Some(&mask), &mut ForwardContext::inference()).unwrap();
        prop_assert!(out_mask.is_none());
        let yt = y.to_tensor();
        for (i, &l) in lengths.iter().enumerate() {
            let alone = pool.forward(&Var::constant(unpadded(&x, i, l, pre)), &mut ForwardContext::inference()).unwrap().to_tensor();
            for (a, w) in yt.index_axis(Axis(0), i).iter().zip(alone.iter()) {
                prop_assert!(close(*a, *w, 1e-5), "sample {}: {} vs {}", i, a, w);
            }
        }
        ops::sum_all(&ops::mul(&y, &Var::constant(rand(yt.shape(), 1.0, seed + 1))).unwrap()).unwrap().backward().unwrap();
        assert_padded_steps_have_no_gradient(&xv.grad().unwrap(), &mask)?;
    }

    /// MultiHeadAttention on a padded batch with the query's and value's
    /// masks: each valid step's output is that of the sequence alone, a
    /// padded query outputs the output bias (it attends to nothing, as Keras
    /// 3.15), padded steps get no gradient, and the output keeps the mask.
    #[test]
    fn masked_self_attention_is_each_sequence_alone(
        heads in 1usize..3, kd in 1usize..4, d in 1usize..4, t in 1usize..6,
        lengths in proptest::collection::vec(1usize..6, 1..5), pre: bool, causal: bool, seed in 0u64..1000,
    ) {
        use neurite_nn::layers::MultiHeadAttention;
        let lengths: Vec<usize> = lengths.iter().map(|&l| l.min(t)).collect();
        let b = lengths.len();
        let mut mha = MultiHeadAttention::new(heads, kd).use_causal_mask(causal && !pre);
        mha.build_multi(&[vec![t, d], vec![t, d]], &mut rng_from_seed(seed)).unwrap();
        let x = rand(&[b, t, d], 1.0, seed + 1);
        let mask = mask_of(&lengths, t, pre);
        let xv = Var::parameter(x.clone());
        let masks = [Some(mask.clone()), Some(mask.clone())];
        let (y, out_mask) = mha.forward_multi_masked(&[xv.clone(), xv.clone()], &masks, &mut ForwardContext::inference()).unwrap();
        prop_assert_eq!(out_mask, Some(mask.clone()));
        let yt = y.to_tensor();
        let out_bias = mha.parameters().last().unwrap().var.to_tensor();
        for (i, &l) in lengths.iter().enumerate() {
            let xi = Var::constant(unpadded(&x, i, l, pre));
            let alone = mha.forward_multi(&[xi.clone(), xi], &mut ForwardContext::inference()).unwrap().to_tensor();
            let offset = if pre { t - l } else { 0 };
            for j in 0..t {
                let want: Vec<f32> = if (offset..offset + l).contains(&j) {
                    alone.slice(s![0, j - offset, ..]).to_vec()
                } else {
                    out_bias.iter().copied().collect()
                };
                for (a, w) in yt.slice(s![i, j, ..]).iter().zip(&want) {
                    prop_assert!(close(*a, *w, 1e-5), "sample {} step {}: {} vs {}", i, j, a, w);
                }
            }
        }
        ops::sum_all(&ops::mul(&y, &Var::constant(rand(yt.shape(), 1.0, seed + 2))).unwrap()).unwrap().backward().unwrap();
        assert_padded_steps_have_no_gradient(&xv.grad().unwrap(), &mask)?;
    }

    /// TransformerEncoder with a padding mask: the valid steps equal the
    /// sequence alone, and a read-out of the valid steps has no gradient at
    /// the padded ones.
    #[test]
    fn masked_transformer_encoder_is_each_sequence_alone(
        t in 1usize..6, lengths in proptest::collection::vec(1usize..6, 1..4), pre: bool, first: bool, seed in 0u64..1000,
    ) {
        use neurite_nn::layers::TransformerEncoder;
        let lengths: Vec<usize> = lengths.iter().map(|&l| l.min(t)).collect();
        let b = lengths.len();
        let mut enc = TransformerEncoder::new(6, 2).normalize_first(first);
        enc.build(&[t, 4], &mut rng_from_seed(seed)).unwrap();
        let x = rand(&[b, t, 4], 1.0, seed + 1);
        let mask = mask_of(&lengths, t, pre);
        let xv = Var::parameter(x.clone());
        let (y, out_mask) = enc.forward_masked(&xv, Some(&mask), &mut ForwardContext::inference()).unwrap();
        prop_assert_eq!(out_mask.as_ref(), Some(&mask));
        let yt = y.to_tensor();
        for (i, &l) in lengths.iter().enumerate() {
            let alone = enc.forward(&Var::constant(unpadded(&x, i, l, pre)), &mut ForwardContext::inference()).unwrap().to_tensor();
            let offset = if pre { t - l } else { 0 };
            for k in 0..l {
                for (a, w) in yt.slice(s![i, offset + k, ..]).iter().zip(alone.slice(s![0, k, ..]).iter()) {
                    prop_assert!(close(*a, *w, 1e-4), "sample {} step {}: {} vs {}", i, k, a, w);
                }
            }
        }
        valid_readout(&y, &mask, seed + 2).backward().unwrap();
        assert_padded_steps_have_no_gradient(&xv.grad().unwrap(), &mask)?;
    }
}

#[test]
fn masking_layer_refuses_inputs_without_a_time_axis() {
    use neurite_nn::layers::Masking;
    let m = Masking::new(0.0).with_name("pad");
    let e = m
        .forward_masked(
            &Var::constant(Tensor::ones(vec![2, 3])),
            None,
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("pad") && e.contains("[2, 3]"), "{e}");
    assert!(m.output_shape(&[4]).is_err());
    // And a wrong mask for an average pooling names the layer.
    let pool = neurite_nn::layers::GlobalAveragePooling1D::new();
    let e = pool
        .forward_masked(
            &Var::constant(Tensor::ones(vec![2, 3, 1])),
            Some(&Tensor::ones(vec![2, 4])),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("global_average_pooling1d"), "{e}");
}
