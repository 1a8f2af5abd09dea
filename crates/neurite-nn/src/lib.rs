//! # neurite-nn
//!
//! Keras' layer set on top of `neurite-autograd`: the [`Layer`] trait and
//! its built-in layers, activations, losses, initializers and regularizers,
//! with Keras' names, defaults and semantics.
//!
//! ```
//! use neurite_autograd::Var;
//! use neurite_nn::layers::Dense;
//! use neurite_nn::losses::{Loss, Reduction};
//! use neurite_nn::{Activation, ForwardContext, Layer};
//! let mut layer = Dense::new(1).activation(Activation::Sigmoid);
//! layer.build(&[2], &mut neurite_tensor::random::rng_from_seed(0))?;
//! let x = Var::from_array(ndarray::arr2(&[[0.5f32, -1.0], [1.0, 2.0]]));
//! let y = Var::from_array(ndarray::arr2(&[[1.0f32], [0.0]]));
//! let pred = layer.forward(&x, &mut ForwardContext::training(0))?;
//! let loss = Loss::binary_crossentropy().compute(&y, &pred, None, Reduction::Mean)?;
//! loss.backward()?;
//! assert!(layer.parameters()[0].var.grad().is_some());
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

#![warn(missing_docs)]

pub mod activation;
mod checks;
pub mod context;
pub mod error;
pub mod initializers;
pub mod layer;
pub mod layers;
pub mod losses;
pub mod mask;
pub mod prelude;
pub mod registry;
pub mod regularizers;
pub mod weights;

pub use activation::Activation;
pub use context::ForwardContext;
pub use error::{NnError, Result};
pub use initializers::Initializer;
pub use layer::{Layer, Parameter, ParameterShapes};
pub use losses::{Loss, Reduction};
/// The array crate [`neurite_tensor::Tensor`] is built on, re-exported so
/// that callers use the same version.
///
/// ```
/// let x = neurite_nn::ndarray::arr1(&[1.0f32, 2.0]);
/// assert_eq!(x.len(), 2);
/// ```
pub use ndarray;
pub use registry::layer_from_config;
pub use regularizers::Regularizer;
/// The JSON value type of [`Layer::config`] and [`layer_from_config`],
/// re-exported so that callers use the same version.
///
/// ```
/// use neurite_nn::Layer;
/// let config: neurite_nn::serde_json::Value = neurite_nn::layers::Dense::new(4).config();
/// assert_eq!(config["units"], 4);
/// ```
pub use serde_json;
