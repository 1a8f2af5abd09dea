//! # neurite
//!
//! The umbrella crate: re-exports the neurite crates.
pub use neurite_autograd as autograd;
pub use neurite_data as data;
pub use neurite_metrics as metrics;
pub use neurite_nn as nn;
pub use neurite_optim as optim;
pub use neurite_tensor as tensor;
