//! # neurite-nn
//!
//! Keras' layer set on top of `neurite-autograd`: the [`Layer`] trait and
//! its built-in layers, activations, losses, initializers and regularizers,
//! with Keras' names, defaults and semantics.

pub mod context;
pub mod error;
pub mod layer;

pub use context::ForwardContext;
pub use error::{NnError, Result};
pub use layer::{Layer, Parameter};
