//! TransformerEncoder, PositionEmbedding and TokenAndPositionEmbedding:
//! gradients against finite differences on random sizes, parameter shapes
//! said before building, dropout only in training, and errors naming the
//! layer. (Their values against keras-hub are in `attention_keras.rs`.)

mod gc_util;

use gc_util::{ag, norm_gradcheck, NormCheck};
use ndarray::IxDyn;
use neurite_autograd::{Tensor, Var};
use neurite_nn::layers::{PositionEmbedding, TokenAndPositionEmbedding, TransformerEncoder};
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::random::{normal, rng_from_seed};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn encoder_gradients_and_shapes(
        b in 1usize..=2, t in 1usize..=4, heads in 1usize..=2, per_head in 1usize..=2,
        inter in 1usize..=4, first: bool, seed in 0u64..100,
    ) {
        // hidden need not divide evenly (key_dim = hidden / heads). At least 4 features: a
        // LayerNormalization over 2 is a sign function, whose finite differences are meaningless;
        // tanh instead of relu keeps the feed-forward smooth for the same reason (relu against
        // keras-hub is in attention_keras.rs).
        let hidden = (heads * per_head + (seed as usize % 2)).max(4);
        let mut enc = TransformerEncoder::new(inter, heads)
            .normalize_first(first)
            .activation(neurite_nn::Activation::Tanh)
            .with_name("enc");
        let said = enc.parameter_shapes(&[t, hidden]).unwrap().unwrap();
        enc.build(&[t, hidden], &mut rng_from_seed(seed)).unwrap();
        let have: Vec<(String, Vec<usize>)> = enc.parameters().into_iter().map(|p| (p.name, p.var.shape())).collect();
        prop_assert_eq!(said, have);
        prop_assert_eq!(enc.output_shape(&[t, hidden]).unwrap(), vec![t, hidden]);
        let x = normal(&[b, t, hidden], 0.0, 1.0, &mut rng_from_seed(seed + 1));
        norm_gradcheck(
            |v| ag(enc.forward(&v[0], &mut ForwardContext::inference())),
            &[x],
            &NormCheck { rtol: 3e-2, ..NormCheck::default() },
        ).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn position_embedding_gradient_is_the_batch_sum(b in 1usize..=3, t in 1usize..=5, d in 1usize..=4, extra in 0usize..=2) {
        let mut p = PositionEmbedding::new(t + extra);
        p.build(&[t, d], &mut rng_from_seed(3)).unwrap();
        let x = Var::constant(Tensor::zeros(IxDyn(&[b, t, d])));
        let y = p.forward(&x, &mut ForwardContext::inference()).unwrap();
        let g = normal(&[b, t, d], 0.0, 1.0, &mut rng_from_seed(4));
        y.backward_with(g.clone()).unwrap();
        let table = p.parameters()[0].var.grad().unwrap();
        let summed = g.sum_axis(ndarray::Axis(0));
        prop_assert_eq!(table.slice(ndarray::s![..t, ..]).into_dyn(), summed.view());
        prop_assert!(table.slice(ndarray::s![t.., ..]).iter().all(|&v| v == 0.0));
    }
}

#[test]
fn encoder_dropout_only_in_training() {
    let mut enc = TransformerEncoder::new(8, 2).dropout(0.3);
    enc.build(&[5, 4], &mut rng_from_seed(0)).unwrap();
    let x = Var::constant(normal(&[2, 5, 4], 0.0, 1.0, &mut rng_from_seed(1)));
    let inf = |e: &TransformerEncoder| {
        e.forward(&x, &mut ForwardContext::inference())
            .unwrap()
            .to_tensor()
    };
    let mut plain = TransformerEncoder::new(8, 2);
    plain.build(&[5, 4], &mut rng_from_seed(0)).unwrap();
    assert_eq!(inf(&enc), inf(&plain));
    let t1 = enc
        .forward(&x, &mut ForwardContext::training(7))
        .unwrap()
        .to_tensor();
    let t2 = enc
        .forward(&x, &mut ForwardContext::training(7))
        .unwrap()
        .to_tensor();
    assert_eq!(t1, t2);
    assert_ne!(t1, inf(&enc));
}

#[test]
fn errors_name_the_layer() {
    let e = TransformerEncoder::new(8, 5)
        .with_name("enc")
        .output_shape(&[3, 4])
        .unwrap_err()
        .to_string();
    assert!(e.contains("enc") && e.contains("num_heads"), "{e}");
    let e = TransformerEncoder::new(0, 2)
        .with_name("enc")
        .output_shape(&[3, 4])
        .unwrap_err()
        .to_string();
    assert!(e.contains("enc") && e.contains("intermediate_dim"), "{e}");
    let e = TransformerEncoder::new(8, 2)
        .with_name("enc")
        .output_shape(&[4])
        .unwrap_err()
        .to_string();
    assert!(e.contains("enc"), "{e}");
    let mut enc = TransformerEncoder::new(8, 2).with_name("enc");
    assert!(enc
        .forward(
            &Var::constant(Tensor::zeros(IxDyn(&[1, 3, 4]))),
            &mut ForwardContext::inference()
        )
        .is_err());
    enc.build(&[3, 4], &mut rng_from_seed(0)).unwrap();
    let e = enc
        .forward(
            &Var::constant(Tensor::zeros(IxDyn(&[1, 3, 5]))),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("enc") && e.contains("[1, 3, 5]"), "{e}");
    let bad_mask = Tensor::ones(IxDyn(&[1, 3, 4]));
    let x = Var::constant(Tensor::zeros(IxDyn(&[1, 3, 4])));
    assert!(enc
        .encode(&x, Some(&bad_mask), &mut ForwardContext::inference())
        .is_err());

    let mut p = PositionEmbedding::new(4).with_name("pos");
    let e = p.output_shape(&[5, 2]).unwrap_err().to_string();
    assert!(e.contains("pos") && e.contains("sequence_length 4"), "{e}");
    p.build(&[4, 2], &mut rng_from_seed(0)).unwrap();
    let e = p
        .forward(
            &Var::constant(Tensor::zeros(IxDyn(&[1, 4, 3]))),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("pos"), "{e}");

    let mut tp = TokenAndPositionEmbedding::new(10, 4, 3).with_name("emb");
    assert!(tp.output_shape(&[5]).is_err());
    tp.build(&[4], &mut rng_from_seed(0)).unwrap();
    let e = tp
        .forward(
            &Var::constant(Tensor::from_elem(IxDyn(&[1, 4]), 12.0)),
            &mut ForwardContext::inference(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("emb"), "{e}");
    let mut c = tp.config();
    c["mask_zero"] = serde_json::json!(true);
    let cfg: neurite_nn::layers::TokenAndPositionEmbeddingConfig = serde_json::from_value(c).unwrap();
    assert!(cfg.validate().is_ok() && cfg.mask_zero, "mask_zero is supported");
}

#[test]
fn renaming_moves_the_sub_layers() {
    let mut enc = TransformerEncoder::new(8, 2);
    enc.build(&[3, 4], &mut rng_from_seed(0)).unwrap();
    enc.set_name("block_2".into());
    assert!(enc.parameters().iter().all(|p| p.name.starts_with("block_2.")));
    enc.set_trainable(false);
    assert!(enc.parameters().iter().all(|p| !p.trainable));
    let mut tp = TokenAndPositionEmbedding::new(10, 4, 3);
    tp.set_name("e2".into());
    tp.build(&[4], &mut rng_from_seed(0)).unwrap();
    let names: Vec<String> = tp.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "e2/token_embedding.embeddings",
            "e2/position_embedding.embeddings"
        ]
    );
}
