//! Saving and loading models: `config.json` (architecture, compile
//! settings, seed, progress, and a manifest of the other files),
//! `model.safetensors` (weights by parameter name) and
//! `optimizer.safetensors` (optimizer state).
//!
//! A save never deletes, moves or overwrites a file it did not write, and a
//! crash at any moment leaves the last complete checkpoint loadable
//! ([`atomic`]). A load checks everything — files against the manifest, the
//! architecture against the weights' shapes, the optimizer state against the
//! parameters — before it allocates any weight ([`validate`]).

mod atomic;
pub(crate) mod attachments;
mod checkpoint;
mod lock;
mod manifest;
mod validate;
mod weights;

use crate::error::{Error, Result};
use crate::model::{DtypePolicy, LayerStack, Losses, Metrics, Model};
use checkpoint::Checkpoint;
use neurite_nn::Layer;
use neurite_optim::OptimizerState;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

pub(crate) use atomic::claim as claim_checkpoint_dir;

const FORMAT: &str = "neurite-model";

/// A file of a checkpoint: its name and its bytes.
pub(crate) type NamedBytes = (&'static str, Vec<u8>);
const VERSION: u64 = 1;

impl<N: Layer> Model<N> {
    /// Saves the model to the directory `dir`: `config.json`,
    /// `model.safetensors` and, once compiled, `optimizer.safetensors`.
    ///
    /// Safe by construction: `dir` must be new, empty, or a checkpoint saved
    /// before — a regular file or a directory holding other things is refused
    /// with [`crate::Error::SaveRefused`] and left as it was. Only the
    /// checkpoint's own files are replaced; other files in a checkpoint
    /// directory (a CSV log) are kept. The swap is atomic: a crash mid-save
    /// leaves the previous save loadable. Saves to one directory from several
    /// threads or processes run one after another.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// let model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.save(dir.path().join("m"))?;
    /// std::fs::write(dir.path().join("notes.txt"), "mine")?;
    /// // Not a checkpoint directory: refused, nothing touched.
    /// assert!(model.save(dir.path()).is_err());
    /// assert_eq!(std::fs::read_to_string(dir.path().join("notes.txt"))?, "mine");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let (mut files, config) = self.checkpoint_files()?;
        let config = serde_json::to_vec_pretty(&config).map_err(|e| Error::Model(format!("save: {e}")))?;
        files.push(("config.json", config));
        atomic::write_dir(dir.as_ref(), &files)
    }

    /// What [`Model::save`] writes: the weights and optimizer files, and the
    /// `config.json` value (with their manifest) to be written last.
    pub(crate) fn checkpoint_files(&self) -> Result<(Vec<NamedBytes>, Value)> {
        let weights = self.get_weights_by_name();
        validate::unique_parameter_names(weights.iter().map(|(n, _)| n.as_str()))?;
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        let mut files = vec![("model.safetensors", weights::to_bytes(&weights, meta)?)];
        if let Some(c) = &self.compiled {
            files.push(("optimizer.safetensors", c.optimizer.state().to_safetensors()?));
        }
        let mut config = self.config_json();
        if let Some(name) = validate::repeated_layer_name(&config) {
            return Err(Error::Model(format!(
                "save: two layers are named {name:?}: their weights could not be told apart \
                 (give each layer a unique name)"
            )));
        }
        config["files"] = manifest::of(&files);
        Ok((files, config))
    }

    /// The content of `config.json` (without the manifest of the other files,
    /// which `save` adds).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// assert_eq!(model.config_json()["class_name"], "Sequential");
    /// ```
    pub fn config_json(&self) -> Value {
        let compile = self.compiled.as_ref().map(|c| {
            let (loss, loss_weights) = c.losses.to_json();
            let mut compile = json!({
                "loss": loss,
                "metrics": c.metrics.to_json(),
                "optimizer": c.optimizer.config(),
            });
            if !loss_weights.is_null() {
                compile["loss_weights"] = loss_weights;
            }
            compile
        });
        let mut config = json!({
            "format": FORMAT,
            "version": VERSION,
            "class_name": self.net.class_name(),
            "config": self.net.config(),
            "input_shape": self.input_shape(),
            "built": self.net.is_built(),
            "seed": self.seed,
            "dtype_policy": self.dtype_policy.name(),
            "epochs_done": self.epochs_done,
            "compile": compile,
        });
        // A network built for several inputs records each one's shape.
        if let Some(shapes) = self.input_shapes.as_ref().filter(|s| s.len() > 1) {
            config["input_shapes"] = json!(shapes);
        }
        config
    }

    /// Loads weights saved by [`Model::save`] (a directory) into this
    /// model, which must have the same architecture: every parameter must
    /// be present in the file with the same shape, and the file must hold
    /// nothing else. Builds the model first if needed (from the saved input
    /// shape). Nothing changes when anything is wrong.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut a = Sequential::new().seed(1).add(Dense::new(2).input_dim(3));
    /// a.build(&[3])?;
    /// a.save(dir.path().join("m"))?;
    /// let mut b = Sequential::new().seed(2).add(Dense::new(2).input_dim(3));
    /// b.load_weights(dir.path().join("m"))?;
    /// assert_eq!(a.get_weights(), b.get_weights());
    /// // Another architecture is refused, naming the parameter.
    /// let mut c = Sequential::new().add(Dense::new(5).input_dim(3));
    /// assert!(c.load_weights(dir.path().join("m")).unwrap_err().to_string().contains("dense_1.kernel"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_weights(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let ckpt = Checkpoint::open(dir.as_ref())?;
        let path = ckpt.path("model.safetensors");
        let bytes = ckpt
            .file("model.safetensors")
            .ok_or_else(|| Error::format(&path, "missing: the checkpoint has no weights"))?;
        let tensors = weights::from_bytes(bytes, &path)?;
        if !self.net.is_built() {
            let shapes = validate::saved_input_shapes(ckpt.config()?, &ckpt.path("config.json"))?;
            validate::weights_match_architecture(
                &self.net,
                &shapes,
                &tensors,
                &path,
                &ckpt.path("config.json"),
            )?;
            self.build_inputs(&shapes)?;
        }
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
        self.set_weights_by_name(&values)
    }

    /// Restores the optimizer state saved beside the weights (for resuming
    /// training). The state is checked against the model's trainable
    /// parameters (names, shapes, step counter) first; errors name the file
    /// and the parameter, and leave the optimizer as it was.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.compile(Adam::default(), Loss::MeanSquaredError, &[])?;
    /// model.save(dir.path().join("m"))?;
    /// model.load_optimizer_state(dir.path().join("m"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_optimizer_state(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let ckpt = Checkpoint::open(dir.as_ref())?;
        self.restore_optimizer_state(&ckpt)
    }

    fn restore_optimizer_state(&mut self, ckpt: &Checkpoint) -> Result<()> {
        let path = ckpt.path("optimizer.safetensors");
        let bytes = ckpt
            .file("optimizer.safetensors")
            .ok_or_else(|| Error::format(&path, "missing: the checkpoint has no optimizer state"))?;
        let state =
            OptimizerState::from_safetensors(bytes).map_err(|e| Error::format(&path, e.to_string()))?;
        let params = self.parameters();
        let trainable: Vec<(&str, &neurite_autograd::Var)> = params
            .iter()
            .filter(|p| p.trainable)
            .map(|p| (p.name.as_str(), &p.var))
            .collect();
        let compiled = self.compiled_mut()?;
        compiled
            .optimizer
            .load_state_checked(state, &trainable)
            .map_err(|e| Error::format(&path, e.to_string()))
    }
}

/// A network [`Model::load`] can rebuild from a saved `config.json`:
/// [`LayerStack`] (a `Sequential`) and [`crate::functional::Graph`] (a
/// functional model).
///
/// ```
/// use neurite::{Network, LayerStack};
/// assert_eq!(<LayerStack as Network>::CLASS_NAME, "Sequential");
/// assert_eq!(<neurite::functional::Graph as Network>::CLASS_NAME, "Functional");
/// ```
pub trait Network: Layer + Sized + 'static {
    /// The `class_name` saved for this network.
    const CLASS_NAME: &'static str;

    /// The network (unbuilt) described by the saved `config` (the
    /// `config.json` field `config`); `config_path` names the file in errors.
    fn from_saved_config(config: &Value, config_path: &Path) -> Result<Self>;

    /// The network as a functional graph, if it is one (how a loaded model
    /// finds its named inputs and outputs); `None` (the default) otherwise.
    ///
    /// ```
    /// use neurite::{LayerStack, Network};
    /// assert!(LayerStack::new().as_graph().is_none());
    /// ```
    fn as_graph(&self) -> Option<&crate::functional::Graph> {
        None
    }
}

impl Network for LayerStack {
    const CLASS_NAME: &'static str = "Sequential";

    fn from_saved_config(config: &Value, cpath: &Path) -> Result<Self> {
        let layers = config
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::format(cpath, "config.layers is missing or not a list"))?;
        let mut stack = LayerStack::new();
        for (i, entry) in layers.iter().enumerate() {
            let class = entry
                .get("class_name")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::format(cpath, format!("layer {i}: class_name is missing")))?;
            let layer_config = entry.get("config").cloned().unwrap_or(Value::Null);
            let layer = neurite_nn::layer_from_config(class, &layer_config)
                .map_err(|e| Error::format(cpath, format!("layer {i} ({class}): {e}")))?;
            stack.push(layer);
        }
        Ok(stack)
    }
}

impl Network for crate::functional::Graph {
    const CLASS_NAME: &'static str = "Functional";

    fn from_saved_config(config: &Value, cpath: &Path) -> Result<Self> {
        crate::functional::graph_from_config(config).map_err(|e| Error::format(cpath, e.to_string()))
    }

    fn as_graph(&self) -> Option<&crate::functional::Graph> {
        Some(self)
    }
}

impl<N: Network> Model<N> {
    /// Rebuilds a model saved by [`Model::save`]: architecture, weights,
    /// seed, dtype policy and epochs done, and, when it was compiled, loss,
    /// metrics, optimizer and optimizer state — so `fit` can resume where it
    /// stopped (`FitOptions::initial_epoch(model.epochs_done())`). Call it as
    /// `Sequential::load` or `Functional::load`; the saved `class_name` must
    /// be that kind of model.
    ///
    /// Every file is checked before anything large is allocated: the files
    /// against the checksums in `config.json`, every layer's config (an error
    /// names the layer and the field), the weights' shapes against the
    /// architecture, the optimizer state against the parameters.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.build(&[3])?;
    /// model.save(dir.path().join("m"))?;
    /// let again = Sequential::load(dir.path().join("m"))?;
    /// assert_eq!(again.get_weights(), model.get_weights());
    /// assert!(Functional::load(dir.path().join("m")).is_err()); // not a functional model
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Model<N>> {
        let ckpt = Checkpoint::open(dir.as_ref())?;
        let config = ckpt.config()?;
        let cpath = ckpt.path("config.json");
        let class_name = config.get("class_name").and_then(Value::as_str);
        if class_name != Some(N::CLASS_NAME) {
            return Err(Error::format(
                &cpath,
                format!(
                    "class_name is {}, not {:?}: load it as that kind of model",
                    class_name.map_or("missing".to_string(), |c| format!("{c:?}")),
                    N::CLASS_NAME
                ),
            ));
        }
        let net_config = config
            .get("config")
            .ok_or_else(|| Error::format(&cpath, "config is missing"))?;
        let net = N::from_saved_config(net_config, &cpath)?;
        if let Some(name) = validate::repeated_layer_name(config) {
            return Err(Error::format(
                &cpath,
                format!("two layers are named {name:?}: layer names must be unique"),
            ));
        }
        let seed = validate::optional_u64(config, "seed", &cpath)?.unwrap_or(0);
        let epochs_done = validate::optional_u64(config, "epochs_done", &cpath)?.unwrap_or(0);
        let epochs_done = usize::try_from(epochs_done).map_err(|_| {
            Error::format(
                &cpath,
                format!("epochs_done {epochs_done} does not fit this machine"),
            )
        })?;
        // A model saved before it was built has no weights yet: it loads unbuilt.
        let built = match config.get("built") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(Error::format(
                    &cpath,
                    format!("field \"built\": expected true or false, found {v}"),
                ))
            }
        };
        let wpath = ckpt.path("model.safetensors");
        let bytes = ckpt
            .file("model.safetensors")
            .ok_or_else(|| Error::format(&wpath, "missing: the checkpoint has no weights"))?;
        let tensors = weights::from_bytes(bytes, &wpath)?;
        let shapes = if built {
            let shapes = validate::saved_input_shapes(config, &cpath)?;
            validate::weights_match_architecture(&net, &shapes, &tensors, &wpath, &cpath)?;
            Some(shapes)
        } else {
            if let Some(name) = tensors.keys().next() {
                return Err(Error::format(
                    &wpath,
                    format!("holds tensor {name}, but config.json says the model was saved unbuilt"),
                ));
            }
            if config.get("input_shape").is_some_and(|v| !v.is_null())
                || config.get("input_shapes").is_some_and(|v| !v.is_null())
            {
                validate::saved_input_shapes(config, &cpath)?;
            }
            None
        };

        let compile = config.get("compile").filter(|c| !c.is_null());
        let compiled = match compile {
            Some(compile) => {
                let field = |k: &str| {
                    compile
                        .get(k)
                        .cloned()
                        .ok_or_else(|| Error::format(&cpath, format!("compile.{k} is missing")))
                };
                let losses = Losses::from_json(&field("loss")?, compile.get("loss_weights"))
                    .map_err(|e| Error::format(&cpath, e))?;
                let metrics = Metrics::from_json(&field("metrics")?).map_err(|e| Error::format(&cpath, e))?;
                metrics
                    .check()
                    .map_err(|e| Error::format(&cpath, format!("compile.metrics: {e}")))?;
                let optimizer = neurite_optim::optimizer_from_config(&field("optimizer")?)
                    .map_err(|e| Error::format(&cpath, format!("compile.optimizer: {e}")))?;
                Some((optimizer, losses, metrics))
            }
            None => None,
        };

        let dtype_policy = match config.get("dtype_policy") {
            None | Some(Value::Null) => DtypePolicy::Float32,
            Some(Value::String(name)) => name
                .parse::<DtypePolicy>()
                .map_err(|e| Error::format(&cpath, format!("field \"dtype_policy\": {e}")))?,
            Some(v) => {
                return Err(Error::format(
                    &cpath,
                    format!("field \"dtype_policy\": expected a policy name such as \"float32\", found {v}"),
                ))
            }
        };
        let mut model = Model::from_network(net).seed(seed).dtype_policy(dtype_policy);
        if model.net.as_graph().is_some() {
            model.as_graph = Some(|n: &N| n.as_graph());
        }
        if let Some(shapes) = shapes {
            model.build_inputs(&shapes)?;
            let values: Vec<(String, neurite_tensor::Tensor)> = tensors.into_iter().collect();
            model.set_weights_by_name(&values)?;
        }
        model.epochs_done = epochs_done;
        if let Some((optimizer, losses, metrics)) = compiled {
            model
                .compile_boxed(optimizer, losses, metrics)
                .map_err(|e| Error::format(&cpath, format!("compile: {e}")))?;
            if ckpt.file("optimizer.safetensors").is_some() {
                model.restore_optimizer_state(&ckpt)?;
            }
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests;
