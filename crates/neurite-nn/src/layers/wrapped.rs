//! What the wrapper layers (`TimeDistributed`, `Bidirectional`) share: the
//! nested layer's config in Keras' form `{"class_name": ..., "config": ...}`
//! and the renaming of the wrapped layers' variables under the wrapper's
//! name (`<wrapper>/<inner layer>.<variable>`).

use super::config_error;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use serde_json::{json, Value};

/// `layer` as Keras nests it in a wrapper's config.
pub(crate) fn nested_config(layer: &dyn Layer) -> Value {
    json!({"class_name": layer.class_name(), "config": layer.config()})
}

/// The layer described by `nested` (`{"class_name", "config"}`), rebuilt
/// through [`crate::layer_from_config`]; errors name `wrapper` and `field`.
pub(crate) fn layer_from_nested(wrapper: &str, field: &str, nested: &Value) -> Result<Box<dyn Layer>> {
    let class = nested.get("class_name").and_then(Value::as_str);
    let config = nested.get("config");
    match (class, config) {
        (Some(class), Some(config)) => crate::layer_from_config(class, config)
            .map_err(|e| config_error(wrapper, format!("field \"{field}\": {e}"))),
        _ => Err(config_error(
            wrapper,
            format!(
                "field \"{field}\": expected an object with \"class_name\" and \"config\", found {nested}"
            ),
        )),
    }
}

/// `params` renamed `<wrapper>/<name>`.
pub(crate) fn prefixed(wrapper: &str, params: Vec<Parameter>) -> Vec<Parameter> {
    params
        .into_iter()
        .map(|p| Parameter {
            name: format!("{wrapper}/{}", p.name),
            ..p
        })
        .collect()
}

/// `shapes` renamed `<wrapper>/<name>`.
pub(crate) fn prefixed_shapes(wrapper: &str, shapes: ParameterShapes) -> ParameterShapes {
    shapes
        .into_iter()
        .map(|(n, s)| (format!("{wrapper}/{n}"), s))
        .collect()
}

/// An error of a wrapped layer restated under the wrapper's name
/// (`<wrapper>/<inner>`), so that it names the layer the user added.
pub(crate) fn in_wrapper(wrapper: &str, e: crate::NnError) -> crate::NnError {
    use crate::NnError;
    match e {
        NnError::Shape {
            layer,
            expected,
            found,
        } => NnError::Shape {
            layer: format!("{wrapper}/{layer}"),
            expected,
            found,
        },
        NnError::Config { layer, message } => NnError::Config {
            layer: format!("{wrapper}/{layer}"),
            message,
        },
        NnError::NotBuilt(layer) => NnError::NotBuilt(format!("{wrapper}/{layer}")),
        other => other,
    }
}
