//! Checks a load makes before it allocates anything large: the saved input
//! shape, the layers' names, and the weights' names and shapes against what
//! the architecture would build.

use crate::error::{Error, Result};
use neurite_nn::Layer;
use neurite_tensor::Tensor;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Largest number of values one sample may have (2^31): far above any real
/// model's input, far below what would overflow an index.
pub(crate) const MAX_SAMPLE_VALUES: usize = 1 << 31;

/// Refuses two parameters with one name (two layers given the same name):
/// their weights could not be told apart in the file.
pub(crate) fn unique_parameter_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            let layer = name.rsplit_once('.').map_or(name, |(l, _)| l);
            return Err(Error::Model(format!(
                "save: two parameters are named {name}: layers must have unique names, and more than one \
                 layer is named {layer:?} (rename one with set_name or .name(...))"
            )));
        }
    }
    Ok(())
}

/// The first layer name used twice in a model config's `config.layers`, if any.
pub(crate) fn repeated_layer_name(config: &Value) -> Option<String> {
    let layers = config.pointer("/config/layers")?.as_array()?;
    let mut seen = HashSet::new();
    layers
        .iter()
        .filter_map(|l| l.pointer("/config/name").and_then(Value::as_str))
        .find(|name| !seen.insert(*name))
        .map(str::to_string)
}

/// The unsigned integer at `key`, if present; an error naming the field if it is not one.
pub(crate) fn optional_u64(config: &Value, key: &str, path: &Path) -> Result<Option<u64>> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            Error::format(
                path,
                format!("field \"{key}\": expected a non-negative integer, found {v}"),
            )
        }),
    }
}

/// The saved per-sample input shapes: `input_shapes` (a list of shapes,
/// written for a network built for several inputs), else `[input_shape]`.
pub(crate) fn saved_input_shapes(config: &Value, path: &Path) -> Result<Vec<Vec<usize>>> {
    match config.get("input_shapes") {
        None | Some(Value::Null) => Ok(vec![saved_input_shape(config, path)?]),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .enumerate()
            .map(|(i, s)| shape_field(s, path, &format!("input_shapes[{i}]")))
            .collect(),
        Some(v) => Err(Error::format(
            path,
            format!("field \"input_shapes\": expected a non-empty list of shapes, found {v}"),
        )),
    }
}

/// The saved per-sample input shape: a list of positive sizes whose product
/// is at most [`MAX_SAMPLE_VALUES`].
pub(crate) fn saved_input_shape(config: &Value, path: &Path) -> Result<Vec<usize>> {
    let raw = config.get("input_shape").unwrap_or(&Value::Null);
    if raw.is_null() {
        return Err(Error::format(
            path,
            "no input_shape recorded: the model was saved unbuilt",
        ));
    }
    shape_field(raw, path, "input_shape")
}

/// A list of positive sizes whose product is at most [`MAX_SAMPLE_VALUES`];
/// errors name `field`.
fn shape_field(raw: &Value, path: &Path, field: &str) -> Result<Vec<usize>> {
    let bad = |why: String| Error::format(path, format!("field \"{field}\": {why}, found {raw}"));
    let list = raw
        .as_array()
        .ok_or_else(|| bad("expected a list of sizes".into()))?;
    let mut shape = Vec::with_capacity(list.len());
    let mut values: usize = 1;
    for d in list {
        let d = d
            .as_u64()
            .and_then(|d| usize::try_from(d).ok())
            .filter(|&d| d > 0)
            .ok_or_else(|| bad("every size must be a positive integer".into()))?;
        values = values
            .checked_mul(d)
            .filter(|&v| v <= MAX_SAMPLE_VALUES)
            .ok_or_else(|| bad(format!("a sample may hold at most {MAX_SAMPLE_VALUES} values")))?;
        shape.push(d);
    }
    Ok(shape)
}

/// Checks, without building anything, that the weights in `tensors` are
/// exactly those `net` creates for samples of `input_shapes` (one per input): every parameter
/// present with its shape, nothing else.
pub(crate) fn weights_match_architecture(
    net: &dyn Layer,
    input_shapes: &[Vec<usize>],
    tensors: &HashMap<String, Tensor>,
    path: &Path,
    config_path: &Path,
) -> Result<()> {
    let single = match input_shapes {
        [one] if net.input_arity() == neurite_nn::layer::InputArity::One => Some(one.as_slice()),
        _ => None,
    };
    if let (Some(declared), Some(input_shape)) = (net.declared_input_shape(), single) {
        if declared != input_shape {
            return Err(Error::format(
                config_path,
                format!(
                    "the first layer declares input_shape {declared:?} but the model was saved for {input_shape:?}"
                ),
            ));
        }
    }
    let expected = match single {
        Some(shape) => net.parameter_shapes(shape),
        None => net.parameter_shapes_multi(input_shapes),
    };
    let expected =
        expected.map_err(|e| Error::format(config_path, format!("the architecture cannot be built: {e}")))?;
    let Some(expected) = expected else {
        // A layer that does not declare its shapes: checked after building.
        return Ok(());
    };
    for (name, shape) in &expected {
        let t = tensors.get(name).ok_or_else(|| {
            Error::format(
                path,
                format!("parameter {name} of the model is missing from the file"),
            )
        })?;
        if t.shape() != shape.as_slice() {
            return Err(Error::format(
                path,
                format!(
                    "parameter {name}: the architecture in config.json gives shape {shape:?}, the file has {:?}",
                    t.shape()
                ),
            ));
        }
    }
    if let Some(extra) = tensors.keys().find(|k| !expected.iter().any(|(n, _)| n == *k)) {
        return Err(Error::format(
            path,
            format!("tensor {extra} in the file matches no parameter of the model"),
        ));
    }
    Ok(())
}
