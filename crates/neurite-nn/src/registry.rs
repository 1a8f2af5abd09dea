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
use crate::layers::{
    Add, Average, Concatenate, Cropping2D, Dot, LeakyReLU, Maximum, Minimum, Multiply, PReLU, ReLU, Subtract,
    UpSampling2D, ZeroPadding2D,
};
use crate::layers::{BatchNormalization, Embedding, LayerNormalization, SimpleRNN, GRU, LSTM};
use crate::layers::{Conv2DTranspose, DepthwiseConv2D, SeparableConv2D};
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
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Dot",
    "ZeroPadding2D",
    "Cropping2D",
    "UpSampling2D",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "Conv2DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D",
];

/// The config of class `class_name`: a serde error names the field path
/// (`field "units": invalid type: string "eight", expected usize`), then
/// `validate` refuses values that can never work.
fn parse<T: DeserializeOwned>(class_name: &str, config: &serde_json::Value) -> Result<T> {
    let cfg: T = serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        NnError::Config {
            layer: config
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(class_name)
                .to_string(),
            message: if path == "." {
                format!("invalid {class_name} config: {inner}")
            } else {
                format!("field \"{path}\": {inner}")
            },
        }
    })?;
    Ok(cfg)
}

/// The layer `$ty` from its parsed config, refused if `validate` finds a
/// value that can never work (after `from_config`, which normalizes some fields).
macro_rules! validated {
    ($ty:ident, $class:expr, $config:expr) => {{
        let layer = $ty::from_config(parse($class, $config)?);
        layer.config_struct().validate()?;
        Box::new(layer)
    }};
}

/// The layer of Keras class `class_name` (e.g. `"Dense"`, `"Conv2D"`,
/// `"Activation"`) configured by `config` (the JSON of [`Layer::config`]),
/// unbuilt. Errors name an unknown class (listing the known ones), the
/// field of the config that does not parse (its path, e.g. `field "units":
/// invalid type: string "eight", expected usize`), or the field whose value
/// can never work (each config's `validate`, e.g. [`crate::layers::DenseConfig::validate`]).
///
/// ```
/// let l = neurite_nn::layer_from_config("Dropout", &serde_json::json!({"name": "drop", "rate": 0.5}))?;
/// assert_eq!(l.name(), "drop");
/// let err = neurite_nn::layer_from_config("Transformer", &serde_json::json!({})).err().expect("unknown class");
/// assert!(err.to_string().contains("Transformer"));
/// let err = neurite_nn::layer_from_config("Dense", &serde_json::json!({"name": "dense_1", "units": "eight"}))
///     .err().expect("not a number");
/// assert!(err.to_string().contains("dense_1") && err.to_string().contains("field \"units\""));
/// let err = neurite_nn::layer_from_config("Dropout", &serde_json::json!({"name": "drop", "rate": 2.5}))
///     .err().expect("rate out of range");
/// assert!(err.to_string().contains("drop") && err.to_string().contains("rate"));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn layer_from_config(class_name: &str, config: &serde_json::Value) -> Result<Box<dyn Layer>> {
    Ok(match class_name {
        "Dense" => validated!(Dense, class_name, config),
        "Conv2D" => validated!(Conv2D, class_name, config),
        "MaxPooling2D" => validated!(MaxPooling2D, class_name, config),
        "AveragePooling2D" => validated!(AveragePooling2D, class_name, config),
        "GlobalAveragePooling2D" => validated!(GlobalAveragePooling2D, class_name, config),
        "GlobalMaxPooling2D" => validated!(GlobalMaxPooling2D, class_name, config),
        "Flatten" => validated!(Flatten, class_name, config),
        "Reshape" => validated!(Reshape, class_name, config),
        "Dropout" => validated!(Dropout, class_name, config),
        "Activation" => validated!(ActivationLayer, class_name, config),
        "BatchNormalization" => validated!(BatchNormalization, class_name, config),
        "LayerNormalization" => validated!(LayerNormalization, class_name, config),
        "Embedding" => validated!(Embedding, class_name, config),
        "SimpleRNN" => validated!(SimpleRNN, class_name, config),
        "LSTM" => validated!(LSTM, class_name, config),
        "GRU" => validated!(GRU, class_name, config),
        "Add" => validated!(Add, class_name, config),
        "Subtract" => validated!(Subtract, class_name, config),
        "Multiply" => validated!(Multiply, class_name, config),
        "Average" => validated!(Average, class_name, config),
        "Maximum" => validated!(Maximum, class_name, config),
        "Minimum" => validated!(Minimum, class_name, config),
        "Concatenate" => validated!(Concatenate, class_name, config),
        "Dot" => validated!(Dot, class_name, config),
        "ZeroPadding2D" => validated!(ZeroPadding2D, class_name, config),
        "Cropping2D" => validated!(Cropping2D, class_name, config),
        "UpSampling2D" => validated!(UpSampling2D, class_name, config),
        "ReLU" => validated!(ReLU, class_name, config),
        "LeakyReLU" => validated!(LeakyReLU, class_name, config),
        "PReLU" => validated!(PReLU, class_name, config),
        "Conv2DTranspose" => validated!(Conv2DTranspose, class_name, config),
        "DepthwiseConv2D" => validated!(DepthwiseConv2D, class_name, config),
        "SeparableConv2D" => validated!(SeparableConv2D, class_name, config),
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
