//! Keras 3 `config.json` → the config neurite's loaders read: a
//! `Sequential` (its `InputLayer` becomes the model's input shape) or a
//! `Functional` (Keras 3's `inbound_nodes` of `{"args", "kwargs"}` with
//! `__keras_tensor__` histories become neurite's `[layer, call, tensor]`
//! references), every layer config through [`super::layer_config`].

use super::layer_config::{check_builtin, keras_to_neurite};
use super::names::to_snake_case;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Keras' model config, translated: which network, neurite's config of it,
/// the input shapes (without the batch axis) and the layer classes in
/// Keras' `model.layers` order (for the weights file).
pub(crate) struct Translated {
    /// `"Sequential"` or `"Functional"`.
    pub(crate) class_name: String,
    /// The network config neurite's `Network::from_saved_config` reads.
    pub(crate) config: Value,
    /// Each input's shape without the batch axis.
    pub(crate) input_shapes: Vec<Vec<usize>>,
    /// The model's name.
    pub(crate) name: String,
}

/// A layer class neurite cannot rebuild, with the list of those it can.
fn unknown_class(class: &str, name: &str) -> String {
    let mut known: Vec<&str> = neurite_nn::registry::KNOWN_CLASSES.to_vec();
    known.extend(["InputLayer", "Sequential", "Functional"]);
    format!(
        "layer {name:?}: Keras class {class} is not one neurite has; it has {}",
        known.join(", ")
    )
}

/// Checks a layer entry (built-in Keras class that neurite has) and
/// translates its config. Returns `(class, name, neurite config)`.
fn layer(entry: &Value, index: usize) -> Result<(String, String, Value), String> {
    let class = entry
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("layer {index}: class_name is missing"))?;
    let config = entry.get("config").unwrap_or(&Value::Null);
    let name = entry
        .get("name")
        .or_else(|| config.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    check_builtin(entry).map_err(|e| format!("layer {name:?}: {e}"))?;
    if class != "InputLayer" && !neurite_nn::registry::KNOWN_CLASSES.contains(&class) {
        return Err(unknown_class(class, &name));
    }
    let translated = if class == "InputLayer" {
        config.clone()
    } else {
        keras_to_neurite(class, config).map_err(|e| format!("layer {name:?} ({class}): {e}"))?
    };
    Ok((class.to_string(), name, translated))
}

/// `[null, d1, d2...]` as `[d1, d2...]`, every size known and positive.
fn shape_without_batch(v: &Value, what: &str) -> Result<Vec<usize>, String> {
    let dims = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{what}: expected [null, sizes...], found {v}"))?;
    dims[1..]
        .iter()
        .map(|d| {
            d.as_u64()
                .and_then(|u| usize::try_from(u).ok())
                .filter(|&u| u > 0)
                .ok_or_else(|| {
                    format!("{what}: every size but the batch must be a positive number, found {v}")
                })
        })
        .collect()
}

/// The Keras 3 model config (the whole `config.json`) in neurite's form.
pub(crate) fn translate(model: &Value) -> Result<Translated, String> {
    let class = model
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or("class_name is missing: not a Keras model config")?;
    check_builtin(model)?;
    let config = model.get("config").ok_or("config is missing")?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("model")
        .to_string();
    match class {
        "Sequential" => sequential(model, config, name),
        "Functional" | "Model" => functional(config, name),
        other => Err(format!(
            "the model is a {other}: neurite imports Keras Sequential and Functional models"
        )),
    }
}

fn sequential(model: &Value, config: &Value, name: String) -> Result<Translated, String> {
    let entries = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or("config.layers is missing or not a list")?;
    let mut layers = Vec::new();
    let mut order = Vec::new();
    let mut input_shape = None;
    for (i, entry) in entries.iter().enumerate() {
        let (class, lname, cfg) = layer(entry, i)?;
        if class == "InputLayer" {
            if i != 0 {
                return Err(format!(
                    "layer {i}: an InputLayer can only come first in a Sequential"
                ));
            }
            let shape = cfg.get("batch_shape").unwrap_or(&Value::Null);
            input_shape = Some(shape_without_batch(
                shape,
                &format!("InputLayer {lname:?} batch_shape"),
            )?);
            continue;
        }
        if input_shape.is_none() && layers.is_empty() {
            if let Some(s) = entry.pointer("/build_config/input_shape") {
                input_shape = Some(shape_without_batch(
                    s,
                    &format!("layer {lname:?} build_config.input_shape"),
                )?);
            }
        }
        order.push((class.clone(), lname));
        layers.push(json!({"class_name": class, "config": cfg}));
    }
    let renames = default_name_renames(&order);
    for (entry, (_, lname)) in layers.iter_mut().zip(order.iter_mut()) {
        if let Some(new) = renames.get(lname.as_str()) {
            entry["config"]["name"] = json!(new);
            *lname = new.clone();
        }
    }
    if input_shape.is_none() {
        let saved = config
            .get("build_input_shape")
            .or_else(|| model.pointer("/build_config/input_shape"));
        if let Some(s) = saved {
            input_shape = Some(shape_without_batch(s, "build_input_shape")?);
        }
    }
    let input_shape = input_shape
        .ok_or("the Sequential has no InputLayer and no build input shape: it was saved unbuilt")?;
    Ok(Translated {
        class_name: "Sequential".into(),
        config: json!({"name": name, "layers": layers}),
        input_shapes: vec![input_shape],
        name,
    })
}

/// New names for the layers whose Keras name is their class's default name
/// (`dense`, `conv2d`): neurite renames a layer carrying its default name to
/// `dense_1`, `dense_2`..., which would clash with Keras' own `dense_1`, so
/// such a layer is imported as `dense_0` (a name neither framework generates).
fn default_name_renames(order: &[(String, String)]) -> HashMap<String, String> {
    let taken: HashSet<&str> = order.iter().map(|(_, n)| n.as_str()).collect();
    let mut renames = HashMap::new();
    for (class, name) in order {
        if class == "InputLayer" {
            continue;
        }
        if *name == to_snake_case(class) || *name == crate::model::stack::snake_case(class) {
            let mut new = format!("{name}_0");
            while taken.contains(new.as_str()) || renames.values().any(|v: &String| *v == new) {
                new.push('0');
            }
            renames.insert(name.clone(), new);
        }
    }
    renames
}

/// `[name, call, tensor]` with its layer renamed per `renames`.
fn rename_reference(r: &mut Value, renames: &HashMap<String, String>) {
    let new = r
        .get(0)
        .and_then(Value::as_str)
        .and_then(|n| renames.get(n))
        .cloned();
    if let Some(new) = new {
        r[0] = json!(new);
    }
}

/// Every `__keras_tensor__` in a serialized call argument, in order, as `[layer, call, tensor]`.
fn tensor_refs(v: &Value, out: &mut Vec<Value>) -> Result<(), String> {
    match v {
        Value::Array(items) => {
            for item in items {
                tensor_refs(item, out)?;
            }
            Ok(())
        }
        Value::Object(o) if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") => {
            let history = v
                .pointer("/config/keras_history")
                .filter(|h| h.as_array().is_some_and(|a| a.len() == 3))
                .ok_or_else(|| format!("a tensor without a keras_history: {v}"))?;
            out.push(history.clone());
            Ok(())
        }
        Value::Object(_) => Err(format!("an argument neurite cannot pass: {v}")),
        _ => Err(format!("a constant argument neurite cannot pass: {v}")),
    }
}

/// One Keras 3 call (`{"args": [...], "kwargs": {...}}`, or the legacy list form) as neurite's list of references.
fn call_refs(node: &Value, lname: &str) -> Result<Value, String> {
    if node.is_array() {
        // Keras 2's form: [[layer, call, tensor, kwargs?], ...]
        let refs: Vec<Value> = node
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| match r.as_array() {
                Some(a) if a.len() >= 3 => Ok(json!([a[0], a[1], a[2]])),
                _ => Err(format!(
                    "layer {lname:?}: a reference is not [layer, call, tensor]: {r}"
                )),
            })
            .collect::<Result<_, _>>()?;
        return Ok(Value::Array(refs));
    }
    let mut refs = Vec::new();
    tensor_refs(node.get("args").unwrap_or(&json!([])), &mut refs)
        .map_err(|e| format!("layer {lname:?}: {e}"))?;
    if let Some(kwargs) = node.get("kwargs").and_then(Value::as_object) {
        for (k, v) in kwargs {
            let harmless = v.is_null() || (k == "training" && v.is_boolean());
            if !harmless {
                return Err(format!(
                    "layer {lname:?} is called with the argument {k}={v}, which neurite's import does not support"
                ));
            }
        }
    }
    Ok(Value::Array(refs))
}

/// `[name, call, tensor]` or a list of them, as a list.
fn endpoint_list(v: Option<&Value>, key: &str) -> Result<Value, String> {
    let v = v.ok_or_else(|| format!("config.{key} is missing"))?;
    let items = v
        .as_array()
        .ok_or_else(|| format!("config.{key} is not a list"))?;
    if items.len() == 3 && items[0].is_string() {
        return Ok(json!([v]));
    }
    Ok(v.clone())
}

fn functional(config: &Value, name: String) -> Result<Translated, String> {
    let entries = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or("config.layers is missing or not a list")?;
    let mut layers = Vec::new();
    let mut order = Vec::new();
    let mut inputs: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let (class, lname, cfg) = layer(entry, i)?;
        order.push((class.clone(), lname.clone()));
        if class == "InputLayer" {
            let shape = cfg.get("batch_shape").unwrap_or(&Value::Null);
            let shape = shape_without_batch(shape, &format!("InputLayer {lname:?} batch_shape"))?;
            inputs.push((lname.clone(), shape.clone()));
            let mut batch_shape = vec![Value::Null];
            batch_shape.extend(shape.iter().map(|&d| json!(d)));
            layers.push(json!({
                "class_name": "InputLayer",
                "name": lname,
                "config": {"name": lname, "batch_shape": batch_shape},
                "inbound_nodes": [],
            }));
            continue;
        }
        let nodes = entry
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("layer {lname:?}: inbound_nodes is missing or not a list"))?;
        let calls: Vec<Value> = nodes
            .iter()
            .map(|n| call_refs(n, &lname))
            .collect::<Result<_, _>>()?;
        layers.push(json!({"class_name": class, "name": lname, "config": cfg, "inbound_nodes": calls}));
    }
    let mut input_layers = endpoint_list(config.get("input_layers"), "input_layers")?;
    let mut output_layers = endpoint_list(config.get("output_layers"), "output_layers")?;
    let renames = default_name_renames(&order);
    if !renames.is_empty() {
        for (entry, (_, lname)) in layers.iter_mut().zip(order.iter_mut()) {
            if let Some(new) = renames.get(lname.as_str()) {
                entry["name"] = json!(new);
                entry["config"]["name"] = json!(new);
                *lname = new.clone();
            }
            if let Some(calls) = entry.get_mut("inbound_nodes").and_then(Value::as_array_mut) {
                for r in calls.iter_mut().filter_map(Value::as_array_mut).flatten() {
                    rename_reference(r, &renames);
                }
            }
        }
        for r in input_layers
            .as_array_mut()
            .into_iter()
            .flatten()
            .chain(output_layers.as_array_mut().into_iter().flatten())
        {
            rename_reference(r, &renames);
        }
    }
    // The model's inputs in the order of input_layers.
    let mut input_shapes = Vec::new();
    for r in input_layers.as_array().into_iter().flatten() {
        let iname = r.get(0).and_then(Value::as_str).unwrap_or("?");
        let shape = inputs
            .iter()
            .find(|(n, _)| n == iname)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| {
                format!("input_layers names {iname:?}, which is not an InputLayer of the model")
            })?;
        input_shapes.push(shape);
    }
    Ok(Translated {
        class_name: "Functional".into(),
        config: json!({
            "name": name,
            "trainable": config.get("trainable").cloned().unwrap_or(json!(true)),
            "layers": layers,
            "input_layers": input_layers,
            "output_layers": output_layers,
        }),
        input_shapes,
        name,
    })
}
