//! Functional models (Keras' functional API): layers called on symbolic
//! tensors, with branches, merges and shared layers, then a
//! [`crate::Model`] from the inputs to the outputs.
//!
//! A residual block and a two-branch (Inception-like) merge:
//!
//! ```
//! use neurite::prelude::*;
//! let inputs = Input::new([12, 12, 3]);
//! let x = Conv2D::new(16, (3, 3)).padding(Padding::Same).activation(Activation::Relu).call(&inputs)?;
//! let h = Conv2D::new(16, (3, 3)).padding(Padding::Same).activation(Activation::Relu).call(&x)?;
//! let h = Conv2D::new(16, (3, 3)).padding(Padding::Same).call(&h)?;
//! let x = Add::new().call_many(&[&x, &h])?; // the skip connection
//! let a = Conv2D::new(8, (1, 1)).call(&x)?;
//! let b = Conv2D::new(8, (3, 3)).padding(Padding::Same).call(&x)?;
//! let x = Concatenate::new().call_many(&[&a, &b])?;
//! let x = GlobalAveragePooling2D::new().call(&x)?;
//! let outputs = Dense::new(10).activation(Activation::Softmax).call(&x)?;
//! let mut model = Model::functional(&inputs, &outputs)?;
//! model.compile(Adam::default(), Loss::sparse_categorical_crossentropy(), &[Metric::Accuracy])?;
//! let images = ndarray::Array4::<f32>::zeros((4, 12, 12, 3)).into_dyn();
//! assert_eq!(model.predict(&images)?.shape(), &[4, 10]);
//! # Ok::<(), neurite::Error>(())
//! ```
//!
//! Everything a `Sequential` has works the same way: `fit` (callbacks,
//! validation, class and sample weights), `evaluate`, `predict`, `summary`,
//! `save`/`load` (the graph is saved in Keras' functional format, each
//! layer with its `inbound_nodes`), dtype policies. A graph is itself a
//! [`neurite_nn::Layer`], so a model's graph can be called inside another
//! (one with several inputs is called on a list of tensors; one with several
//! outputs cannot be a layer, which has one output).
//!
//! A model may have several inputs and outputs ([`Model::functional_many`]):
//! inputs are known by their [`Input::named`] names, outputs by the names of
//! the layers that made them. `compile` takes one loss per output (by order
//! or by name) and loss weights, `fit`/`evaluate` take one array per input
//! and per output (by order or by name, see [`crate::Arrays`]),
//! [`Model::predict_many`] returns one array per output:
//!
//! ```
//! use neurite::prelude::*;
//! let image = Input::named("image", [8, 8, 1]);
//! let extra = Input::named("extra", [4]);
//! let h = Concatenate::new().call_many(&[&Flatten::new().call(&image)?, &extra])?;
//! let h = Dense::new(16).activation(Activation::Relu).call(&h)?;
//! let class = Dense::new(10).activation(Activation::Softmax).with_name("class").call(&h)?;
//! let size = Dense::new(1).with_name("size").call(&h)?;
//! let mut model = Model::functional_many(&[&image, &extra], &[&class, &size])?;
//! model.compile(
//!     Adam::default(),
//!     Losses::from([("class", Loss::sparse_categorical_crossentropy()), ("size", Loss::MeanSquaredError)])
//!         .loss_weights([("class", 1.0), ("size", 0.5)]),
//!     [("class", vec![Metric::Accuracy]), ("size", vec![Metric::Mae])],
//! )?;
//! let (x1, x2) = (Tensor::zeros(ndarray::IxDyn(&[6, 8, 8, 1])), Tensor::zeros(ndarray::IxDyn(&[6, 4])));
//! let (y1, y2) = (Tensor::zeros(ndarray::IxDyn(&[6])), Tensor::zeros(ndarray::IxDyn(&[6, 1])));
//! let history = model.fit([("image", &x1), ("extra", &x2)], [&y1, &y2], FitOptions::new().verbose(0))?;
//! assert!(history.get("class_accuracy").is_some() && history.get("size_loss").is_some());
//! let outputs = model.predict_many([&x1, &x2])?;
//! assert_eq!((outputs[0].shape(), outputs[1].shape()), (&[6, 10][..], &[6, 1][..]));
//! # Ok::<(), neurite::Error>(())
//! ```

mod block;
pub(crate) mod config;
mod graph;
mod picture;
mod run;
mod summary_rows;
mod symbolic;

pub use block::{register_block, Block, BlockLayer};
pub(crate) use config::from_config as graph_from_config;
pub use graph::Graph;
pub(crate) use graph::Slot;
pub use symbolic::{CallLayer, Input, SharedLayer, SymbolicTensor};

use crate::model::Model;

/// A functional model: a [`Model`] whose network is a [`Graph`].
///
/// ```
/// use neurite::prelude::*;
/// let x = Input::new([3]);
/// let y = Dense::new(1).call(&x)?;
/// let model: Functional = Model::functional(&x, &y)?;
/// assert_eq!(model.network().layer_names(), vec!["dense_1"]);
/// # Ok::<(), neurite::Error>(())
/// ```
pub type Functional = Model<Graph>;

impl Model<Graph> {
    /// The model from one input to one output (Keras' `Model(inputs, outputs)`),
    /// with the graph's input shape as its input shape. Errors as
    /// [`Graph::new`]; several inputs or outputs: [`Model::functional_many`].
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([4]);
    /// let y = Dense::new(2).activation(Activation::Softmax).call(&x)?;
    /// let model = Model::functional(&x, &y)?;
    /// assert_eq!(model.input_shape(), Some(vec![4]));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn functional(inputs: &SymbolicTensor, outputs: &SymbolicTensor) -> crate::Result<Functional> {
        Self::functional_many(&[inputs], &[outputs])
    }

    /// The model from several inputs to several outputs (Keras'
    /// `Model(inputs=[...], outputs=[...])`). Data is given per input and per
    /// output, by order or by name ([`Graph::input_names`],
    /// [`Graph::output_names`]). Errors as [`Graph::new`].
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [3]), Input::named("b", [2]));
    /// let y = Dense::new(1).with_name("y").call(&Concatenate::new().call_many(&[&a, &b])?)?;
    /// let z = Dense::new(2).with_name("z").call(&a)?;
    /// let model = Model::functional_many(&[&a, &b], &[&y, &z])?;
    /// assert_eq!(model.input_names(), vec!["a", "b"]);
    /// assert_eq!(model.output_names(), vec!["y", "z"]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn functional_many(
        inputs: &[&SymbolicTensor],
        outputs: &[&SymbolicTensor],
    ) -> crate::Result<Functional> {
        Ok(Self::from_graph(Graph::new(inputs, outputs)?))
    }

    /// The model around a graph made with [`Graph::new`] (as
    /// [`Model::functional_many`]). Prefer it to [`Model::from_network`],
    /// which treats any network as one input and one output.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([3]);
    /// let (p, q) = (Dense::new(1).call(&x)?, Dense::new(2).call(&x)?);
    /// let model = Functional::from_graph(Graph::new(&[&x], &[&p, &q])?);
    /// assert_eq!(model.output_names().len(), 2);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn from_graph(graph: Graph) -> Functional {
        let mut model = Model::from_network(graph);
        model.as_graph = Some(|g: &Graph| Some(g));
        model
    }
}
