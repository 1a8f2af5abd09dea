//! What a program building or training layers by hand needs, in one
//! `use neurite_nn::prelude::*;`: every built-in layer (and its config),
//! the [`Layer`] trait with [`Parameter`] and [`ForwardContext`],
//! [`Activation`], [`Loss`] and [`Reduction`], [`Initializer`],
//! [`Regularizer`], [`layer_from_config`], the error type [`NnError`], the
//! seeded [`Generator`] (with [`rng_from_seed`]) that `Layer::build`
//! takes, and the autograd prelude ([`Var`], [`ops`], [`no_grad`],
//! [`Tensor`], ...).
//!
//! The crate's `Result` alias is left out on purpose: a glob import would
//! shadow `std::result::Result` in the importing module.
//!
//! ```
//! use neurite_nn::prelude::*;
//! let mut layer = Dense::new(1).activation(Activation::Sigmoid);
//! layer.build(&[2], &mut rng_from_seed(0))?;
//! let x = Var::from_array(ndarray::arr2(&[[0.5f32, -1.0], [1.0, 2.0]]));
//! let y = Var::from_array(ndarray::arr2(&[[1.0f32], [0.0]]));
//! let pred = layer.forward(&x, &mut ForwardContext::training(0))?;
//! let loss = Loss::binary_crossentropy().compute(&y, &pred, None, Reduction::Mean)?;
//! let with_penalty = (&loss + &(layer.parameters()[0].var.square()?.sum_all()? * 1e-3)?)?;
//! with_penalty.backward()?;
//! assert!(layer.parameters()[0].var.grad().is_some());
//! # Ok::<(), NnError>(())
//! ```

pub use crate::activation::Activation;
pub use crate::context::ForwardContext;
pub use crate::error::NnError;
pub use crate::initializers::Initializer;
pub use crate::layer::{Layer, Parameter, ParameterShapes};
pub use crate::layers::*;
pub use crate::losses::{Loss, Reduction};
pub use crate::registry::layer_from_config;
pub use crate::regularizers::Regularizer;
pub use neurite_autograd::prelude::*;
pub use neurite_tensor::random::{rng_from_seed, Generator};
