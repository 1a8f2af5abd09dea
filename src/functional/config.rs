//! A graph's saved configuration, Keras' functional format: every layer
//! with its config and `inbound_nodes` (one list of `[layer, call, tensor]`
//! references per call), and the model's `input_layers`/`output_layers`.

use super::graph::{Graph, Slot};
use super::symbolic::{Input, SharedLayer, SymbolicTensor};
use neurite_nn::NnError;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A call still to make when loading: the layer, its call index, and the
/// `(layer name, call index)` references of its inputs.
type PendingCall = (SharedLayer, usize, Vec<(String, usize)>);

/// How deep graphs may nest inside graphs in a loaded config.
const MAX_NESTING: usize = 32;

fn bad(message: String) -> NnError {
    NnError::Config {
        layer: "functional".into(),
        message,
    }
}

/// The `[name, call, 0]` reference to what `slot` holds.
fn reference(graph: &Graph, slot: Slot) -> Value {
    match slot {
        Slot::Input(i) => json!([graph.inputs[i].name, 0, 0]),
        Slot::Node(j) => {
            let node = &graph.nodes[j];
            json!([graph.layers[node.layer].name(), node.call_index, 0])
        }
    }
}

/// The config [`Graph`]'s `Layer::config` returns.
pub(crate) fn to_config(graph: &Graph) -> Value {
    let mut layers: Vec<Value> = graph
        .inputs
        .iter()
        .map(|i| {
            let mut batch_shape = vec![Value::Null];
            batch_shape.extend(i.shape.iter().map(|&s| json!(s)));
            json!({
                "class_name": "InputLayer",
                "name": i.name,
                "config": {"name": i.name, "batch_shape": batch_shape, "dtype": "float32"},
                "inbound_nodes": [],
            })
        })
        .collect();
    for (index, layer) in graph.layers.iter().enumerate() {
        let calls: Vec<Value> = graph
            .nodes
            .iter()
            .filter(|n| n.layer == index)
            .map(|n| Value::Array(n.inputs.iter().map(|s| reference(graph, *s)).collect()))
            .collect();
        let (class_name, config) = match layer.read() {
            Ok(l) => (l.class_name(), l.config()),
            Err(_) => ("?", Value::Null),
        };
        layers.push(json!({
            "class_name": class_name,
            "name": layer.name(),
            "config": config,
            "inbound_nodes": calls,
        }));
    }
    json!({
        "name": neurite_nn::Layer::name(graph),
        "trainable": neurite_nn::Layer::trainable(graph),
        "layers": layers,
        "input_layers": graph.inputs.iter().map(|i| json!([i.name, 0, 0])).collect::<Vec<_>>(),
        "output_layers": graph.outputs.iter().map(|s| reference(graph, *s)).collect::<Vec<_>>(),
    })
}

/// A `[name, call, tensor]` reference.
fn parse_reference(v: &Value, what: &str) -> neurite_nn::Result<(String, usize)> {
    let items = v.as_array().filter(|a| a.len() == 3);
    let parsed = items.and_then(|a| Some((a[0].as_str()?.to_string(), a[1].as_u64()?, a[2].as_u64()?)));
    match parsed {
        Some((name, call, 0)) => Ok((name, usize::try_from(call).unwrap_or(usize::MAX))),
        Some((name, _, t)) => Err(bad(format!(
            "{what}: {name:?} tensor {t}: layers with several outputs are not supported"
        ))),
        None => Err(bad(format!(
            "{what}: expected [layer name, call index, 0], found {v}"
        ))),
    }
}

/// The graph a [`to_config`] value describes, its layers rebuilt from their configs.
pub(crate) fn from_config(config: &Value) -> neurite_nn::Result<Graph> {
    from_config_at(config, 0)
}

fn from_config_at(config: &Value, depth: usize) -> neurite_nn::Result<Graph> {
    if depth > MAX_NESTING {
        return Err(bad(format!("graphs nest more than {MAX_NESTING} deep")));
    }
    let layers = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("config.layers is missing or not a list".into()))?;
    // (name, call) -> the tensor that call made.
    let mut made: HashMap<(String, usize), SymbolicTensor> = HashMap::new();
    // Calls still to make: (layer, call index, the references it reads).
    let mut pending: Vec<PendingCall> = Vec::new();
    for (i, entry) in layers.iter().enumerate() {
        let class = entry
            .get("class_name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("layer {i}: class_name is missing")))?;
        let layer_config = entry.get("config").cloned().unwrap_or(Value::Null);
        let name = entry
            .get("name")
            .or_else(|| layer_config.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("layer {i} ({class}): name is missing")))?
            .to_string();
        if class == "InputLayer" {
            let shape: Option<Vec<usize>> = layer_config
                .get("batch_shape")
                .and_then(Value::as_array)
                .and_then(|s| {
                    s.iter()
                        .skip(1)
                        .map(|v| v.as_u64().and_then(|u| usize::try_from(u).ok()))
                        .collect()
                });
            let shape = shape.ok_or_else(|| {
                bad(format!(
                    "input {name:?}: batch_shape must be [null, positive sizes...]"
                ))
            })?;
            let x = Input::try_named(&name, &shape).map_err(|e| bad(e.to_string()))?;
            made.insert((name, 0), x);
            continue;
        }
        let layer = if class == "Functional" {
            let mut inner = from_config_at(&layer_config, depth + 1)?;
            neurite_nn::Layer::set_name(&mut inner, name.clone());
            SharedLayer::new(inner)
        } else {
            SharedLayer::from_boxed(
                neurite_nn::layer_from_config(class, &layer_config)
                    .map_err(|e| bad(format!("layer {i} ({class}): {e}")))?,
            )
        };
        if layer.name() != name {
            return Err(bad(format!(
                "layer {i}: entry name {name:?} differs from its config's name {:?}",
                layer.name()
            )));
        }
        let calls = entry
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("layer {name:?}: inbound_nodes is missing or not a list")))?;
        if calls.is_empty() {
            return Err(bad(format!("layer {name:?} is never called")));
        }
        for (call, refs) in calls.iter().enumerate() {
            let refs = refs
                .as_array()
                .ok_or_else(|| {
                    bad(format!(
                        "layer {name:?} call {call}: expected a list of references"
                    ))
                })?
                .iter()
                .map(|r| parse_reference(r, &format!("layer {name:?} call {call}")))
                .collect::<neurite_nn::Result<Vec<_>>>()?;
            pending.push((layer.clone(), call, refs));
        }
    }
    // Make the calls whose inputs exist until none is left (or none can be made).
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for (layer, call, refs) in pending {
            let inputs: Option<Vec<&SymbolicTensor>> = refs.iter().map(|r| made.get(r)).collect();
            match inputs {
                Some(inputs) => {
                    let out = layer.call_many(&inputs).map_err(|e| bad(e.to_string()))?;
                    made.insert((layer.name(), call), out);
                }
                None => rest.push((layer, call, refs)),
            }
        }
        if rest.len() == before {
            let (layer, call, refs) = &rest[0];
            return Err(bad(format!(
                "layer {:?} call {call} reads {refs:?}, which no layer makes (or the calls form a cycle)",
                layer.name()
            )));
        }
        pending = rest;
    }
    let ends = |key: &str| -> neurite_nn::Result<Vec<SymbolicTensor>> {
        config
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("config.{key} is missing or not a list")))?
            .iter()
            .map(|r| {
                let r = parse_reference(r, key)?;
                made.get(&r)
                    .cloned()
                    .ok_or_else(|| bad(format!("{key}: {r:?} is not in the graph")))
            })
            .collect()
    };
    let (inputs, outputs) = (ends("input_layers")?, ends("output_layers")?);
    let mut graph = Graph::new(
        &inputs.iter().collect::<Vec<_>>(),
        &outputs.iter().collect::<Vec<_>>(),
    )
    .map_err(|e| bad(e.to_string()))?;
    if let Some(name) = config.get("name").and_then(Value::as_str) {
        neurite_nn::Layer::set_name(&mut graph, name.to_string());
    }
    if let Some(trainable) = config.get("trainable").and_then(Value::as_bool) {
        neurite_nn::Layer::set_trainable(&mut graph, trainable);
    }
    Ok(graph)
}
