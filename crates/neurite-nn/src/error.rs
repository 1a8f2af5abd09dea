//! The error type of layers, losses, initializers and regularizers.

use neurite_autograd::AutogradError;
use neurite_tensor::TensorError;

/// What went wrong in a layer (always named), a loss or a configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NnError {
    /// A layer got an input whose shape it cannot take.
    #[error("layer {layer}: expected input shape {expected}, found {found:?}")]
    Shape {
        /// Name of the layer, e.g. `dense_1`.
        layer: String,
        /// What the layer expects, in words or as a shape, e.g. `(batch, 64)`.
        expected: String,
        /// The shape it was given (with the batch axis when it came from data).
        found: Vec<usize>,
    },
    /// A layer or loss was configured with values it cannot use.
    #[error("{layer}: invalid configuration: {message}")]
    Config {
        /// Name of the layer or loss.
        layer: String,
        /// What was wrong.
        message: String,
    },
    /// `forward` was called before `build`.
    #[error("layer {0}: used before it was built (call build with the input shape first)")]
    NotBuilt(String),
    /// Weights given to a layer or model (`set_weights`, a weights file, another
    /// framework's state) do not fit its variables: a count or a shape differs,
    /// a name is unknown or missing. Nothing was changed.
    #[error("{layer}: {message}")]
    Weights {
        /// Name of the layer or model.
        layer: String,
        /// What did not fit: the weight, the expected and the found count or shape.
        message: String,
    },
    /// A differentiation or graph error.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

impl From<TensorError> for NnError {
    fn from(e: TensorError) -> Self {
        NnError::Autograd(AutogradError::Tensor(e))
    }
}

/// Result of a neurite-nn operation.
pub type Result<T> = std::result::Result<T, NnError>;
