//! Where each neurite parameter lives in a Keras 3 weights file.
//!
//! Keras' `saving_lib` stores the layers of a model under
//! `layers/<snake_case(class)>[_<n>]` in `model.layers` order, each layer's
//! own variables as `vars/0`, `vars/1`... (trainable first, then the
//! non-trainable ones, in creation order: neurite's parameter order), and
//! the variables of sub-layers under the attribute that holds them: a
//! recurrent layer's `cell/vars/<i>`, a `Bidirectional`'s
//! `forward_layer/cell/vars/<i>` and `backward_layer/cell/vars/<i>`, a
//! `TimeDistributed`'s `layer/vars/<i>`, a `MultiHeadAttention`'s
//! `query_dense/vars/<i>` (`key_dense`, `value_dense`, `output_dense`).

use super::names::{to_snake_case, UniqueNames};
use crate::model::Model;
use neurite_nn::Layer;
use serde_json::Value;

const RECURRENT: &[&str] = &["SimpleRNN", "LSTM", "GRU"];

/// One parameter: neurite's name, its path in the weights file, its shape.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    /// neurite's parameter name (`dense_1.kernel`).
    pub(crate) name: String,
    /// The dataset path in the HDF5 file (`layers/dense_1/vars/0`).
    pub(crate) path: String,
    /// The layer's name, for messages.
    pub(crate) layer: String,
    /// The parameter's shape in the model.
    pub(crate) shape: Vec<usize>,
}

/// The layers of a model's config (`Model::config_json()["config"]`) as
/// `(class, name, config)` in the order Keras lists them in `model.layers`.
pub(crate) fn layer_list(class_name: &str, config: &Value) -> Vec<(String, String, Value)> {
    let entries = config
        .get("layers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    entries
        .iter()
        .filter_map(|e| {
            let class = e.get("class_name")?.as_str()?.to_string();
            let cfg = e.get("config").cloned().unwrap_or(Value::Null);
            let name = e.get("name").or_else(|| cfg.get("name"))?.as_str()?.to_string();
            if class_name == "Sequential" && class == "InputLayer" {
                return None;
            }
            Some((class, name, cfg))
        })
        .collect()
}

/// The Keras sub-path of the variables neurite names `<layer>/<sub>.<var>`
/// (`sub` empty for the layer's own variables), `None` where Keras has no such sub-layer.
fn sub_path(class: &str, config: &Value, sub: &str) -> Option<String> {
    let recurrent = |c: &str| RECURRENT.contains(&c);
    match (class, sub) {
        (c, "") if recurrent(c) => Some("cell".into()),
        (_, "") => Some(String::new()),
        ("Bidirectional", s) if s.starts_with("forward_") => Some("forward_layer/cell".into()),
        ("Bidirectional", s) if s.starts_with("backward_") => Some("backward_layer/cell".into()),
        ("TimeDistributed", _) => {
            let inner = config
                .pointer("/layer/class_name")
                .and_then(Value::as_str)
                .unwrap_or("");
            Some(if recurrent(inner) {
                "layer/cell".into()
            } else {
                "layer".into()
            })
        }
        ("MultiHeadAttention", "query") => Some("query_dense".into()),
        ("MultiHeadAttention", "key") => Some("key_dense".into()),
        ("MultiHeadAttention", "value") => Some("value_dense".into()),
        ("MultiHeadAttention", "attention_output") => Some("output_dense".into()),
        _ => None,
    }
}

/// Every parameter of `model` with its place in a Keras weights file, the
/// layers taken in the order of `layers` (see [`layer_list`]).
pub(crate) fn slots<N: Layer>(
    model: &Model<N>,
    layers: &[(String, String, Value)],
) -> Result<Vec<Slot>, String> {
    let params = model.parameters();
    let mut used = vec![false; params.len()];
    let mut unique = UniqueNames::default();
    let mut out = Vec::new();
    for (class, lname, config) in layers {
        let base = format!("layers/{}", unique.next(&to_snake_case(class)));
        // (sub, count so far) per sub-layer group, in neurite's order.
        let mut counters: Vec<(String, usize)> = Vec::new();
        for (i, p) in params.iter().enumerate() {
            let rest = if let Some(r) = p.name.strip_prefix(lname.as_str()) {
                r
            } else {
                continue;
            };
            let (sub, var_ok) = if let Some(var) = rest.strip_prefix('.') {
                (String::new(), !var.is_empty())
            } else if let Some(nested) = rest.strip_prefix('/') {
                match nested.rsplit_once('.') {
                    Some((sub, var)) => (sub.to_string(), !var.is_empty()),
                    None => continue,
                }
            } else {
                continue;
            };
            if !var_ok || used[i] {
                continue;
            }
            used[i] = true;
            let inner = sub_path(class, config, &sub).ok_or_else(|| {
                format!(
                    "layer {lname:?} ({class}): parameter {} is in a sub-layer {sub:?} that Keras' {class} does not have",
                    p.name
                )
            })?;
            let index = match counters.iter_mut().find(|(s, _)| *s == sub) {
                Some((_, n)) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    counters.push((sub.clone(), 1));
                    0
                }
            };
            let group = if inner.is_empty() {
                base.clone()
            } else {
                format!("{base}/{inner}")
            };
            out.push(Slot {
                name: p.name.clone(),
                path: format!("{group}/vars/{index}"),
                layer: lname.clone(),
                shape: p.var.shape(),
            });
        }
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!(
            "parameter {} belongs to no layer of the model's config",
            params[i].name
        ));
    }
    Ok(out)
}
