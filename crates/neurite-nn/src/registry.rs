//! Rebuilding layers from their saved configuration: Keras class name plus
//! the JSON that [`Layer::config`] returned.
//!
//! ```
//! use neurite_nn::layers::Dense;
//! use neurite_nn::{layer_from_config, Activation, Layer};
//! let d = Dense::new(3).activation(Activation::Relu);
//! let again = layer_from_config(d.class_name(), &d.config())?;
//! assert_eq!(again.config(), d.config());
//! assert!(layer_from_config("Dense2", &d.config()).is_err());
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::layers::{
    ActivationLayer, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, GlobalAveragePooling2D,
    GlobalMaxPooling2D, MaxPooling2D, Reshape,
};
use crate::layers::{BatchNormalization, Embedding, LayerNormalization, SimpleRNN, GRU, LSTM};
use serde::de::DeserializeOwned;

/// Class names [`layer_from_config`] knows.
///
/// ```
/// assert!(neurite_nn::registry::KNOWN_CLASSES.contains(&"Conv2D"));
/// ```
pub const KNOWN_CLASSES: &[&str] = &[
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Flatten",
    "Reshape",
    "Dropout",
    "Activation",
    "BatchNormalization",
    "LayerNormalization",
    "Embedding",
    "SimpleRNN",
    "LSTM",
    "GRU",
];

fn parse<T: DeserializeOwned>(class_name: &str, config: &serde_json::Value) -> Result<T> {
    serde_json::from_value(config.clone()).map_err(|e| NnError::Config {
        layer: config
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or(class_name)
            .to_string(),
        message: format!("invalid {class_name} config: {e}"),
    })
}

/// The layer of Keras class `class_name` (e.g. `"Dense"`, `"Conv2D"`,
/// `"Activation"`) configured by `config` (the JSON of [`Layer::config`]),
/// unbuilt. Errors name an unknown class (listing the known ones) or the
/// field of the config that does not parse.
///
/// ```
/// let l = neurite_nn::layer_from_config("Dropout", &serde_json::json!({"name": "drop", "rate": 0.5}))?;
/// assert_eq!(l.name(), "drop");
/// let err = neurite_nn::layer_from_config("Transformer", &serde_json::json!({})).err().expect("unknown class");
/// assert!(err.to_string().contains("Transformer"));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn layer_from_config(class_name: &str, config: &serde_json::Value) -> Result<Box<dyn Layer>> {
    Ok(match class_name {
        "Dense" => Box::new(Dense::from_config(parse(class_name, config)?)),
        "Conv2D" => Box::new(Conv2D::from_config(parse(class_name, config)?)),
        "MaxPooling2D" => Box::new(MaxPooling2D::from_config(parse(class_name, config)?)),
        "AveragePooling2D" => Box::new(AveragePooling2D::from_config(parse(class_name, config)?)),
        "GlobalAveragePooling2D" => Box::new(GlobalAveragePooling2D::from_config(parse(class_name, config)?)),
        "GlobalMaxPooling2D" => Box::new(GlobalMaxPooling2D::from_config(parse(class_name, config)?)),
        "Flatten" => Box::new(Flatten::from_config(parse(class_name, config)?)),
        "Reshape" => Box::new(Reshape::from_config(parse(class_name, config)?)),
        "Dropout" => Box::new(Dropout::from_config(parse(class_name, config)?)),
        "Activation" => Box::new(ActivationLayer::from_config(parse(class_name, config)?)),
        "BatchNormalization" => Box::new(BatchNormalization::from_config(parse(class_name, config)?)),
        "LayerNormalization" => Box::new(LayerNormalization::from_config(parse(class_name, config)?)),
        "Embedding" => Box::new(Embedding::from_config(parse(class_name, config)?)),
        "SimpleRNN" => Box::new(SimpleRNN::from_config(parse(class_name, config)?)),
        "LSTM" => Box::new(LSTM::from_config(parse(class_name, config)?)),
        "GRU" => Box::new(GRU::from_config(parse(class_name, config)?)),
        other => {
            return Err(NnError::Config {
                layer: other.to_string(),
                message: format!(
                    "unknown layer class {other:?}; known classes: {}",
                    KNOWN_CLASSES.join(", ")
                ),
            })
        }
    })
}
