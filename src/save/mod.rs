//! Saving and loading models: `config.json` (architecture, compile
//! settings, seed, progress), `model.safetensors` (weights by parameter
//! name) and `optimizer.safetensors` (optimizer state), written atomically.

mod atomic;
mod weights;

use crate::error::{Error, Result};
use crate::metric::Metric;
use crate::model::{LayerStack, Model, Sequential};
use neurite_nn::losses::Loss;
use neurite_nn::Layer;
use neurite_optim::OptimizerState;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

const FORMAT: &str = "neurite-model";
const VERSION: u64 = 1;

impl<N: Layer> Model<N> {
    /// Saves the model to the directory `dir`: `config.json`,
    /// `model.safetensors` and, once compiled, `optimizer.safetensors`.
    /// The write is atomic: a crash mid-save leaves the previous save in
    /// `dir` loadable.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let mut files = vec![(
            "config.json",
            serde_json::to_vec_pretty(&self.config_json()).map_err(|e| Error::Model(format!("save: {e}")))?,
        )];
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        files.push(("model.safetensors", weights::to_bytes(&self.get_weights(), meta)?));
        if let Some(c) = &self.compiled {
            files.push(("optimizer.safetensors", c.optimizer.state().to_safetensors()?));
        }
        atomic::write_dir(dir, &files)
    }

    /// The content of `config.json`.
    pub fn config_json(&self) -> Value {
        let compile = self.compiled.as_ref().map(|c| {
            json!({
                "loss": c.loss,
                "metrics": c.metrics,
                "optimizer": c.optimizer.config(),
            })
        });
        json!({
            "format": FORMAT,
            "version": VERSION,
            "class_name": self.net.class_name(),
            "config": self.net.config(),
            "input_shape": self.input_shape(),
            "seed": self.seed,
            "epochs_done": self.epochs_done,
            "compile": compile,
        })
    }

    /// Loads weights saved by [`Model::save`] (a directory) into this
    /// model, which must have the same architecture: every parameter must
    /// be present in the file with the same shape. Builds the model first
    /// if needed (from the saved input shape).
    pub fn load_weights(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = atomic::resolve(dir.as_ref())?;
        if !self.net.is_built() {
            let config = read_config(&dir)?;
            let shape = saved_input_shape(&config, &dir)?;
            self.build(&shape)?;
        }
        let path = dir.join("model.safetensors");
        let tensors = weights::from_bytes(&atomic::read(&path)?, &path)?;
        let mut values = Vec::new();
        for p in self.parameters() {
            let t = tensors.get(&p.name).ok_or_else(|| {
                Error::format(
                    &path,
                    format!("parameter {} of the model is missing from the file", p.name),
                )
            })?;
            if t.shape() != p.var.shape().as_slice() {
                return Err(Error::format(
                    &path,
                    format!(
                        "parameter {}: the model has shape {:?}, the file has {:?}",
                        p.name,
                        p.var.shape(),
                        t.shape()
                    ),
                ));
            }
            values.push((p.name, t.clone()));
        }
        if let Some(extra) = tensors.keys().find(|k| !values.iter().any(|(n, _)| n == *k)) {
            return Err(Error::format(
                &path,
                format!("tensor {extra} in the file matches no parameter of the model"),
            ));
        }
        self.set_weights(&values)
    }

    /// Restores the optimizer state saved beside the weights (for resuming training).
    pub fn load_optimizer_state(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = atomic::resolve(dir.as_ref())?;
        let path = dir.join("optimizer.safetensors");
        let state = OptimizerState::from_safetensors(&atomic::read(&path)?)
            .map_err(|e| Error::format(&path, e.to_string()))?;
        let compiled = self.compiled_mut()?;
        compiled
            .optimizer
            .load_state(state)
            .map_err(|e| Error::format(&path, e.to_string()))?;
        Ok(())
    }
}

fn read_config(dir: &Path) -> Result<Value> {
    let path = dir.join("config.json");
    let bytes = atomic::read(&path)?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::format(&path, format!("invalid JSON: {e}")))?;
    if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(Error::format(
            &path,
            format!("not a neurite model config (\"format\" must be \"{FORMAT}\")"),
        ));
    }
    Ok(v)
}

fn saved_input_shape(config: &Value, dir: &Path) -> Result<Vec<usize>> {
    serde_json::from_value::<Option<Vec<usize>>>(config.get("input_shape").cloned().unwrap_or(Value::Null))
        .ok()
        .flatten()
        .ok_or_else(|| {
            Error::format(
                dir.join("config.json"),
                "no input_shape recorded: the model was saved unbuilt",
            )
        })
}

impl Sequential {
    /// Rebuilds a model saved by [`Model::save`]: architecture, weights,
    /// seed and epochs done, and, when it was compiled, loss, metrics,
    /// optimizer and optimizer state — so `fit` resumes where it stopped.
    pub fn load(dir: impl AsRef<Path>) -> Result<Sequential> {
        let dir = atomic::resolve(dir.as_ref())?;
        let config = read_config(&dir)?;
        let cpath = dir.join("config.json");
        if config.get("class_name").and_then(Value::as_str) != Some("Sequential") {
            return Err(Error::format(&cpath, "class_name is not \"Sequential\""));
        }
        let layers = config
            .pointer("/config/layers")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::format(&cpath, "config.layers is missing"))?;
        let mut stack = LayerStack::new();
        for (i, entry) in layers.iter().enumerate() {
            let class = entry
                .get("class_name")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::format(&cpath, format!("layer {i}: class_name is missing")))?;
            let layer_config = entry.get("config").cloned().unwrap_or(Value::Null);
            let layer = neurite_nn::layer_from_config(class, &layer_config)
                .map_err(|e| Error::format(&cpath, format!("layer {i} ({class}): {e}")))?;
            stack.push(layer);
        }
        let seed = config.get("seed").and_then(Value::as_u64).unwrap_or(0);
        let mut model = Model::from_network(stack).seed(seed);
        let shape = saved_input_shape(&config, &dir)?;
        model.build(&shape)?;
        model.load_weights(&dir)?;
        model.epochs_done = config.get("epochs_done").and_then(Value::as_u64).unwrap_or(0) as usize;
        if let Some(compile) = config.get("compile").filter(|c| !c.is_null()) {
            let loss: Loss = serde_json::from_value(compile["loss"].clone())
                .map_err(|e| Error::format(&cpath, format!("compile.loss: {e}")))?;
            let metrics: Vec<Metric> = serde_json::from_value(compile["metrics"].clone())
                .map_err(|e| Error::format(&cpath, format!("compile.metrics: {e}")))?;
            let optimizer = neurite_optim::optimizer_from_config(&compile["optimizer"])
                .map_err(|e| Error::format(&cpath, format!("compile.optimizer: {e}")))?;
            model.compile_boxed(optimizer, loss, &metrics)?;
            if dir.join("optimizer.safetensors").exists() {
                model.load_optimizer_state(&dir)?;
            }
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::atomic;
    use std::fs;

    #[test]
    fn interrupted_save_between_renames_falls_back_to_previous() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ckpt");
        atomic::write_dir(&dir, &[("config.json", b"old".to_vec())]).unwrap();
        // Simulate a crash after the old checkpoint was moved aside but
        // before the new one was renamed into place.
        fs::rename(&dir, atomic::previous_path(&dir).unwrap()).unwrap();
        let resolved = atomic::resolve(&dir).unwrap();
        assert_eq!(fs::read(resolved.join("config.json")).unwrap(), b"old");
        // The next save completes and cleans up.
        atomic::write_dir(&dir, &[("config.json", b"new".to_vec())]).unwrap();
        assert_eq!(fs::read(dir.join("config.json")).unwrap(), b"new");
        assert!(!atomic::previous_path(&dir).unwrap().exists());
    }
}
