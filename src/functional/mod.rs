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
//! [`neurite_nn::Layer`], so a model's graph can be called inside another.
//! Today a model has one input and one output; the calls in between may
//! branch, merge and share layers freely.

mod config;
mod graph;
mod picture;
mod summary_rows;
mod symbolic;

pub(crate) use config::from_config as graph_from_config;
pub use graph::Graph;
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
    /// The model from `inputs` to `outputs` (Keras' `Model(inputs, outputs)`),
    /// with the graph's input shape as its input shape. Errors as
    /// [`Graph::new`].
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
        Ok(Model::from_network(Graph::new(&[inputs], &[outputs])?))
    }
}
