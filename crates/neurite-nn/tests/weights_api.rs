//! Keras' weights API on every layer class: `get_weights` lists the arrays
//! in Keras 3's `layer.weights` order (fixture `keras_weight_order.json`,
//! written by `benches/reference/keras_weight_order.py`), `set_weights`
//! takes them back, refuses a wrong count or shape (naming the layer, the
//! weight and both counts or shapes) and changes nothing then.

use neurite_nn::layers::*;
use neurite_nn::registry::KNOWN_CLASSES;
use neurite_nn::{Activation, Layer};
use neurite_tensor::random::rng_from_seed;
use neurite_tensor::Tensor;
use proptest::prelude::*;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/keras_weight_order.json");

/// The neurite layer of fixture case `id`, configured as the Keras one.
fn make(id: &str) -> Box<dyn Layer> {
    let mut layer: Box<dyn Layer> = match id {
        "dense" => Box::new(Dense::new(4)),
        "dense_no_bias" => Box::new(Dense::new(4).use_bias(false)),
        "conv2d" => Box::new(Conv2D::new(4, (3, 3))),
        "max_pooling2d" => Box::new(MaxPooling2D::new((2, 2))),
        "average_pooling2d" => Box::new(AveragePooling2D::new((2, 2))),
        "global_average_pooling2d" => Box::new(GlobalAveragePooling2D::new()),
        "global_max_pooling2d" => Box::new(GlobalMaxPooling2D::new()),
        "flatten" => Box::new(Flatten::new()),
        "reshape" => Box::new(Reshape::new([6])),
        "dropout" => Box::new(Dropout::new(0.5)),
        "activation" => Box::new(ActivationLayer::new(Activation::Relu)),
        "batch_normalization" => Box::new(BatchNormalization::new()),
        "layer_normalization" => Box::new(LayerNormalization::new()),
        "embedding" => Box::new(Embedding::new(10, 4)),
        "simple_rnn" => Box::new(SimpleRNN::new(4)),
        "lstm" => Box::new(LSTM::new(4)),
        "gru" => Box::new(GRU::new(4)),
        "gru_reset_before" => Box::new(GRU::new(4).reset_after(false)),
        "add" => Box::new(Add::new()),
        "subtract" => Box::new(Subtract::new()),
        "multiply" => Box::new(Multiply::new()),
        "average" => Box::new(Average::new()),
        "maximum" => Box::new(Maximum::new()),
        "minimum" => Box::new(Minimum::new()),
        "concatenate" => Box::new(Concatenate::new()),
        "dot" => Box::new(Dot::new(DotAxes::One(1))),
        "zero_padding2d" => Box::new(ZeroPadding2D::new(1)),
        "cropping2d" => Box::new(Cropping2D::new(1)),
        "up_sampling2d" => Box::new(UpSampling2D::new(2)),
        "re_lu" => Box::new(ReLU::new()),
        "leaky_re_lu" => Box::new(LeakyReLU::new()),
        "p_re_lu" => Box::new(PReLU::new()),
        "conv2d_transpose" => Box::new(Conv2DTranspose::new(4, (3, 3))),
        "depthwise_conv2d" => Box::new(DepthwiseConv2D::new((3, 3)).depth_multiplier(2)),
        "separable_conv2d" => Box::new(SeparableConv2D::new(4, (3, 3))),
        "conv1d" => Box::new(Conv1D::new(4, 3)),
        "max_pooling1d" => Box::new(MaxPooling1D::new(2)),
        "average_pooling1d" => Box::new(AveragePooling1D::new(2)),
        "global_max_pooling1d" => Box::new(GlobalMaxPooling1D::new()),
        "global_average_pooling1d" => Box::new(GlobalAveragePooling1D::new()),
        "time_distributed" => Box::new(TimeDistributed::new(Dense::new(4))),
        "bidirectional_lstm" => Box::new(Bidirectional::new(LSTM::new(4)).unwrap()),
        "bidirectional_gru" => Box::new(Bidirectional::new(GRU::new(3)).unwrap()),
        "multi_head_attention" => Box::new(MultiHeadAttention::new(2, 3)),
        "position_embedding" => Box::new(PositionEmbedding::new(6)),
        "token_and_position_embedding" => Box::new(TokenAndPositionEmbedding::new(10, 6, 4)),
        "transformer_encoder" => Box::new(TransformerEncoder::new(8, 2)),
        "transformer_decoder" | "transformer_decoder_cross" => Box::new(TransformerDecoder::new(8, 2)),
        "masking" => Box::new(Masking::new(0.0)),
        other => panic!("no neurite layer for fixture case {other}"),
    };
    layer.set_name(id.to_string());
    layer
}

fn cases() -> Vec<Value> {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    fixture["cases"].as_array().unwrap().clone()
}

fn shapes(v: &Value) -> Vec<Vec<usize>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s.as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect()
        })
        .collect()
}

/// The built neurite layer of a fixture case.
fn built(case: &Value) -> Box<dyn Layer> {
    let id = case["id"].as_str().unwrap();
    let mut layer = make(id);
    let inputs = shapes(&case["input_shapes"]);
    layer.build_multi(&inputs, &mut rng_from_seed(0)).unwrap();
    layer
}

/// The variable's own name: `kernel` for `lstm.kernel`, `bi/forward_lstm.bias`
/// or Keras' `lstm/lstm_cell/kernel`.
fn leaf(path: &str) -> &str {
    path.rsplit(['.', '/']).next().unwrap()
}

/// Keras' name for neurite's variable `leaf`: Keras 3 calls DepthwiseConv2D's
/// kernel `kernel` where neurite (and Keras 2) say `depthwise_kernel`.
fn keras_leaf(case: &Value, leaf: &str) -> String {
    match (case["class_name"].as_str(), leaf) {
        (Some("DepthwiseConv2D"), "depthwise_kernel") => "kernel".to_string(),
        _ => leaf.to_string(),
    }
}

#[test]
fn every_layer_class_is_in_the_fixture() {
    let classes: Vec<String> = cases()
        .iter()
        .map(|c| c["class_name"].as_str().unwrap().to_string())
        .collect();
    for class in KNOWN_CLASSES {
        assert!(
            classes.iter().any(|c| c == class),
            "no Keras weight order recorded for {class}"
        );
    }
}

#[test]
fn get_weights_lists_kerases_weights_in_kerases_order() {
    for case in cases() {
        let id = case["id"].as_str().unwrap();
        let layer = built(&case);
        assert_eq!(layer.class_name(), case["class_name"].as_str().unwrap(), "{id}");
        let keras: Vec<(String, Vec<usize>, bool)> = case["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let shape = w["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize);
                (
                    leaf(w["path"].as_str().unwrap()).to_string(),
                    shape.collect(),
                    w["trainable"].as_bool().unwrap(),
                )
            })
            .collect();
        let ours: Vec<(String, Vec<usize>, bool)> = layer
            .parameters()
            .iter()
            .zip(layer.get_weights())
            .map(|(p, w)| (keras_leaf(&case, leaf(&p.name)), w.shape().to_vec(), p.trainable))
            .collect();
        assert_eq!(
            ours, keras,
            "{id}: neurite's get_weights (left) against Keras' layer.weights (right)"
        );
    }
}

#[test]
fn a_wrong_count_is_an_error_naming_both_counts_and_nothing_changes() {
    let mut layer = built(&cases().into_iter().find(|c| c["id"] == "lstm").unwrap());
    let before = layer.get_weights();
    let mut w = before.clone();
    w[0].fill(7.0);
    let e = layer.set_weights(&w[..2]).unwrap_err().to_string();
    assert!(
        e.contains("lstm") && e.contains("given 2 arrays") && e.contains("has 3 weights"),
        "{e}"
    );
    w.push(w[2].clone());
    let e = layer.set_weights(&w).unwrap_err().to_string();
    assert!(e.contains("given 4 arrays") && e.contains("has 3 weights"), "{e}");
    assert_eq!(layer.get_weights(), before);
    let e = make("dense").set_weights(&before).unwrap_err().to_string();
    assert!(e.contains("dense") && e.contains("before it is built"), "{e}");
}

#[test]
fn a_wrong_shape_is_an_error_naming_the_weight_and_both_shapes_and_nothing_changes() {
    let mut layer = built(
        &cases()
            .into_iter()
            .find(|c| c["id"] == "batch_normalization")
            .unwrap(),
    );
    let before = layer.get_weights();
    let mut w = before.clone();
    w[0].fill(2.0); // a valid gamma, given before the bad moving variance
    w[3] = Tensor::zeros(ndarray::IxDyn(&[4]));
    let e = layer.set_weights(&w).unwrap_err().to_string();
    assert!(
        e.contains("batch_normalization.moving_variance") && e.contains("[3]") && e.contains("[4]"),
        "{e}"
    );
    assert_eq!(
        layer.get_weights(),
        before,
        "a refused set_weights changed the layer"
    );
}

/// Random arrays of the shapes of `layer`'s weights.
fn random_like(layer: &dyn Layer, seed: u64) -> Vec<Tensor> {
    let mut rng = rng_from_seed(seed);
    layer
        .get_weights()
        .iter()
        .map(|w| neurite_tensor::random::uniform(w.shape(), -2.0, 2.0, &mut rng))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// `set_weights(get_weights())` changes nothing, and what `set_weights`
    /// sets is what `get_weights` returns, for every class (the case picks one).
    #[test]
    fn set_then_get_returns_what_was_set(index in 0usize..64, seed in any::<u64>()) {
        let all = cases();
        let case = &all[index % all.len()];
        let mut layer = built(case);
        let before = layer.get_weights();
        layer.set_weights(&before).unwrap();
        prop_assert_eq!(&layer.get_weights(), &before);
        let values = random_like(layer.as_ref(), seed);
        layer.set_weights(&values).unwrap();
        prop_assert_eq!(&layer.get_weights(), &values);
        // By name, in reverse order, round trips too.
        let mut named = layer.get_weights_by_name();
        named.reverse();
        layer.set_weights(&before).unwrap();
        layer.set_weights_by_name(&named).unwrap();
        prop_assert_eq!(layer.get_weights(), values);
    }
}
