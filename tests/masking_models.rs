//! Masked sequence models against Keras 3 (`tests/fixtures/keras_masking.py`
//! wrote `keras_masking.json` with keras 3.15.1, TensorFlow backend): the same
//! weights give the same outputs, output masks, masked losses and metrics, and
//! one SGD step moves the weights the same way (so the masked gradients agree).

use neurite::prelude::*;
use neurite_nn::mask::Mask;
use serde_json::Value;

mod common;
use common::{assert_close_relative as assert_close, fixture_tensor as tensor, set_keras_weights};

const FIXTURE: &str = include_str!("fixtures/keras_masking.json");

fn output_and_mask<N: Layer>(model: &Model<N>, x: &Tensor) -> (Tensor, Option<Mask>) {
    let (y, m) = no_grad(|| {
        model
            .network()
            .forward_masked(&Var::constant(x.clone()), None, &mut ForwardContext::inference())
    })
    .unwrap();
    (y.to_tensor(), m)
}

/// Compares outputs, output mask, evaluate's loss (and metric) and one
/// SGD(0.1) step with the Keras case.
fn check_case<N: Layer>(mut model: Model<N>, c: &Value, metric: Option<&str>, loss: Loss) {
    let name = c["name"].as_str().unwrap();
    let (x, y) = (tensor(&c["x"]), tensor(&c["y"]));
    if !model.is_built() {
        model.build(&x.shape()[1..]).unwrap();
    }
    set_keras_weights(&mut model, &c["weights"]);
    let (out, mask) = output_and_mask(&model, &x);
    assert_close(&format!("{name} output"), &out, &tensor(&c["output"]), 1e-5);
    assert_close(
        &format!("{name} predict"),
        &model.predict(&x).unwrap(),
        &tensor(&c["output"]),
        1e-5,
    );
    match (&c["output_mask"], mask) {
        (Value::Null, m) => assert!(m.is_none(), "{name}: Keras' output has no mask"),
        (want, Some(m)) => assert_eq!(m, tensor(want), "{name}: output mask"),
        (_, None) => panic!("{name}: Keras' output has a mask"),
    }
    let metrics: Vec<Metric> = metric.map(|_| Metric::Accuracy).into_iter().collect();
    model.compile(Sgd::new(0.1), loss, &metrics).unwrap();
    let logs = model.evaluate(&x, &y).unwrap();
    let want_loss = c["loss"].as_f64().unwrap();
    assert!(
        (logs["loss"] - want_loss).abs() < 1e-5,
        "{name}: loss {} vs Keras {want_loss}",
        logs["loss"]
    );
    if let Some(key) = metric {
        let want = c["metric"].as_f64().unwrap();
        assert!(
            (logs[key] - want).abs() < 1e-6,
            "{name}: {key} {} vs Keras {want}",
            logs[key]
        );
    }
    let (train_loss, _) = model.train_on_batch(&x, &y).unwrap();
    let want = c["train_loss"].as_f64().unwrap() as f32;
    assert!(
        (train_loss - want).abs() < 1e-5,
        "{name}: train loss {train_loss} vs {want}"
    );
    for (p, w) in model
        .parameters()
        .iter()
        .zip(c["weights_after_step"].as_array().unwrap())
    {
        assert_close(
            &format!("{name} {} after one SGD step", p.name),
            &p.var.to_tensor(),
            &tensor(w),
            1e-5,
        );
    }
}

fn sparse_ce() -> Loss {
    Loss::SparseCategoricalCrossentropy { from_logits: true }
}

#[test]
fn embedding_bidirectional_lstm_sequences_match_keras() {
    let model = Sequential::new()
        .add(Embedding::new(10, 4).mask_zero(true).input_shape([6]))
        .add(Bidirectional::new(LSTM::new(3).return_sequences(true)).unwrap())
        .add(Dense::new(2));
    check_case(model, &case("bilstm_seq"), Some("accuracy"), sparse_ce());
}

#[test]
fn embedding_bidirectional_gru_last_output_matches_keras() {
    let model = Sequential::new()
        .add(Embedding::new(10, 4).mask_zero(true).input_shape([6]))
        .add(Bidirectional::new(GRU::new(3)).unwrap())
        .add(Dense::new(2));
    check_case(model, &case("bigru_last"), None, sparse_ce());
}

#[test]
fn attention_and_average_pooling_match_keras() {
    let ids = Input::new([6]);
    let h = Embedding::new(10, 4).mask_zero(true).call(&ids).unwrap();
    let a = MultiHeadAttention::new(2, 3).call_many(&[&h, &h]).unwrap();
    let p = GlobalAveragePooling1D::new().call(&a).unwrap();
    let y = Dense::new(2).call(&p).unwrap();
    let mut model = Model::functional(&ids, &y).unwrap();
    model.build(&[6]).unwrap();
    check_case(model, &case("mha_pool"), None, sparse_ce());
}

#[test]
fn masking_layer_lstm_and_masked_mse_match_keras() {
    let model = Sequential::new()
        .add(Masking::new(0.0).input_shape([5, 2]))
        .add(LSTM::new(3).return_sequences(true))
        .add(Dense::new(1));
    check_case(model, &case("masking_lstm"), None, Loss::MeanSquaredError);
}

/// The same masked model written with the functional API gives the
/// Sequential's outputs and masks bit for bit.
#[test]
fn functional_and_sequential_carry_the_same_masks() {
    let c = case("bilstm_seq");
    let mut seq = Sequential::new()
        .add(Embedding::new(10, 4).mask_zero(true).input_shape([6]))
        .add(Bidirectional::new(LSTM::new(3).return_sequences(true)).unwrap())
        .add(Dense::new(2));
    seq.build(&[6]).unwrap();
    set_keras_weights(&mut seq, &c["weights"]);
    let ids = Input::new([6]);
    let h = Embedding::new(10, 4).mask_zero(true).call(&ids).unwrap();
    let h = Bidirectional::new(LSTM::new(3).return_sequences(true))
        .unwrap()
        .call(&h)
        .unwrap();
    let y = Dense::new(2).call(&h).unwrap();
    let mut fun = Model::functional(&ids, &y).unwrap();
    fun.build(&[6]).unwrap();
    set_keras_weights(&mut fun, &c["weights"]);
    let x = tensor(&c["x"]);
    let (a, ma) = output_and_mask(&seq, &x);
    let (b, mb) = output_and_mask(&fun, &x);
    assert_eq!(a, b);
    assert_eq!(ma, mb);
    assert!(ma.is_some());
}

/// Masked steps change neither the loss nor the gradients: a model fitted on
/// post-padded sequences with a mask evaluates the same whatever the padded
/// features hold (Masking needs the padding value, so only ids are padded here).
#[test]
fn padded_steps_do_not_change_the_loss() {
    let make = || {
        let mut m = Sequential::new()
            .add(Embedding::new(10, 3).mask_zero(true).input_shape([5]))
            .add(LSTM::new(4).return_sequences(true))
            .add(Dense::new(2))
            .seed(3);
        m.build(&[5]).unwrap();
        m.compile(Adam::new(1e-2), sparse_ce(), &[Metric::Accuracy])
            .unwrap();
        m
    };
    let x = ndarray::arr2(&[[1.0f32, 2.0, 3.0, 0.0, 0.0], [4.0, 5.0, 0.0, 0.0, 0.0]]).into_dyn();
    let y1 = ndarray::arr2(&[[0.0f32, 1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0]]).into_dyn();
    // Different labels at the padded steps only.
    let y2 = ndarray::arr2(&[[0.0f32, 1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0, 1.0]]).into_dyn();
    let (mut a, mut b) = (make(), make());
    for _ in 0..3 {
        a.train_on_batch(&x, &y1).unwrap();
        b.train_on_batch(&x, &y2).unwrap();
    }
    assert_eq!(a.get_weights_by_name(), b.get_weights_by_name());
    let (la, lb) = (a.evaluate(&x, &y1).unwrap(), b.evaluate(&x, &y2).unwrap());
    assert_eq!(la["loss"], lb["loss"]);
    assert_eq!(la["accuracy"], lb["accuracy"]);
}

/// The fixture's case `name`.
fn case(name: &str) -> Value {
    common::fixture_case(FIXTURE, name)
}
