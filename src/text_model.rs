//! [`TextModel`]: a fitted [`TextVectorization`] and the model that reads its
//! ids, used, saved and loaded as one — neurite's form of a Keras model with a
//! `TextVectorization` layer inside, which takes raw strings.
//!
//! One directory holds both: the model exactly as [`Model::save`] writes it
//! (so `Sequential::load` reads it alone) and [`VECTORIZER_FILE`] beside it,
//! written in the same atomic swap and recorded with its size and CRC-32 in
//! `config.json` (see `src/save/attachments.rs`).

use crate::callbacks::Logs;
use crate::error::{Error, Result};
use crate::model::{LayerStack, Model};
use crate::save::attachments;
use crate::save::Network;
use crate::Arrays;
use neurite_data::text::{Standardize, TextVectorization, TokenSplit};
use neurite_nn::Layer;
use neurite_tensor::Tensor;
use serde_json::Value;
use std::path::Path;

/// The name of the vectorizer's file in a saved [`TextModel`]'s directory.
pub const VECTORIZER_FILE: &str = "vectorizer.json";

/// A fitted [`TextVectorization`] paired with the model that reads its ids
/// (a [`Sequential`](crate::Sequential) by default, or a functional model:
/// `TextModel<Graph>`): predictions and evaluation on raw strings, and one
/// directory for both on [`save`](TextModel::save) / [`load`](TextModel::load).
///
/// The pair is checked when made and when loaded: the vectorizer must have a
/// vocabulary, no larger than the `input_dim` of any `Embedding` (the
/// `vocabulary_size` of any `TokenAndPositionEmbedding`) of the model, and the
/// model must take one input of `output_sequence_length` ids.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::data::text::TextVectorization;
/// let texts = ["good fun", "bad day", "fun fun", "bad bad"];
/// let labels = Tensor::from_shape_vec(ndarray::IxDyn(&[4]), vec![1.0, 0.0, 1.0, 0.0])?;
/// let mut vectorizer = TextVectorization::new().output_sequence_length(3);
/// vectorizer.adapt(&texts)?;
/// let mut model = Sequential::new()
///     .seed(1)
///     .add(Embedding::new(vectorizer.vocabulary_size(), 4).mask_zero(true).input_shape([3]))
///     .add(LSTM::new(4))
///     .add(Dense::new(2).activation(Activation::Softmax));
/// model.compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy(), &[Metric::Accuracy])?;
/// let mut text_model = TextModel::new(vectorizer, model)?;
/// let x = text_model.vectorize(&texts)?;
/// text_model.model_mut().fit(&x, &labels, FitOptions::new().epochs(2).verbose(0))?;
///
/// let dir = tempfile::tempdir()?;
/// text_model.save(dir.path().join("classifier"))?;
/// let loaded: TextModel = TextModel::load(dir.path().join("classifier"))?;
/// assert_eq!(loaded.predict_texts(&["fun day", ""])?, text_model.predict_texts(&["fun day", ""])?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TextModel<N: Layer = LayerStack> {
    vectorizer: TextVectorization,
    model: Model<N>,
}

impl<N: Layer> TextModel<N> {
    /// Pairs `vectorizer` (adapted, or given its vocabulary) with `model`.
    /// An unbuilt model is built, from its declared input shape or else for
    /// `output_sequence_length` ids. Errors name the layer or the shape that
    /// does not fit the vectorizer.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// use neurite::data::text::TextVectorization;
    /// let mut vectorizer = TextVectorization::new().output_sequence_length(5);
    /// vectorizer.set_vocabulary(["a", "b", "c"])?; // ids 0..5
    /// let small = Sequential::new().add(Embedding::new(4, 2).with_name("words").input_shape([5]));
    /// let err = TextModel::new(vectorizer.clone(), small).err().unwrap();
    /// assert!(err.to_string().contains("\"words\""), "{err}");
    /// let other_length = Sequential::new().add(Embedding::new(5, 2).input_shape([7]));
    /// assert!(TextModel::new(vectorizer.clone(), other_length).is_err());
    /// let fits = Sequential::new().add(Embedding::new(5, 2)).add(GlobalAveragePooling1D::new());
    /// assert_eq!(TextModel::new(vectorizer, fits)?.predict_texts(&["a c"])?.shape(), &[1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(vectorizer: TextVectorization, mut model: Model<N>) -> Result<Self> {
        build_for(&mut model, &vectorizer)?;
        check_pair(&vectorizer, &model).map_err(|why| Error::Model(format!("TextModel::new: {why}")))?;
        Ok(TextModel { vectorizer, model })
    }

    /// The vectorizer.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(2);
    /// # v.set_vocabulary(["x"])?;
    /// # let m = Sequential::new().add(Embedding::new(3, 2).input_shape([2]));
    /// let text_model = TextModel::new(v, m)?;
    /// assert_eq!(text_model.vectorizer().vocabulary_size(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn vectorizer(&self) -> &TextVectorization {
        &self.vectorizer
    }

    /// The model.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(2);
    /// # v.set_vocabulary(["x"])?;
    /// # let m = Sequential::new().add(Embedding::new(3, 2).input_shape([2]));
    /// let text_model = TextModel::new(v, m)?;
    /// assert_eq!(text_model.model().input_shape(), Some(vec![2]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn model(&self) -> &Model<N> {
        &self.model
    }

    /// The model, to train it (on [`TextModel::vectorize`]'s ids) or change
    /// its weights. [`TextModel::save`] checks the pair again.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(2);
    /// # v.set_vocabulary(["x"])?;
    /// # let m = Sequential::new().add(Embedding::new(3, 2).input_shape([2]));
    /// let mut text_model = TextModel::new(v, m)?;
    /// let zeros: Vec<Tensor> = text_model.model().get_weights().iter().map(|w| w.mapv(|_| 0.0)).collect();
    /// text_model.model_mut().set_weights(&zeros)?;
    /// assert!(text_model.predict_texts(&["x"])?.iter().all(|&v| v == 0.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn model_mut(&mut self) -> &mut Model<N> {
        &mut self.model
    }

    /// The vectorizer and the model, apart again.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(2);
    /// # v.set_vocabulary(["x"])?;
    /// # let m = Sequential::new().add(Embedding::new(3, 2).input_shape([2]));
    /// let (vectorizer, model) = TextModel::new(v, m)?.into_parts();
    /// assert_eq!((vectorizer.vocabulary_size(), model.layers().len()), (3, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_parts(self) -> (TextVectorization, Model<N>) {
        (self.vectorizer, self.model)
    }

    /// The vectorizer's ids for `texts`, `(texts, output_sequence_length)`:
    /// what the model reads (to train it through [`TextModel::model_mut`]).
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(3);
    /// # v.set_vocabulary(["x", "y"])?;
    /// # let m = Sequential::new().add(Embedding::new(4, 2).input_shape([3]));
    /// let text_model = TextModel::new(v, m)?;
    /// assert_eq!(text_model.vectorize(&["y x"])?.iter().copied().collect::<Vec<f32>>(), [3.0, 2.0, 0.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn vectorize<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Tensor> {
        Ok(self.vectorizer.call(texts)?.into_dyn())
    }

    /// The model's predictions for raw `texts`: vectorized, then
    /// [`Model::predict`] (batches of 32, inference mode).
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(3);
    /// # v.set_vocabulary(["x", "y"])?;
    /// # let m = Sequential::new().add(Embedding::new(4, 2).mask_zero(true).input_shape([3])).add(LSTM::new(2));
    /// let text_model = TextModel::new(v, m)?;
    /// let out = text_model.predict_texts(&["x y", "", "雨 y"])?;
    /// assert_eq!(out.shape(), &[3, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predict_texts<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Tensor> {
        self.predict_texts_batched(texts, 32)
    }

    /// [`TextModel::predict_texts`] with a chosen batch size.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(3);
    /// # v.set_vocabulary(["x", "y"])?;
    /// # let m = Sequential::new().add(Embedding::new(4, 2).input_shape([3])).add(Flatten::new());
    /// let text_model = TextModel::new(v, m)?;
    /// let texts = ["x", "y", "x y x"];
    /// assert_eq!(text_model.predict_texts_batched(&texts, 2)?, text_model.predict_texts(&texts)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predict_texts_batched<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        batch_size: usize,
    ) -> Result<Tensor> {
        let x = self.vectorize(texts)?;
        self.model.predict_batched(&x, batch_size)
    }

    /// The compiled model's loss and metrics on raw `texts` and their
    /// `labels` (as [`Model::evaluate`], batches of 32).
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(3);
    /// # v.set_vocabulary(["x", "y"])?;
    /// let mut m = Sequential::new()
    ///     .add(Embedding::new(4, 2).input_shape([3]))
    ///     .add(Flatten::new())
    ///     .add(Dense::new(2).activation(Activation::Softmax));
    /// m.compile(Sgd::new(0.1), Loss::sparse_categorical_crossentropy(), &[Metric::Accuracy])?;
    /// let text_model = TextModel::new(v, m)?;
    /// let labels = Tensor::from_shape_vec(ndarray::IxDyn(&[2]), vec![0.0, 1.0])?;
    /// let scores = text_model.evaluate_texts(&["x", "y"], &labels)?;
    /// assert!(scores["loss"] > 0.0 && scores.contains_key("accuracy"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate_texts<'a, S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        labels: impl Into<Arrays<'a>>,
    ) -> Result<Logs> {
        let labels: Arrays<'_> = labels.into();
        let x = self.vectorize(texts)?;
        self.model.evaluate(&x, labels)
    }

    /// Saves the model and the vectorizer into the directory `dir`: the
    /// model's files exactly as [`Model::save`] writes them, and
    /// [`VECTORIZER_FILE`], in one atomic swap with `Model::save`'s
    /// guarantees (a new, empty or checkpoint directory only; other files in
    /// it are kept; a crash or a failed save leaves the previous save
    /// loadable, model and vectorizer together). The pair is checked first.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// # let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(2);
    /// # v.set_vocabulary(["x"])?;
    /// # let m = Sequential::new().add(Embedding::new(3, 2).input_shape([2]));
    /// let text_model = TextModel::new(v, m)?;
    /// let dir = tempfile::tempdir()?;
    /// text_model.save(dir.path().join("m"))?;
    /// assert!(dir.path().join("m").join(neurite::VECTORIZER_FILE).is_file());
    /// // The model alone loads from the same directory.
    /// let model = Sequential::load(dir.path().join("m"))?;
    /// assert_eq!(model.get_weights(), text_model.model().get_weights());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        check_pair(&self.vectorizer, &self.model)
            .map_err(|why| Error::Model(format!("TextModel::save: {why}; nothing was written")))?;
        let json = serde_json::to_vec_pretty(&self.vectorizer.to_json())
            .map_err(|e| Error::Model(format!("TextModel::save: the vectorizer cannot be encoded: {e}")))?;
        self.model
            .save_with_attachments(dir, vec![(VECTORIZER_FILE, json)])
    }
}

impl<N: Layer> std::fmt::Debug for TextModel<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextModel")
            .field("vectorizer", &self.vectorizer)
            .field("model", &self.model)
            .finish()
    }
}

impl<N: Network> TextModel<N> {
    /// Loads a [`TextModel`] saved by [`TextModel::save`]: the model as
    /// [`Model::load`] does (call it as `TextModel::<LayerStack>::load` or
    /// with a type, `let m: TextModel = TextModel::load(dir)?`;
    /// `TextModel::<Graph>::load` for a functional model) and the vectorizer,
    /// checked against the size and checksum `config.json` records and
    /// against the model. A [`VECTORIZER_FILE`] put beside a model saved
    /// alone is read as it is (and checked against the model).
    ///
    /// Errors name the file: a missing, damaged or invalid vectorizer file, a
    /// vocabulary larger than an `Embedding`'s `input_dim` (naming the layer
    /// too), a sequence length the model's input does not take.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let dir = tempfile::tempdir()?;
    /// Sequential::new().add(Embedding::new(3, 2).input_shape([2])).save(dir.path().join("m"))?;
    /// // A model without its vectorizer.
    /// let err = TextModel::<LayerStack>::load(dir.path().join("m")).err().unwrap();
    /// assert!(err.to_string().contains(neurite::VECTORIZER_FILE), "{err}");
    /// // Beside it by hand: read, and checked against the model.
    /// let mut v = neurite::data::text::TextVectorization::new().output_sequence_length(2);
    /// v.set_vocabulary(["x", "y"])?; // 4 ids: too many for input_dim 3
    /// v.save(dir.path().join("m").join(neurite::VECTORIZER_FILE))?;
    /// let err = TextModel::<LayerStack>::load(dir.path().join("m")).err().unwrap();
    /// assert!(err.to_string().contains("input_dim"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(dir, None, None)
    }

    /// [`TextModel::load`] for a vectorizer saved with a custom
    /// standardization or split: give the functions again (`None` keeps the
    /// saved built-in mode), as [`TextVectorization::load_with`].
    ///
    /// ```
    /// use neurite::prelude::*;
    /// use neurite::data::text::{Standardize, TextVectorization};
    /// let lower = || Standardize::custom(|s| s.to_lowercase());
    /// let mut v = TextVectorization::new().standardize(lower()).output_sequence_length(2);
    /// v.adapt(&["ÉTÉ"])?;
    /// let m = Sequential::new().add(Embedding::new(3, 2).input_shape([2]));
    /// let dir = tempfile::tempdir()?;
    /// TextModel::new(v, m)?.save(dir.path().join("m"))?;
    /// assert!(TextModel::<LayerStack>::load(dir.path().join("m")).is_err()); // the function is not saved
    /// let loaded = TextModel::<LayerStack>::load_with(dir.path().join("m"), Some(lower()), None)?;
    /// assert_eq!(loaded.vectorize(&["été"])?.iter().copied().collect::<Vec<f32>>(), [2.0, 0.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_with(
        dir: impl AsRef<Path>,
        standardize: Option<Standardize>,
        split: Option<TokenSplit>,
    ) -> Result<Self> {
        let attached = attachments::read_attachment(dir.as_ref(), VECTORIZER_FILE)?;
        let value: Value = serde_json::from_slice(&attached.bytes)
            .map_err(|e| Error::format(&attached.path, format!("not valid JSON: {e}")))?;
        let vectorizer = TextVectorization::from_json(&value, standardize, split, &attached.path)?;
        let mut model = Model::<N>::load(&attached.model_dir)?;
        build_for(&mut model, &vectorizer)?;
        check_pair(&vectorizer, &model).map_err(|why| Error::format(&attached.path, why))?;
        Ok(TextModel { vectorizer, model })
    }
}

/// Builds an unbuilt `model`: from its declared input shape(s), else for
/// the vectorizer's `output_sequence_length` ids when it has one.
fn build_for<N: Layer>(model: &mut Model<N>, vectorizer: &TextVectorization) -> Result<()> {
    if !model.is_built() {
        match (model.input_shapes(), sequence_length(vectorizer)) {
            (Some(shapes), _) => model.build_inputs(&shapes)?,
            (None, Some(length)) => model.build(&[length])?,
            (None, None) => {}
        }
    }
    Ok(())
}

/// The vectorizer's `output_sequence_length`, if it has one.
fn sequence_length(vectorizer: &TextVectorization) -> Option<usize> {
    vectorizer.to_json()["config"]["output_sequence_length"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
}

/// Why `vectorizer` cannot feed `model`, if it cannot.
fn check_pair<N: Layer>(vectorizer: &TextVectorization, model: &Model<N>) -> std::result::Result<(), String> {
    let ids = vectorizer.vocabulary_size();
    if ids == 0 {
        return Err("the vectorizer has no vocabulary (call adapt or set_vocabulary first)".into());
    }
    let mut embeddings = Vec::new();
    embedding_sizes(&model.config_json()["config"], &mut embeddings);
    for (layer, class, key, size) in embeddings {
        if ids > size {
            return Err(format!(
                "the vectorizer's vocabulary has {ids} ids (0..{ids}) but layer {layer:?} ({class}) takes ids \
                 below its {key} {size}: give the layer {key} >= {ids}, or the vectorizer max_tokens({size})"
            ));
        }
    }
    let length = sequence_length(vectorizer);
    match (model.input_shapes(), length) {
        (None, _) => Ok(()),
        (Some(shapes), _) if shapes.len() != 1 => Err(format!(
            "the model has {} inputs {shapes:?}; a TextModel feeds it one array of ids",
            shapes.len()
        )),
        (Some(shapes), Some(length)) if shapes[0] == [length] => Ok(()),
        (Some(shapes), Some(length)) => Err(format!(
            "the vectorizer gives {length} ids per text (output_sequence_length) but the model's input \
             has shape {:?}, not [{length}]",
            shapes[0]
        )),
        (Some(shapes), None) => Err(format!(
            "the vectorizer pads each call to its longest text (no output_sequence_length) but the \
             model's input has the fixed shape {:?}: give the vectorizer output_sequence_length",
            shapes[0]
        )),
    }
}

/// Every `Embedding` and `TokenAndPositionEmbedding` in a model's config
/// (nested wrappers and blocks included): (layer name, class, key, ids).
fn embedding_sizes(config: &Value, out: &mut Vec<(String, String, &'static str, usize)>) {
    match config {
        Value::Object(map) => {
            let class = map.get("class_name").and_then(Value::as_str);
            let key = match class {
                Some("Embedding") => Some("input_dim"),
                Some("TokenAndPositionEmbedding") => Some("vocabulary_size"),
                _ => None,
            };
            if let (Some(class), Some(key), Some(inner)) = (class, key, map.get("config")) {
                if let Some(size) = inner.get(key).and_then(Value::as_u64) {
                    let name = inner.get("name").and_then(Value::as_str).unwrap_or(class);
                    out.push((
                        name.to_string(),
                        class.to_string(),
                        key,
                        usize::try_from(size).unwrap_or(usize::MAX),
                    ));
                }
            }
            for v in map.values() {
                embedding_sizes(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| embedding_sizes(v, out)),
        _ => {}
    }
}
