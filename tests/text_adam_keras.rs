//! The masked text classifiers of `examples/text_classification.rs`, in miniature, trained for
//! three Adam steps against Keras 3 on the JAX backend (`tests/fixtures/keras_text_adam.py` wrote
//! `keras_text_adam.json` with keras 3.15.1, keras-hub 0.32.0): the same weights and batches give
//! the same loss at every step and the same weights after the three, embedding tables included,
//! with tokens repeated within a batch. Keras' TensorFlow backend differs there: its Adam squares
//! the embedding's gradient slice by slice, one slice per occurrence (see the fixture's
//! docstring, and `tests/char_lm_steps.rs` for the same finding on the character language model).

use neurite::prelude::*;
use serde_json::Value;

mod common;
use common::{assert_close_relative as assert_close, fixture_tensor as tensor};

const FIXTURE: &str = include_str!("fixtures/keras_text_adam.json");

/// Sets Keras' weights (in `model.weights` order, neurite's parameter order too), runs the three
/// Adam(0.01) steps and compares each loss and every weight after them.
fn check_case<N: Layer>(mut model: Model<N>, c: &Value) {
    let name = c["name"].as_str().unwrap();
    model.build(&[7]).unwrap();
    let names: Vec<String> = model.parameters().into_iter().map(|p| p.name).collect();
    let ws = c["weights"].as_array().unwrap();
    assert_eq!(names.len(), ws.len(), "{name}: {names:?}");
    let pairs: Vec<(String, Tensor)> = names.into_iter().zip(ws.iter().map(tensor)).collect();
    model.set_weights_by_name(&pairs).unwrap();
    model
        .compile(
            Adam::new(0.01),
            Loss::SparseCategoricalCrossentropy { from_logits: false },
            &[],
        )
        .unwrap();
    let batches = c["batches"].as_array().unwrap();
    let labels = c["labels"].as_array().unwrap();
    let losses = c["losses"].as_array().unwrap();
    for (step, ((x, y), want)) in batches.iter().zip(labels).zip(losses).enumerate() {
        let (loss, _) = model.train_on_batch(tensor(x), tensor(y)).unwrap();
        let want = want.as_f64().unwrap() as f32;
        assert!(
            (loss - want).abs() < 1e-5,
            "{name}: loss of step {} {loss} vs Keras {want}",
            step + 1
        );
    }
    for (p, w) in model
        .parameters()
        .iter()
        .zip(c["weights_after"].as_array().unwrap())
    {
        assert_close(
            &format!("{name} {} after three Adam steps", p.name),
            &p.var.to_tensor(),
            &tensor(w),
            1e-5,
        );
    }
}

#[test]
fn masked_bidirectional_lstm_classifier_trains_as_keras_jax() {
    let model = Sequential::new()
        .add(Embedding::new(12, 4).mask_zero(true).input_shape([7]))
        .add(Bidirectional::new(LSTM::new(3)).unwrap())
        .add(Dense::new(3).activation(Activation::Softmax));
    check_case(model, &case("bilstm"));
}

#[test]
fn masked_transformer_classifier_trains_as_keras_jax() {
    let model = Sequential::new()
        .add(
            TokenAndPositionEmbedding::new(12, 7, 4)
                .mask_zero(true)
                .input_shape([7]),
        )
        .add(TransformerEncoder::new(8, 2))
        .add(GlobalAveragePooling1D::new())
        .add(Dense::new(3).activation(Activation::Softmax));
    check_case(model, &case("transformer"));
}

/// The fixture's case `name`.
fn case(name: &str) -> Value {
    common::fixture_case(FIXTURE, name)
}
