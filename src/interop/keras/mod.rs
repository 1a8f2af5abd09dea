//! Keras 3 files: `.keras` models in and out, `.weights.h5` weights in and out.
//!
//! A `.keras` file is a zip of `config.json` (the architecture as Keras 3
//! serializes it, with `compile_config`), `metadata.json` and
//! `model.weights.h5` (HDF5: each layer's variables under
//! `layers/<snake_case(class)>[_n]/vars/<i>`). [`load_model`] rebuilds a
//! Sequential or functional model of the layers neurite has, with its
//! weights and compile settings; [`Model::save_keras`] writes one that
//! Keras' `keras.saving.load_model` loads. [`Model::load_keras_weights`] /
//! [`Model::save_keras_weights`] read and write `model.save_weights` files.
//!
//! Every refusal is an [`Error::Format`] naming the
//! file and what is wrong: a Keras class neurite does not have (with the
//! list of those it has), a custom object, a weight missing or of the wrong
//! shape (layer, weight, both shapes), a corrupt zip or HDF5 file. Writes
//! are atomic (a temporary file renamed over the target).
//!
//! ```
//! use neurite::prelude::*;
//! use neurite::interop::keras;
//! let dir = tempfile::tempdir()?;
//! let mut model = Sequential::new()
//!     .add(Dense::new(4).activation(Activation::Relu).input_dim(3))
//!     .add(Dense::new(2));
//! model.build(&[3])?;
//! let path = dir.path().join("model.keras");
//! model.save_keras(&path)?;
//! let again = keras::load_model(&path)?;
//! let x = ndarray::Array2::<f32>::ones((2, 3)).into_dyn();
//! assert_eq!(again.predict(&x)?, model.predict(&x)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod archive;
mod compile;
mod config_in;
mod config_out;
mod h5;
mod layer_config;
mod names;
mod weights;

pub use names::to_snake_case;

use crate::error::{Error, Result};
use crate::functional::{Functional, Graph};
use crate::model::{LayerStack, Model, Sequential};
use crate::save::Network;
use crate::train::Arrays;
use neurite_tensor::Tensor;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The `keras_version` neurite writes in `metadata.json`: the Keras version its export was checked with.
pub const KERAS_VERSION: &str = "3.15.1";

/// A model read from a `.keras` file: Keras' `Sequential` or functional `Model`.
///
/// ```
/// # use neurite::prelude::*;
/// # let dir = tempfile::tempdir()?;
/// # let mut m = Sequential::new().add(Dense::new(2).input_dim(3));
/// # m.build(&[3])?;
/// # m.save_keras(dir.path().join("m.keras"))?;
/// let model = neurite::interop::keras::load_model(dir.path().join("m.keras"))?;
/// assert!(matches!(model, neurite::interop::keras::KerasModel::Sequential(_)));
/// assert!(model.summary().contains("dense"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum KerasModel {
    /// A Keras `Sequential`.
    Sequential(Sequential),
    /// A Keras functional `Model`.
    Functional(Functional),
}

impl KerasModel {
    /// [`Model::predict`] of the model.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let mut m = Sequential::new().add(Dense::new(2).input_dim(3));
    /// # m.build(&[3])?;
    /// # m.save_keras(dir.path().join("m.keras"))?;
    /// let model = neurite::interop::keras::load_model(dir.path().join("m.keras"))?;
    /// let y = model.predict(&ndarray::Array2::<f32>::zeros((4, 3)).into_dyn())?;
    /// assert_eq!(y.shape(), &[4, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predict<'a>(&self, x: impl Into<Arrays<'a>>) -> Result<Tensor> {
        match self {
            KerasModel::Sequential(m) => m.predict(x),
            KerasModel::Functional(m) => m.predict(x),
        }
    }

    /// [`Model::summary`] of the model.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let mut m = Sequential::new().add(Dense::new(2).input_dim(3));
    /// # m.build(&[3])?;
    /// # m.save_keras(dir.path().join("m.keras"))?;
    /// let model = neurite::interop::keras::load_model(dir.path().join("m.keras"))?;
    /// assert!(model.summary().contains("Total params"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn summary(&self) -> String {
        match self {
            KerasModel::Sequential(m) => m.summary(),
            KerasModel::Functional(m) => m.summary(),
        }
    }

    /// [`Model::save_keras`] of the model.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let mut m = Sequential::new().add(Dense::new(2).input_dim(3));
    /// # m.build(&[3])?;
    /// # m.save_keras(dir.path().join("m.keras"))?;
    /// let model = neurite::interop::keras::load_model(dir.path().join("m.keras"))?;
    /// model.save_keras(dir.path().join("again.keras"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_keras(&self, path: impl AsRef<Path>) -> Result<()> {
        match self {
            KerasModel::Sequential(m) => m.save_keras(path),
            KerasModel::Functional(m) => m.save_keras(path),
        }
    }

    /// [`Model::save_keras_weights`] of the model (Keras' `model.save_weights`).
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let mut m = Sequential::new().add(Dense::new(2).input_dim(3));
    /// # m.build(&[3])?;
    /// # m.save_keras(dir.path().join("m.keras"))?;
    /// let mut model = neurite::interop::keras::load_model(dir.path().join("m.keras"))?;
    /// model.save_keras_weights(dir.path().join("m.weights.h5"))?;
    /// model.load_keras_weights(dir.path().join("m.weights.h5"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_keras_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        match self {
            KerasModel::Sequential(m) => m.save_keras_weights(path),
            KerasModel::Functional(m) => m.save_keras_weights(path),
        }
    }

    /// [`Model::load_keras_weights`] into the model (Keras' `model.load_weights`).
    pub fn load_keras_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        match self {
            KerasModel::Sequential(m) => m.load_keras_weights(path),
            KerasModel::Functional(m) => m.load_keras_weights(path),
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::format(path, format!("cannot read: {e}")))
}

/// Loads a Keras 3 `.keras` file: architecture, weights and compile settings.
///
/// ```
/// let err = neurite::interop::keras::load_model("/no/such/model.keras").unwrap_err();
/// assert!(err.to_string().contains("model.keras"));
/// ```
pub fn load_model(path: impl AsRef<Path>) -> Result<KerasModel> {
    let path = path.as_ref();
    load_model_from_bytes(&read_file(path)?, path)
}

/// [`load_model`] of a `.keras` file's bytes; `path` names the file in errors.
/// Hostile bytes give an error, never a panic.
///
/// ```
/// let err = neurite::interop::keras::load_model_from_bytes(b"PK\x03\x04 not a zip", "x.keras".as_ref()).unwrap_err();
/// assert!(err.to_string().contains("x.keras"), "{err}");
/// ```
pub fn load_model_from_bytes(bytes: &[u8], path: &Path) -> Result<KerasModel> {
    let archive = archive::read(bytes, path)?;
    let cpath = path.join("config.json");
    let wpath = path.join("model.weights.h5");
    let config: Value = serde_json::from_slice(&archive.config)
        .map_err(|e| Error::format(&cpath, format!("not valid JSON: {e}")))?;
    let translated = config_in::translate(&config).map_err(|e| Error::format(&cpath, e))?;
    let settings = compile::from_keras(config.get("compile_config")).map_err(|e| Error::format(&cpath, e))?;
    let tensors = h5::read_datasets(archive.weights, &wpath)?;
    let layers = weights::layer_list(&translated.class_name, &translated.config);
    let model = match translated.class_name.as_str() {
        "Sequential" => KerasModel::Sequential(rebuild::<LayerStack>(
            &translated,
            &layers,
            &tensors,
            &cpath,
            &wpath,
            settings,
        )?),
        _ => KerasModel::Functional(rebuild::<Graph>(
            &translated,
            &layers,
            &tensors,
            &cpath,
            &wpath,
            settings,
        )?),
    };
    Ok(model)
}

fn rebuild<N: Network>(
    t: &config_in::Translated,
    layers: &[(String, String, Value)],
    tensors: &BTreeMap<String, Tensor>,
    cpath: &Path,
    wpath: &Path,
    settings: Option<compile::Settings>,
) -> Result<Model<N>> {
    let mut net = N::from_saved_config(&t.config, cpath)?;
    neurite_nn::Layer::set_name(&mut net, t.name.clone());
    let mut model = Model::from_network(net);
    if model.net.as_graph().is_some() {
        model.as_graph = Some(|n: &N| n.as_graph());
    }
    model
        .build_inputs(&t.input_shapes)
        .map_err(|e| Error::format(cpath, format!("the model does not build: {e}")))?;
    assign(&mut model, layers, tensors, wpath)?;
    if let Some(s) = settings {
        model
            .compile_boxed(s.optimizer, s.loss, s.metrics)
            .map_err(|e| Error::format(cpath, format!("compile_config: {e}")))?;
    }
    Ok(model)
}

/// Sets every parameter of `model` from the weights file's `tensors`, after
/// checking them all: each present with its shape, no layer weight left over.
fn assign<N: neurite_nn::Layer>(
    model: &mut Model<N>,
    layers: &[(String, String, Value)],
    tensors: &BTreeMap<String, Tensor>,
    wpath: &Path,
) -> Result<()> {
    let slots = weights::slots(model, layers).map_err(|e| Error::format(wpath, e))?;
    let mut values = Vec::with_capacity(slots.len());
    for s in &slots {
        let t = tensors.get(&s.path).ok_or_else(|| {
            Error::format(
                wpath,
                format!(
                    "layer {:?}: weight {} ({}) is missing from the file",
                    s.layer, s.name, s.path
                ),
            )
        })?;
        if t.shape() != s.shape.as_slice() {
            return Err(Error::format(
                wpath,
                format!(
                    "layer {:?}: weight {} ({}): the model has shape {:?}, the file has {:?}",
                    s.layer,
                    s.name,
                    s.path,
                    s.shape,
                    t.shape()
                ),
            ));
        }
        values.push(t.clone());
    }
    if let Some(extra) = tensors
        .keys()
        .find(|k| k.starts_with("layers/") && !slots.iter().any(|s| &s.path == *k))
    {
        return Err(Error::format(
            wpath,
            format!("dataset {extra} matches no weight of the model (another architecture?)"),
        ));
    }
    let params = model.parameters();
    for (s, v) in slots.iter().zip(values) {
        if let Some(p) = params.iter().find(|p| p.name == s.name) {
            p.var.set_value(v);
        }
    }
    Ok(())
}

/// The Keras layer list and weights tree of a built model.
fn weights_tree<N: neurite_nn::Layer>(model: &Model<N>, path: &Path) -> Result<h5::GroupTree> {
    let config = model.config_json();
    let class = config["class_name"].as_str().unwrap_or_default().to_string();
    let layers = weights::layer_list(&class, &config["config"]);
    let slots = weights::slots(model, &layers).map_err(|e| Error::format(path, e))?;
    let mut tree = h5::GroupTree {
        name_attr: Some(model.net.name().to_string()),
        ..Default::default()
    };
    let params = model.parameters();
    for s in &slots {
        let (group, index) = s.path.rsplit_once('/').unwrap_or(("", &s.path));
        let value = params
            .iter()
            .find(|p| p.name == s.name)
            .map(|p| p.var.value().to_owned())
            .ok_or_else(|| Error::format(path, format!("parameter {} vanished", s.name)))?;
        let g = tree.group_mut(group);
        g.name_attr.get_or_insert_with(|| s.layer.clone());
        g.datasets.insert(index.to_string(), value);
    }
    Ok(tree)
}

fn input_shapes<N: neurite_nn::Layer>(model: &Model<N>, path: &Path) -> Result<Vec<Vec<usize>>> {
    let config = model.config_json();
    let shapes: Option<Vec<Vec<usize>>> = match config.get("input_shapes") {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone()).ok(),
        _ => model.input_shape().map(|s| vec![s]),
    };
    shapes.ok_or_else(|| {
        Error::format(
            path,
            "the model is not built: build it (or fit it) before saving it for Keras",
        )
    })
}

impl<N: neurite_nn::Layer> Model<N> {
    /// Saves the model as a Keras 3 `.keras` file (`keras.saving.load_model`
    /// loads it): architecture, weights and compile settings. The model must
    /// be built; the file is replaced atomically.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.compile(Adam::default(), Loss::MeanSquaredError, &[Metric::Mae])?;
    /// model.save_keras(dir.path().join("m.keras"))?;
    /// let again = neurite::interop::keras::load_model(dir.path().join("m.keras"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_keras(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let shapes = input_shapes(self, path)?;
        let config = self.config_json();
        let compile = compile::to_keras(config.get("compile").unwrap_or(&Value::Null))
            .map_err(|e| Error::format(path, format!("compile settings: {e}")))?;
        let keras = config_out::to_keras(&config, &shapes, compile).map_err(|e| Error::format(path, e))?;
        let tree = weights_tree(self, path)?;
        let weights = h5::write_tree(&tree, path)?;
        let metadata = json!({"keras_version": KERAS_VERSION, "date_saved": "", "saved_by": concat!("neurite ", env!("CARGO_PKG_VERSION"))});
        let to_bytes = |v: &Value| serde_json::to_vec(v).map_err(|e| Error::format(path, e.to_string()));
        let bytes = archive::write(&to_bytes(&metadata)?, &to_bytes(&keras)?, &weights, path)?;
        neurite_data::write_atomic(path, &bytes)?;
        Ok(())
    }

    /// Loads a Keras `.weights.h5` file (`model.save_weights`) into this
    /// model, which must have the architecture of the model that saved it
    /// and be built. Every weight is checked (present, same shape) before any
    /// is set; nothing changes when anything is wrong.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut a = Sequential::new().seed(1).add(Dense::new(2).input_dim(3));
    /// a.build(&[3])?;
    /// a.save_keras_weights(dir.path().join("a.weights.h5"))?;
    /// let mut b = Sequential::new().seed(2).add(Dense::new(2).input_dim(3));
    /// b.build(&[3])?;
    /// let x = ndarray::Array2::<f32>::ones((1, 3)).into_dyn();
    /// assert_ne!(a.predict(&x)?, b.predict(&x)?);
    /// b.load_keras_weights(dir.path().join("a.weights.h5"))?;
    /// assert_eq!(a.predict(&x)?, b.predict(&x)?);
    /// let mut c = Sequential::new().add(Dense::new(5).input_dim(3));
    /// c.build(&[3])?;
    /// let e = c.load_keras_weights(dir.path().join("a.weights.h5")).unwrap_err().to_string();
    /// assert!(e.contains("dense_1.kernel") && e.contains("[3, 5]"), "{e}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_keras_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if !self.net.is_built() {
            return Err(Error::format(
                path,
                "the model is not built: build it before loading Keras weights",
            ));
        }
        let tensors = h5::read_datasets(read_file(path)?, path)?;
        let config = self.config_json();
        let class = config["class_name"].as_str().unwrap_or_default().to_string();
        let layers = weights::layer_list(&class, &config["config"]);
        assign(self, &layers, &tensors, path)
    }

    /// Saves the weights as a Keras `.weights.h5` file (what
    /// `model.load_weights` reads in Keras 3), atomically.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// assert!(model.save_keras_weights(dir.path().join("m.weights.h5")).is_err()); // not built
    /// model.build(&[3])?;
    /// model.save_keras_weights(dir.path().join("m.weights.h5"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_keras_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if !self.net.is_built() {
            return Err(Error::format(
                path,
                "the model is not built: it has no weights yet",
            ));
        }
        let tree = weights_tree(self, path)?;
        let bytes = h5::write_tree(&tree, path)?;
        neurite_data::write_atomic(path, &bytes)?;
        Ok(())
    }
}
