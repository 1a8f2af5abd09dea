//! Reaching a layer inside a layer made of layers (a `Sequential`, a
//! functional graph, a block) by its path of names (`block_1/conv2d_1`):
//! freezing it, and listing the frozen ones so that saving keeps them.

use neurite_nn::{Layer, NnError};

/// The first name of `path` and the rest (`None` at the last name).
pub(crate) fn split_path(path: &str) -> (&str, Option<&str>) {
    match path.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    }
}

/// Freezes or unfreezes `layer` itself (`rest` is `None`) or, through it,
/// the layer at `rest` inside it.
pub(crate) fn set_within(
    layer: &mut dyn Layer,
    rest: Option<&str>,
    trainable: bool,
) -> neurite_nn::Result<()> {
    match rest {
        None => {
            layer.set_trainable(trainable);
            Ok(())
        }
        Some(rest) => layer.set_sublayer_trainable(rest, trainable),
    }
}

/// `owner` has no layer called `name` (the first name of `path`); the error
/// lists the names it has.
pub(crate) fn no_such_layer(owner: &str, path: &str, name: &str, names: &[String]) -> NnError {
    let message = if path.is_empty() || name.is_empty() {
        format!("`{path}` is not a path of layer names separated by `/`")
    } else {
        format!(
            "has no layer `{name}` (in the path `{path}`); its layers are {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )
    };
    NnError::Config {
        layer: owner.to_string(),
        message,
    }
}

/// The paths of the frozen layers among `layers`, at any depth: a frozen
/// layer's own name, and the frozen layers inside each layer under its name.
pub(crate) fn frozen_paths<'a>(layers: impl Iterator<Item = &'a dyn Layer>) -> Vec<String> {
    let mut paths = Vec::new();
    for layer in layers {
        if !layer.trainable() {
            paths.push(layer.name().to_string());
        }
        for inner in layer.frozen_sublayers() {
            paths.push(format!("{}/{inner}", layer.name()));
        }
    }
    paths
}
