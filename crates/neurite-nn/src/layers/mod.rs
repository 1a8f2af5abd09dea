//! The built-in layers (Keras' class names), each a struct with a
//! builder-style configuration and an implementation of [`crate::Layer`].
//!
//! Every layer's configuration is a serde struct (`DenseConfig`, ...) whose
//! JSON form is what [`crate::Layer::config`] returns and what
//! [`crate::layer_from_config`] reads back.
//!
//! ```
//! use neurite_nn::layers::{Dense, Flatten};
//! use neurite_nn::{Activation, ForwardContext, Layer};
//! use neurite_tensor::random::rng_from_seed;
//! let mut d = Dense::new(4).activation(Activation::Relu).input_dim(3);
//! d.build(&[3], &mut rng_from_seed(0))?;
//! let x = neurite_autograd::Var::from_array(ndarray::Array2::<f32>::ones((2, 3)));
//! let y = d.forward(&x, &mut ForwardContext::inference())?;
//! assert_eq!(y.shape(), vec![2, 4]);
//! assert_eq!(Flatten::new().output_shape(&[2, 3, 4])?, vec![24]);
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

mod activation_layer;
mod builders;
mod conv2d;
mod dense;
mod dropout;
mod flatten;
mod pooling;
mod reshape;

pub use activation_layer::{ActivationLayer, ActivationLayerConfig};
pub use conv2d::{Conv2D, Conv2DConfig};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use flatten::{Flatten, FlattenConfig};
pub use pooling::{
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, GlobalPooling2DConfig, MaxPooling2D,
    Pooling2DConfig,
};
pub use reshape::{Reshape, ReshapeConfig};

// Part B layers (BatchNormalization, LayerNormalization, Embedding,
// SimpleRNN, LSTM, GRU): add their `mod` and `pub use` lines below.
mod batch_norm;
mod embedding;
mod layer_norm;
mod layer_norm_rows;
mod masking;
mod norm_common;
pub(crate) mod recurrent;

pub use batch_norm::{BatchNormalization, BatchNormalizationConfig};
pub use embedding::{Embedding, EmbeddingConfig};
pub use layer_norm::{LayerNormalization, LayerNormalizationConfig};
pub use masking::{Masking, MaskingConfig};
pub use recurrent::{
    fused_gru, fused_lstm, fused_simple_rnn, RecurrentConfig, RecurrentOptions, SimpleRNN, GRU, LSTM,
};

// Issue #16 part 1: merge layers and simple CNN layers.
mod cropping;
mod merge;
mod relu_layers;
mod spatial_margins;
mod up_sampling;
mod weighted;
mod zero_padding;

pub use cropping::{Cropping2D, Cropping2DConfig};
pub use merge::{
    Add, Average, Concatenate, ConcatenateConfig, Dot, DotAxes, DotConfig, Maximum, MergeConfig, Minimum,
    Multiply, Subtract,
};
pub use relu_layers::{LeakyReLU, LeakyReLUConfig, PReLU, PReLUConfig, ReLU, ReLUConfig};
pub use spatial_margins::SpatialMargins;
pub use up_sampling::{UpSampling2D, UpSampling2DConfig, UpSamplingSize};
pub use zero_padding::{ZeroPadding2D, ZeroPadding2DConfig};

// Issue #16 part 2: transposed, depthwise and separable convolutions.
mod conv_family;
mod conv_transpose;
mod depthwise_conv;
mod separable_conv;

pub use conv_transpose::{Conv2DTranspose, Conv2DTransposeConfig};
pub use depthwise_conv::{DepthwiseConv2D, DepthwiseConv2DConfig};
pub use separable_conv::{SeparableConv2D, SeparableConv2DConfig};

// Issue #17: 1-d convolution and pooling, TimeDistributed, Bidirectional.
mod bidirectional;
mod conv1d;
mod pooling1d;
mod seq_serde;
mod time_distributed;
mod wrapped;

pub use bidirectional::{Bidirectional, MergeMode};
pub use conv1d::{Conv1D, Conv1DConfig};
pub use pooling1d::{
    AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, GlobalPooling1DConfig, MaxPooling1D,
    Pooling1DConfig,
};
pub use time_distributed::TimeDistributed;

// Issue #17: attention, positional embeddings, transformer blocks.
mod attention;
mod position_embedding;
mod token_and_position_embedding;
mod transformer;

pub use attention::{AttentionCall, AttentionMasks, MultiHeadAttention, MultiHeadAttentionConfig};
pub use position_embedding::{PositionEmbedding, PositionEmbeddingConfig};
pub use token_and_position_embedding::{TokenAndPositionEmbedding, TokenAndPositionEmbeddingConfig};
pub use transformer::{TransformerBlockConfig, TransformerDecoder, TransformerEncoder};

use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::regularizers::Regularizer;
use neurite_autograd::Var;

/// A shape error of `layer` (`expected` in words, `found` the actual shape).
pub(crate) fn shape_error(layer: &str, expected: impl Into<String>, found: &[usize]) -> NnError {
    NnError::Shape {
        layer: layer.to_string(),
        expected: expected.into(),
        found: found.to_vec(),
    }
}

/// A configuration error of `layer`.
pub(crate) fn config_error(layer: &str, message: impl Into<String>) -> NnError {
    NnError::Config {
        layer: layer.to_string(),
        message: message.into(),
    }
}

/// Adds `reg(x)` to the context's losses in training passes.
pub(crate) fn regularize(ctx: &mut ForwardContext, reg: Option<Regularizer>, x: &Var) -> Result<()> {
    if let (true, Some(r)) = (ctx.is_training(), reg) {
        ctx.add_loss(r.penalty(x)?);
    }
    Ok(())
}

pub(crate) fn default_true() -> bool {
    true
}

/// The methods of [`crate::Layer`] every built-in layer implements the same
/// way from its `cfg` (which has `name`, `trainable` and `input_shape` fields).
macro_rules! common_layer_methods {
    ($class:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }

        fn name(&self) -> &str {
            &self.cfg.name
        }

        fn set_name(&mut self, name: String) {
            self.cfg.name = name;
        }

        fn trainable(&self) -> bool {
            self.cfg.trainable
        }

        fn set_trainable(&mut self, trainable: bool) {
            self.cfg.trainable = trainable;
        }

        fn config(&self) -> serde_json::Value {
            serde_json::to_value(&self.cfg).expect("layer configs serialize to JSON")
        }

        fn declared_input_shape(&self) -> Option<Vec<usize>> {
            self.cfg.input_shape.clone()
        }

        fn parameter_shapes(&self, input_shape: &[usize]) -> Result<Option<$crate::layer::ParameterShapes>> {
            self.param_specs(input_shape).map(Some)
        }
    };
}
pub(crate) use common_layer_methods;

/// Serde of [`neurite_tensor::Padding`] as Keras' strings `"valid"` / `"same"`.
pub(crate) mod padding_serde {
    use neurite_tensor::Padding;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &Padding, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match p {
            Padding::Valid => "valid",
            Padding::Same => "same",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Padding, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_lowercase().as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            other => Err(serde::de::Error::custom(format!(
                "unknown padding {other:?}; expected \"valid\" or \"same\""
            ))),
        }
    }
}
