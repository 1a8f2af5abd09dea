//! neurite's model config (`Model::config_json()`) → Keras 3's
//! `config.json`: a `Sequential` gets its `InputLayer` back, a functional
//! graph's references become Keras 3 `inbound_nodes` (`{"args", "kwargs"}`
//! with `__keras_tensor__` histories), every layer config through
//! [`super::layer_config::neurite_to_keras`].

use super::layer_config::{dtype_policy, layer_entry, neurite_to_keras};
use serde_json::{json, Value};
use std::collections::HashMap;

fn batch_shape(shape: &[usize]) -> Value {
    let mut v = vec![Value::Null];
    v.extend(shape.iter().map(|&d| json!(d)));
    Value::Array(v)
}

fn input_layer(name: &str, shape: &[usize]) -> Value {
    layer_entry(
        "InputLayer",
        json!({"batch_shape": batch_shape(shape), "dtype": "float32", "sparse": false, "ragged": false, "name": name, "optional": false}),
    )
}

/// The Keras 3 `config.json` of a neurite model whose `config_json()` is
/// `model`, with input shapes `inputs` and Keras' `compile_config`.
pub(crate) fn to_keras(model: &Value, inputs: &[Vec<usize>], compile_config: Value) -> Result<Value, String> {
    let class = model.get("class_name").and_then(Value::as_str).unwrap_or("?");
    let config = model.get("config").ok_or("the model config has no config")?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(if class == "Sequential" {
            "sequential"
        } else {
            "functional"
        });
    let mut out = match class {
        "Sequential" => {
            let shape = inputs
                .first()
                .ok_or("the Sequential is not built: it has no input shape")?;
            let mut layers = vec![input_layer("input_layer", shape)];
            for entry in config
                .get("layers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let lclass = entry.get("class_name").and_then(Value::as_str).unwrap_or("?");
                layers.push(layer_entry(
                    lclass,
                    neurite_to_keras(lclass, entry.get("config").unwrap_or(&Value::Null)),
                ));
            }
            json!({
                "module": "keras",
                "class_name": "Sequential",
                "config": {"name": name, "trainable": true, "dtype": dtype_policy("float32"), "layers": layers,
                           "build_input_shape": batch_shape(shape)},
                "registered_name": null,
                "build_config": {"input_shape": batch_shape(shape)},
            })
        }
        "Functional" => {
            json!({
                "module": "keras.src.models.functional",
                "class_name": "Functional",
                "config": functional(config)?,
                "registered_name": "Functional",
                "build_config": {"input_shape": null},
            })
        }
        other => return Err(format!("a {other} network cannot be written as a Keras model")),
    };
    if !compile_config.is_null() {
        out["compile_config"] = compile_config;
    }
    Ok(out)
}

fn keras_tensor(reference: &Value, shapes: &HashMap<(String, u64), Value>) -> Value {
    let key = (
        reference
            .get(0)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        reference.get(1).and_then(Value::as_u64).unwrap_or(0),
    );
    let shape = shapes.get(&key).cloned().unwrap_or(Value::Null);
    json!({"class_name": "__keras_tensor__", "config": {"shape": shape, "dtype": "float32", "keras_history": reference}})
}

/// The batch shape of every tensor of a functional graph by `(layer, call)`:
/// neurite's config does not store them, Keras' `__keras_tensor__` entries
/// must have one, so the graph is rebuilt from its config (layers called on
/// symbolic tensors) to read them.
fn tensor_shapes(config: &Value) -> Result<HashMap<(String, u64), Value>, String> {
    let graph = crate::functional::config::from_config(config)
        .map_err(|e| format!("the functional graph cannot be rebuilt to read its shapes: {e}"))?;
    let mut shapes = HashMap::new();
    for input in &graph.inputs {
        shapes.insert((input.name.clone(), 0), batch_shape(&input.shape));
    }
    for node in &graph.nodes {
        let layer = graph.layers[node.layer].name().to_string();
        shapes.insert((layer, node.call_index as u64), batch_shape(&node.shape));
    }
    Ok(shapes)
}

/// A functional graph's config (neurite's `[layer, call, tensor]` references) in Keras 3's form.
fn functional(config: &Value) -> Result<Value, String> {
    let entries = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or("config.layers is missing")?;
    let shapes = tensor_shapes(config)?;
    let mut layers = Vec::new();
    for entry in entries {
        let class = entry.get("class_name").and_then(Value::as_str).unwrap_or("?");
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("?");
        if class == "InputLayer" {
            let shape: Vec<usize> = entry
                .pointer("/config/batch_shape")
                .and_then(Value::as_array)
                .map(|s| {
                    s.iter()
                        .skip(1)
                        .filter_map(|d| d.as_u64().map(|u| u as usize))
                        .collect()
                })
                .unwrap_or_default();
            let mut l = input_layer(name, &shape);
            l["name"] = json!(name);
            l["inbound_nodes"] = json!([]);
            layers.push(l);
            continue;
        }
        let nodes: Vec<Value> = entry
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|call| {
                let refs: Vec<Value> = call
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| keras_tensor(r, &shapes))
                    .collect();
                let args = match (class, refs.len()) {
                    // MultiHeadAttention takes query, value (, key) as separate arguments.
                    ("MultiHeadAttention", _) | (_, 1) => Value::Array(refs),
                    _ => json!([refs]),
                };
                json!({"args": args, "kwargs": {}})
            })
            .collect();
        let mut l = if class == "Functional" {
            json!({"module": "keras.src.models.functional", "class_name": "Functional",
                   "config": functional(entry.get("config").unwrap_or(&Value::Null))?, "registered_name": "Functional"})
        } else {
            layer_entry(
                class,
                neurite_to_keras(class, entry.get("config").unwrap_or(&Value::Null)),
            )
        };
        l["name"] = json!(name);
        l["inbound_nodes"] = Value::Array(nodes);
        layers.push(l);
    }
    let unwrap_single = |v: Option<&Value>| -> Value {
        match v.and_then(Value::as_array) {
            Some(items) if items.len() == 1 => items[0].clone(),
            Some(items) => Value::Array(items.clone()),
            None => json!([]),
        }
    };
    Ok(json!({
        "name": config.get("name").cloned().unwrap_or(json!("functional")),
        "trainable": config.get("trainable").cloned().unwrap_or(json!(true)),
        "layers": layers,
        "input_layers": unwrap_single(config.get("input_layers")),
        "output_layers": unwrap_single(config.get("output_layers")),
    }))
}
