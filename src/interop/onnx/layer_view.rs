//! `LayerView`: what a converter reads of a layer: class, Keras config, weights by variable name, shapes.

use super::error::OnnxError;
use neurite_nn::Layer;
use neurite_tensor::Tensor;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// A layer as the converters see it, detached from the model (wrappers make views of their inner layer).
pub(crate) struct LayerView {
    pub(crate) name: String,
    pub(crate) class: String,
    pub(crate) config: serde_json::Value,
    /// Variable name (`kernel`, `forward_lstm/kernel` ...) to value.
    pub(crate) params: BTreeMap<String, Tensor>,
    /// The sample shape of each input (no batch axis).
    pub(crate) input_shapes: Vec<Vec<usize>>,
    /// The sample shape of the output.
    pub(crate) output_shape: Vec<usize>,
}

impl LayerView {
    /// The view of a built layer called on inputs of `input_shapes`.
    pub(crate) fn of(
        layer: &dyn Layer,
        input_shapes: Vec<Vec<usize>>,
        output_shape: Vec<usize>,
    ) -> LayerView {
        let name = layer.name().to_string();
        let params = layer
            .parameters()
            .into_iter()
            .map(|p| {
                let short = p
                    .name
                    .strip_prefix(&name)
                    .map(|s| s.trim_start_matches(['.', '/']))
                    .unwrap_or(&p.name);
                (short.to_string(), p.var.value().clone())
            })
            .collect();
        LayerView {
            class: layer.class_name().to_string(),
            config: layer.config(),
            name,
            params,
            input_shapes,
            output_shape,
        }
    }

    /// The weight `variable`, or an error naming the layer and the variables it has.
    pub(crate) fn param(&self, variable: &str) -> Result<&Tensor, OnnxError> {
        self.params.get(variable).ok_or_else(|| {
            self.model_error(format!(
                "has no variable '{variable}' (it has {:?})",
                self.params.keys().collect::<Vec<_>>()
            ))
        })
    }

    /// The weight `variable` if the layer has it (biases, BatchNormalization's gamma and beta).
    pub(crate) fn opt_param(&self, variable: &str) -> Option<&Tensor> {
        self.params.get(variable)
    }

    /// The weight `variable` as a contiguous row-major vector, checked to have `shape`.
    pub(crate) fn param_data(&self, variable: &str, shape: &[usize]) -> Result<Vec<f32>, OnnxError> {
        let t = self.param(variable)?;
        if t.shape() != shape {
            return Err(self.model_error(format!(
                "variable '{variable}' has shape {:?}, expected {shape:?}",
                t.shape()
            )));
        }
        Ok(t.iter().copied().collect())
    }

    /// The config field `key`, deserialized.
    pub(crate) fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, OnnxError> {
        let v = self.config.get(key).cloned().unwrap_or(serde_json::Value::Null);
        serde_json::from_value(v).map_err(|e| self.model_error(format!("config field '{key}': {e}")))
    }

    /// The config field `key`, or `default` when it is absent or null.
    pub(crate) fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, OnnxError> {
        match self.config.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(_) => self.get(key),
        }
    }

    /// An error: the layer is known but this configuration has no ONNX form.
    pub(crate) fn unsupported(&self, message: impl Into<String>) -> OnnxError {
        OnnxError::UnsupportedConfig {
            layer: self.name.clone(),
            class: self.class.clone(),
            message: message.into(),
        }
    }

    /// An error: the layer's own state is not what its class should have.
    pub(crate) fn model_error(&self, message: String) -> OnnxError {
        OnnxError::Model {
            layer: self.name.clone(),
            message,
        }
    }
}

/// `t` with its axes permuted (`perm[i]` is the source axis of axis `i`), as a shape and row-major data.
pub(crate) fn permuted(t: &Tensor, perm: &[usize]) -> (Vec<usize>, Vec<f32>) {
    let view = t.view().permuted_axes(perm.to_vec());
    (view.shape().to_vec(), view.iter().copied().collect())
}

impl LayerView {
    /// The whole config deserialized into the layer's own config struct (`Conv2DConfig`, ...).
    pub(crate) fn typed<T: DeserializeOwned>(&self) -> Result<T, OnnxError> {
        serde_json::from_value(self.config.clone())
            .map_err(|e| self.model_error(format!("config does not read as {}: {e}", self.class)))
    }

    /// The weight `variable` written once into the graph, with its axes permuted by `perm`
    /// and then reshaped to `shape` (when given).
    pub(crate) fn weight(
        &self,
        b: &mut super::builder::GraphBuilder,
        variable: &str,
        perm: Option<&[usize]>,
        shape: Option<Vec<usize>>,
    ) -> Result<String, OnnxError> {
        let t = self.param(variable)?;
        let (mut dims, data) = match perm {
            Some(p) => permuted(t, p),
            None => (t.shape().to_vec(), t.iter().copied().collect()),
        };
        if let Some(s) = shape {
            if s.iter().product::<usize>() != data.len() {
                return Err(self.model_error(format!(
                    "variable '{variable}' of shape {:?} cannot be laid out as {s:?}",
                    t.shape()
                )));
            }
            dims = s;
        }
        let key = format!("{}.{variable}/{perm:?}/{dims:?}", self.name);
        let base = format!("{}.{variable}", self.name);
        Ok(b.weight(&key, &base, || (dims, data)))
    }
}

impl LayerView {
    /// The view of a wrapper's inner layer, from the `{"class_name", "config"}` at config field
    /// `key`, with the variables named `<inner name>.<variable>` in the wrapper.
    pub(crate) fn nested(
        &self,
        key: &str,
        input_shapes: Vec<Vec<usize>>,
        output_shape: Vec<usize>,
    ) -> Result<LayerView, OnnxError> {
        let nested = self
            .config
            .get(key)
            .ok_or_else(|| self.model_error(format!("config has no '{key}'")))?;
        let class = nested
            .get("class_name")
            .and_then(|c| c.as_str())
            .ok_or_else(|| self.model_error(format!("'{key}' has no class_name")))?
            .to_string();
        let config = nested.get("config").cloned().unwrap_or(serde_json::Value::Null);
        let name = config
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(|| self.model_error(format!("'{key}' has no name")))?
            .to_string();
        let prefix = format!("{name}.");
        let params = self
            .params
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|s| (s.to_string(), v.clone())))
            .collect();
        Ok(LayerView {
            name: format!("{}/{name}", self.name),
            class,
            config,
            params,
            input_shapes,
            output_shape,
        })
    }
}
