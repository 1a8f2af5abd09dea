//! The text classifiers of issue 17 (`examples/text_classification.rs`), as the
//! `text-conv-train`, `bilstm-train` and `transformer-train` workloads: sequences of
//! [`SEQ_LEN`] token ids from a vocabulary of [`VOCABULARY`], an embedding of width
//! [`EMBEDDING`] and [`CLASSES`] classes.
//!
//! - `text-conv-train`: Embedding → Conv1D(64, 5, relu) → GlobalMaxPooling1D →
//!   Dense(64, relu) → Dropout(0.5) → Dense(6, softmax);
//! - `bilstm-train`: Embedding → Bidirectional(LSTM(64)) → Dense(6, softmax);
//! - `transformer-train`: TokenAndPositionEmbedding → TransformerEncoder(intermediate 128,
//!   2 heads, dropout 0.1) → GlobalAveragePooling1D → Dense(6, softmax).
//!
//! Adam (Keras' defaults) and sparse categorical cross-entropy. The embeddings have no
//! `mask_zero` (masking is not in these workloads; the synthetic ids are never 0).

use neurite::prelude::*;
use neurite::tensor::random::{rng_from_seed, uniform};

/// The workloads of this module.
pub const WORKLOADS: [&str; 3] = ["text-conv-train", "bilstm-train", "transformer-train"];

/// Token ids per sample, vocabulary size, embedding width and classes.
pub const SEQ_LEN: usize = 100;
pub const VOCABULARY: usize = 20_000;
pub const EMBEDDING: usize = 64;
pub const CLASSES: usize = 6;
/// Conv1D filters and kernel width, the dense layer after the pooling.
const FILTERS: usize = 64;
const KERNEL: usize = 5;
const HIDDEN: usize = 64;
/// Units of each direction of the bidirectional LSTM.
const LSTM_UNITS: usize = 64;
/// Heads and feed-forward width of the transformer block.
const HEADS: usize = 2;
const FEED_FORWARD: usize = 128;

/// Whether `workload` is one of this module's.
pub fn is_text(workload: &str) -> bool {
    WORKLOADS.contains(&workload)
}

/// The model of `workload`, seeded with 0 and compiled with Adam and sparse categorical
/// cross-entropy.
pub fn model(workload: &str) -> neurite::Result<Sequential> {
    let embedding = Embedding::new(VOCABULARY, EMBEDDING).input_shape([SEQ_LEN]);
    let model = Sequential::new().seed(0);
    let model = match workload {
        "text-conv-train" => model
            .add(embedding)
            .add(Conv1D::new(FILTERS, KERNEL).activation(Activation::Relu))
            .add(GlobalMaxPooling1D::new())
            .add(Dense::new(HIDDEN).activation(Activation::Relu))
            .add(Dropout::new(0.5)),
        "bilstm-train" => model
            .add(embedding)
            .add(Bidirectional::new(LSTM::new(LSTM_UNITS))?),
        "transformer-train" => model
            .add(TokenAndPositionEmbedding::new(VOCABULARY, SEQ_LEN, EMBEDDING).input_shape([SEQ_LEN]))
            .add(TransformerEncoder::new(FEED_FORWARD, HEADS).dropout(0.1))
            .add(GlobalAveragePooling1D::new()),
        other => {
            return Err(neurite::Error::Input(format!(
                "e2e text: {other:?} is not a text workload; expected one of {WORKLOADS:?}"
            )))
        }
    };
    let mut model = model.add(Dense::new(CLASSES).activation(Activation::Softmax));
    model.compile(Adam::default(), Loss::sparse_categorical_crossentropy(), &[])?;
    Ok(model)
}

/// `n` samples: token ids uniform in `1..VOCABULARY` (as `f32`, what `Embedding` reads)
/// and labels `i*7 % CLASSES`.
pub fn data(n: usize) -> (Tensor, Tensor) {
    let mut rng = rng_from_seed(42);
    let x = uniform(&[n, SEQ_LEN], 1.0, VOCABULARY as f32, &mut rng).mapv(f32::floor);
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| ((i[0] * 7) % CLASSES) as f32);
    (x, y)
}

/// Forward multiply-adds of one sample of `workload`: convolutions, dense layers, the
/// LSTM's gate products, the attention projections and its two `T x T` products (the
/// embedding lookups, pooling, normalization and element-wise work are not counted).
pub fn forward_macs(workload: &str) -> usize {
    match workload {
        "text-conv-train" => {
            let steps = SEQ_LEN - KERNEL + 1;
            steps * FILTERS * KERNEL * EMBEDDING + FILTERS * HIDDEN + HIDDEN * CLASSES
        }
        "bilstm-train" => 2 * SEQ_LEN * (EMBEDDING + LSTM_UNITS) * 4 * LSTM_UNITS + 2 * LSTM_UNITS * CLASSES,
        "transformer-train" => {
            let projections = 4 * EMBEDDING * EMBEDDING;
            let attention = 2 * SEQ_LEN * EMBEDDING;
            let feed_forward = 2 * EMBEDDING * FEED_FORWARD;
            SEQ_LEN * (projections + attention + feed_forward) + EMBEDDING * CLASSES
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_follow_the_layer_shapes() {
        assert_eq!(
            forward_macs("text-conv-train"),
            96 * 64 * 5 * 64 + 64 * 64 + 64 * 6
        );
        assert_eq!(forward_macs("bilstm-train"), 2 * 100 * 128 * 256 + 128 * 6);
        assert_eq!(
            forward_macs("transformer-train"),
            100 * (4 * 64 * 64 + 2 * 100 * 64 + 2 * 64 * 128) + 64 * 6
        );
        assert_eq!(forward_macs("cnn-train"), 0);
    }

    #[test]
    fn models_map_ids_to_class_probabilities() {
        let (x, y) = data(3);
        assert!(x
            .iter()
            .all(|&v| v >= 1.0 && v < VOCABULARY as f32 && v.fract() == 0.0));
        assert_eq!(y.as_slice().unwrap(), &[0.0, 1.0, 2.0]);
        for w in WORKLOADS {
            let p = model(w).unwrap().predict(&x).unwrap();
            assert_eq!(p.shape(), &[3, CLASSES], "{w}");
            for row in p.outer_iter() {
                assert!((row.sum() - 1.0).abs() < 1e-4, "{w}: {row}");
            }
        }
        assert!(model("cnn-train")
            .unwrap_err()
            .to_string()
            .contains("text-conv-train"));
    }
}
