//! # neurite
//!
//! A deep-learning library with Keras' ease on a fast CPU core:
//! [`Sequential`] models built with `.add(layer)`, then
//! [`compile`](Model::compile), [`fit`](Model::fit),
//! [`evaluate`](Model::evaluate), [`predict`](Model::predict) and
//! [`save`](Model::save). Underneath, the PyTorch-like path: [`autograd`]'s
//! `Var`, ops and `backward()`, [`nn`]'s `Layer` trait, [`optim`]'s optimizers.
//!
//! ```
//! use neurite::prelude::*;
//! let x = ndarray::Array2::<f32>::from_shape_fn((64, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0).into_dyn();
//! let y = x.map_axis(ndarray::Axis(1), |r| if r[0] > r[1] { 1.0 } else { 0.0 }).into_dyn();
//! let mut model = Sequential::new()
//!     .add(Dense::new(8).activation(Activation::Relu).input_dim(2))
//!     .add(Dense::new(1).activation(Activation::Sigmoid));
//! model.compile(Adam::new(0.01), Loss::BinaryCrossentropy { from_logits: false }, &[Metric::Accuracy])?;
//! let history = model.fit(&x, &y, FitOptions::new().epochs(3).batch_size(16).verbose(0))?;
//! assert_eq!(history.get("loss").unwrap().len(), 3);
//! let scores = model.evaluate(&x, &y)?;
//! assert!(scores["accuracy"] >= 0.0);
//! # Ok::<(), neurite::Error>(())
//! ```

#![warn(missing_docs)]

pub mod callbacks;
mod cross_validation;
pub mod distributed;
mod error;
pub mod explain;
pub mod functional;
mod history;
pub mod interop;
mod metric;
mod model;
mod plot;
pub mod prelude;
mod progress;
pub mod sampling;
mod save;
mod summary;
mod text_model;
mod train;
pub mod tune;

pub use cross_validation::{cross_validate, CrossValidation};
pub use error::{Error, Result};
pub use functional::register_block;
pub use history::History;
pub use metric::Metric;
pub use model::{DtypePolicy, LayerStack, LossWeights, Losses, Metrics, Model, PerOutput, Sequential};
pub use save::Network;
pub use text_model::{TextModel, VECTORIZER_FILE};
pub use train::{Arrays, DataStream, FitOptions, IntoStreamBatch, StreamBatch};

pub use neurite_autograd as autograd;
pub use neurite_data as data;
pub use neurite_metrics as metrics;
pub use neurite_nn as nn;
pub use neurite_optim as optim;
pub use neurite_tensor as tensor;
/// serde, for a [`functional::Block`]'s `#[derive(Serialize, Deserialize)]` with `#[serde(crate = "neurite::serde")]`.
pub use serde;

/// The user guide (`docs/guide.md`); its code blocks are compiled and run as doctests.
#[doc = include_str!("../docs/guide.md")]
pub mod guide {}

/// The README's Rust blocks, compiled (and, unless `no_run`, run) as doctests; not part of
/// the documentation.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
